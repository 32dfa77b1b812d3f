//! The twin's sender-side evidence (issue 12 item 6) through the real `aws-sdk-sqs`,
//! `aws-sdk-cloudwatchlogs`, `aws-sdk-sesv2` and Cognito clients, on the busy scenario
//! (`crates/twin/scenarios/busy.toml`): the SES event queue (receive, visibility timeout, delete, a long
//! poll woken by publishing), Cognito's delivery-error log of the two-piece gotcha, the suppression list,
//! the pool's log delivery and configuration set, and each service's AccessDenied under the fault.

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};
use chrono::Duration;
use serde_json::{Value, json};
use twin::scenario::Scenario;

use crate::twin_harness::*;

const QUEUE: &str = "cognito-probe-ses-events";
const GROUP: &str = "/aws/cognito/userpools/phenom-prod/notifications";
const SUPPRESSED: &str = "probe+prod-suppressed@mail.test";

struct Clients {
    env: Env,
    sqs: aws_sdk_sqs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    queue_url: String,
}

/// The busy scenario on a manual clock at [`t0`], background traffic off unless `background`.
async fn busy(background: bool) -> Clients {
    let mut scenario = Scenario::busy_scenario().unwrap();
    if !background {
        scenario.background.rate_per_minute = 0;
    }
    let env = start_with(scenario, Some(t0())).await;
    let conf = env.rig.sdk_config_without_retries().await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queue_url = sqs.get_queue_url().queue_name(QUEUE).send().await.unwrap().queue_url().unwrap().to_string();
    Clients { logs: aws_sdk_cloudwatchlogs::Client::new(&conf), sqs, queue_url, env }
}

async fn resend(env: &Env, user: &str) {
    use aws_sdk_cognitoidentityprovider::types::{DeliveryMediumType, MessageActionType};
    env.cognito
        .admin_create_user()
        .user_pool_id(PROD)
        .username(user)
        .message_action(MessageActionType::Resend)
        .desired_delivery_mediums(DeliveryMediumType::Email)
        .send()
        .await
        .unwrap();
}

fn detail(body: &str) -> Value {
    serde_json::from_str::<Value>(body).unwrap()["detail"].clone()
}

#[tokio::test]
async fn queue_receive_visibility_and_delete() {
    let c = busy(false).await;
    assert_eq!(c.queue_url, format!("{}/657033058608/{QUEUE}", c.env.url()));
    resend(&c.env, "probe-prod-fcp").await;
    let receive = || {
        c.sqs
            .receive_message()
            .queue_url(&c.queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(5)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
    };
    let got = receive().send().await.unwrap();
    let types: Vec<String> =
        got.messages().iter().map(|m| detail(m.body().unwrap())["eventType"].as_str().unwrap().into()).collect();
    assert_eq!(types, ["Send", "Delivery"]);
    let sent = got.messages()[0].attributes().unwrap()[&MessageSystemAttributeName::SentTimestamp].clone();
    assert_eq!(sent, t0().timestamp_millis().to_string());
    assert!(receive().send().await.unwrap().messages().is_empty(), "invisible for the visibility timeout");
    let attrs = c
        .sqs
        .get_queue_attributes()
        .queue_url(&c.queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    assert_eq!(attrs.attributes().unwrap()[&QueueAttributeName::ApproximateNumberOfMessagesNotVisible], "2");

    c.env.control().advance(Duration::seconds(5)).unwrap();
    let again = receive().send().await.unwrap();
    assert_eq!(again.messages().len(), 2, "visible again");
    let count = &again.messages()[0].attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount];
    assert_eq!(count, "2");
    let entry =
        |id: &str, handle: &str| DeleteMessageBatchRequestEntry::builder().id(id).receipt_handle(handle).build();
    let out = c
        .sqs
        .delete_message_batch()
        .queue_url(&c.queue_url)
        .entries(entry("send", again.messages()[0].receipt_handle().unwrap()).unwrap())
        .entries(entry("bogus", "not-a-receipt-handle").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().iter().map(|s| s.id()).collect::<Vec<_>>(), ["send"]);
    assert_eq!((out.failed()[0].id(), out.failed()[0].code()), ("bogus", "ReceiptHandleIsInvalid"));
    c.sqs
        .delete_message()
        .queue_url(&c.queue_url)
        .receipt_handle(again.messages()[1].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    assert!(c.env.control().queue_messages(QUEUE).is_empty());
}

#[tokio::test]
async fn a_long_poll_is_woken_by_the_send() {
    let c = busy(false).await;
    let (sqs, url) = (c.sqs.clone(), c.queue_url.clone());
    let started = std::time::Instant::now();
    let poll = tokio::spawn(async move {
        sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(10).send().await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    resend(&c.env, "probe-prod-fcp").await;
    let got = poll.await.unwrap().unwrap();
    assert!(!got.messages().is_empty());
    assert_eq!(detail(got.messages()[0].body().unwrap())["eventType"], "Send");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "woken: {:?}", started.elapsed());
}

#[tokio::test]
async fn unknown_queue_is_queue_does_not_exist() {
    let c = busy(false).await;
    let url = format!("{}/657033058608/nope", c.env.url());
    let err = c.sqs.receive_message().queue_url(url).send().await.unwrap_err().into_service_error();
    assert!(err.is_queue_does_not_exist(), "{err:?}");
    let err = c.sqs.get_queue_url().queue_name("nope").send().await.unwrap_err().into_service_error();
    assert!(err.is_queue_does_not_exist(), "{err:?}");
}

#[tokio::test]
async fn the_two_piece_gotcha_is_in_cognitos_log_group() {
    let c = busy(false).await;
    c.env.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    resend(&c.env, "probe-prod-fcp").await;
    let out =
        c.logs.filter_log_events().log_group_name(GROUP).start_time(t0().timestamp_millis()).send().await.unwrap();
    assert_eq!(out.events().len(), 1);
    let record: Value = serde_json::from_str(out.events()[0].message().unwrap()).unwrap();
    assert_eq!(record["logSourceId"]["userPoolId"], PROD);
    assert_eq!(record["message"], "Message failed to deliver.");
    assert!(record["error"].as_str().unwrap().contains("not authorized to perform `ses:SendEmail'"), "{record}");
    assert_eq!(out.events()[0].timestamp(), Some(t0().timestamp_millis()));
    let later =
        c.logs.filter_log_events().log_group_name(GROUP).start_time(t0().timestamp_millis() + 1).send().await.unwrap();
    assert!(later.events().is_empty(), "startTime bounds the window");
    let err = c.logs.filter_log_events().log_group_name("/nope").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(err.meta().message(), Some("The specified log group does not exist."));
}

#[tokio::test]
async fn suppressed_destination_found_and_not_found() {
    let c = busy(false).await;
    let got = c.env.ses.get_suppressed_destination().email_address(SUPPRESSED).send().await.unwrap();
    let d = got.suppressed_destination().unwrap();
    assert_eq!(d.email_address(), SUPPRESSED);
    assert_eq!(d.reason().as_str(), "BOUNCE");
    assert_eq!(
        d.last_update_time().secs(),
        chrono::DateTime::parse_from_rfc3339("2026-11-20T08:00:00Z").unwrap().timestamp()
    );
    assert!(d.attributes().unwrap().message_id().unwrap().ends_with("-000000"));
    let err = c.env.ses.get_suppressed_destination().email_address("probe+prod-fcp@mail.test").send().await;
    let err = err.unwrap_err().into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");
}

#[tokio::test]
async fn pool_log_delivery_configuration_set_and_event_destinations() {
    let c = busy(false).await;
    let out = c.env.cognito.get_log_delivery_configuration().user_pool_id(PROD).send().await.unwrap();
    let conf = out.log_delivery_configuration().unwrap();
    assert_eq!(conf.user_pool_id(), PROD);
    let l = &conf.log_configurations()[0];
    assert_eq!((l.event_source().as_str(), l.log_level().as_str()), ("userNotification", "ERROR"));
    assert_eq!(
        l.cloud_watch_logs_configuration().and_then(|c| c.log_group_arn()),
        Some(format!("arn:aws:logs:us-east-1:657033058608:log-group:{GROUP}").as_str())
    );
    let staging = "us-east-1_Qp3xT9vLm";
    let out = c.env.cognito.get_log_delivery_configuration().user_pool_id(staging).send().await.unwrap();
    assert!(out.log_delivery_configuration().unwrap().log_configurations().is_empty());

    let pool = c.env.cognito.describe_user_pool().user_pool_id(PROD).send().await.unwrap();
    let email = pool.user_pool().unwrap().email_configuration().unwrap();
    assert_eq!(email.configuration_set(), Some("cognito-mail"));

    let out = c.env.ses.get_configuration_set_event_destinations().configuration_set_name("cognito-mail").send().await;
    let destinations = out.unwrap();
    let eb = &destinations.event_destinations()[0];
    assert_eq!(eb.name(), "probe-events");
    assert!(eb.enabled());
    assert_eq!(
        eb.event_bridge_destination().map(|d| d.event_bus_arn()),
        Some("arn:aws:events:us-east-1:657033058608:event-bus/default")
    );
    assert!(destinations.event_destinations()[1].cloud_watch_destination().is_some());
    let err = c.env.ses.get_configuration_set_event_destinations().configuration_set_name("nope").send().await;
    assert!(err.unwrap_err().into_service_error().is_not_found_exception());
}

#[tokio::test]
async fn access_denied_in_each_services_shape() {
    use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata as _;
    let c = busy(false).await;
    let denied = json!({"access_denied": ["ReceiveMessage", "FilterLogEvents", "GetSuppressedDestination",
        "GetLogDeliveryConfiguration"]});
    c.env.control().patch_faults(&denied).unwrap();
    let sqs = c.sqs.receive_message().queue_url(&c.queue_url).send().await.unwrap_err().into_service_error();
    assert_eq!(sqs.code(), Some("AccessDenied"));
    let logs = c.logs.filter_log_events().log_group_name(GROUP).send().await.unwrap_err().into_service_error();
    assert_eq!(logs.code(), Some("AccessDeniedException"));
    assert!(logs.message().unwrap().contains("logs:FilterLogEvents"));
    let ses = c.env.ses.get_suppressed_destination().email_address(SUPPRESSED).send().await;
    assert_eq!(ses.unwrap_err().into_service_error().code(), Some("AccessDeniedException"));
    let cog = c.env.cognito.get_log_delivery_configuration().user_pool_id(PROD).send().await;
    assert_eq!(cog.unwrap_err().into_service_error().code(), Some("AccessDeniedException"));
    // Only the named operations are denied.
    c.sqs.get_queue_url().queue_name(QUEUE).send().await.unwrap();
}

#[tokio::test]
async fn background_senders_and_the_control_routes() {
    let c = busy(true).await;
    c.env.control().advance(Duration::seconds(60)).unwrap();
    let (_, body, _) = http(&c.env.url(), "GET", &format!("/_twin/queues/{QUEUE}"), &[], b"").await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    let messages = v["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 60, "30 mails a minute, Send and Delivery each");
    assert!(messages.iter().all(|m| m["detail"]["mail"]["source"] == "news@thephenom.app"));

    let (status, _, _) = http(&c.env.url(), "POST", "/_twin/background", &[], br#"{"rate_per_minute": 0}"#).await;
    assert_eq!(status, 200);
    let (status, _, _) = http(&c.env.url(), "POST", &format!("/_twin/queues/{QUEUE}"), &[], b"{not json").await;
    assert_eq!(status, 200);
    assert_eq!(c.env.control().queue_messages(QUEUE).last(), Some(&Value::String("{not json".into())));

    let suppress = br#"{"email": "probe+prod-fcp@mail.test", "reason": "COMPLAINT"}"#;
    assert_eq!(http(&c.env.url(), "POST", "/_twin/suppress", &[], suppress).await.0, 200);
    let got = c.env.ses.get_suppressed_destination().email_address("probe+prod-fcp@mail.test").send().await;
    assert_eq!(got.unwrap().suppressed_destination().unwrap().reason().as_str(), "COMPLAINT");
    let unsuppress = br#"{"email": "probe+prod-fcp@mail.test"}"#;
    let (_, body, _) = http(&c.env.url(), "POST", "/_twin/unsuppress", &[], unsuppress).await;
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!({"removed": true}));

    c.env.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    resend(&c.env, "probe-prod-fcp").await;
    let path = format!("/_twin/logs/{}", GROUP.replace('/', "%2F"));
    let (_, body, _) = http(&c.env.url(), "GET", &path, &[], b"").await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["events"][0]["eventSource"], "USER_NOTIFICATION", "{v}");
}

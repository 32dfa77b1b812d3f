//! Conformance of the sender-evidence calls (issue 12 item 6): the SQS calls the probe makes on the SES
//! event queue (ReceiveMessage, DeleteMessageBatch, GetQueueAttributes, QueueDoesNotExist), CloudWatch Logs
//! FilterLogEvents (incl. a missing group) and SESv2 GetSuppressedDestination (found / NotFound) — the
//! same real SDK call against moto, an independent implementation of AWS's models, and against the twin,
//! each reduced to one line that must equal what AWS answers. Same scheme as `moto_conformance` (one table,
//! known moto deviations named and pinned).
//!
//! Both backends are seeded through the SDK the same way (SendMessage, CreateLogStream + PutLogEvents,
//! PutSuppressedDestination); only the queue and the log group come from the busy scenario on the twin
//! (it has no CreateQueue / CreateLogGroup) and from CreateQueue / CreateLogGroup on moto. Both run on
//! real time. Account ids differ (moto's is fixed), so lines show `<account>`. moto 5.2.1 has no SESv2
//! suppression-list API: those two cases check the twin alone and pin moto's 404 ([`MOTO_NO_SUPPRESSION`]).

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};
use chrono::Utc;
use futures::future::BoxFuture;

use crate::conformance::{self, Backend, OnMoto};
use serde_json::{Value, json};
use twin::scenario::Scenario;

use testkit::moto::Moto;

const QUEUE: &str = "cognito-probe-ses-events";
const GROUP: &str = "/aws/cognito/userpools/phenom-prod/notifications";
const STREAM: &str = "us-east-1_knEL7cqS3";
const SUPPRESSED: &str = "probe+prod-suppressed@mail.test";
const NOT_SUPPRESSED: &str = "probe+prod-fcp@mail.test";
const BODY: &str = r#"{"detail-type":"Email Sent","source":"aws.ses","detail":{"eventType":"Send"}}"#;

#[derive(Clone)]
struct Fixture {
    sqs: aws_sdk_sqs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    ses: aws_sdk_sesv2::Client,
    account: String,
    queue_url: String,
    /// Where the seeded log event's timestamp is.
    logged_at: i64,
}

impl Fixture {
    fn missing_queue_url(&self) -> String {
        self.queue_url.replace(QUEUE, "no-such-queue")
    }
}

type Case = conformance::Case<Fixture>;

/// moto 5.2.1 does not implement the SESv2 suppression list: PutSuppressedDestination and
/// GetSuppressedDestination answer a 404 HTML page (observed here), so those cases check the twin alone and
/// pin moto's answer, to be revisited when moto gains the calls.
const MOTO_NO_SUPPRESSION: &str = "moto 5.2.1 has no SESv2 suppression-list API (HTTP 404 HTML page)";

const CASES: &[Case] = &[
    // --- SQS (AWS JSON 1.0; errors by awsQueryCompatible code, aws-sdk-sqs) ---
    Case {
        name: "ReceiveMessage of a visible message",
        check: receive_one,
        aws: "messages=1 body=seeded md5=ok SentTimestamp=set ApproximateReceiveCount=1",
        moto: OnMoto::Conforms,
    },
    Case {
        name: "ReceiveMessage while the message is in flight",
        check: receive_in_flight,
        aws: "messages=0",
        moto: OnMoto::Conforms,
    },
    Case {
        name: "DeleteMessageBatch with a good and an invalid receipt handle",
        check: delete_batch,
        aws: "successful=[good] failed=[bad:ReceiptHandleIsInvalid sender=true] left=0",
        moto: OnMoto::Conforms,
    },
    Case {
        name: "GetQueueAttributes All",
        check: queue_attributes,
        aws: "visible=1 not_visible=0 visibility=30 arn=arn:aws:sqs:us-east-1:<account>:cognito-probe-ses-events",
        moto: OnMoto::Conforms,
    },
    Case {
        name: "ReceiveMessage of a queue that does not exist",
        check: receive_missing,
        aws: "error QueueDoesNotExist code=AWS.SimpleQueueService.NonExistentQueue",
        moto: OnMoto::Conforms,
    },
    Case {
        name: "GetQueueAttributes of a queue that does not exist",
        check: attributes_missing,
        aws: "error QueueDoesNotExist code=AWS.SimpleQueueService.NonExistentQueue",
        moto: OnMoto::Conforms,
    },
    Case {
        name: "DeleteMessageBatch on a queue that does not exist",
        check: delete_missing,
        aws: "error QueueDoesNotExist code=AWS.SimpleQueueService.NonExistentQueue",
        moto: OnMoto::Conforms,
    },
    // --- CloudWatch Logs (JSON 1.1) ---
    Case {
        name: "FilterLogEvents from a start time",
        check: filter_events,
        aws: "events=1 stream=us-east-1_knEL7cqS3 userPoolId=us-east-1_knEL7cqS3 timestamp=seeded next_token=none",
        moto: OnMoto::Conforms,
    },
    Case { name: "FilterLogEvents after the last event", check: filter_later, aws: "events=0", moto: OnMoto::Conforms },
    Case {
        name: "FilterLogEvents of a log group that does not exist",
        check: filter_missing_group,
        aws: "error ResourceNotFoundException: The specified log group does not exist.",
        moto: OnMoto::Conforms,
    },
    // --- SESv2 suppression list (REST JSON) ---
    Case {
        name: "GetSuppressedDestination of a listed address",
        check: suppressed_found,
        aws: "email=probe+prod-suppressed@mail.test reason=BOUNCE last_update=recent",
        moto: OnMoto::Deviates { why: MOTO_NO_SUPPRESSION, answers: "error <none> (HTTP 404, not JSON)" },
    },
    Case {
        name: "GetSuppressedDestination of an address not listed",
        check: suppressed_not_found,
        aws: "error NotFoundException",
        moto: OnMoto::Deviates { why: MOTO_NO_SUPPRESSION, answers: "error <none> (HTTP 404, not JSON)" },
    },
];

// ---------------------------------------------------------------- observations

fn sqs_error<E: aws_sdk_sqs::error::ProvideErrorMetadata>(err: E, does_not_exist: impl Fn(&E) -> bool) -> String {
    match err {
        e if does_not_exist(&e) => format!("error QueueDoesNotExist code={}", e.code().unwrap_or("<none>")),
        e => format!("error {} {}", e.code().unwrap_or("<none>"), e.message().unwrap_or_default()),
    }
}

async fn receive(
    f: &Fixture,
    url: &str,
) -> Result<aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput, String> {
    f.sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(30)
        .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .map_err(|e| sqs_error(e.into_service_error(), |e| e.is_queue_does_not_exist()))
}

fn receive_one(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let out = match receive(f, &f.queue_url).await {
            Ok(out) => out,
            Err(line) => return line,
        };
        let Some(m) = out.messages().first() else { return "messages=0".into() };
        let attrs = m.attributes().cloned().unwrap_or_default();
        let sent = attrs.get(&MessageSystemAttributeName::SentTimestamp).and_then(|s| s.parse::<i64>().ok());
        let recent = sent.is_some_and(|s| (Utc::now().timestamp_millis() - s).abs() < 120_000);
        format!(
            "messages={} body={} md5={} SentTimestamp={} ApproximateReceiveCount={}",
            out.messages().len(),
            if m.body() == Some(BODY) { "seeded" } else { m.body().unwrap_or("<none>") },
            if m.md5_of_body() == Some(twin::sqs::md5_hex(BODY).as_str()) { "ok" } else { "wrong" },
            if recent { "set" } else { "wrong" },
            attrs.get(&MessageSystemAttributeName::ApproximateReceiveCount).map_or("<none>", String::as_str),
        )
    })
}

fn receive_in_flight(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let _ = receive(f, &f.queue_url).await;
        match receive(f, &f.queue_url).await {
            Ok(out) => format!("messages={}", out.messages().len()),
            Err(line) => line,
        }
    })
}

fn delete_batch(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let handle = match receive(f, &f.queue_url).await {
            Ok(out) => out.messages().first().and_then(|m| m.receipt_handle()).unwrap_or_default().to_string(),
            Err(line) => return line,
        };
        let entry = |id: &str, h: &str| DeleteMessageBatchRequestEntry::builder().id(id).receipt_handle(h).build();
        let out = f
            .sqs
            .delete_message_batch()
            .queue_url(&f.queue_url)
            .entries(entry("good", &handle).unwrap())
            .entries(entry("bad", "not-a-receipt-handle").unwrap())
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => return sqs_error(e.into_service_error(), |e| e.is_queue_does_not_exist()),
        };
        let left = f
            .sqs
            .get_queue_attributes()
            .queue_url(&f.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .ok()
            .and_then(|a| a.attributes()?.get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible).cloned());
        let ok: Vec<&str> = out.successful().iter().map(|s| s.id()).collect();
        let failed: Vec<String> =
            out.failed().iter().map(|e| format!("{}:{} sender={}", e.id(), e.code(), e.sender_fault())).collect();
        format!("successful=[{}] failed=[{}] left={}", ok.join(","), failed.join(","), left.unwrap_or_default())
    })
}

fn queue_attributes(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let out =
            f.sqs.get_queue_attributes().queue_url(&f.queue_url).attribute_names(QueueAttributeName::All).send().await;
        let out = match out {
            Ok(out) => out,
            Err(e) => return sqs_error(e.into_service_error(), |e| e.is_queue_does_not_exist()),
        };
        let a = out.attributes().cloned().unwrap_or_default();
        let get = |k: QueueAttributeName| a.get(&k).cloned().unwrap_or_else(|| "<none>".into());
        format!(
            "visible={} not_visible={} visibility={} arn={}",
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            get(QueueAttributeName::VisibilityTimeout),
            get(QueueAttributeName::QueueArn).replace(&f.account, "<account>"),
        )
    })
}

fn receive_missing(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(async move {
        match receive(f, &f.missing_queue_url()).await {
            Ok(out) => format!("messages={}", out.messages().len()),
            Err(line) => line,
        }
    })
}

fn attributes_missing(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let url = f.missing_queue_url();
        match f.sqs.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::All).send().await {
            Ok(_) => "ok".into(),
            Err(e) => sqs_error(e.into_service_error(), |e| e.is_queue_does_not_exist()),
        }
    })
}

fn delete_missing(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let entry = DeleteMessageBatchRequestEntry::builder().id("a").receipt_handle("x").build().unwrap();
        match f.sqs.delete_message_batch().queue_url(f.missing_queue_url()).entries(entry).send().await {
            Ok(_) => "ok".into(),
            Err(e) => sqs_error(e.into_service_error(), |e| e.is_queue_does_not_exist()),
        }
    })
}

async fn filter(f: &Fixture, group: &str, start: i64) -> String {
    use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata as _;
    let out = f.logs.filter_log_events().log_group_name(group).start_time(start).send().await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            let e = e.into_service_error();
            return format!("error {}: {}", e.code().unwrap_or("<none>"), e.message().unwrap_or_default());
        }
    };
    let Some(event) = out.events().first() else { return format!("events={}", out.events().len()) };
    let record: Value = serde_json::from_str(event.message().unwrap_or_default()).unwrap_or_default();
    format!(
        "events={} stream={} userPoolId={} timestamp={} next_token={}",
        out.events().len(),
        event.log_stream_name().unwrap_or("<none>"),
        record["logSourceId"]["userPoolId"].as_str().unwrap_or("<none>"),
        if event.timestamp() == Some(f.logged_at) { "seeded" } else { "wrong" },
        out.next_token().unwrap_or("none"),
    )
}

fn filter_events(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(filter(f, GROUP, f.logged_at - 1000))
}

fn filter_later(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(filter(f, GROUP, f.logged_at + 1))
}

fn filter_missing_group(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(filter(f, "/no/such/group", f.logged_at - 1000))
}

async fn suppressed(f: &Fixture, email: &str) -> String {
    match f.ses.get_suppressed_destination().email_address(email).send().await {
        Ok(out) => match out.suppressed_destination() {
            Some(d) => {
                let age = Utc::now().timestamp() - d.last_update_time().secs();
                format!(
                    "email={} reason={} last_update={}",
                    d.email_address(),
                    d.reason().as_str(),
                    if (0..600).contains(&age) { "recent" } else { "wrong" }
                )
            }
            None => "no SuppressedDestination".into(),
        },
        Err(e) => {
            use aws_sdk_sesv2::error::ProvideErrorMetadata as _;
            let e = e.into_service_error();
            if e.is_not_found_exception() {
                "error NotFoundException".into()
            } else if e.code().is_none() && e.meta().message().is_none() {
                // An answer that is not an AWS error (moto's HTML 404).
                "error <none> (HTTP 404, not JSON)".into()
            } else {
                format!("error {}", e.code().unwrap_or("<none>"))
            }
        }
    }
}

fn suppressed_found(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(suppressed(f, SUPPRESSED))
}

fn suppressed_not_found(f: &Fixture) -> BoxFuture<'_, String> {
    Box::pin(suppressed(f, NOT_SUPPRESSED))
}

// ---------------------------------------------------------------- backends and seeding

enum Server {
    Twin { rig: Box<testkit::Rig> },
    Moto { moto: Moto },
}

impl Server {
    async fn start(backend: Backend) -> Server {
        match backend {
            Backend::Twin => {
                // The busy scenario without its other senders: their records would fill the queue.
                let mut scenario = Scenario::busy_scenario().expect("busy scenario");
                scenario.background.rate_per_minute = 0;
                scenario.suppressed_destinations.clear();
                let rig = testkit::Rig::builder().scenario(scenario).build().await;
                Server::Twin { rig: Box::new(rig) }
            }
            Backend::Moto => Server::Moto { moto: Moto::start() },
        }
    }
}

impl conformance::Seeded for Server {
    type Fixture = Fixture;

    /// The world as seeded, undoing whatever the previous case changed.
    async fn fresh(&mut self) -> Fixture {
        match self {
            Server::Twin { rig } => {
                rig.control().reset();
                let conf = rig.sdk_config_without_retries().await;
                seed(&conf, "657033058608", false).await
            }
            Server::Moto { moto } => {
                moto.reset();
                let conf = testkit::aws::sdk_config_without_retries(&moto.endpoint_url()).await;
                seed(&conf, testkit::moto::ACCOUNT, true).await
            }
        }
    }
}

/// One message in the queue, one Cognito error record in the log group, one suppressed address.
async fn seed(conf: &aws_config::SdkConfig, account: &str, create: bool) -> Fixture {
    let sqs = aws_sdk_sqs::Client::new(conf);
    let logs = aws_sdk_cloudwatchlogs::Client::new(conf);
    let ses = aws_sdk_sesv2::Client::new(conf);
    if create {
        sqs.create_queue().queue_name(QUEUE).send().await.expect("CreateQueue");
        logs.create_log_group().log_group_name(GROUP).send().await.expect("CreateLogGroup");
    }
    let queue_url = sqs.get_queue_url().queue_name(QUEUE).send().await.expect("GetQueueUrl");
    let queue_url = queue_url.queue_url().expect("QueueUrl").to_string();
    sqs.send_message().queue_url(&queue_url).message_body(BODY).send().await.expect("SendMessage");
    logs.create_log_stream().log_group_name(GROUP).log_stream_name(STREAM).send().await.expect("CreateLogStream");
    let logged_at = Utc::now().timestamp_millis();
    let record = json!({"eventTimestamp": logged_at.to_string(), "eventSource": "USER_NOTIFICATION",
        "logLevel": "ERROR", "message": "Message failed to deliver.",
        "logSourceId": {"userPoolId": STREAM}, "error": "not authorized to perform `ses:SendEmail'"});
    let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
        .timestamp(logged_at)
        .message(record.to_string())
        .build()
        .unwrap();
    logs.put_log_events()
        .log_group_name(GROUP)
        .log_stream_name(STREAM)
        .log_events(event)
        .send()
        .await
        .expect("PutLogEvents");
    let put = ses
        .put_suppressed_destination()
        .email_address(SUPPRESSED)
        .reason(aws_sdk_sesv2::types::SuppressionListReason::Bounce)
        .send()
        .await;
    // On moto the call does not exist (MOTO_NO_SUPPRESSION); the cases pin that.
    if !create {
        put.expect("PutSuppressedDestination");
    }
    Fixture { sqs, logs, ses, account: account.to_string(), queue_url, logged_at }
}

#[tokio::test]
async fn twin_sender_evidence_calls_answer_as_aws_documents() {
    conformance::run_suite(Server::start(Backend::Twin).await, Backend::Twin, CASES).await;
}

#[tokio::test]
async fn moto_sender_evidence_calls_answer_as_the_twin_except_known_deviations() {
    conformance::run_suite(Server::start(Backend::Moto).await, Backend::Moto, CASES).await;
}

#[test]
fn sender_evidence_deviations_differ_from_aws() {
    conformance::deviations_differ_from_aws(CASES);
}

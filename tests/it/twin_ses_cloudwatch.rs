//! The twin's SESv2 and CloudWatch sides through the real `aws-sdk-sesv2` and `aws-sdk-cloudwatch`
//! (Smithy RPC v2 CBOR) clients: identity, policies and account reads; the Send metric after a trigger
//! with CloudWatch's bucket semantics, the configuration-set dimension, and publication lag.

use aws_sdk_cloudwatch::primitives::DateTime as AwsDateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, Statistic, StatusCode};
use aws_sdk_cognitoidentityprovider::types::{DeliveryMediumType, MessageActionType};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::twin_harness::*;

fn aws_time(t: DateTime<Utc>) -> AwsDateTime {
    AwsDateTime::from_secs(t.timestamp())
}

async fn resend(env: &Env, pool: &str, user: &str) {
    env.cognito
        .admin_create_user()
        .user_pool_id(pool)
        .username(user)
        .message_action(MessageActionType::Resend)
        .desired_delivery_mediums(DeliveryMediumType::Email)
        .send()
        .await
        .unwrap();
}

fn send_query(id: &str, dims: Vec<Dimension>) -> MetricDataQuery {
    let metric = Metric::builder().namespace("AWS/SES").metric_name("Send").set_dimensions(Some(dims)).build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Sum").build())
        .return_data(true)
        .build()
}

/// (timestamps as epoch seconds, values) of the first result of a GetMetricData call.
async fn read(env: &Env, query: MetricDataQuery, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<(i64, f64)> {
    let out = env
        .cloudwatch
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(aws_time(start))
        .end_time(aws_time(end))
        .send()
        .await
        .unwrap();
    let r = &out.metric_data_results()[0];
    assert_eq!(r.status_code(), Some(&StatusCode::Complete));
    r.timestamps().iter().map(|t| t.secs()).zip(r.values().iter().copied()).collect()
}

#[tokio::test]
async fn ses_identity_policies_and_account() {
    let env = start().await;
    let id = env.ses.get_email_identity().email_identity(IDENTITY).send().await.unwrap();
    assert_eq!(id.identity_type().map(|t| t.as_str()), Some("EMAIL_ADDRESS"));
    assert!(id.verified_for_sending_status());
    assert_eq!(id.verification_status().map(|s| s.as_str()), Some("SUCCESS"));
    let dkim = id.dkim_attributes().unwrap();
    assert!(dkim.signing_enabled());
    assert_eq!(dkim.status().map(|s| s.as_str()), Some("SUCCESS"));
    let policy = &id.policies().unwrap()["AllowCognitoUserPoolsToSend"];
    assert!(policy.contains("cognito-idp.amazonaws.com"));

    let policies = env.ses.get_email_identity_policies().email_identity(IDENTITY).send().await.unwrap();
    assert_eq!(policies.policies().unwrap().keys().collect::<Vec<_>>(), ["AllowCognitoUserPoolsToSend"]);

    let account = env.ses.get_account().send().await.unwrap();
    assert!(account.production_access_enabled());
    assert!(account.sending_enabled());
    let quota = account.send_quota().unwrap();
    assert_eq!((quota.max24_hour_send(), quota.max_send_rate(), quota.sent_last24_hours()), (50000.0, 14.0, 0.0));
    resend(&env, PROD, "probe-prod-fcp").await;
    let account = env.ses.get_account().send().await.unwrap();
    assert_eq!(account.send_quota().unwrap().sent_last24_hours(), 1.0);

    let err = env.ses.get_email_identity().email_identity("nobody@nowhere.test").send().await.unwrap_err();
    let err = err.into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");

    // The missing-policy fault is what SES then reports (the state the doctor will read).
    env.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    let policies = env.ses.get_email_identity_policies().email_identity(IDENTITY).send().await.unwrap();
    assert!(policies.policies().is_none_or(|p| p.is_empty()));
}

#[tokio::test]
async fn mail_from_attributes_are_reported() {
    let mut scenario = default_scenario();
    scenario.identities[0].mail_from_domain = Some("mail.thephenom.app".into());
    let env = start_with(scenario, Some(t0())).await;
    let id = env.ses.get_email_identity().email_identity(IDENTITY).send().await.unwrap();
    let mf = id.mail_from_attributes().unwrap();
    assert_eq!(mf.mail_from_domain(), "mail.thephenom.app");
    assert_eq!(mf.mail_from_domain_status().as_str(), "SUCCESS");
    assert_eq!(mf.behavior_on_mx_failure().as_str(), "USE_DEFAULT_VALUE");
}

/// The staging pool sends through its own configuration set, whose CloudWatch destination publishes the
/// `ses:configuration-set` metrics (research/ses-events-oauth-emf.md §3: fine-grained metrics need one).
fn staging_with_metrics_destination(scenario: &mut twin::scenario::Scenario) {
    scenario.configuration_sets.push(twin::scenario::ConfigurationSet {
        name: "phenom-staging".into(),
        event_destinations: vec![twin::scenario::EventDestination {
            name: "metrics".into(),
            kind: twin::scenario::DestinationKind::Cloudwatch,
            enabled: true,
            queue: None,
            topic: None,
            raw_message_delivery: false,
            matching_event_types: vec![twin::events::EventType::Send, twin::events::EventType::Delivery],
        }],
    });
    scenario.pools[1].email.configuration_set = Some("phenom-staging".into());
}

#[tokio::test]
async fn send_metric_rises_at_the_minute_of_the_send() {
    let mut scenario = default_scenario();
    staging_with_metrics_destination(&mut scenario);
    let env = start_with(scenario, Some(t0())).await;
    let minute = t0() - Duration::seconds(25); // 12:00:00
    let window = (t0(), minute + Duration::minutes(10));
    assert!(read(&env, send_query("send", vec![]), window.0, window.1).await.is_empty(), "no data: no zeros either");

    resend(&env, PROD, "probe-prod-fcp").await;
    resend(&env, "us-east-1_Qp3xT9vLm", "probe-staging-fcp").await;
    env.control().advance(Duration::minutes(2)).unwrap();
    resend(&env, PROD, "probe-prod-fcp").await;

    // StartTime 12:00:25 is rounded down to 12:00:00; newest first (ScanBy default); the empty minute
    // 12:01 is absent.
    let expected = vec![((minute + Duration::minutes(2)).timestamp(), 1.0), (minute.timestamp(), 2.0)];
    assert_eq!(read(&env, send_query("send", vec![]), window.0, window.1).await, expected);
    // EndTime is exclusive.
    assert_eq!(
        read(&env, send_query("send", vec![]), window.0, minute + Duration::minutes(2)).await,
        vec![(minute.timestamp(), 2.0)]
    );
    // The configuration-set metric is a separate metric with only the staging pool's mail.
    let dim = Dimension::builder().name("ses:configuration-set").value("phenom-staging").build();
    assert_eq!(read(&env, send_query("cs", vec![dim]), window.0, window.1).await, vec![(minute.timestamp(), 1.0)]);

    // Ascending scan and GetMetricStatistics agree.
    let asc = env
        .cloudwatch
        .get_metric_data()
        .metric_data_queries(send_query("send", vec![]))
        .start_time(aws_time(window.0))
        .end_time(aws_time(window.1))
        .scan_by(ScanBy::TimestampAscending)
        .send()
        .await
        .unwrap();
    assert_eq!(asc.metric_data_results()[0].values(), [2.0, 1.0]);
    let stats = env
        .cloudwatch
        .get_metric_statistics()
        .namespace("AWS/SES")
        .metric_name("Send")
        .start_time(aws_time(window.0))
        .end_time(aws_time(window.1))
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .unwrap();
    let mut points: Vec<(i64, Option<f64>)> =
        stats.datapoints().iter().map(|d| (d.timestamp().unwrap().secs(), d.sum())).collect();
    points.sort_by_key(|p| p.0);
    assert_eq!(points, vec![(minute.timestamp(), Some(2.0)), ((minute + Duration::minutes(2)).timestamp(), Some(1.0))]);

    // Delivery rises when the mail is written.
    let delivery = MetricDataQuery::builder()
        .id("delivery")
        .metric_stat(
            MetricStat::builder()
                .metric(Metric::builder().namespace("AWS/SES").metric_name("Delivery").build())
                .period(60)
                .stat("Sum")
                .build(),
        )
        .build();
    let total: f64 = read(&env, delivery, window.0, window.1).await.iter().map(|p| p.1).sum();
    assert_eq!(total, 3.0);
}

#[tokio::test]
async fn metric_lag_hides_fresh_points() {
    let env = start().await;
    env.control().patch_faults(&json!({"metric_lag_seconds": 180})).unwrap();
    resend(&env, PROD, "probe-prod-fcp").await;
    let (start, end) = (t0() - Duration::minutes(5), t0() + Duration::minutes(10));
    assert!(read(&env, send_query("send", vec![]), start, end).await.is_empty(), "not yet published");
    env.control().advance(Duration::seconds(179)).unwrap();
    assert!(read(&env, send_query("send", vec![]), start, end).await.is_empty(), "one second early");
    env.control().advance(Duration::seconds(1)).unwrap();
    assert_eq!(read(&env, send_query("send", vec![]), start, end).await.len(), 1);
}

#[tokio::test]
async fn cloudwatch_rejects_invalid_queries_with_aws_codes() {
    let env = start().await;
    let bad_period = MetricDataQuery::builder()
        .id("send")
        .metric_stat(
            MetricStat::builder()
                .metric(Metric::builder().namespace("AWS/SES").metric_name("Send").build())
                .period(90)
                .stat("Sum")
                .build(),
        )
        .build();
    let err = env
        .cloudwatch
        .get_metric_data()
        .metric_data_queries(bad_period)
        .start_time(aws_time(t0()))
        .end_time(aws_time(t0() + Duration::minutes(5)))
        .send()
        .await
        .unwrap_err();
    let meta = aws_sdk_cloudwatch::error::ProvideErrorMetadata::code(&err).map(str::to_string);
    assert_eq!(meta.as_deref(), Some("ValidationError"), "{err:?}");

    let err = env
        .cloudwatch
        .get_metric_data()
        .metric_data_queries(send_query("send", vec![]))
        .start_time(aws_time(t0()))
        .end_time(aws_time(t0() + Duration::minutes(5)))
        .next_token("garbage")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_invalid_next_token(), "InvalidNextToken is a modeled error");

    let err = env
        .cloudwatch
        .get_metric_statistics()
        .namespace("AWS/SES")
        .metric_name("Send")
        .start_time(aws_time(t0() + Duration::minutes(5)))
        .end_time(aws_time(t0()))
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_invalid_parameter_value_exception());
}

/// The probe's batched reads (src/aws/cloudwatch.rs): reads asked for together are served by one
/// GetMetricData call, one query per distinct metric, and each probe still gets the sum of its own window.
#[tokio::test]
async fn concurrent_probe_reads_share_one_get_metric_data_call() {
    use cognito_delivery_probe::aws::cloudwatch::SendMetric;

    let mut scenario = default_scenario();
    staging_with_metrics_destination(&mut scenario);
    let env = start_with(scenario, None).await;
    let earlier = Utc::now() - Duration::minutes(3);
    resend(&env, PROD, "probe-prod-fcp").await;
    resend(&env, "us-east-1_Qp3xT9vLm", "probe-staging-fcp").await;
    let later = Utc::now() + Duration::minutes(2);

    let staging = SendMetric::ConfigurationSet("phenom-staging".into());
    let wait = std::time::Duration::from_millis(300);
    let mut reads = Vec::new();
    for i in 0..30 {
        let (metric, start) = match i % 3 {
            0 => (SendMetric::Account, earlier),
            1 => (staging.clone(), earlier),
            _ => (SendMetric::Account, later),
        };
        let clients = env.clients.clone();
        reads.push(async move { clients.send_sum(&metric, start, wait).await.unwrap() });
    }
    let sums = futures::future::join_all(reads).await;
    let expected: Vec<f64> = (0..30).map(|i| [2.0, 1.0, 0.0][i % 3]).collect();
    assert_eq!(sums, expected, "account Σ 2, staging configuration set Σ 1, a window after both sends Σ 0");
    assert_eq!(env.control().calls("GetMetricData"), 1, "30 reads, 2 distinct metrics: one call");
    assert_eq!(env.clients.cloudwatch_stats(), (30, 1));

    // A read asked for after that call is served by a new call, and sees a send made since.
    resend(&env, PROD, "probe-prod-fcp").await;
    assert_eq!(env.clients.send_sum(&SendMetric::Account, earlier, wait).await.unwrap(), 3.0);
    assert_eq!(env.control().calls("GetMetricData"), 2);

    // A failing call fails every read it serves, with the reason.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let conf = testkit::aws::sdk_config_without_retries(&format!("http://{closed}")).await;
    let unreachable = cognito_delivery_probe::aws::Clients::from_sdk_config(conf);
    let (a, b) = tokio::join!(
        unreachable.send_sum(&SendMetric::Account, earlier, wait),
        unreachable.send_sum(&staging, earlier, wait)
    );
    for r in [a, b] {
        let e = r.unwrap_err();
        assert!(e.code().is_none() && e.to_string().starts_with("GetMetricData: could not reach AWS"), "{e}");
    }
    assert_eq!(unreachable.cloudwatch_stats(), (2, 1), "one failed call for both reads");
}

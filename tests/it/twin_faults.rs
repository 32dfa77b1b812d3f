//! Every fault of the twin with its observable effect, set at run time through the HTTP control
//! endpoint (`POST /_twin/faults`, `/_twin/account`) the way `probe demo` and users do: mail in INBOX
//! vs Junk, nothing in the Maildir, Send flat vs +1, delayed arrival, the exception returned.

use aws_sdk_cognitoidentityprovider::types::{DeliveryMediumType, MessageActionType};
use chrono::Duration;
use serde_json::{Value, json};
use twin::cloudwatch::SesMetric;
use twin::mail::{DkimFault, ReceiverStyle};
use twin::sending::SendOutcome;
use twin::ses::Refusal;

use crate::twin_harness::*;

async fn control(env: &Env, path: &str, body: Value) -> (u16, Value) {
    let (status, body, _) =
        http(&env.url(), "POST", path, &[("Content-Type", "application/json")], body.to_string().as_bytes()).await;
    (status, serde_json::from_slice(&body).unwrap())
}

async fn resend(env: &Env) -> Result<(), (String, String)> {
    env.cognito
        .admin_create_user()
        .user_pool_id(PROD)
        .username("probe-prod-fcp")
        .message_action(MessageActionType::Resend)
        .desired_delivery_mediums(DeliveryMediumType::Email)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code_and_message(&e))
}

fn sends(env: &Env, metric: SesMetric) -> usize {
    env.control().metric_data().iter().filter(|d| d.metric == metric && d.configuration_set.is_none()).count()
}

/// (INBOX, Junk, Send, Bounce) after one RESEND under `faults`.
struct Effect {
    inbox: usize,
    junk: usize,
    send: usize,
    bounce: usize,
}

#[tokio::test]
async fn delivery_faults_case_table() {
    let cases: &[(&str, Value, Effect)] = &[
        ("healthy", json!({}), Effect { inbox: 1, junk: 0, send: 1, bounce: 0 }),
        (
            "identity policy missing: Cognito succeeds, nothing sent, Send flat",
            json!({"identity_policy_missing": true}),
            Effect { inbox: 0, junk: 0, send: 0, bounce: 0 },
        ),
        ("junk", json!({"junk": true}), Effect { inbox: 0, junk: 1, send: 1, bounce: 0 }),
        ("recipient drop", json!({"recipient_drop": "silent"}), Effect { inbox: 0, junk: 0, send: 1, bounce: 0 }),
        ("recipient bounce", json!({"recipient_drop": "bounce"}), Effect { inbox: 0, junk: 0, send: 1, bounce: 1 }),
    ];
    for (name, faults, want) in cases {
        let env = start().await;
        let (status, _) = control(&env, "/_twin/faults", faults.clone()).await;
        assert_eq!(status, 200, "{name}");
        resend(&env).await.unwrap_or_else(|e| panic!("{name}: Cognito must answer success, got {e:?}"));
        let got = (env.inbox().len(), env.junk().len(), sends(&env, SesMetric::Send), sends(&env, SesMetric::Bounce));
        assert_eq!(got, (want.inbox, want.junk, want.send, want.bounce), "{name}: (inbox, junk, Send, Bounce)");
    }
}

#[tokio::test]
async fn missing_policy_is_recorded_as_the_two_piece_gotcha() {
    let env = start().await;
    env.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    resend(&env).await.unwrap();
    assert_eq!(env.control().sent()[0].outcome, SendOutcome::Refused { reason: Refusal::NoIdentityPolicy });
    // The scenario's delivery rule can model the service-linked-role reading instead (aws.md §0.2).
    let mut scenario = default_scenario();
    scenario.delivery.developer_without_policy_delivers = true;
    scenario.faults.identity_policy_missing = true;
    let env = start_with(scenario, Some(t0())).await;
    resend(&env).await.unwrap();
    assert_eq!(env.inbox().len(), 1);
}

#[tokio::test]
async fn ses_account_state_sandbox_and_paused_sending() {
    let cases = [
        (
            "sandbox: recipient not verified",
            json!({"production_access_enabled": false}),
            Refusal::SandboxRecipientNotVerified,
        ),
        ("sending disabled", json!({"sending_enabled": false}), Refusal::SendingDisabled),
    ];
    for (name, patch, reason) in cases {
        let env = start().await;
        let (status, _) = control(&env, "/_twin/account", patch).await;
        assert_eq!(status, 200, "{name}");
        resend(&env).await.unwrap();
        assert!(env.inbox().is_empty(), "{name}");
        assert_eq!(sends(&env, SesMetric::Send), 0, "{name}");
        assert_eq!(env.control().sent()[0].outcome, SendOutcome::Refused { reason }, "{name}");
        let account = env.ses.get_account().send().await.unwrap();
        assert!(!(account.production_access_enabled() && account.sending_enabled()), "{name}: GetAccount shows it");
    }
    // In the sandbox a verified recipient still receives.
    let mut scenario = default_scenario();
    scenario.account.production_access_enabled = false;
    let mut verified = scenario.identities[0].clone();
    verified.identity = "mail.test".into();
    verified.policies.clear();
    scenario.identities.push(verified);
    let env = start_with(scenario, Some(t0())).await;
    resend(&env).await.unwrap();
    assert_eq!(env.inbox().len(), 1);
}

#[tokio::test]
async fn delay_on_the_manual_clock() {
    let env = start().await;
    control(&env, "/_twin/faults", json!({"delivery_delay_seconds": 120})).await;
    resend(&env).await.unwrap();
    assert!(env.inbox().is_empty(), "not yet delivered");
    assert_eq!(sends(&env, SesMetric::Send), 1, "Send rises at send time");
    let (status, _) = control(&env, "/_twin/clock", json!({"advance_seconds": 119})).await;
    assert_eq!(status, 200);
    assert!(env.inbox().is_empty());
    control(&env, "/_twin/clock", json!({"advance_seconds": 1})).await;
    let inbox = env.inbox();
    assert_eq!(inbox.len(), 1);
    // Maildir mtime (Dovecot's INTERNALDATE) is the receiver's acceptance time.
    let mtime: chrono::DateTime<chrono::Utc> = std::fs::metadata(&inbox[0]).unwrap().modified().unwrap().into();
    assert_eq!(mtime, t0() + Duration::seconds(120));
}

#[tokio::test]
async fn delay_on_the_system_clock_and_shutdown_does_not_wait() {
    let env = start_with(default_scenario(), None).await;
    env.control().patch_faults(&json!({"delivery_delay_seconds": 1})).unwrap();
    resend(&env).await.unwrap();
    assert!(env.inbox().is_empty());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while env.inbox().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(env.inbox().len(), 1, "delivered by the background task");
    // A message queued far in the future does not hold up shutdown.
    env.control().patch_faults(&json!({"delivery_delay_seconds": 3600})).unwrap();
    resend(&env).await.unwrap();
    let Env { rig, .. } = env;
    tokio::time::timeout(std::time::Duration::from_secs(2), rig.shutdown()).await.expect("shutdown hung");
}

#[tokio::test]
async fn authentication_faults_reach_the_mail_writer() {
    let cases: &[(&str, Value, DkimFault, bool, bool, bool)] = &[
        ("none", json!({}), DkimFault::None, false, false, false),
        ("dkim fail", json!({"dkim": "fail"}), DkimFault::Fail, false, false, false),
        ("dkim missing", json!({"dkim": "missing"}), DkimFault::Missing, false, false, false),
        ("dkim unaligned", json!({"dkim": "unaligned"}), DkimFault::Unaligned, false, false, false),
        ("spf fail", json!({"spf_fail": true}), DkimFault::None, true, false, false),
        ("dmarc fail", json!({"dmarc_fail": true}), DkimFault::None, false, true, false),
        ("forged upstream", json!({"forged_upstream": true}), DkimFault::None, false, false, true),
    ];
    for (name, faults, dkim, spf_fail, dmarc_fail, forged) in cases {
        let env = start().await;
        env.control().patch_faults(faults).unwrap();
        resend(&env).await.unwrap();
        assert_eq!(env.inbox().len(), 1, "{name}: authentication faults still deliver");
        let handoff = env.control().sent()[0].handoff.clone().unwrap();
        assert_eq!(
            (handoff.dkim, handoff.spf_fail, handoff.dmarc_fail, handoff.forged_upstream),
            (*dkim, *spf_fail, *dmarc_fail, *forged),
            "{name}"
        );
        assert_eq!(handoff.dkim_domain.as_deref(), Some("thephenom.app"));
        assert_eq!(handoff.receiver, ReceiverStyle::Gmail);
        assert!(!handoff.cognito_default);
    }
}

#[tokio::test]
async fn injected_exceptions_and_throttling() {
    let env = start().await;
    let (status, _) = control(
        &env,
        "/_twin/faults",
        json!({"exceptions": [{"name": "CodeDeliveryFailureException", "message": "Unable to deliver", "count": 2,
            "operation": "AdminCreateUser"}]}),
    )
    .await;
    assert_eq!(status, 200);
    // Other operations are not affected.
    env.cognito.admin_get_user().user_pool_id(PROD).username("probe-prod-fcp").send().await.unwrap();
    let want = Err(("CodeDeliveryFailureException".to_string(), "Unable to deliver".to_string()));
    assert_eq!(resend(&env).await, want);
    assert_eq!(resend(&env).await, want);
    resend(&env).await.unwrap();
    assert_eq!(env.inbox().len(), 1, "only the successful call sent mail");

    control(&env, "/_twin/faults", json!({"throttle": true, "throttle_operations": ["AdminCreateUser"]})).await;
    assert_eq!(resend(&env).await.unwrap_err().0, "TooManyRequestsException");
    env.cognito.admin_get_user().user_pool_id(PROD).username("probe-prod-fcp").send().await.unwrap();
    control(&env, "/_twin/faults", json!({"throttle": false})).await;
    resend(&env).await.unwrap();

    // A bad fault is refused with what was expected; reset restores the scenario.
    let (status, body) = control(&env, "/_twin/faults", json!({"exceptions": [{"name": "Oops"}]})).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("expected a name ending in \"Exception\""), "{body}");
    control(&env, "/_twin/faults", json!({"junk": true})).await;
    let (status, _) = control(&env, "/_twin/reset", json!({})).await;
    assert_eq!(status, 200);
    assert!(!env.control().faults().junk);
    let (status, state, _) = http(&env.url(), "GET", "/_twin/state", &[], b"").await;
    assert_eq!(status, 200);
    let state: Value = serde_json::from_slice(&state).unwrap();
    assert_eq!(state["faults"]["junk"], false);
    assert_eq!(state["sent"], json!([]));
}

#[tokio::test]
async fn receiver_style_and_faults_from_the_scenario_file() {
    let text = twin::scenario::DEFAULT_SCENARIO
        .replace("receiver = \"gmail\"", "receiver = \"outlook\"")
        .replace("[faults]", "[faults]\njunk = true\ndkim = \"unaligned\"");
    let scenario = twin::scenario::Scenario::parse(&text, std::path::Path::new("junk.toml")).unwrap();
    let env = start_with(scenario, Some(t0())).await;
    resend(&env).await.unwrap();
    assert_eq!(env.junk().len(), 1);
    let handoff = env.control().sent()[0].handoff.clone().unwrap();
    assert_eq!((handoff.receiver, handoff.dkim), (ReceiverStyle::Outlook, DkimFault::Unaligned));
}

//! The twin's Cognito side through the real `aws-sdk-cognitoidentityprovider` client: every trigger for
//! every user status of research/aws.md §1.1 (table-driven), SecretHash, PreventUserExistenceErrors,
//! RESEND's SMS default, the per-user hourly limits, the COGNITO_DEFAULT daily quota, and the Describe
//! calls.

use aws_sdk_cognitoidentityprovider::types::{DeliveryMediumType, MessageActionType, UserStatusType};
use chrono::Duration;
use twin::cognito::secret_hash;
use twin::scenario::SendingAccount;
use twin::sending::SendOutcome;

use crate::twin_harness::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Trigger {
    Resend,
    ForgotPassword,
    AdminReset,
    ResendConfirmation,
}

/// Ok(()) = success and one message in INBOX; Err((code, message)).
type Expect = Result<(), (&'static str, &'static str)>;

async fn fire(env: &Env, trigger: Trigger, username: &str) -> Result<(), (String, String)> {
    let c = &env.cognito;
    let hash = secret_hash(BACKEND_SECRET, username, BACKEND_CLIENT);
    match trigger {
        Trigger::Resend => c
            .admin_create_user()
            .user_pool_id(PROD)
            .username(username)
            .message_action(MessageActionType::Resend)
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code_and_message(&e)),
        Trigger::ForgotPassword => c
            .forgot_password()
            .client_id(BACKEND_CLIENT)
            .secret_hash(hash)
            .username(username)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code_and_message(&e)),
        Trigger::AdminReset => c
            .admin_reset_user_password()
            .user_pool_id(PROD)
            .username(username)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code_and_message(&e)),
        Trigger::ResendConfirmation => c
            .resend_confirmation_code()
            .client_id(BACKEND_CLIENT)
            .secret_hash(hash)
            .username(username)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code_and_message(&e)),
    }
}

const CANNOT_RESET: (&str, &str) = ("NotAuthorizedException", "User password cannot be reset in the current state.");
const DISABLED: (&str, &str) = ("NotAuthorizedException", "User is disabled.");
const NO_CONTACT: (&str, &str) = (
    "InvalidParameterException",
    "Cannot reset password for the user as there is no registered/verified email or phone_number",
);
const CONFIRMED_ALREADY: (&str, &str) = ("InvalidParameterException", "User is already confirmed.");
const NOT_FOUND_ADMIN: (&str, &str) = ("UserNotFoundException", "User does not exist.");
const NOT_FOUND_CLIENT: (&str, &str) = ("UserNotFoundException", "Username/client id combination not found.");

#[tokio::test]
async fn every_trigger_for_every_user_status() {
    use Trigger::*;
    let env = start().await;
    let unsupported = |u: &'static str| -> Expect {
        Err((
            "UnsupportedUserStateException",
            Box::leak(format!("Resend not possible. {u} status is not FORCE_CHANGE_PASSWORD.").into_boxed_str()),
        ))
    };
    // (username, status as AdminGetUser reports it, [RESEND, ForgotPassword, AdminResetUserPassword,
    // ResendConfirmationCode])
    let table: Vec<(&str, Option<UserStatusType>, [Expect; 4])> = vec![
        (
            "probe-prod-fcp",
            Some(UserStatusType::ForceChangePassword),
            [Ok(()), Err(CANNOT_RESET), Err(CANNOT_RESET), Err(CONFIRMED_ALREADY)],
        ),
        (
            "probe-prod-confirmed",
            Some(UserStatusType::Confirmed),
            [unsupported("probe-prod-confirmed"), Ok(()), Ok(()), Err(CONFIRMED_ALREADY)],
        ),
        (
            "probe-prod-reset",
            Some(UserStatusType::ResetRequired),
            [unsupported("probe-prod-reset"), Ok(()), Ok(()), Err(CONFIRMED_ALREADY)],
        ),
        (
            "probe-prod-unconfirmed",
            Some(UserStatusType::Unconfirmed),
            [unsupported("probe-prod-unconfirmed"), Err(NO_CONTACT), Err(CANNOT_RESET), Ok(())],
        ),
        (
            "probe-prod-unverified",
            Some(UserStatusType::Confirmed),
            [unsupported("probe-prod-unverified"), Err(NO_CONTACT), Err(NO_CONTACT), Err(CONFIRMED_ALREADY)],
        ),
        (
            "probe-prod-disabled",
            Some(UserStatusType::Confirmed),
            [unsupported("probe-prod-disabled"), Err(DISABLED), Err(DISABLED), Err(DISABLED)],
        ),
        (
            "Google_107716451260948812345",
            Some(UserStatusType::ExternalProvider),
            [unsupported("Google_107716451260948812345"), Err(CANNOT_RESET), Err(CANNOT_RESET), Err(CONFIRMED_ALREADY)],
        ),
        (
            "nobody-here",
            None,
            [Err(NOT_FOUND_ADMIN), Err(NOT_FOUND_CLIENT), Err(NOT_FOUND_ADMIN), Err(NOT_FOUND_CLIENT)],
        ),
    ];
    for (username, status, expects) in table {
        match (env.cognito.admin_get_user().user_pool_id(PROD).username(username).send().await, &status) {
            (Ok(user), Some(want)) => {
                assert_eq!(user.user_status(), Some(want), "{username}");
                let email = user.user_attributes().iter().find(|a| a.name() == "email").and_then(|a| a.value());
                assert!(email.is_some_and(|e| e.starts_with("probe+prod-")), "{username}: {email:?}");
            }
            (Err(err), None) => {
                assert_eq!(code_and_message(&err), (NOT_FOUND_ADMIN.0.into(), NOT_FOUND_ADMIN.1.into()))
            }
            (got, _) => panic!("{username}: AdminGetUser gave {got:?}"),
        }
        for (trigger, expect) in [Resend, ForgotPassword, AdminReset, ResendConfirmation].into_iter().zip(expects) {
            env.control().reset();
            let before = env.inbox().len();
            let got = fire(&env, trigger, username).await;
            let want = expect.map_err(|(c, m)| (c.to_string(), m.to_string()));
            assert_eq!(got, want, "{username} / {trigger:?}");
            let mails = env.inbox().len() - before;
            assert_eq!(mails, usize::from(got.is_ok()), "{username} / {trigger:?}: mails written");
        }
    }
}

#[tokio::test]
async fn triggered_mail_carries_the_pool_sender_and_the_rendered_template() {
    let env = start().await;
    fire(&env, Trigger::Resend, "probe-prod-fcp").await.unwrap();
    fire(&env, Trigger::ForgotPassword, "probe-prod-confirmed").await.unwrap();
    let inbox = env.inbox();
    assert_eq!(inbox.len(), 2);
    let mut seen = Vec::new();
    for path in &inbox {
        let (_, msg) = parse(path);
        let from = msg.from().and_then(|a| a.first()).unwrap();
        assert_eq!((from.name(), from.address()), (Some("Phenom"), Some("noreply@thephenom.app")));
        let to = msg.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap().to_string();
        let body = msg.body_text(0).unwrap().to_string();
        seen.push((msg.subject().unwrap().to_string(), to, body));
    }
    seen.sort();
    let (subject, to, body) = &seen[0];
    assert_eq!((subject.as_str(), to.as_str()), ("Your temporary password", "probe+prod-fcp@mail.test"));
    assert!(body.starts_with("Your username is probe-prod-fcp and temporary password is "), "{body}");
    let (subject, to, body) = &seen[1];
    assert_eq!((subject.as_str(), to.as_str()), ("Your verification code", "probe+prod-confirmed@mail.test"));
    let code = body.trim().strip_prefix("Your verification code is ").unwrap().trim_end_matches('.');
    assert!(code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()), "{body}");
    // The secrets in the mail never reach the send log.
    let log = serde_json::to_string(&env.control().sent()).unwrap();
    assert!(!log.contains(code), "the code leaked into the send log");
}

#[tokio::test]
async fn admin_reset_moves_the_user_to_reset_required() {
    let env = start().await;
    fire(&env, Trigger::AdminReset, "probe-prod-confirmed").await.unwrap();
    let user = env.cognito.admin_get_user().user_pool_id(PROD).username("probe-prod-confirmed").send().await.unwrap();
    assert_eq!(user.user_status(), Some(&UserStatusType::ResetRequired));
}

#[tokio::test]
async fn secret_hash_is_required_and_verified() {
    let env = start().await;
    let user = "probe-prod-confirmed";
    let right = secret_hash(BACKEND_SECRET, user, BACKEND_CLIENT);
    let wrong = secret_hash("not-the-secret", user, BACKEND_CLIENT);
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Result<(), (String, String)>);
    let cases: [Case; 4] = [
        (
            "secret client, no hash",
            BACKEND_CLIENT,
            None,
            Err((
                "NotAuthorizedException".into(),
                format!("Client {BACKEND_CLIENT} is configured for secret but secret was not received"),
            )),
        ),
        (
            "secret client, wrong hash",
            BACKEND_CLIENT,
            Some(&wrong),
            Err(("NotAuthorizedException".into(), format!("Unable to verify secret hash for client {BACKEND_CLIENT}"))),
        ),
        ("secret client, right hash", BACKEND_CLIENT, Some(&right), Ok(())),
        ("client without secret, no hash", WEB_CLIENT, None, Ok(())),
    ];
    for (name, client, hash, want) in cases {
        env.control().reset();
        let got = env
            .cognito
            .forgot_password()
            .client_id(client)
            .set_secret_hash(hash.map(str::to_string))
            .username(user)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| code_and_message(&e));
        assert_eq!(got, want, "{name}");
    }
}

#[tokio::test]
async fn prevent_user_existence_errors_enabled_simulates_success_without_mail() {
    let env = start().await;
    let out = env.cognito.forgot_password().client_id(WEB_CLIENT).username("no-such-user").send().await.unwrap();
    let details = out.code_delivery_details().unwrap();
    assert_eq!(details.delivery_medium(), Some(&DeliveryMediumType::Email));
    assert!(env.inbox().is_empty());
    assert!(env.control().sent().is_empty(), "nothing is sent for a simulated delivery");
    let hash = secret_hash(BACKEND_SECRET, "no-such-user", BACKEND_CLIENT);
    let err = env
        .cognito
        .forgot_password()
        .client_id(BACKEND_CLIENT)
        .secret_hash(hash)
        .username("no-such-user")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(&err), (NOT_FOUND_CLIENT.0.into(), NOT_FOUND_CLIENT.1.into()));
    // A real user gets a masked destination (research/aws.md §1.2).
    let out =
        env.cognito.forgot_password().client_id(WEB_CLIENT).username("probe-prod-confirmed").send().await.unwrap();
    assert_eq!(out.code_delivery_details().unwrap().destination(), Some("p***@m***"));
}

#[tokio::test]
async fn resend_without_email_medium_sends_sms_not_mail() {
    let env = start().await;
    env.cognito
        .admin_create_user()
        .user_pool_id(PROD)
        .username("probe-prod-fcp")
        .message_action(MessageActionType::Resend)
        .send()
        .await
        .unwrap();
    assert!(env.inbox().is_empty(), "DesiredDeliveryMediums defaults to SMS (research/aws.md §1.4)");
    let sent = env.control().sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].outcome, SendOutcome::Sms);
}

#[tokio::test]
async fn per_user_hourly_limits() {
    let env = start().await;
    let limit_err =
        ("LimitExceededException".to_string(), "Attempt limit exceeded, please try after some time.".to_string());
    // ForgotPassword and AdminResetUserPassword share the user's budget (attempt_limit_per_hour = 5).
    for i in 0..5 {
        let trigger = if i % 2 == 0 { Trigger::ForgotPassword } else { Trigger::AdminReset };
        fire(&env, trigger, "probe-prod-confirmed").await.unwrap_or_else(|e| panic!("attempt {i}: {e:?}"));
    }
    assert_eq!(fire(&env, Trigger::ForgotPassword, "probe-prod-confirmed").await, Err(limit_err.clone()));
    // Another user has its own budget.
    fire(&env, Trigger::ForgotPassword, "probe-prod-reset").await.unwrap();
    // RESEND has no per-user limit (DESIGN.md §2).
    for _ in 0..7 {
        fire(&env, Trigger::Resend, "probe-prod-fcp").await.unwrap();
    }
    // ResendConfirmationCode: 5 per user per hour.
    for _ in 0..5 {
        fire(&env, Trigger::ResendConfirmation, "probe-prod-unconfirmed").await.unwrap();
    }
    assert_eq!(fire(&env, Trigger::ResendConfirmation, "probe-prod-unconfirmed").await, Err(limit_err.clone()));
    // The window rolls: an hour later the budget is back.
    env.control().advance(Duration::minutes(59)).unwrap();
    assert_eq!(fire(&env, Trigger::ForgotPassword, "probe-prod-confirmed").await, Err(limit_err));
    env.control().advance(Duration::minutes(1)).unwrap();
    fire(&env, Trigger::ForgotPassword, "probe-prod-confirmed").await.unwrap();
    fire(&env, Trigger::ResendConfirmation, "probe-prod-unconfirmed").await.unwrap();
}

#[tokio::test]
async fn cognito_default_daily_quota_and_generic_sender() {
    let mut scenario = default_scenario();
    let pool = &mut scenario.pools[0];
    pool.email.sending_account = SendingAccount::CognitoDefault;
    pool.email.source_arn = None;
    pool.email.from = None;
    let env = start_with(scenario, Some(t0())).await;
    for i in 0..50 {
        fire(&env, Trigger::Resend, "probe-prod-fcp").await.unwrap_or_else(|e| panic!("mail {i}: {e:?}"));
    }
    let quota_err = fire(&env, Trigger::Resend, "probe-prod-fcp").await.unwrap_err();
    assert_eq!(quota_err.0, "LimitExceededException");
    assert!(quota_err.1.starts_with("Exceeded daily email limit for the operation or the account."), "{}", quota_err.1);
    assert_eq!(env.inbox().len(), 50);
    let (_, msg) = parse(&env.inbox()[0]);
    assert_eq!(msg.from().and_then(|a| a.first()).and_then(|a| a.address()), Some("no-reply@verificationemail.com"));
    // COGNITO_DEFAULT mail never counts in the account's SES metrics (research/aws.md §2.4).
    assert!(env.control().metric_data().is_empty());
    env.control().advance(Duration::hours(24)).unwrap();
    fire(&env, Trigger::Resend, "probe-prod-fcp").await.unwrap();
}

#[tokio::test]
async fn admin_create_user_creates_and_refuses_duplicates() {
    let env = start().await;
    let attr = |n: &str, v: &str| {
        aws_sdk_cognitoidentityprovider::types::AttributeType::builder().name(n).value(v).build().unwrap()
    };
    let out = env
        .cognito
        .admin_create_user()
        .user_pool_id(PROD)
        .username("probe-new")
        .user_attributes(attr("email", "probe+new@mail.test"))
        .user_attributes(attr("email_verified", "true"))
        .desired_delivery_mediums(DeliveryMediumType::Email)
        .send()
        .await
        .unwrap();
    assert_eq!(out.user().unwrap().user_status(), Some(&UserStatusType::ForceChangePassword));
    assert_eq!(env.inbox().len(), 1);
    let err = env.cognito.admin_create_user().user_pool_id(PROD).username("probe-new").send().await.unwrap_err();
    assert_eq!(code_and_message(&err).0, "UsernameExistsException");
}

#[tokio::test]
async fn describe_user_pool_and_client() {
    let env = start().await;
    let pool = env.cognito.describe_user_pool().user_pool_id(PROD).send().await.unwrap();
    let pool = pool.user_pool().unwrap();
    assert_eq!(pool.name(), Some("phenom-prod"));
    assert_eq!(pool.arn(), Some("arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3"));
    let email = pool.email_configuration().unwrap();
    assert_eq!(email.email_sending_account().map(|a| a.as_str()), Some("DEVELOPER"));
    assert_eq!(email.source_arn(), Some("arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app"));
    assert_eq!(email.from(), Some("Phenom <noreply@thephenom.app>"));
    assert_eq!(email.reply_to_email_address(), Some("noreply@thephenom.app"));
    let template = pool.admin_create_user_config().unwrap().invite_message_template().unwrap();
    assert_eq!(template.email_subject(), Some("Your temporary password"));
    let recovery = pool.account_recovery_setting().unwrap().recovery_mechanisms();
    assert_eq!(recovery[0].name().as_str(), "verified_email");

    let client =
        env.cognito.describe_user_pool_client().user_pool_id(PROD).client_id(BACKEND_CLIENT).send().await.unwrap();
    let client = client.user_pool_client().unwrap();
    assert_eq!(client.client_secret(), Some(BACKEND_SECRET));
    assert_eq!(client.prevent_user_existence_errors().map(|p| p.as_str()), Some("LEGACY"));
    let web = env.cognito.describe_user_pool_client().user_pool_id(PROD).client_id(WEB_CLIENT).send().await.unwrap();
    assert_eq!(web.user_pool_client().unwrap().client_secret(), None);

    let cases = [
        ("unknown pool", "us-east-1_Nope0000", BACKEND_CLIENT, "User pool us-east-1_Nope0000 does not exist."),
        ("client of no pool", PROD, "nosuchclient", "User pool client nosuchclient does not exist."),
    ];
    for (name, pool_id, client_id, message) in cases {
        let err = env
            .cognito
            .describe_user_pool_client()
            .user_pool_id(pool_id)
            .client_id(client_id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code_and_message(&err), ("ResourceNotFoundException".into(), message.into()), "{name}");
    }
}

//! The verdict decisions, table by table, without a server.

use std::path::Path;

use chrono::TimeZone as _;

use super::*;
use crate::aws::cognito::{SendingAccount, UserStatus};
use crate::report::Latency;

fn probe(extra: &str) -> ProbeFile {
    let text = format!(
        "pool_id = \"us-east-1_abc\"\nusername = \"probe\"\ntimeout = \"5m\"\n{extra}\n[maildir]\npath = \"/tmp/m\"\n"
    );
    ProbeFile::parse(&text, Path::new("p.toml")).unwrap()
}

fn pool(account: SendingAccount) -> Pool {
    Pool {
        id: "us-east-1_abc".into(),
        arn: Some("arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_abc".into()),
        sending_account: account,
        source_arn: Some("arn:aws:ses:us-east-1:111122223333:identity/mail.example.org".into()),
        from: Some("Team <hi@mail.example.org>".into()),
        reply_to: None,
        configuration_set: None,
    }
}

fn user() -> User {
    User {
        username: "probe".into(),
        status: UserStatus::ForceChangePassword,
        enabled: true,
        email: Some("probe@mail.test".into()),
        email_verified: true,
    }
}

fn service(code: &str, message: &str) -> AwsFailure {
    AwsFailure::Service { operation: "X", code: code.into(), message: message.into() }
}

#[test]
fn aws_failures_map_to_their_diagnosis() {
    let throttled = AwsFailure::Throttled {
        operation: "AdminGetUser",
        code: "TooManyRequestsException".into(),
        message: "".into(),
    };
    let unreachable = AwsFailure::Unreachable { operation: "AdminCreateUser", detail: "dispatch failure".into() };
    // (case, resolve's code, trigger's code)
    let cases = [
        ("throttled", &throttled, Code::Throttled, Code::Throttled),
        ("no answer", &unreachable, Code::AwsUnreachable, Code::AwsUnreachable),
        (
            "user gone",
            &service("UserNotFoundException", "User does not exist."),
            Code::UserNotFound,
            Code::UserNotFound,
        ),
        ("pool gone", &service("ResourceNotFoundException", "no pool"), Code::ConfigInvalid, Code::AwsError),
        ("access denied", &service("AccessDeniedException", "no"), Code::AwsError, Code::AwsError),
        (
            "role policy",
            &service("InvalidEmailRoleAccessPolicyException", "x"),
            Code::AwsError,
            Code::CognitoCannotSend,
        ),
        ("wrong state", &service("NotAuthorizedException", "x"), Code::AwsError, Code::TriggerRejected),
        (
            "unverified",
            &service("InvalidParameterException", "no registered/verified email"),
            Code::AwsError,
            Code::EmailUnverified,
        ),
    ];
    for (case, e, resolve, trigger) in cases {
        assert_eq!(resolve_failure(e, "probe").code, resolve, "{case}: resolve");
        assert_eq!(trigger_failure(Trigger::Resend, e, &user()).code, trigger, "{case}: trigger");
    }
    let no_answer = trigger_failure(Trigger::Resend, &unreachable, &user()).summary();
    assert!(no_answer.contains("may or may not have sent a mail"), "{no_answer}");
}

fn ses(status: SesStatus, increment: bool, reads: u32) -> SesEvidence {
    SesEvidence {
        status,
        metric: Some("AWS/SES Send (account)".into()),
        baseline: Some(0.0),
        latest: Some(if increment { 1.0 } else { -0.0 }),
        increment_seen: increment,
        reads,
        ..SesEvidence::default()
    }
}

/// (case, sending account, evidence) → (code, phase).
#[test]
fn not_delivered_names_the_side_that_dropped_the_mail() {
    use SendingAccount::{CognitoDefault, Developer};
    let cases = [
        ("Send rose", Developer, ses(SesStatus::Checked, true, 3), Code::RecipientSide, Phase::Inbox),
        ("Send flat", Developer, ses(SesStatus::Checked, false, 3), Code::TwoPieceGotcha, Phase::Ses),
        ("no read after the baseline", Developer, ses(SesStatus::Checked, false, 0), Code::NotDelivered, Phase::Inbox),
        ("metric unavailable", Developer, ses(SesStatus::Unavailable, false, 0), Code::NotDelivered, Phase::Inbox),
        ("COGNITO_DEFAULT", CognitoDefault, SesEvidence::default(), Code::NotDelivered, Phase::Inbox),
    ];
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 3).unwrap();
    for (case, account, evidence, code, phase) in cases {
        let d = not_delivered(&pool(account), Trigger::Resend, at, &evidence, &probe(""));
        assert_eq!((d.code, d.phase, d.outcome()), (code, phase, Outcome::Critical), "{case}");
        assert!(d.evidence[0].contains("12:00:03"), "{case}: {:?}", d.evidence);
        assert!(d.evidence.iter().all(|e| !e.contains("-0")), "{case}: {:?}", d.evidence);
    }
}

fn judgement(outcome: Outcome, spf_unaligned: bool) -> Judgement {
    Judgement {
        outcome,
        summary: "dkim=pass".into(),
        failures: vec!["x".into()],
        spf_unaligned,
        receiver_unconfirmed: false,
    }
}

fn mail(folder: &str, total: f64) -> MailRecord {
    let junk = folder == "Junk";
    let latency = Latency { total_seconds: Some(total), ..Latency::default() };
    MailRecord { folder: folder.into(), junk, message_id: None, ses_message_id: None, latency }
}

/// (case, probe file extra, account, auth, mail) → (code, outcome, phase, notes).
#[test]
#[allow(clippy::type_complexity)] // a case table reads best as tuples
fn a_delivered_mail_is_judged_by_its_worst_finding() {
    use Outcome::{Critical, Ok, Unknown, Warning};
    use SendingAccount::{CognitoDefault, Developer};
    let cases: Vec<(&str, &str, SendingAccount, Judgement, MailRecord, (Code, Outcome, Phase, usize))> = vec![
        (
            "healthy",
            "",
            Developer,
            judgement(Ok, false),
            mail("INBOX", 3.0),
            (Code::Delivered, Ok, Phase::Authenticate, 0),
        ),
        (
            "Junk",
            "",
            Developer,
            judgement(Ok, false),
            mail("Junk", 3.0),
            (Code::DeliveredJunk, Warning, Phase::Inbox, 0),
        ),
        (
            "Junk judged critical",
            "[expect]\njunk = \"critical\"",
            Developer,
            judgement(Ok, false),
            mail("Junk", 3.0),
            (Code::DeliveredJunk, Critical, Phase::Inbox, 0),
        ),
        (
            "slow",
            "",
            Developer,
            judgement(Ok, false),
            mail("INBOX", 300.0),
            (Code::DeliveredSlow, Warning, Phase::Inbox, 0),
        ),
        (
            "auth failed beats Junk",
            "",
            Developer,
            judgement(Critical, false),
            mail("Junk", 3.0),
            (Code::AuthFailed, Critical, Phase::Authenticate, 1),
        ),
        (
            "unverifiable beats Junk",
            "",
            Developer,
            judgement(Unknown, false),
            mail("Junk", 3.0),
            (Code::AuthUnverifiable, Warning, Phase::Authenticate, 1),
        ),
        (
            "spf unaligned",
            "",
            Developer,
            judgement(Warning, true),
            mail("INBOX", 3.0),
            (Code::SpfUnaligned, Warning, Phase::Authenticate, 0),
        ),
        (
            "passed, but the receiver is unconfirmed",
            "",
            Developer,
            Judgement { receiver_unconfirmed: true, ..judgement(Warning, false) },
            mail("INBOX", 3.0),
            (Code::ReceiverUnconfirmed, Warning, Phase::Authenticate, 0),
        ),
        (
            "another auth warning",
            "",
            Developer,
            judgement(Warning, false),
            mail("INBOX", 3.0),
            (Code::AuthFailed, Warning, Phase::Authenticate, 0),
        ),
        (
            "COGNITO_DEFAULT: the pool is the finding, authentication a note",
            "",
            CognitoDefault,
            judgement(Critical, false),
            mail("INBOX", 3.0),
            (Code::CognitoDefault, Warning, Phase::Trigger, 1),
        ),
    ];
    for (case, extra, account, auth, mail, (code, outcome, phase, notes)) in cases {
        let mut seen = Vec::new();
        let d = delivered(&probe(extra), &pool(account), &mail, &auth, None, &mut seen);
        assert_eq!((d.code, d.outcome(), d.phase, seen.len()), (code, outcome, phase, notes), "{case}: {seen:?}");
    }
}

fn event(kind: EventKind) -> SesEvent {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 4).unwrap();
    SesEvent {
        kind,
        message_id: "0100019ad1e2f3a4-5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e-000000".into(),
        sent_at: Some(at),
        at: Some(at),
        destination: vec!["probe@mail.test".into()],
        configuration_set: Some("cognito-mail".into()),
    }
}

fn with_events(events: Vec<SesEvent>, foreign: u32) -> SesEvidence {
    SesEvidence { events, events_status: Some(QueueStatus::Read), foreign_records: foreign, ..SesEvidence::default() }
}

fn bounce(bounce_type: &str, sub: &str) -> EventKind {
    EventKind::Bounce {
        bounce_type: bounce_type.into(),
        bounce_sub_type: sub.into(),
        diagnostic_code: Some("smtp; 550 5.1.1 user unknown".into()),
        status: Some("5.1.1".into()),
        reporting_mta: Some("dns; a8-64.smtp-out.amazonses.com".into()),
    }
}

fn logged(message: &str) -> crate::aws::cognito_logs::DeliveryError {
    crate::aws::cognito_logs::DeliveryError { at: None, message: message.into() }
}

/// (case, sender evidence) → the conclusive code, or none: keep waiting.
#[test]
fn per_message_evidence_decides_at_once_only_when_it_is_conclusive() {
    let suppressed = SesEvidence {
        suppression: Some(crate::aws::ses::Suppressed {
            address: "probe@mail.test".into(),
            reason: "BOUNCE".into(),
            since: Some(Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap()),
            message_id: Some("0100019aa0b1c2d3-x-000000".into()),
            removal: crate::aws::ses::removal("probe@mail.test", "us-east-1"),
            during_run: false,
        }),
        ..SesEvidence::default()
    };
    let denied = "Message failed to deliver.: User `arn:aws:sts::1:assumed-role/x` is not authorized to perform \
                  `ses:SendEmail' on resource `arn:aws:ses:us-east-1:1:identity/hi@mail.example.org'";
    let reject = EventKind::Reject { reason: Some("Bad content".into()) };
    let render =
        EventKind::RenderingFailure { error_message: Some("Attribute 'name' missing".into()), template_name: None };
    let delivery = EventKind::Delivery {
        smtp_response: Some("250 2.0.0 OK".into()),
        reporting_mta: Some("a8-64.smtp-out.amazonses.com".into()),
        processing_time_millis: Some(812),
    };
    let cases: Vec<(&str, SesEvidence, Option<Code>)> = vec![
        ("on the suppression list", suppressed, Some(Code::Suppressed)),
        (
            "SES's own suppression bounce",
            with_events(vec![event(bounce("Permanent", "OnAccountSuppressionList"))], 0),
            Some(Code::Suppressed),
        ),
        (
            "hard bounce",
            with_events(vec![event(EventKind::Send), event(bounce("Permanent", "General"))], 0),
            Some(Code::Bounced),
        ),
        ("soft bounce given up", with_events(vec![event(bounce("Transient", "MailboxFull"))], 0), Some(Code::Bounced)),
        ("reject", with_events(vec![event(reject)], 0), Some(Code::Rejected)),
        ("rendering failure", with_events(vec![event(render)], 0), Some(Code::RenderingFailed)),
        (
            "Cognito logged SES's denial",
            SesEvidence { cognito_errors: vec![logged(denied)], ..SesEvidence::default() },
            Some(Code::TwoPieceGotcha),
        ),
        (
            "Cognito logged another error",
            SesEvidence {
                cognito_errors: vec![logged("Message failed to deliver.: Throttling")],
                ..SesEvidence::default()
            },
            Some(Code::CognitoCannotSend),
        ),
        ("delivered", with_events(vec![event(EventKind::Send), event(delivery)], 40), None),
        ("only Send so far", with_events(vec![event(EventKind::Send)], 40), None),
        ("nothing", SesEvidence::default(), None),
    ];
    for (case, evidence, want) in cases {
        let got = sender_conclusive(&evidence);
        assert_eq!(got.as_ref().map(|c| c.code), want, "{case}");
        if let Some(cause) = got {
            let d = cause.at(Phase::Ses);
            assert!(!d.evidence.is_empty(), "{case}: a conclusive cause quotes what proved it");
        }
    }
}

/// (case, evidence) → (code, outcome, phase, a phrase the evidence must hold).
#[test]
#[allow(clippy::type_complexity)] // a case table reads best as tuples
fn a_missing_mail_is_judged_by_the_strongest_sender_evidence() {
    let delivery = EventKind::Delivery {
        smtp_response: Some("250 2.0.0 OK 1764590404 x12si".into()),
        reporting_mta: Some("a8-64.smtp-out.amazonses.com".into()),
        processing_time_millis: Some(812),
    };
    let delay = EventKind::DeliveryDelay {
        delay_type: Some("TransientCommunicationFailure".into()),
        expiration_time: Some("2026-12-01T23:59:59Z".into()),
        status: Some("4.4.1".into()),
        diagnostic_code: None,
        reporting_mta: None,
    };
    let busy = SesEvidence {
        attributable: Some(false),
        background_per_minute: Some(34.0),
        ..ses(SesStatus::Checked, true, 4)
    };
    let quiet_bounce = SesEvidence {
        attributable: Some(true),
        background_per_minute: Some(0.0),
        rises: [("Bounce".to_string(), 1.0)].into(),
        ..ses(SesStatus::Checked, true, 4)
    };
    let queue_down =
        SesEvidence { events_status: Some(QueueStatus::Unavailable("AccessDenied".into())), ..busy.clone() };
    let cases: Vec<(&str, SesEvidence, (Code, Outcome, Phase, &str))> = vec![
        (
            "the receiver's 250",
            with_events(vec![event(EventKind::Send), event(delivery)], 3),
            (Code::RecipientSide, Outcome::Critical, Phase::Inbox, "a8-64.smtp-out.amazonses.com"),
        ),
        (
            "SES still retrying",
            with_events(vec![event(EventKind::Send), event(delay)], 3),
            (Code::DeliveryDelayed, Outcome::Warning, Phase::Ses, "retried until 2026-12-01T23:59:59Z"),
        ),
        (
            "SES accepted, nothing since",
            with_events(vec![event(EventKind::Send)], 3),
            (Code::NotDelivered, Outcome::Critical, Phase::Inbox, "SES Send record"),
        ),
        (
            "no record while other mail's came",
            with_events(vec![], 7),
            (Code::TwoPieceGotcha, Outcome::Critical, Phase::Ses, "7 records of other mail"),
        ),
        (
            "no record at all: the metric decides",
            SesEvidence { events_status: Some(QueueStatus::Read), ..busy.clone() },
            (Code::SenderUnknown, Outcome::Critical, Phase::Inbox, "34 other mails a minute"),
        ),
        (
            "busy account, no events",
            busy,
            (Code::SenderUnknown, Outcome::Critical, Phase::Inbox, "cannot be told apart"),
        ),
        (
            "queue unreachable on a busy account",
            queue_down,
            (Code::SenderUnknown, Outcome::Critical, Phase::Inbox, "34"),
        ),
        (
            "quiet account, Bounce rose",
            quiet_bounce,
            (Code::Bounced, Outcome::Critical, Phase::Ses, "AWS/SES Bounce rose by 1"),
        ),
    ];
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 3).unwrap();
    for (case, evidence, (code, outcome, phase, phrase)) in cases {
        let d = not_delivered(&pool(SendingAccount::Developer), Trigger::Resend, at, &evidence, &probe(""));
        assert_eq!((d.code, d.outcome(), d.phase), (code, outcome, phase), "{case}: {:?}", d.evidence);
        assert!(d.evidence.iter().any(|e| e.contains(phrase)), "{case}: {phrase:?} not in {:?}", d.evidence);
    }
}

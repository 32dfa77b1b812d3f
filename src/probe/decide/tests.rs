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

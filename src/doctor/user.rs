//! Checks of the test user (AdminGetUser, research/aws.md §1.1) and the app client the probe uses: the user
//! exists, is enabled, its status has a mail trigger, its email is verified where that trigger needs it,
//! and the probe's interval fits that trigger's per-user hourly limit (§1.6). The rules are the run's own
//! ([`crate::aws::trigger`]), so doctor and probe never disagree.

use super::{Finding, Status, is_own_trouble};
use crate::aws::cognito::{AppClient, User};
use crate::aws::trigger::{self, Rate, Refusal, Trigger};
use crate::aws::{AwsFailure, Clients};
use crate::config::ProbeFile;
use crate::duration;

const SOURCE: &str = "DESIGN.md §2 (trigger by user status); research/aws.md §1.1";

/// Reads the user and (when configured) the app client concurrently, then judges them; also returns the
/// user's email address (the probe's recipient) for the sender-side checks.
pub async fn run(probe: &ProbeFile, clients: &Clients) -> (Vec<Finding>, Option<String>) {
    let client_read = async {
        match &probe.client_id {
            Some(id) => Some(clients.describe_user_pool_client(&probe.pool_id, id).await),
            None => None,
        }
    };
    let (user, client) = tokio::join!(clients.admin_get_user(&probe.pool_id, &probe.username), client_read);
    let email = user.as_ref().ok().and_then(|u| u.email.clone());
    (judge(probe, user, client), email)
}

/// Pure judgement of what AdminGetUser and DescribeUserPoolClient answered.
pub fn judge(
    probe: &ProbeFile,
    user: Result<User, AwsFailure>,
    client: Option<Result<AppClient, AwsFailure>>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let (client_ok, finding) = client_state(probe, client);
    out.extend(finding);
    let user = match user {
        Ok(u) => u,
        Err(err) if is_own_trouble(&err) => {
            out.push(Finding::aws_unknown("user.state", &err));
            return out;
        }
        Err(err) => {
            let missing = err.code() == Some("UserNotFoundException");
            out.push(
                Finding::new(
                    "user.state",
                    Status::Fail,
                    if missing {
                        format!("test user {} does not exist in pool {}", probe.username, probe.pool_id)
                    } else {
                        format!("cannot read test user {}: {err}", probe.username)
                    },
                    SOURCE,
                )
                .fix(
                    "Create the test user (aws_cognito_user in Terraform, status FORCE_CHANGE_PASSWORD is the best \
                    probe state) or fix username in the probe file.",
                ),
            );
            return out;
        }
    };
    let evidence = format!(
        "UserStatus = {}, Enabled = {}, email = {}, email_verified = {}",
        user.status,
        user.enabled,
        if user.email.is_some() { "set" } else { "absent" },
        user.email_verified
    );
    let choice = trigger::choose(probe.trigger, &user, client_ok);
    match &choice {
        Ok(call) => {
            let summary = format!("test user {} ({}) will be probed with {call}", user.username, user.status);
            out.push(Finding::new("user.state", Status::Ok, summary, SOURCE).evidence(evidence));
            out.push(rate(probe, *call));
        }
        Err(refusal) => {
            let summary = format!("no mail trigger works for test user {}: {refusal}", user.username);
            out.push(Finding::new("user.state", Status::Fail, summary, SOURCE).evidence(evidence).fix(
                "runbook (\"User-state caveat\"): resend the invite (admin-create-user --message-action RESEND) so \
                     the user stays in FORCE_CHANGE_PASSWORD, or admin-set-user-password --permanent to make it \
                     CONFIRMED; enable a disabled user; verify its email; give the probe a client_id where the call \
                     needs one.",
            ));
        }
    }
    // Only where the trigger needs it: RESEND and ResendConfirmationCode send to an unverified address (an
    // UNCONFIRMED user's is unverified by definition).
    if let Err(Refusal::NeedsVerifiedEmail(call)) = choice {
        out.push(
            Finding::new(
                "user.email",
                Status::Warn,
                format!("test user {}'s email is not verified: {call} refuses it", user.username),
                "research/aws.md §1.1 (InvalidParameterException: no registered/verified email)",
            )
            .fix("Set email_verified = true on the test user (admin-update-user-attributes)."),
        );
    }
    out
}

/// Whether the probe has an app client to call with (an unreadable one still counts when the read failed
/// for the doctor's own reasons), and the finding about it.
fn client_state(probe: &ProbeFile, client: Option<Result<AppClient, AwsFailure>>) -> (bool, Option<Finding>) {
    match client {
        None => (false, None),
        Some(Ok(c)) => (true, Some(client_finding(probe, &c))),
        Some(Err(err)) if is_own_trouble(&err) => (true, Some(Finding::aws_unknown("user.client", &err))),
        Some(Err(err)) => {
            let id = probe.client_id.as_deref().unwrap_or("?");
            let finding = Finding::new(
                "user.client",
                Status::Fail,
                format!("app client {id} of the probe file cannot be read: {err}"),
                "research/aws.md §1.2 (ForgotPassword needs ClientId)",
            )
            .fix("Fix client_id in the probe file: an app client of this pool.");
            (false, Some(finding))
        }
    }
}

fn client_finding(probe: &ProbeFile, client: &AppClient) -> Finding {
    const C_SOURCE: &str = "research/aws.md §1.2 (SecretHash), §1.1 (PreventUserExistenceErrors)";
    let evidence = format!(
        "client {} ({}), secret = {}, PreventUserExistenceErrors = {}",
        client.id,
        client.name.as_deref().unwrap_or("unnamed"),
        client.has_secret(),
        client.prevent_user_existence_errors
    );
    if client.has_secret() && probe.client_secret.is_none() {
        return Finding::new(
            "user.client",
            Status::Fail,
            format!(
                "app client {} has a secret but the probe file has no client_secret: ForgotPassword is refused \
                (NotAuthorizedException)",
                client.id
            ),
            C_SOURCE,
        )
        .evidence(evidence)
        .fix(
            "Add client_secret = { env = \"…\" } or { file = \"…\" } to the probe file, or use a client without a \
            secret.",
        );
    }
    let mut f = Finding::new("user.client", Status::Ok, format!("app client {} is usable", client.id), C_SOURCE)
        .evidence(evidence);
    if client.hides_unknown_users() {
        f = f.evidence("ENABLED: ForgotPassword answers success for unknown users; the probe reads the user first");
    }
    f
}

/// The rate rule of [`trigger::rate`], as a finding.
fn rate(probe: &ProbeFile, call: Trigger) -> Finding {
    const R_SOURCE: &str = "research/aws.md §1.6 (per-user attempt limits); DESIGN.md §2";
    let interval = duration::show(probe.interval);
    match trigger::rate(call, probe.interval) {
        Rate::Unlimited => {
            let summary = format!("{call} has no per-user hourly limit; the probe runs every {interval}");
            Finding::new("user.rate", Status::Ok, summary, R_SOURCE)
        }
        Rate::TooFrequent { limit, per_hour } => Finding::new(
            "user.rate",
            Status::Warn,
            format!(
                "every {interval} is {} {call} calls an hour against a limit of as few as {limit} per user: runs \
                 risk LimitExceededException (aws.md §1.6: use ≥ {})",
                duration::number(per_hour, 1),
                duration::show(trigger::MIN_LIMITED_INTERVAL)
            ),
            R_SOURCE,
        )
        .fix(
            "Set interval ≥ 15m in the probe file, or keep the test user in FORCE_CHANGE_PASSWORD so the probe uses \
            RESEND (no hourly limit).",
        ),
        Rate::Within { limit, per_hour } => Finding::new(
            "user.rate",
            Status::Ok,
            format!(
                "every {interval} is {} {call} calls an hour, within its limit of {limit} per user",
                duration::number(per_hour, 1)
            ),
            R_SOURCE,
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn probe(extra: &str) -> ProbeFile {
        let text = format!(
            "pool_id = \"us-east-1_knEL7cqS3\"\nusername = \"probe\"\n{extra}\n[imap]\nhost = \"h\"\nusername = \
                \"u\"\npassword = {{ env = \"X\" }}\n"
        );
        ProbeFile::parse(&text, Path::new("p.toml")).unwrap()
    }

    fn user(status: &str, enabled: bool, verified: bool) -> Result<User, AwsFailure> {
        Ok(User {
            username: "probe".into(),
            status: crate::aws::cognito::UserStatus::from_aws(status),
            enabled,
            email: Some("p@mail.test".into()),
            email_verified: verified,
        })
    }

    fn client(secret: bool) -> Option<Result<AppClient, AwsFailure>> {
        Some(Ok(AppClient {
            id: "c1".into(),
            name: None,
            secret: secret.then(|| crate::secret::Secret::new("s".to_string())),
            prevent_user_existence_errors: "LEGACY".into(),
        }))
    }

    fn status(findings: &[Finding], check: &str) -> Option<Status> {
        findings.iter().find(|f| f.check == check).map(|f| f.status)
    }

    #[test]
    fn user_checks_judge_each_state() {
        use Status::*;
        let not_found = || {
            Err(AwsFailure::Service {
                operation: "AdminGetUser",
                code: "UserNotFoundException".into(),
                message: "User does not exist.".into(),
            })
        };
        // (name, probe extra, user, client, check, expected)
        #[allow(clippy::type_complexity)] // a case table reads best as tuples
        let cases: Vec<(
            &str,
            &str,
            Result<User, AwsFailure>,
            Option<Result<AppClient, AwsFailure>>,
            &str,
            Option<Status>,
        )> = vec![
            ("invited user, RESEND", "", user("FORCE_CHANGE_PASSWORD", true, true), None, "user.state", Some(Ok)),
            (
                "RESEND has no hourly limit",
                "interval = \"1m\"",
                user("FORCE_CHANGE_PASSWORD", true, true),
                None,
                "user.rate",
                Some(Ok),
            ),
            (
                "confirmed, forgot password every 15m",
                "client_id = \"c1\"",
                user("CONFIRMED", true, true),
                client(false),
                "user.rate",
                Some(Ok),
            ),
            (
                "confirmed, forgot password every 5m",
                "client_id = \"c1\"\ninterval = \"5m\"",
                user("CONFIRMED", true, true),
                client(false),
                "user.rate",
                Some(Warn),
            ),
            ("disabled", "", user("CONFIRMED", false, true), None, "user.state", Some(Fail)),
            ("federated user", "", user("EXTERNAL_PROVIDER", true, true), None, "user.state", Some(Fail)),
            (
                "unverified email, RESEND does not need it",
                "",
                user("FORCE_CHANGE_PASSWORD", true, false),
                None,
                "user.email",
                None,
            ),
            (
                "unconfirmed user: its email is unverified by definition",
                "client_id = \"c1\"",
                user("UNCONFIRMED", true, false),
                client(false),
                "user.email",
                None,
            ),
            (
                "unconfirmed user is probed",
                "client_id = \"c1\"",
                user("UNCONFIRMED", true, false),
                client(false),
                "user.state",
                Some(Ok),
            ),
            (
                "unverified email, ForgotPassword refuses it",
                "client_id = \"c1\"",
                user("CONFIRMED", true, false),
                client(false),
                "user.email",
                Some(Warn),
            ),
            (
                "forgot password every 13m: the same rule as the run",
                "client_id = \"c1\"\ninterval = \"13m\"",
                user("CONFIRMED", true, true),
                client(false),
                "user.rate",
                Some(Warn),
            ),
            ("unverified email, confirmed", "", user("CONFIRMED", true, false), None, "user.state", Some(Fail)),
            ("user missing", "", not_found(), None, "user.state", Some(Fail)),
            (
                "client secret not configured",
                "client_id = \"c1\"",
                user("CONFIRMED", true, true),
                client(true),
                "user.client",
                Some(Fail),
            ),
            ("no client configured", "", user("FORCE_CHANGE_PASSWORD", true, true), None, "user.client", None),
        ];
        for (name, extra, u, c, check_id, expected) in cases {
            let findings = judge(&probe(extra), u, c);
            assert_eq!(status(&findings, check_id), expected, "{name}: {findings:#?}");
        }
    }
}

//! `probe doctor`: the read-only preflight of the whole Cognito → SES → inbox chain (issue 5). It reads the
//! pool, the SES identity and its policies, the SES account, the test user and the mailbox, and judges each
//! piece — before any mail is sent and before a user is hurt. It never sends mail and never changes
//! anything: where the fix is AWS configuration, a finding prints it as Terraform (runbook, "Related": all AWS
//! management goes through Terraform).
//!
//! One file per check group: [`pool`] (email configuration, From header), [`identity`] (SES identity, DKIM,
//! MAIL FROM), [`policy`] (the identity-policy rule of research/aws.md §3.3), [`account`] (sandbox, sending,
//! quota), [`user`] (test user, trigger, hourly limit), [`sender`] (suppression list, Cognito's delivery
//! logs, the SES event queue), [`imap`] (mailbox), [`dns`] (From-domain posture);
//! [`render`] prints a [`DoctorReport`] as text, JSON or a Nagios line. The judging functions are pure; only
//! [`run`] talks to AWS and the mail server, and it runs independent calls concurrently.

pub mod account;
pub mod dns;
pub mod identity;
pub mod imap;
pub mod policy;
pub mod pool;
pub mod render;
pub mod sender;
pub mod user;

use serde::Serialize;

use crate::aws::{AwsFailure, Clients};
use crate::config::ProbeFile;
use crate::verdict::Outcome;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not checked, on purpose (e.g. DNS unreachable from this host); does not affect the outcome.
    Skip,
    Ok,
    /// Works today, but degraded or fragile.
    Warn,
    /// Mail will not arrive, or will not arrive as it should.
    Fail,
    /// The doctor could not check: its own trouble (AWS credentials, endpoint unreachable, throttled).
    Unknown,
}

impl Status {
    /// The outcome a finding alone would give; a skipped check counts as nothing wrong.
    pub fn outcome(self) -> Outcome {
        match self {
            Status::Skip | Status::Ok => Outcome::Ok,
            Status::Warn => Outcome::Warning,
            Status::Fail => Outcome::Critical,
            Status::Unknown => Outcome::Unknown,
        }
    }

    /// Lower-case label used in text output and JSON.
    pub fn label(self) -> &'static str {
        match self {
            Status::Skip => "skip",
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Unknown => "unknown",
        }
    }
}

/// One judged check: what was looked at, how it came out, the evidence, and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable check id (`pool.sending_account`, `ses.policy`, …), used in JSON and tests.
    pub check: &'static str,
    pub status: Status,
    /// One line a human reads first.
    pub summary: String,
    /// The values the judgement rests on, as read from AWS or the server.
    pub evidence: Vec<String>,
    /// What to do; Terraform where the fix is AWS configuration. Empty when nothing is to be done.
    pub fix: String,
    /// The runbook line (seeds/) or research fact the rule comes from.
    pub source: &'static str,
}

impl Finding {
    /// A finding without evidence or fix; add them with [`Finding::evidence`] and [`Finding::fix`].
    pub fn new(check: &'static str, status: Status, summary: impl Into<String>, source: &'static str) -> Finding {
        Finding { check, status, summary: summary.into(), evidence: Vec::new(), fix: String::new(), source }
    }

    pub fn evidence(mut self, line: impl Into<String>) -> Finding {
        self.evidence.push(line.into());
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = fix.into();
        self
    }

    /// The finding for a check that could not run because an AWS call failed. Credentials, network and
    /// throttling are the doctor's own trouble (UNKNOWN, DESIGN.md §6); a service answer such as
    /// `NotFoundException` is a real finding and judged by the caller instead.
    pub fn aws_unknown(check: &'static str, err: &AwsFailure) -> Finding {
        Finding::new(
            check,
            Status::Unknown,
            format!("could not check: {err}"),
            "DESIGN.md §6 (UNKNOWN: the probe \
            could not tell)",
        )
        .fix(
            "Check the probe's AWS credentials (profile, role_arn), its IAM permissions (research/aws.md §3.2 \
                lists them) and the endpoint.",
        )
    }
}

/// Whether an AWS failure is the doctor's own trouble (UNKNOWN) rather than a finding about the chain.
pub fn is_own_trouble(err: &AwsFailure) -> bool {
    match err {
        AwsFailure::Throttled { .. } | AwsFailure::Unreachable { .. } => true,
        AwsFailure::Service { code, .. } => matches!(
            code.as_str(),
            "AccessDeniedException"
                | "AccessDenied"
                | "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "ExpiredTokenException"
                | "ExpiredToken"
                | "InvalidSignatureException"
                | "SignatureDoesNotMatch"
                | "InternalErrorException"
                | "InternalFailure"
        ),
    }
}

/// What a missing identity policy counts as for a DEVELOPER pool (`--policy-missing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMissing {
    /// WARN: AWS documents the service-linked role as sufficient (research/aws.md §0.2, §3.3).
    Warn,
    /// FAIL: the runbook's two-piece gotcha says SES silently refuses (seeds/). The default.
    #[default]
    Fail,
}

/// Options of one doctor run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub policy_missing: PolicyMissing,
    /// Skip the DNS posture check without trying (tests, hosts known to have no resolver).
    pub skip_dns: bool,
}

/// Every finding of one probe file, and the outcome they add up to.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub probe: String,
    pub pool_id: String,
    pub outcome: Outcome,
    pub findings: Vec<Finding>,
}

impl DoctorReport {
    pub fn new(probe: &str, pool_id: &str, findings: Vec<Finding>) -> DoctorReport {
        DoctorReport {
            probe: probe.to_string(),
            pool_id: pool_id.to_string(),
            outcome: outcome_of(&findings),
            findings,
        }
    }

    /// The finding of a check id, if it ran.
    pub fn finding(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check == check)
    }
}

/// The worst finding decides ([`Outcome::worst`]): any FAIL → CRITICAL; else any UNKNOWN → UNKNOWN (the
/// doctor could not check everything, so "OK" would be a claim it cannot make); else any WARN → WARNING;
/// else OK.
pub fn outcome_of(findings: &[Finding]) -> Outcome {
    Outcome::worst(findings.iter().map(|f| f.status.outcome()))
}

/// The outcome of several reports (every probe file): the same rule over all their findings.
pub fn overall(reports: &[DoctorReport]) -> Outcome {
    let all: Vec<Finding> = reports.iter().flat_map(|r| r.findings.iter().cloned()).collect();
    outcome_of(&all)
}

/// Runs every check for one probe file. Independent reads run concurrently: the pool → SES chain, the
/// test user (and app client), the mailbox and DNS.
pub async fn run(probe: &ProbeFile, clients: &Clients, options: &Options) -> DoctorReport {
    let pool_region = probe.region();
    let aws_chain = async {
        let pool = match clients.describe_user_pool(&probe.pool_id).await {
            Ok(pool) => pool,
            Err(err) if is_own_trouble(&err) => return (vec![Finding::aws_unknown("pool.email", &err)], None),
            Err(err) => {
                return (
                    vec![
                        Finding::new(
                            "pool.email",
                            Status::Fail,
                            format!("cannot read user pool {}: {err}", probe.pool_id),
                            "research/aws.md §1.5",
                        )
                        .fix("Check pool_id in the probe file (and the Region: `region` key or the pool id's prefix)."),
                    ],
                    None,
                );
            }
        };
        let mut findings = pool::check(&pool, probe.is_production(), &pool_region);
        let ses_region = pool.ses_region().unwrap_or(&pool_region).to_string();
        let ses = clients.in_ses_region(&ses_region);
        let identity_name = pool.ses_identity().map(str::to_string);
        let identity_read = async {
            match &identity_name {
                Some(name) => Some(tokio::join!(ses.get_email_identity(name), ses.get_email_identity_policies(name))),
                None => None,
            }
        };
        let (identity_read, account_read) = tokio::join!(identity_read, ses.get_account());
        if let (Some(name), Some((identity, policies))) = (&identity_name, identity_read) {
            findings.extend(identity::check(name, &identity, &probe.expect));
            let subject = crate::aws::policy::Subject::of_pool(&pool, &pool_region);
            let identity = identity.as_ref().ok();
            findings.push(policy::check(&pool, subject.as_ref(), identity, &policies, options.policy_missing));
        } else {
            findings.push(policy::not_needed(&pool));
        }
        findings.extend(account::check(&pool, probe, account_read));
        (findings, Some(pool))
    };
    let user_checks = user::run(probe, clients);
    let inbox_checks = imap::run(probe);
    let ((mut findings, pool), (user_findings, recipient), inbox_findings) =
        tokio::join!(aws_chain, user_checks, inbox_checks);
    findings.extend(user_findings);
    if let Some(pool) = &pool {
        findings.extend(sender::run(probe, pool, clients, recipient.as_deref()).await);
    }
    findings.extend(inbox_findings);
    // Only a custom From has a domain of the pool owner's; Cognito's default sender is AWS's own.
    let from_domain = pool
        .as_ref()
        .and_then(|p| p.from.as_deref())
        .map(crate::address::address_of)
        .and_then(|a| a.rsplit_once('@').map(|(_, d)| d.to_string()));
    findings.push(dns::run(from_domain.as_deref(), options.skip_dns).await);
    DoctorReport::new(&probe.name, &probe.pool_id, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(status: Status) -> Finding {
        Finding::new("x", status, "", "")
    }

    #[test]
    fn worst_finding_decides_the_outcome() {
        use Status::*;
        let cases: &[(&str, &[Status], Outcome)] = &[
            ("all ok", &[Ok, Ok], Outcome::Ok),
            ("skips do not count", &[Ok, Skip], Outcome::Ok),
            ("a warning", &[Ok, Warn, Skip], Outcome::Warning),
            ("a failure beats a warning", &[Warn, Fail, Ok], Outcome::Critical),
            ("unknown beats a warning", &[Warn, Unknown], Outcome::Unknown),
            ("a failure found beats unknown", &[Unknown, Fail], Outcome::Critical),
            ("nothing checked", &[], Outcome::Ok),
        ];
        for (name, statuses, expected) in cases {
            let findings: Vec<Finding> = statuses.iter().map(|s| f(*s)).collect();
            assert_eq!(outcome_of(&findings), *expected, "{name}");
        }
    }

    #[test]
    fn credentials_and_network_are_own_trouble_but_not_found_is_a_finding() {
        let service = |code: &str| AwsFailure::Service { operation: "X", code: code.into(), message: String::new() };
        let cases = [
            ("unreachable", AwsFailure::Unreachable { operation: "X", detail: "refused".into() }, true),
            (
                "throttled",
                AwsFailure::Throttled {
                    operation: "X",
                    code: "TooManyRequestsException".into(),
                    message: String::new(),
                },
                true,
            ),
            ("bad credentials", service("UnrecognizedClientException"), true),
            ("no permission", service("AccessDeniedException"), true),
            ("pool not found", service("ResourceNotFoundException"), false),
            ("identity not found", service("NotFoundException"), false),
        ];
        for (name, err, own) in cases {
            assert_eq!(is_own_trouble(&err), own, "{name}");
        }
    }
}

//! The authenticate phase: the receiver's Authentication-Results of the probe's mail, judged against the
//! probe file's expectations with the [`crate::authres`] engine (DESIGN.md §5).

use crate::authres::{self, Expectations, FindingOutcome, TrustPolicy};
use crate::config::ProbeFile;
use crate::verdict::Outcome;

/// What the authenticate phase concluded.
#[derive(Debug, Clone)]
pub struct AuthResult {
    /// Ok, Warning (e.g. SPF unaligned when alignment was asked), Critical (a required result failed),
    /// Unknown (no trusted header).
    pub outcome: Outcome,
    /// One line: `dkim=pass (thephenom.app, aligned) spf=pass (amazonses.com, not aligned) dmarc=pass`.
    pub summary: String,
    /// The failed or warned expectations, one line each.
    pub failures: Vec<String>,
    /// True when the only trouble is SPF alignment (SES's default MAIL FROM).
    pub spf_unaligned: bool,
    /// The full evaluation for the JSON report.
    pub evaluation: authres::Evaluation,
}

/// The trust policy and expectations of a probe file.
fn policy_of(probe: &ProbeFile) -> (TrustPolicy, Expectations) {
    let ids = match (&probe.imap, &probe.maildir) {
        (Some(i), _) => i.trusted_authserv_ids.clone(),
        (_, Some(m)) => m.trusted_authserv_ids.clone(),
        _ => Vec::new(),
    };
    (TrustPolicy::with_ids(ids), Expectations::from(&probe.expect))
}

/// Judges the receiver's Authentication-Results of `raw` against the probe file.
pub fn evaluate(raw: &[u8], probe: &ProbeFile) -> AuthResult {
    let (policy, expect) = policy_of(probe);
    let ev = authres::evaluate_message(raw, &policy, &expect);
    let mut parts = Vec::new();
    for d in &ev.dkim {
        parts.push(format!(
            "dkim={} ({}, {})",
            d.result,
            d.domain.as_deref().unwrap_or("?"),
            if d.aligned { "aligned" } else { "not aligned" }
        ));
    }
    if ev.dkim.is_empty() && !ev.findings.iter().any(|f| f.method == "trust") {
        parts.push("dkim=none".into());
    }
    if let Some(spf) = &ev.spf {
        parts.push(format!(
            "spf={} ({}, {})",
            spf.result,
            spf.domain.as_deref().unwrap_or("?"),
            if spf.aligned { "aligned" } else { "not aligned" }
        ));
    }
    if let Some(dmarc) = &ev.dmarc {
        parts.push(format!("dmarc={}", dmarc.result));
    }
    let failures: Vec<String> = ev
        .findings
        .iter()
        .filter(|f| f.outcome != FindingOutcome::Pass)
        .map(|f| format!("{} {}: {}", f.method, f.outcome.label(), f.explanation))
        .collect();
    let warned: Vec<&str> =
        ev.findings.iter().filter(|f| f.outcome == FindingOutcome::Warn).map(|f| f.method).collect();
    let spf_unaligned = ev.outcome() == Outcome::Warning && !warned.is_empty() && warned.iter().all(|m| *m == "spf");
    let summary = match ev.outcome() {
        Outcome::Unknown => failures.first().cloned().unwrap_or_else(|| "no trusted Authentication-Results".into()),
        _ => parts.join(" "),
    };
    AuthResult { outcome: ev.outcome(), summary, failures, spf_unaligned, evaluation: ev }
}

//! The authenticate phase: the receiver's Authentication-Results of the probe's mail, judged against the
//! probe file's expectations with the [`crate::authres`] engine (DESIGN.md §5).

use crate::authres::{self, Expectations, FindingOutcome, Method};
use crate::config::ProbeFile;
use crate::diagnosis::Cause;
use crate::inbox::Found;
use crate::verdict::{Mark, Outcome};

use super::clock::Step;

/// What the judgement says, apart from the full evaluation: all the verdict needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Ok, Warning (e.g. SPF unaligned when alignment was asked), Critical (a required result failed),
    /// Unknown (no trusted header).
    pub outcome: Outcome,
    /// One line: `dkim=pass (example.com, aligned) spf=pass (amazonses.com, not aligned) dmarc=pass`.
    pub summary: String,
    /// The failed or warned expectations, one line each.
    pub failures: Vec<String>,
    /// True when the only trouble is SPF alignment (SES's default MAIL FROM).
    pub spf_unaligned: bool,
    /// True when the only trouble is that the results were trusted by position, with no receiver configured
    /// and nothing in the trace confirming it.
    pub receiver_unconfirmed: bool,
}

/// The judgement plus the full evaluation for the JSON report.
#[derive(Debug, Clone)]
pub struct AuthResult {
    pub judgement: Judgement,
    pub evaluation: authres::Evaluation,
}

/// Judges the found mail. Never raises: an unjudgeable mail is a judgement (UNKNOWN), decided with the rest.
pub async fn run(found: &Found, probe: &ProbeFile) -> Result<Step<AuthResult>, Cause> {
    let result = evaluate(&found.raw, probe);
    let (mark, line) = (Mark::of(result.judgement.outcome), result.judgement.summary.clone());
    Ok(Step::marked(result, mark, line))
}

/// Judges the receiver's Authentication-Results of `raw` against the probe file.
pub fn evaluate(raw: &[u8], probe: &ProbeFile) -> AuthResult {
    let ev = authres::evaluate_message(raw, &probe.mailbox.trust_policy(), &Expectations::from(&probe.expect));
    AuthResult { judgement: judge(&ev), evaluation: ev }
}

/// The verdict's view of an evaluation.
pub fn judge(ev: &authres::Evaluation) -> Judgement {
    let aligned = |a: bool| if a { "aligned" } else { "not aligned" };
    let mut parts = Vec::new();
    for d in &ev.dkim {
        parts.push(format!("dkim={} ({}, {})", d.result, d.domain.as_deref().unwrap_or("?"), aligned(d.aligned)));
    }
    if ev.dkim.is_empty() && !ev.findings.iter().any(|f| f.method == Method::Trust) {
        parts.push("dkim=none".into());
    }
    if let Some(spf) = &ev.spf {
        parts.push(format!("spf={} ({}, {})", spf.result, spf.domain.as_deref().unwrap_or("?"), aligned(spf.aligned)));
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
    let warned: Vec<Method> =
        ev.findings.iter().filter(|f| f.outcome == FindingOutcome::Warn).map(|f| f.method).collect();
    let outcome = ev.outcome();
    let only =
        |method: Method| outcome == Outcome::Warning && !warned.is_empty() && warned.iter().all(|m| *m == method);
    let (spf_unaligned, receiver_unconfirmed) = (only(Method::Spf), only(Method::Trust));
    let summary = match outcome {
        Outcome::Unknown => failures.first().cloned().unwrap_or_else(|| "no trusted Authentication-Results".into()),
        _ => parts.join(" "),
    };
    Judgement { outcome, summary, failures, spf_unaligned, receiver_unconfirmed }
}

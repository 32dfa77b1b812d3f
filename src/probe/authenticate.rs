//! The authenticate phase: the receiver's Authentication-Results of the probe's mail, judged against the
//! probe file's expectations with the [`crate::authres`] engine.

use crate::aws::cognito::Pool;
use crate::config::ProbeFile;
use crate::verdict::Outcome;

/// What the authenticate phase concluded.
#[derive(Debug, Clone)]
pub struct AuthResult {
    /// Ok, Warning (e.g. SPF unaligned when alignment was asked), Critical (a required result failed),
    /// Unknown (no trusted header).
    pub outcome: Outcome,
    /// One line: `dkim=pass (thephenom.app, aligned) spf=pass (amazonses.com, unaligned) dmarc=pass`.
    pub summary: String,
    /// The failed or warned expectations, one line each.
    pub failures: Vec<String>,
    pub spf_unaligned: bool,
    /// The full evaluation for the JSON report.
    pub json: serde_json::Value,
}

pub fn evaluate(_raw: &[u8], _probe: &ProbeFile, _pool: &Pool) -> AuthResult {
    AuthResult {
        outcome: Outcome::Unknown,
        summary: "authentication not evaluated".into(),
        failures: vec![],
        spf_unaligned: false,
        json: serde_json::Value::Null,
    }
}

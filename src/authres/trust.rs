//! Trusted-receiver selection: which Authentication-Results fields were written by the receiver whose
//! verdict we read, and which were added upstream (possibly forged) and must be ignored.
//!
//! Rules (research/authres-realworld.md §13.9, RFC 8601 §5 and §7.2):
//! * only fields whose authserv-id is configured (exact, or `*.suffix`) count; with nothing configured,
//!   the topmost field's authserv-id (widened to its Organizational Domain, so iCloud's per-check ids
//!   `dkim-verifier.icloud.com`, `spf.icloud.com`, … form one receiver) is trusted;
//! * the trusted fields are the topmost *contiguous* block: a `Received` or `DKIM-Signature` field (written
//!   by upstream hops, never by the receiver between its own results) or an untrusted Authentication-Results
//!   field ends the block, and every Authentication-Results field below it is ignored, whatever it claims;
//! * a field without authserv-id (Outlook/M365, research §2) is trusted only by the position rule: when
//!   it is the topmost Authentication-Results field (Microsoft strips inbound ones);
//! * ARC-Authentication-Results are records of the ARC chain (RFC 8617 §4.1.1), not the receiver's
//!   verdict: reported as ignored.

use serde::{Deserialize, Serialize};

use super::align::organizational_domain;
use super::message::HeaderField;
use super::parse::{AuthResults, parse, parse_arc};

/// Which receivers' Authentication-Results to believe. Deserialised from the probe file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustPolicy {
    /// authserv-ids of the receiver: exact (`mx.google.com`) or a suffix pattern (`*.yahoo.com`,
    /// `*.icloud.com`). Empty: trust the topmost field's authserv-id and its Organizational Domain.
    #[serde(default)]
    pub authserv_ids: Vec<String>,
    /// What to do with a field that has no authserv-id (Outlook/M365).
    #[serde(default)]
    pub no_authserv_id: NoAuthservId,
}

/// Position rule for receivers that write no authserv-id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoAuthservId {
    /// Trust an authserv-id-less field only when it is the topmost Authentication-Results field
    /// (Microsoft strips inbound ones before adding its own, research §2).
    #[default]
    Topmost,
    /// Never trust a field without authserv-id.
    Ignore,
}

impl TrustPolicy {
    /// A policy trusting exactly these authserv-ids (and the Outlook position rule).
    pub fn with_ids<S: Into<String>>(ids: impl IntoIterator<Item = S>) -> Self {
        TrustPolicy { authserv_ids: ids.into_iter().map(Into::into).collect(), no_authserv_id: NoAuthservId::Topmost }
    }
}

/// Whether `id` matches a configured pattern: exact (case-insensitive) or `*.suffix` (a subdomain).
pub fn id_matches(pattern: &str, id: &str) -> bool {
    let id = id.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            id.len() > suffix.len() + 1
                && id[id.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                && id.as_bytes()[id.len() - suffix.len() - 1] == b'.'
        }
        None => pattern.trim_end_matches('.').eq_ignore_ascii_case(id),
    }
}

/// An Authentication-Results (or ARC-Authentication-Results) field that did not count, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoredHeader {
    /// Field name as written.
    pub field: String,
    /// 1-based position among all header fields, top first.
    pub position: usize,
    /// The authserv-id it claims, when it parsed and had one.
    pub authserv_id: Option<String>,
    /// One line for a human.
    pub reason: String,
}

/// Where the trust decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustBasis {
    /// A configured authserv-id matched.
    Configured,
    /// Nothing configured: the topmost field's authserv-id.
    Topmost,
    /// The field had no authserv-id and was the topmost one (Outlook/M365).
    PositionNoAuthservId,
}

/// The receiver's own results and everything that was set aside.
#[derive(Debug, Clone, Default)]
pub struct Selection<'a> {
    /// authserv-id of the first trusted field (`None` for Outlook-style fields).
    pub authserv_id: Option<String>,
    /// Index in the header fields of the first trusted field.
    pub first_trusted_index: Option<usize>,
    /// How the block was chosen; `None` when nothing was trusted.
    pub basis: Option<TrustBasis>,
    /// The trusted fields, top first.
    pub trusted: Vec<AuthResults<'a>>,
    /// Fields that did not count.
    pub ignored: Vec<IgnoredHeader>,
}

#[derive(PartialEq)]
enum State {
    Before,
    In,
    After,
}

/// Selects the receiver's block of Authentication-Results among `fields` (top to bottom).
pub fn select<'a>(fields: &'a [HeaderField], policy: &TrustPolicy) -> Selection<'a> {
    let mut sel = Selection::default();
    let mut state = State::Before;
    let mut seen_ar = false;
    // Nothing configured: the topmost parsed field decides (its authserv-id or the position rule).
    let mut topmost_org: Option<String> = None;
    for (idx, field) in fields.iter().enumerate() {
        let position = idx + 1;
        if field.is("Received") || field.is("DKIM-Signature") {
            if state == State::In {
                state = State::After;
            }
            continue;
        }
        let ignore = |sel: &mut Selection, id: Option<String>, reason: String| {
            sel.ignored.push(IgnoredHeader { field: field.name.clone(), position, authserv_id: id, reason });
        };
        if field.is("ARC-Authentication-Results") {
            let (id, reason) = match parse_arc(&field.value) {
                Ok(ar) => (
                    ar.authserv_id.as_deref().map(str::to_string),
                    format!(
                        "ARC-Authentication-Results i={} is a record of the ARC chain (RFC 8617 §4.1.1), not the \
                            receiver's verdict",
                        ar.instance.unwrap_or(0)
                    ),
                ),
                Err(err) => (None, format!("unparseable ARC-Authentication-Results: {err}")),
            };
            ignore(&mut sel, id, reason);
            continue;
        }
        if !field.is("Authentication-Results") {
            continue;
        }
        let first_ar = !seen_ar;
        seen_ar = true;
        let ar = match parse(&field.value) {
            Ok(ar) => ar,
            Err(err) => {
                ignore(&mut sel, None, format!("unparseable: {err}"));
                continue;
            }
        };
        let id = ar.authserv_id.as_deref().map(str::to_string);
        let verdict = trusted_by(policy, &ar, first_ar, &state, &sel, &mut topmost_org);
        match (&state, verdict) {
            (State::After, claim) => {
                let reason = match claim {
                    Ok(_) => format!(
                        "claims the trusted authserv-id {} but lies below the receiver's block (a Received or \
                            DKIM-Signature field or an untrusted result comes between): added upstream, possibly \
                            forged (RFC 8601 §5)",
                        show_id(&id)
                    ),
                    Err(why) => why,
                };
                ignore(&mut sel, id, reason);
            }
            (_, Ok(basis)) => {
                if sel.trusted.is_empty() {
                    sel.authserv_id = id;
                    sel.basis = Some(basis);
                    sel.first_trusted_index = Some(idx);
                }
                sel.trusted.push(ar);
                state = State::In;
            }
            (_, Err(why)) => {
                if state == State::In {
                    state = State::After;
                }
                ignore(&mut sel, id, why);
            }
        }
    }
    sel
}

fn show_id(id: &Option<String>) -> String {
    match id {
        Some(id) => format!("{id:?}"),
        None => "(none)".to_string(),
    }
}

/// Whether one parsed field is the receiver's; `Err` carries the one-line reason it is not.
fn trusted_by(
    policy: &TrustPolicy,
    ar: &AuthResults,
    first_ar: bool,
    state: &State,
    sel: &Selection,
    topmost_org: &mut Option<String>,
) -> Result<TrustBasis, String> {
    let Some(id) = ar.authserv_id.as_deref() else {
        // Outlook/M365: trusted only at the top, or contiguous with an id-less block that started there.
        let continues_block = *state == State::In && sel.authserv_id.is_none();
        return match policy.no_authserv_id {
            NoAuthservId::Topmost if first_ar || continues_block => Ok(TrustBasis::PositionNoAuthservId),
            NoAuthservId::Topmost => {
                Err("no authserv-id and not the topmost Authentication-Results field: only the receiver's own topmost \
                    field may omit it (Outlook/M365)"
                    .to_string())
            }
            NoAuthservId::Ignore => Err("no authserv-id, and the trust policy ignores such fields".to_string()),
        };
    };
    if !policy.authserv_ids.is_empty() {
        return if policy.authserv_ids.iter().any(|p| id_matches(p, id)) {
            Ok(TrustBasis::Configured)
        } else {
            Err(format!("authserv-id {id:?} is not a trusted receiver (trusted: {})", policy.authserv_ids.join(", ")))
        };
    }
    if first_ar {
        *topmost_org = Some(organizational_domain(id));
    }
    match topmost_org {
        Some(org) if organizational_domain(id) == *org => Ok(TrustBasis::Topmost),
        Some(org) => Err(format!("authserv-id {id:?} is not the receiver's (the topmost field's domain is {org})")),
        None => Err(format!("authserv-id {id:?} is not the receiver's (the topmost field had no authserv-id)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_cases() {
        let cases = [
            ("exact", "mx.google.com", "mx.google.com", true),
            ("exact case-insensitive", "MX.google.com", "mx.Google.com", true),
            ("suffix", "*.yahoo.com", "atlas-production.v2-mail-prod1-gq1.omega.yahoo.com", true),
            ("suffix is not the apex", "*.yahoo.com", "yahoo.com", false),
            ("suffix needs a dot boundary", "*.yahoo.com", "evilyahoo.com", false),
            ("other id", "mx.google.com", "mx.google.com.evil.example", false),
        ];
        for (name, pattern, id, want) in cases {
            assert_eq!(id_matches(pattern, id), want, "{name}");
        }
    }

    fn ar(value: &str) -> HeaderField {
        HeaderField::new("Authentication-Results", value)
    }

    #[test]
    fn topmost_block_and_forged_header_below() {
        let fields = [
            ar(" mx.google.com; dkim=pass header.i=@example.com"),
            HeaderField::new("Received", " from upstream"),
            ar(" mx.google.com; dkim=pass header.i=@evil.example"),
        ];
        let sel = select(&fields, &TrustPolicy::with_ids(["mx.google.com"]));
        assert_eq!(sel.trusted.len(), 1);
        assert_eq!(sel.ignored.len(), 1);
        assert!(sel.ignored[0].reason.contains("possibly forged"), "{}", sel.ignored[0].reason);
    }

    #[test]
    fn outlook_position_rule() {
        let top = [ar(" spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com")];
        let sel = select(&top, &TrustPolicy::with_ids(["mx.google.com"]));
        assert_eq!(sel.basis, Some(TrustBasis::PositionNoAuthservId));
        let below = [ar(" mx.google.com; spf=pass"), ar(" spf=pass smtp.mailfrom=x.example")];
        let sel = select(&below, &TrustPolicy::with_ids(["mx.google.com"]));
        assert_eq!(sel.trusted.len(), 1);
        assert_eq!(sel.authserv_id.as_deref(), Some("mx.google.com"));
        let ignoring = TrustPolicy { authserv_ids: vec![], no_authserv_id: NoAuthservId::Ignore };
        assert!(select(&top, &ignoring).trusted.is_empty());
    }

    #[test]
    fn topmost_mode_widens_to_the_organizational_domain() {
        let fields = [
            ar(" bimi.icloud.com; bimi=skipped"),
            ar(" dmarc.icloud.com; dmarc=pass header.from=example.com"),
            ar(" dkim-verifier.icloud.com; dkim=pass header.d=example.com"),
            ar(" aaa.com; dkim=pass header.d=example.com"),
        ];
        let sel = select(&fields, &TrustPolicy::default());
        assert_eq!(sel.trusted.len(), 3);
        assert_eq!(sel.basis, Some(TrustBasis::Topmost));
        assert_eq!(sel.ignored.len(), 1);
    }
}

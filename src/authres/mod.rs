//! Authentication-Results engine (RFC 8601): parsing, trust selection, alignment and expectations.
//!
//! The receiver already verified DKIM, SPF and DMARC; this module reads its verdict correctly across real
//! providers' quirks and computes identifier alignment itself (DESIGN.md §5,
//! research/authres-realworld.md). Pure code, no I/O.
//!
//! * [`parse`] / [`parse_arc`] — one field value into [`AuthResults`] (`parse.rs`: lenient where
//!   receivers deviate, strict where RFC 8601 is, linear work on any input).
//! * [`TrustPolicy`] and [`trust::select`] — which fields the receiver wrote (`trust.rs`), read against the
//!   receiver's own `Received` trace ([`trace`]).
//! * [`align`] — relaxed/strict alignment with the Public Suffix List (`align.rs`).
//! * [`Expectations`] and findings (`expect.rs`); the serialisable [`Evaluation`] (`report.rs`).
//! * [`evaluate_message`] — all of it for one raw message; [`evaluate_fields`] for header fields already
//!   split (tests, benchmarks).

pub mod align;
pub mod expect;
pub mod message;
mod parse;
pub mod report;
pub mod trace;
pub mod trust;

pub use align::AlignmentMode;
pub use expect::{Expectations, Finding, FindingOutcome, Method, Requirement};
pub use message::{DkimSignature, HeaderField};
pub use parse::{AuthResults, MAX_VALUE_LEN, ParseError, Property, ResInfo, parse, parse_arc, parse_resinfo};
pub use report::{DkimReport, DmarcReport, Evaluation, IgnoredSummary, SpfReport};
pub use trust::{IgnoredHeader, NoAuthservId, TrustBasis, TrustPolicy};

use crate::verdict::Outcome;

/// Evaluates a raw RFC 5322 message: reads its header fields with mail-parser, selects the trusted
/// receiver's Authentication-Results, computes alignment and judges the expectations.
pub fn evaluate_message(raw: &[u8], policy: &TrustPolicy, expect: &Expectations) -> Evaluation {
    let fields = message::header_fields(raw);
    let from = message::from_domain(raw);
    evaluate_fields(&fields, from, policy, expect)
}

/// Same as [`evaluate_message`] for header fields already read (top to bottom) and the From domain
/// (or why there is none).
pub fn evaluate_fields(
    fields: &[HeaderField],
    from: Result<String, String>,
    policy: &TrustPolicy,
    expect: &Expectations,
) -> Evaluation {
    let mode = expect.alignment;
    let selection = trust::select(fields, policy);
    let sigs: Vec<DkimSignature> =
        fields.iter().filter(|f| f.is("DKIM-Signature")).map(|f| message::parse_dkim_signature(&f.value)).collect();
    let from_domain = from.as_ref().ok().cloned();
    let from_ref = from_domain.as_deref();
    let dkim = report::dkim_reports(&selection.trusted, &sigs, from_ref, mode);
    let spf = report::spf_report(&selection.trusted, from_ref, mode);
    let dmarc = report::dmarc_report(&selection.trusted, from_ref);
    // The real MAIL FROM: the receiver's SPF identity, else the Return-Path the receiver wrote.
    let mail_from_domain = spf
        .as_ref()
        .filter(|s| s.identity == "mailfrom")
        .and_then(|s| s.domain.clone())
        .or_else(|| fields.iter().find(|f| f.is("Return-Path")).and_then(|f| align::domain_of(&f.value)));
    let mut findings = Vec::new();
    let from_fields = fields.iter().filter(|f| f.is("From")).count();
    let verdict = if from_fields > 1 {
        // RFC 7489 §6.6.1: a message with several From fields has no single Author Domain, and receivers
        // and readers may each pick a different one.
        findings.push(Finding {
            method: Method::From,
            outcome: FindingOutcome::Fail,
            explanation: format!(
                "the message has {from_fields} From fields; DMARC needs exactly one (RFC 7489 §6.6.1), and the \
                 receiver, a mail client and this check may each read a different one"
            ),
        });
        Outcome::Critical
    } else if let Some(reason) = &selection.unreadable {
        findings.push(Finding { method: Method::Trust, outcome: FindingOutcome::Fail, explanation: reason.clone() });
        Outcome::Unknown
    } else if selection.trusted.is_empty() {
        findings.push(Finding {
            method: Method::Trust,
            outcome: FindingOutcome::Fail,
            explanation: no_trusted_explanation(&selection, policy),
        });
        Outcome::Unknown
    } else {
        if let Err(why) = &from {
            findings.push(Finding {
                method: Method::From,
                outcome: FindingOutcome::Fail,
                explanation: format!("no single From domain to align with: {why}"),
            });
        }
        let observed = expect::Observed {
            from: from_ref,
            dkim: &dkim,
            spf: spf.as_ref(),
            dmarc: dmarc.as_ref(),
            mail_from_domain: mail_from_domain.as_deref(),
        };
        findings.extend(expect::judge(&observed, expect));
        if let Some(f) = topmost_trust_finding(fields, &selection) {
            findings.push(f);
        }
        expect::outcome_of(&findings)
    };
    Evaluation {
        from_domain,
        authserv_id: selection.authserv_id.clone(),
        trust_basis: selection.basis,
        trusted_headers: selection.trusted.len(),
        alignment: mode,
        dkim,
        spf,
        mail_from_domain,
        dmarc,
        ignored_headers: IgnoredSummary { count: selection.ignored.len(), reasons: selection.ignored },
        findings,
        verdict,
    }
}

/// With nothing configured the topmost field was trusted; that is only safe when the receiver itself
/// wrote it. A receiver names itself in the `by` clause of the Received line it adds above its results
/// (RFC 5321 §4.4); when no Received line above names a host under the authserv-id's Organizational
/// Domain, the field may have come from upstream (deltachat's forged `aaa.com` case, research §13.9).
fn topmost_trust_finding(fields: &[HeaderField], selection: &trust::Selection) -> Option<Finding> {
    if selection.basis != Some(TrustBasis::Topmost) {
        return None;
    }
    let id = selection.authserv_id.as_deref()?;
    let org = align::organizational_domain(id);
    let first_trusted = selection.first_trusted_index?;
    let receiver = trace::operator_domains(id);
    let named =
        fields[..first_trusted].iter().filter(|f| f.is("Received")).any(|f| trace::by_host(&f.value).is_of(&receiver));
    (!named).then(|| Finding {
        method: Method::Trust,
        outcome: FindingOutcome::Warn,
        explanation: format!(
            "no receiver configured: trusted the topmost authserv-id {id}, but no Received line above it names a host \
             under {org} (it may have been added upstream); name the receiver with --trusted-authserv-id"
        ),
    })
}

fn no_trusted_explanation(selection: &trust::Selection, policy: &TrustPolicy) -> String {
    let wanted = if policy.authserv_ids.is_empty() {
        "the topmost field's receiver".to_string()
    } else {
        policy.authserv_ids.join(", ")
    };
    let ar_ignored =
        selection.ignored.iter().filter(|i| i.field.eq_ignore_ascii_case("Authentication-Results")).count();
    if ar_ignored == 0 {
        format!("the message carries no Authentication-Results field (wanted: {wanted})")
    } else {
        format!(
            "no trusted Authentication-Results field (wanted: {wanted}); {ar_ignored} field(s) ignored, see \
                ignored_headers"
        )
    }
}

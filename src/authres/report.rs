//! The serialisable evaluation of one message: what the trusted receiver said about DKIM, SPF and DMARC,
//! the alignment we computed, what was ignored, the findings and the verdict; plus its text and Nagios
//! renderings (JSON is serde).

use serde::Serialize;

use super::align::{AlignmentMode, domain_of, is_aligned, organizational_domain};
use super::expect::{Finding, FindingOutcome};
use super::message::DkimSignature;
use super::parse::{AuthResults, ResInfo};
use super::trust::{IgnoredHeader, TrustBasis};
use crate::verdict::Outcome;

/// Everything the probe and `check-headers` report about a message's authentication.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Domain of the single RFC5322.From address (the DMARC Author Domain).
    pub from_domain: Option<String>,
    /// authserv-id of the trusted receiver whose results were used (`null` for Outlook-style fields).
    pub authserv_id: Option<String>,
    /// How the trusted receiver was chosen (`configured`, `topmost`, `position_no_authserv_id`).
    pub trust_basis: Option<TrustBasis>,
    /// Number of trusted Authentication-Results fields merged.
    pub trusted_headers: usize,
    /// Alignment mode used.
    pub alignment: AlignmentMode,
    /// One entry per DKIM signature the receiver reported on (duplicates merged).
    pub dkim: Vec<DkimReport>,
    /// The SPF result for the MAIL FROM identity (HELO only when MAIL FROM was null).
    pub spf: Option<SpfReport>,
    /// The real RFC5321.MailFrom domain: SES silently falls back to amazonses.com when a custom MAIL FROM
    /// domain's MX check fails (research §0), so the probe reports what was used, not what was configured.
    pub mail_from_domain: Option<String>,
    /// The receiver's DMARC verdict.
    pub dmarc: Option<DmarcReport>,
    /// Authentication-Results fields that did not count, and why.
    pub ignored_headers: IgnoredSummary,
    /// One line per check: pass, warn or fail with the explanation.
    pub findings: Vec<Finding>,
    /// OK / WARNING / CRITICAL, or UNKNOWN when no trusted header was found.
    pub verdict: Outcome,
}

impl Evaluation {
    /// The receiver whose fields were trusted, by its operator's domain (`google.com`, `messagingengine.com`;
    /// `outlook.com` for Microsoft's id-less fields), when one was: what the monitor pins.
    pub fn receiver(&self) -> Option<String> {
        match (self.trust_basis?, &self.authserv_id) {
            (TrustBasis::PositionNoAuthservId, _) => Some(super::trace::MICROSOFT[0].to_string()),
            (_, Some(id)) => super::trace::operator_domains(id).into_iter().next(),
            (_, None) => None,
        }
    }

    /// The outcome for the verdict machinery (exit code 0/1/2/3).
    pub fn outcome(&self) -> Outcome {
        self.verdict
    }

    /// Multi-line text for an on-call human: a headline, then one line per finding.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}: From {} — receiver {} ({} alignment)\n",
            self.verdict,
            self.from_domain.as_deref().unwrap_or("(unknown)"),
            match (&self.authserv_id, self.trust_basis) {
                (Some(id), _) => id.clone(),
                (None, Some(_)) => "without authserv-id (Outlook/M365 style)".to_string(),
                (None, None) => "(none trusted)".to_string(),
            },
            self.alignment.name()
        );
        for f in &self.findings {
            out.push_str(&format!("{:<4} {}: {}\n", f.outcome.label(), f.method, f.explanation));
        }
        if let Some(mf) = &self.mail_from_domain {
            out.push_str(&format!("info mail-from: the envelope sender (MAIL FROM) domain was {mf}\n"));
        }
        if self.ignored_headers.count > 0 {
            out.push_str(&format!("info ignored {} header field(s):\n", self.ignored_headers.count));
            for r in &self.ignored_headers.reasons {
                out.push_str(&format!("       #{} {}: {}\n", r.position, r.field, r.reason));
            }
        }
        out
    }

    /// One Monitoring Plugins status line with perfdata.
    pub fn to_nagios(&self) -> String {
        let problems: Vec<String> = self
            .findings
            .iter()
            .filter(|f| f.outcome != FindingOutcome::Pass)
            .map(|f| format!("{}: {}", f.method, f.explanation))
            .collect();
        let summary = if problems.is_empty() {
            let methods: Vec<&str> = self.findings.iter().map(|f| f.method.name()).collect();
            format!("{} pass", methods.join(", "))
        } else {
            problems.join("; ")
        };
        let dkim_aligned = self.dkim.iter().any(|d| d.result == "pass" && d.aligned);
        let spf_aligned = self.spf.as_ref().is_some_and(|s| s.result == "pass" && s.aligned);
        format!(
            "AUTHRES {} - {} | dkim_aligned_pass={} spf_aligned_pass={} ignored_headers={}",
            self.verdict,
            summary.replace('|', "/"),
            u8::from(dkim_aligned),
            u8::from(spf_aligned),
            self.ignored_headers.count
        )
    }
}

/// Count and reasons of the fields set aside.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IgnoredSummary {
    pub count: usize,
    pub reasons: Vec<IgnoredHeader>,
}

/// What the receiver said about one DKIM signature, with our alignment.
#[derive(Debug, Clone, Serialize)]
pub struct DkimReport {
    /// The receiver's result (lower case); the topmost wins when duplicates disagree.
    pub result: String,
    /// The signing domain: `d=` of the matched DKIM-Signature, else `header.d`, else the domain of
    /// `header.i`.
    pub domain: Option<String>,
    /// Selector (`header.s`, or `s=` of the matched signature).
    pub selector: Option<String>,
    /// Whether `domain` aligns with the From domain under the mode in use.
    pub aligned: bool,
    /// Where `domain` came from: `dkim-signature`, `header.d`, `header.i` or `none`.
    pub domain_source: &'static str,
    /// Other results reported for the same signature (disagreeing duplicates).
    pub also_reported: Vec<String>,
}

/// The receiver's SPF result with our alignment.
#[derive(Debug, Clone, Serialize)]
pub struct SpfReport {
    pub result: String,
    /// The checked identity's domain.
    pub domain: Option<String>,
    /// `mailfrom`, or `helo` when MAIL FROM was null (RFC 7489 §3.1.2).
    pub identity: &'static str,
    pub aligned: bool,
    /// Why SPF does not align, in one line (`null` when it does).
    pub not_aligned_reason: Option<String>,
}

/// The receiver's DMARC verdict.
#[derive(Debug, Clone, Serialize)]
pub struct DmarcReport {
    pub result: String,
    /// Published policy (`none`, `quarantine`, `reject`) when the receiver wrote it.
    pub policy: Option<String>,
    /// Applied disposition or action when written (`dis=`, Outlook `action=`, `policy.applied-disposition`).
    pub disposition: Option<String>,
    /// `header.from` as the receiver wrote it.
    pub header_from: Option<String>,
}

/// Collects every result of `method` from the trusted fields, in order.
fn results_of<'a, 'b>(trusted: &'a [AuthResults<'b>], method: &str) -> Vec<&'a ResInfo<'b>> {
    trusted.iter().flat_map(|ar| ar.results.iter()).filter(|r| r.method == method).collect()
}

/// Strips the quotes a careless writer left around a `header.b` value.
fn clean_b(b: &str) -> &str {
    b.trim_matches('"')
}

/// Finds the DKIM-Signature a result is about (RFC 6008 `header.b` prefix, else selector, else a unique
/// signature for the domain/algorithm). A result that names no domain is mapped only by its `header.b`:
/// the signatures are the sender's text, and without the receiver naming one, guessing by selector,
/// algorithm or "the only signature" would take `d=` from a field nobody verified.
fn match_signature(r: &ResInfo, ar_domain: Option<&str>, sigs: &[DkimSignature]) -> Option<usize> {
    if sigs.is_empty() {
        return None;
    }
    let domain_ok = |s: &DkimSignature| match ar_domain {
        Some(d) => d == s.d || d.strip_suffix(s.d.as_str()).is_some_and(|rest| rest.ends_with('.')),
        None => true,
    };
    let unique = |pred: &dyn Fn(&DkimSignature) -> bool| {
        let mut it = sigs.iter().enumerate().filter(|(_, s)| pred(s));
        match (it.next(), it.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    };
    if let Some(b) = r.prop("header.b").map(clean_b).filter(|b| b.len() >= 4) {
        return unique(&|s| s.b.starts_with(b) && domain_ok(s));
    }
    // A result naming no domain is tied to a signature by header.b only: `d=` is never borrowed (an
    // unverified DKIM-Signature could otherwise lend its domain to a bare `dkim=pass`).
    ar_domain.as_ref()?;
    if let Some(sel) = r.prop("header.s") {
        return unique(&|s| s.s == sel && domain_ok(s));
    }
    if let Some(a) = r.prop("header.a")
        && let Some(i) = unique(&|s| s.a.eq_ignore_ascii_case(a) && domain_ok(s))
    {
        return Some(i);
    }
    unique(&|s| domain_ok(s))
}

/// The DKIM domain a result names itself: `header.d`, else the domain of `header.i` (Gmail, Yahoo).
fn ar_dkim_domain(r: &ResInfo) -> Option<(String, &'static str)> {
    if let Some(d) = r.prop("header.d").and_then(domain_of) {
        return Some((d, "header.d"));
    }
    r.prop("header.i").and_then(domain_of).map(|d| (d, "header.i"))
}

/// Builds the DKIM reports: maps each result to its signature, merges duplicates, and computes alignment of
/// the real `d=`. Of results that disagree about one signature the topmost wins: the receiver prepends its
/// fields, so a lower one with the same authserv-id is older — Proton's later `permerror` for a signature
/// its first field passed (research §6), or a copy a sender put below the receiver's own.
pub(crate) fn dkim_reports(
    trusted: &[AuthResults],
    sigs: &[DkimSignature],
    from: Option<&str>,
    mode: AlignmentMode,
) -> Vec<DkimReport> {
    // Merge key: the matched signature, else the named domain plus `header.b`; no key, no merge.
    let mut reports: Vec<(Option<usize>, Option<&str>, DkimReport)> = Vec::new();
    for r in results_of(trusted, "dkim") {
        let named = ar_dkim_domain(r);
        let sig = match_signature(r, named.as_ref().map(|(d, _)| d.as_str()), sigs);
        let b = r.prop("header.b").map(clean_b).filter(|b| !b.is_empty());
        let (domain, source) = match (sig, named) {
            (Some(i), _) => (Some(sigs[i].d.clone()), "dkim-signature"),
            (None, Some((d, src))) => (Some(d), src),
            (None, None) => (None, "none"),
        };
        let same = |(s, eb, rep): &&mut (Option<usize>, Option<&str>, DkimReport)| match sig {
            Some(_) => *s == sig,
            None => s.is_none() && b.is_some() && *eb == b && rep.domain == domain,
        };
        if let Some((_, _, existing)) = reports.iter_mut().find(|x| same(x)) {
            if existing.result != r.result && !existing.also_reported.iter().any(|x| *x == r.result) {
                existing.also_reported.push(r.result.to_string());
            }
            if existing.selector.is_none() {
                existing.selector = r.prop("header.s").map(str::to_string).or_else(|| sig.map(|i| sigs[i].s.clone()));
            }
            continue;
        }
        let selector = r.prop("header.s").map(str::to_string).or_else(|| sig.map(|i| sigs[i].s.clone()));
        let aligned = match (&domain, from) {
            (Some(d), Some(f)) => is_aligned(d, f, mode),
            _ => false,
        };
        reports.push((
            sig,
            b,
            DkimReport {
                result: r.result.to_string(),
                domain,
                selector,
                aligned,
                domain_source: source,
                also_reported: vec![],
            },
        ));
    }
    reports.into_iter().map(|(_, _, r)| r).collect()
}

/// The SPF report: the MAIL FROM result (`smtp.mailfrom`, Yandex's `smtp.mail`); the HELO result only
/// when MAIL FROM was null (RFC 7489 §3.1.2; research §13.8 "prefer smtp.mailfrom").
pub(crate) fn spf_report(trusted: &[AuthResults], from: Option<&str>, mode: AlignmentMode) -> Option<SpfReport> {
    let spf = results_of(trusted, "spf");
    let mailfrom = |r: &ResInfo| r.prop("smtp.mailfrom").or_else(|| r.prop("smtp.mail")).and_then(domain_of);
    let (r, domain, identity) = if let Some((r, d)) = spf.iter().find_map(|r| mailfrom(r).map(|d| (*r, d))) {
        (r, Some(d), "mailfrom")
    } else if let Some(r) = spf.iter().find(|r| r.prop("smtp.helo").and_then(domain_of).is_some()) {
        (*r, r.prop("smtp.helo").and_then(domain_of), "helo")
    } else {
        (*spf.first()?, None, "mailfrom")
    };
    let aligned = match (&domain, from) {
        (Some(d), Some(f)) => is_aligned(d, f, mode),
        _ => false,
    };
    let not_aligned_reason = if aligned { None } else { Some(spf_not_aligned_reason(domain.as_deref(), from, mode)) };
    Some(SpfReport { result: r.result.to_string(), domain, identity, aligned, not_aligned_reason })
}

/// Why the SPF identity does not align, for a human (research §14 "Consequences for SES").
fn spf_not_aligned_reason(domain: Option<&str>, from: Option<&str>, mode: AlignmentMode) -> String {
    let (Some(d), Some(f)) = (domain, from) else {
        return match domain {
            None => "the receiver named no MAIL FROM domain".to_string(),
            Some(_) => "the From domain is unknown".to_string(),
        };
    };
    if organizational_domain(d) == "amazonses.com" {
        return format!(
            "MAIL FROM is SES's default {d}, which never aligns with {f}; configure a custom MAIL FROM domain \
             under {f} (or SES fell back to the default because the custom MAIL FROM domain's MX check failed)"
        );
    }
    if mode == AlignmentMode::Strict && is_aligned(d, f, AlignmentMode::Relaxed) {
        return format!(
            "MAIL FROM {d} aligns with {f} only in relaxed mode; strict alignment (aspf=s) needs exactly {f}"
        );
    }
    format!(
        "MAIL FROM {d} (organizational domain {}) is not under {f} (organizational domain {})",
        organizational_domain(d),
        organizational_domain(f)
    )
}

/// The receiver's DMARC verdict: the result whose `header.from` names the From domain, else the first.
pub(crate) fn dmarc_report(trusted: &[AuthResults], from: Option<&str>) -> Option<DmarcReport> {
    let all = results_of(trusted, "dmarc");
    let r = all
        .iter()
        .find(|r| r.prop("header.from").and_then(domain_of).as_deref() == from && from.is_some())
        .or_else(|| all.first())?;
    let mut policy =
        r.prop("policy.published-domain-policy").or_else(|| r.prop("policy.dmarc")).map(str::to_ascii_lowercase);
    let mut disposition =
        r.prop("policy.applied-disposition").or_else(|| r.prop("action")).map(str::to_ascii_lowercase);
    // Policy comments: Gmail `(p=REJECT sp=REJECT dis=NONE)`, Yahoo `(p=NONE,sp=NONE)`, rspamd `(policy=reject)`.
    for c in &r.comments {
        for tok in c.split([' ', ',', '\t']) {
            let Some((k, v)) = tok.split_once('=') else {
                continue;
            };
            let k = k.trim();
            let is = |name: &str| k.eq_ignore_ascii_case(name);
            if (is("p") || is("policy")) && policy.is_none() {
                policy = Some(v.trim().to_ascii_lowercase());
            } else if is("dis") && disposition.is_none() {
                disposition = Some(v.trim().to_ascii_lowercase());
            }
        }
    }
    Some(DmarcReport {
        result: r.result.to_string(),
        policy,
        disposition,
        header_from: r.prop("header.from").map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authres::message::parse_dkim_signature;
    use crate::authres::parse::parse;

    #[test]
    fn dmarc_policy_from_each_receiver_style() {
        // (name, value, policy, disposition)
        let cases = [
            (
                "Gmail comment",
                "mx.google.com; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com",
                Some("reject"),
                Some("none"),
            ),
            (
                "Yahoo glued comment",
                "x.yahoo.com; dmarc=pass(p=NONE,sp=QUARANTINE) header.from=example.com;",
                Some("none"),
                None,
            ),
            ("rspamd", "test.com; dmarc=pass (policy=reject) header.from=example.com", Some("reject"), None),
            ("Outlook action", "dmarc=fail action=quarantine header.from=example.com", None, Some("quarantine")),
            (
                "Fastmail policy.*",
                "mx3.messagingengine.com; dmarc=pass policy.published-domain-policy=reject \
                    policy.applied-disposition=none (p=quarantine) header.from=example.com",
                Some("reject"),
                Some("none"),
            ),
            (
                "Stalwart policy.dmarc",
                "mx; dmarc=pass header.from=example.com policy.dmarc=quarantine",
                Some("quarantine"),
                None,
            ),
        ];
        for (name, value, policy, disposition) in cases {
            let ar = parse(value).unwrap_or_else(|e| panic!("{name}: {e}"));
            let d = dmarc_report(&[ar], Some("example.com")).unwrap_or_else(|| panic!("{name}: no dmarc"));
            assert_eq!((d.policy.as_deref(), d.disposition.as_deref()), (policy, disposition), "{name}");
        }
    }

    #[test]
    fn dkim_results_map_to_their_signature() {
        let sigs = [
            parse_dkim_signature("v=1; a=rsa-sha256; d=example.com; s=sel1; b=kdd7/gKnXYZ"),
            parse_dkim_signature("v=1; a=rsa-sha256; d=amazonses.com; s=sesSel; b=L7Gap8PVXYZ"),
            parse_dkim_signature("v=1; a=ed25519-sha256; d=example.com; s=sel2; b=zzzzzzzz"),
        ];
        // (name, value, matched signature)
        let cases = [
            ("header.b prefix, quoted", "mx; dkim=pass header.i=@example.com header.b=\"kdd7/gKn\"", Some(0)),
            ("selector", "mx; dkim=pass header.i=@amazonses.com header.s=sesSel", Some(1)),
            (
                "algorithm when the domain is ambiguous",
                "mx; dkim=pass header.d=example.com header.a=ed25519-sha256",
                Some(2),
            ),
            ("ambiguous domain", "mx; dkim=pass header.d=example.com", None),
            ("unique domain", "mx; dkim=pass header.d=amazonses.com", Some(1)),
            ("subdomain AUID", "mx; dkim=pass header.i=@mail.amazonses.com", Some(1)),
            ("nothing named, several signatures", "mx; dkim=pass", None),
        ];
        for (name, value, want) in cases {
            let ar = parse(value).unwrap_or_else(|e| panic!("{name}: {e}"));
            let r = &ar.results[0];
            let named = ar_dkim_domain(r);
            assert_eq!(match_signature(r, named.as_ref().map(|(d, _)| d.as_str()), &sigs), want, "{name}");
        }
    }
}

//! Identifier alignment (RFC 7489 §3.1): is a DKIM `d=` or the SPF MAIL FROM domain aligned with the
//! From domain, relaxed (same Organizational Domain, from the Public Suffix List, RFC 7489 §3.2) or
//! strict (identical FQDNs)?
//!
//! We compute alignment ourselves: receivers report `dmarc=pass` without saying which identifier
//! aligned (research/authres-realworld.md §14).

use serde::{Deserialize, Serialize};

/// Identifier alignment mode (RFC 7489 §3.1: `adkim`/`aspf` = `r` or `s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlignmentMode {
    /// Same Organizational Domain (the DMARC default).
    #[default]
    Relaxed,
    /// Identical domain names.
    Strict,
}

impl AlignmentMode {
    /// The lower-case name used in text output and JSON.
    pub fn name(self) -> &'static str {
        match self {
            AlignmentMode::Relaxed => "relaxed",
            AlignmentMode::Strict => "strict",
        }
    }
}

/// Lower-cases a domain and drops a trailing dot (RFC 7489 §3.1: comparison is case-insensitive).
pub fn normalize_domain(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// [`normalize_domain`] without allocating when the name already is normal (the common case).
fn normalized(domain: &str) -> std::borrow::Cow<'_, str> {
    let d = domain.trim().trim_end_matches('.');
    if d.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(d.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(d)
    }
}

/// The Organizational Domain (RFC 7489 §3.2): public suffix plus one label. A name that is itself a
/// public suffix (or unknown to the list) is its own Organizational Domain.
pub fn organizational_domain(domain: &str) -> String {
    let d = normalize_domain(domain);
    match psl::domain_str(&d) {
        Some(org) => org.to_string(),
        None => d,
    }
}

/// Whether `identifier` aligns with `from_domain` under `mode` (RFC 7489 §3.1.1, §3.1.2).
pub fn is_aligned(identifier: &str, from_domain: &str, mode: AlignmentMode) -> bool {
    let (a, b) = (normalized(identifier), normalized(from_domain));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    match mode {
        AlignmentMode::Strict => a == b,
        // Compare the Organizational Domains as slices of the normalised names: no further allocation.
        AlignmentMode::Relaxed => a == b || psl::domain_str(&a).unwrap_or(&a) == psl::domain_str(&b).unwrap_or(&b),
    }
}

/// The domain of a property value that is an address or a bare domain: `user@example.com`,
/// `@example.com`, `<user@example.com>`, `example.com`. `None` for empty, `<>` (null sender) and the
/// literal `none` (Outlook's `header.d=none`, research §2).
pub fn domain_of(value: &str) -> Option<String> {
    let v = value.trim().trim_start_matches('<').trim_end_matches('>').trim();
    let domain = match v.rsplit_once('@') {
        Some((_, d)) => d,
        None => v,
    };
    let d = normalize_domain(domain);
    let plausible = !d.is_empty()
        && d != "none"
        && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' || b >= 0x80);
    plausible.then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_cases() {
        use AlignmentMode::*;
        // (name, identifier, from, mode, aligned)
        let cases = [
            ("same domain strict", "example.com", "example.com", Strict, true),
            ("case and trailing dot", "Example.COM.", "example.com", Strict, true),
            ("custom MAIL FROM relaxed", "bounce.example.com", "example.com", Relaxed, true),
            ("custom MAIL FROM strict", "bounce.example.com", "example.com", Strict, false),
            ("SES default MAIL FROM", "amazonses.com", "example.com", Relaxed, false),
            ("SES regional MAIL FROM", "us-west-2.amazonses.com", "example.com", Relaxed, false),
            ("multi-label public suffix", "mail.example.co.uk", "example.co.uk", Relaxed, true),
            ("sibling under co.uk", "other.co.uk", "example.co.uk", Relaxed, false),
            ("From on a subdomain", "example.com", "news.example.com", Relaxed, true),
            ("empty identifier", "", "example.com", Relaxed, false),
        ];
        for (name, id, from, mode, want) in cases {
            assert_eq!(is_aligned(id, from, mode), want, "{name}");
        }
    }

    #[test]
    fn domain_of_cases() {
        let cases = [
            ("full address", "0100017674efab57-x-000000@ses-us-east-1.example.com", Some("ses-us-east-1.example.com")),
            ("AUID", "@amazonses.com", Some("amazonses.com")),
            ("bare domain", "Amazonses.com", Some("amazonses.com")),
            ("angle address", "<alice@fastmail.com>", Some("fastmail.com")),
            ("null sender", "<>", None),
            ("Outlook none", "none", None),
            ("empty", "", None),
            ("SRS local part", "SRS0=Z8Bj=5h=qq.com=x@wh1te.dev", Some("wh1te.dev")),
            ("junk", "a) dmarc=pass (b", None),
        ];
        for (name, input, want) in cases {
            assert_eq!(domain_of(input).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn organizational_domains() {
        let cases = [
            ("plain", "bounce.example.com", "example.com"),
            ("co.uk", "mail.example.co.uk", "example.co.uk"),
            ("SES region", "us-west-2.amazonses.com", "amazonses.com"),
        ];
        for (name, input, want) in cases {
            assert_eq!(organizational_domain(input), want, "{name}");
        }
    }
}

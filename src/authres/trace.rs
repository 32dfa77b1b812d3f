//! The receiver's own trace: which `Received` fields a receiver wrote, read from their `by` clause
//! (RFC 5321 §4.4: every hop prepends one naming itself), so the trust selection can tell the fields the
//! receiver added on top of a message from the ones a sender put inside it.
//!
//! A mailbox operator's hosts live under a few domains of its own: Gmail's results name `mx.google.com`
//! and its ARC seals `d=google.com`; Apple's per-check ids are `*.icloud.com` and were `*.me.com`
//! (research/authres-realworld.md §4); Yahoo's are `*.yahoo.com` and AOL's `mx.aol.com` (§3); Fastmail
//! writes `mxN.messagingengine.com` (§5); Microsoft's hops are `*.protection.outlook.com`,
//! `*.prod.outlook.com` and `*.outlook.office365.com` (§2). [`operator_domains`] groups them.

use std::net::IpAddr;

use super::align::organizational_domain;

/// Organizational Domains that belong to one mailbox operator.
const OPERATORS: &[&[&str]] = &[
    &["google.com", "gmail.com", "googlemail.com"],
    &["icloud.com", "me.com", "mac.com", "apple.com"],
    &["yahoo.com", "aol.com", "yahoodns.net"],
    &["messagingengine.com", "fastmail.com"],
    MICROSOFT,
];

/// Microsoft's mail hosts (Outlook.com, Microsoft 365): the hop an authserv-id-less field must sit under.
pub const MICROSOFT: &[&str] = &["outlook.com", "office365.com", "microsoft.com", "hotmail.com"];

/// The Organizational Domains that count as the same receiver as `domain`: its own, plus its operator's.
pub fn operator_domains(domain: &str) -> Vec<String> {
    let org = organizational_domain(domain);
    match OPERATORS.iter().find(|group| group.contains(&org.as_str())) {
        Some(group) => group.iter().map(|d| d.to_string()).collect(),
        None => vec![org],
    }
}

/// What the `by` clause of a Received field names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByHost {
    /// A domain name: its Organizational Domain tells whose host it is.
    Named(String),
    /// An address literal, a single label (`localhost`, an internal host name), a name under no public
    /// suffix, or no `by` clause: it names nobody.
    Anonymous,
}

impl ByHost {
    /// Whether this hop is a host of a receiver with these Organizational Domains; an anonymous hop is
    /// not evidence either way.
    pub fn foreign_to(&self, receiver: &[String]) -> bool {
        match self {
            ByHost::Named(host) => !receiver.contains(&organizational_domain(host)),
            ByHost::Anonymous => false,
        }
    }

    pub fn is_of(&self, receiver: &[String]) -> bool {
        matches!(self, ByHost::Named(_)) && !self.foreign_to(receiver)
    }
}

impl std::fmt::Display for ByHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ByHost::Named(host) => f.write_str(host),
            ByHost::Anonymous => f.write_str("(no host name)"),
        }
    }
}

/// The `by` host of a Received field's value (RFC 5321 §4.4 `By-domain`), comments removed.
pub fn by_host(value: &str) -> ByHost {
    let text = without_comments(value);
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w.eq_ignore_ascii_case("by") {
            let Some(host) = words.next() else { break };
            let host = host.trim_end_matches(';').trim_matches(|c| c == '[' || c == ']').to_ascii_lowercase();
            let host = host.trim_end_matches('.');
            // An address literal, a single label, or a name under no public suffix (`*.internal`, `*.local`,
            // an internal `mailmx.nyi.internal` hop at Fastmail) names no operator.
            let public = psl::suffix(host.as_bytes()).is_some_and(|s| s.is_known());
            if host.parse::<IpAddr>().is_ok() || !host.contains('.') || host.starts_with("ipv6:") || !public {
                return ByHost::Anonymous;
            }
            return ByHost::Named(host.to_string());
        }
    }
    ByHost::Anonymous
}

/// `value` with RFC 5322 §3.2.2 comments (nested parentheses, backslash escapes) removed.
fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut escaped) = (0usize, false);
    for c in value.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if depth > 0 => escaped = true,
            '(' => depth += 1,
            ')' if depth > 0 => {
                depth -= 1;
                out.push(' ');
            }
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hosts_of_real_received_fields() {
        let cases = [
            (
                "from a8-64.smtp-out.amazonses.com (a8-64.smtp-out.amazonses.com. [54.240.8.64])\r\n        by \
                 mx.google.com with ESMTPS id x; Fri, 18 Dec 2020",
                ByHost::Named("mx.google.com".into()),
            ),
            ("by 2002:a05:6a10:1234 with SMTP id x; Fri, 18 Dec 2020", ByHost::Anonymous),
            ("from 54.240.8.64 (EHLO a8-64.smtp-out.amazonses.com)\r\n by 10.217.151.3 with SMTPs", ByHost::Anonymous),
            ("from x (helo by evil.example) by mail.example.net (Postfix)", ByHost::Named("mail.example.net".into())),
            ("from x by localhost with LMTP", ByHost::Anonymous),
            ("from x ([1.2.3.4]) by [10.0.0.1]", ByHost::Anonymous),
            ("from mx6.messagingengine.com (localhost) by mailmx.nyi.internal (Postfix)", ByHost::Anonymous),
            ("from unknown", ByHost::Anonymous),
        ];
        for (value, want) in cases {
            assert_eq!(by_host(value), want, "{value}");
        }
    }

    #[test]
    fn operators_group_their_domains() {
        assert!(operator_domains("dkim-verifier.icloud.com").contains(&"me.com".to_string()));
        assert!(operator_domains("BN8NAM11FT066.mail.protection.outlook.com").contains(&"office365.com".into()));
        assert_eq!(operator_domains("mail.example.net"), ["example.net"]);
        let google = operator_domains("mx.google.com");
        assert!(ByHost::Named("mx.google.com".into()).is_of(&google));
        assert!(ByHost::Named("mail.example.net".into()).foreign_to(&google));
        assert!(!ByHost::Anonymous.foreign_to(&google) && !ByHost::Anonymous.is_of(&google));
    }
}

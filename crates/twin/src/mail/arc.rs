//! ARC sealing (RFC 8617) for the receivers that seal what they received (Gmail, Fastmail): the first ARC set
//! (`i=1`, `cv=none`) over the message as it arrived, really signed with the twin's ARC test key, so an ARC
//! verifier fed [`super::DkimKeys::txt_record`] accepts it.
//!
//! mail-auth's own sealer needs its verification output and writes its own Authentication-Results text; the
//! twin must write the receivers' text, so the set is assembled here and only the RSA signing is mail-auth's.

use base64::Engine as _;
use mail_auth::common::crypto::{RsaKey, Sha256, SigningKey as _};
use sha2::Digest as _;

use super::MailError;

/// One receiver's sealing identity.
pub(super) struct Sealer<'a> {
    pub key: &'a RsaKey<Sha256>,
    pub domain: &'a str,
    pub selector: &'a str,
    /// Seconds since the epoch for `t=` (when the receiver sealed).
    pub timestamp: i64,
    /// Lower-case header names the AMS covers, in signing order (RFC 8617 §4.1.2).
    pub signed: &'a [&'a str],
    /// Continuation indent for folded lines (Gmail folds with spaces, Fastmail with four).
    pub indent: &'a str,
}

/// The three ARC headers, in the order receivers put them on top: ARC-Seal, ARC-Message-Signature,
/// ARC-Authentication-Results. `aar` is the AAR value after `i=1; ` (authserv-id and results); `message` is
/// the message below the receiver's headers.
pub(super) fn seal(s: &Sealer<'_>, aar: &str, message: &[u8]) -> Result<String, MailError> {
    let (headers, body) = split_message(message);
    let aar_header = format!("ARC-Authentication-Results: i=1; {aar}\r\n");

    // ARC-Message-Signature: a DKIM-like signature with i= and no v= (RFC 8617 §4.1.2), relaxed/relaxed.
    let body_hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(relaxed_body(body)));
    let present: Vec<&str> =
        s.signed.iter().copied().filter(|name| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))).collect();
    let ind = s.indent;
    let ams_unsigned = format!(
        "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d={d}; \
            s={sel};\r\n{ind}t={t};\r\n{ind}h={h};\r\n{ind}bh={body_hash};\r\n{ind}b=",
        d = s.domain,
        sel = s.selector,
        t = s.timestamp,
        h = present.join(":"),
    );
    // RFC 6376 §5.4.2: each listed name takes the next instance from the bottom; then the signature header
    // itself with an empty b=, without its final CRLF (§3.7).
    let mut input = Vec::new();
    let mut taken: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for name in &present {
        let seen = taken.entry(name.to_ascii_lowercase()).or_insert(0);
        let instance = headers.iter().rev().filter(|(n, _)| n.eq_ignore_ascii_case(name)).nth(*seen);
        *seen += 1;
        if let Some((n, v)) = instance {
            input.extend_from_slice(relaxed_header(n, v).as_bytes());
            input.extend_from_slice(b"\r\n");
        }
    }
    let (n, v) = header_parts(&ams_unsigned);
    input.extend_from_slice(relaxed_header(n, v).as_bytes());
    let ams = format!("{ams_unsigned}{}\r\n", fold_b64(&sign(s.key, &input)?, ind));

    // ARC-Seal over AAR, AMS and the seal itself (b= empty) of every set, here the only one (RFC 8617 §5.1.1).
    let as_unsigned = format!(
        "ARC-Seal: i=1; a=rsa-sha256; t={t}; cv=none;\r\n{ind}d={d}; s={sel};\r\n{ind}b=",
        t = s.timestamp,
        d = s.domain,
        sel = s.selector
    );
    let mut input = Vec::new();
    for header in [aar_header.as_str(), ams.as_str()] {
        let (n, v) = header_parts(header.trim_end_matches("\r\n"));
        input.extend_from_slice(relaxed_header(n, v).as_bytes());
        input.extend_from_slice(b"\r\n");
    }
    let (n, v) = header_parts(&as_unsigned);
    input.extend_from_slice(relaxed_header(n, v).as_bytes());
    let seal = format!("{as_unsigned}{}\r\n", fold_b64(&sign(s.key, &input)?, ind));

    Ok(format!("{seal}{ams}{aar_header}"))
}

fn sign(key: &RsaKey<Sha256>, input: &[u8]) -> Result<String, MailError> {
    let signature = key.sign(input).map_err(|e| MailError::Sign(format!("ARC: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(signature))
}

/// Base64 folded into lines of at most 72 characters (RFC 5322 §2.1.1 keeps lines under 78).
fn fold_b64(b64: &str, indent: &str) -> String {
    b64.as_bytes()
        .chunks(72)
        // base64 is ASCII, so every chunk is valid UTF-8.
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(&format!("\r\n{indent}"))
}

/// Header fields (name, raw value with folding) and the body of a CRLF message.
pub(super) fn split_message(message: &[u8]) -> (Vec<(&str, &str)>, &[u8]) {
    let (head, body) = match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(pos) => (&message[..pos + 2], &message[pos + 4..]),
        None => (message, &b""[..]),
    };
    let head = std::str::from_utf8(head).unwrap_or_default();
    let mut fields: Vec<(&str, &str)> = Vec::new();
    let mut start = 0;
    let bytes = head.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        // A field ends at a CRLF not followed by whitespace (RFC 5322 §2.2.3).
        if bytes[i] == b'\r' && bytes[i + 1] == b'\n' && !matches!(bytes.get(i + 2), Some(b' ' | b'\t')) {
            let (n, v) = header_parts(&head[start..i]);
            fields.push((n, v));
            start = i + 2;
            i += 2;
            continue;
        }
        i += 1;
    }
    (fields, body)
}

/// Name and raw value of one header field (value without the colon).
fn header_parts(field: &str) -> (&str, &str) {
    field.split_once(':').unwrap_or((field, ""))
}

/// Relaxed header canonicalization (RFC 6376 §3.4.2): lower-case name, unfold, runs of WSP to one space, no
/// WSP at the ends of the value, no WSP around the colon.
pub(super) fn relaxed_header(name: &str, value: &str) -> String {
    let unfolded = value.replace("\r\n", "");
    let mut out = String::with_capacity(name.len() + unfolded.len() + 1);
    out.push_str(&name.trim().to_ascii_lowercase());
    out.push(':');
    out.push_str(&unfolded.split([' ', '\t']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" "));
    out
}

/// Relaxed body canonicalization (RFC 6376 §3.4.4): WSP runs to one space, no WSP at line ends, no empty
/// lines at the end, a final CRLF when the body is not empty.
pub(super) fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let mut lines: Vec<String> = text
        .split("\r\n")
        .map(|line| {
            let mut l = String::with_capacity(line.len());
            let mut in_wsp = false;
            for ch in line.chars() {
                if ch == ' ' || ch == '\t' {
                    in_wsp = true;
                } else {
                    if in_wsp {
                        l.push(' ');
                    }
                    in_wsp = false;
                    l.push(ch);
                }
            }
            l
        })
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_header_cases() {
        let cases = [
            ("folded and spaced", "Subject", " Your  code\r\n\tis  here \t", "subject:Your code is here"),
            ("name case and colon space", "DKIM-Signature ", "  v=1", "dkim-signature:v=1"),
        ];
        for (name, n, v, expected) in cases {
            assert_eq!(relaxed_header(n, v), expected, "{name}");
        }
    }

    #[test]
    fn relaxed_body_cases() {
        let cases: [(&str, &[u8], &[u8]); 3] = [
            ("trailing empty lines dropped", b"a  b \r\n\r\n\r\n", b"a b\r\n"),
            ("empty body stays empty", b"", b""),
            ("final CRLF added", b"x", b"x\r\n"),
        ];
        for (name, input, expected) in cases {
            assert_eq!(relaxed_body(input), expected, "{name}");
        }
    }

    #[test]
    fn split_keeps_folded_fields_together() {
        let (fields, body) = split_message(b"A: 1\r\nB: 2\r\n  more\r\n\r\nbody\r\n");
        assert_eq!(fields, vec![("A", " 1"), ("B", " 2\r\n  more")]);
        assert_eq!(body, b"body\r\n");
    }
}

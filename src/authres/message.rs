//! Reading the parts of a message the verdict needs: the header fields in order (with mail-parser), the
//! From domain, the Return-Path, and the tags of each DKIM-Signature (to map a result's `header.b` /
//! `header.s` / `header.i` to the signature's real `d=`, research/authres-realworld.md §1, §14).

use mail_parser::MessageParser;

use super::align::domain_of;

/// One header field as written, top to bottom; `value` is raw (folding kept, lossily decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// Field name as written (`Authentication-Results`, `DKIM-Signature`, …).
    pub name: String,
    /// Raw value after the colon, folding kept.
    pub value: String,
}

impl HeaderField {
    /// Convenience constructor for tests and benchmarks.
    pub fn new(name: &str, value: &str) -> Self {
        HeaderField { name: name.to_string(), value: value.to_string() }
    }

    /// Case-insensitive name comparison (RFC 5322 §1.2.2).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// The tags of one DKIM-Signature field that identify it (RFC 6376 §3.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DkimSignature {
    /// `d=`, the signing domain (SDID), lower-cased.
    pub d: String,
    /// `s=`, the selector.
    pub s: String,
    /// `b=` with all whitespace removed (RFC 6376 §3.5: FWS is ignored in `b=`).
    pub b: String,
    /// `i=`, the AUID, when present.
    pub i: Option<String>,
    /// `a=`, the algorithm, lower-cased.
    pub a: String,
}

/// Reads the header fields of a raw message in order. Bytes that are not UTF-8 are replaced; the
/// Authentication-Results grammar is ASCII (RFC 8601 §2.2) and the rest is only reported.
pub fn header_fields(raw: &[u8]) -> Vec<HeaderField> {
    let Some(message) = MessageParser::new().parse_headers(raw) else {
        return Vec::new();
    };
    message
        .headers()
        .iter()
        .filter_map(|h| {
            let value = raw.get(h.offset_start as usize..h.offset_end as usize)?;
            Some(HeaderField { name: h.name.as_str().to_string(), value: String::from_utf8_lossy(value).into_owned() })
        })
        .collect()
}

/// The From domain of a message, or why there is none: DMARC applies only to a message with exactly one
/// From address (RFC 7489 §6.6.1).
pub fn from_domain(raw: &[u8]) -> Result<String, String> {
    let Some(message) = MessageParser::new().parse_headers(raw) else {
        return Err("the message has no readable header".to_string());
    };
    let Some(from) = message.from() else {
        return Err("the message has no From header".to_string());
    };
    let addrs: Vec<_> = from.iter().collect();
    match addrs.as_slice() {
        [one] => one
            .address()
            .and_then(domain_of)
            .ok_or_else(|| format!("the From address {:?} has no domain", one.address().unwrap_or(""))),
        [] => Err("the From header holds no address".to_string()),
        many => {
            Err(format!("the From header holds {} addresses; DMARC needs exactly one (RFC 7489 §6.6.1)", many.len()))
        }
    }
}

/// Parses a DKIM-Signature tag-list (RFC 6376 §3.2); unknown or malformed tags are skipped.
pub fn parse_dkim_signature(value: &str) -> DkimSignature {
    let mut sig = DkimSignature::default();
    for tag in value.split(';') {
        let Some((name, val)) = tag.split_once('=') else {
            continue;
        };
        let compact: String = val.chars().filter(|c| !c.is_whitespace()).collect();
        match name.trim() {
            "d" => sig.d = compact.trim_end_matches('.').to_ascii_lowercase(),
            "s" => sig.s = compact,
            "b" => sig.b = compact,
            "i" => sig.i = Some(compact),
            "a" => sig.a = compact.to_ascii_lowercase(),
            _ => {}
        }
    }
    sig
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dkim_signature_tags() {
        let sig = parse_dkim_signature(
            " v=1; a=rsa-sha256; q=dns/txt; c=relaxed/simple;\r\n\ts=224i4yxa5dv7c2xz3womw6peuasteono; \
                d=AmazonSES.com; t=1;\r\n\th=From:To; bh=x=; b=L7Gap8PV\r\n\tabc+/=",
        );
        assert_eq!(sig.d, "amazonses.com");
        assert_eq!(sig.s, "224i4yxa5dv7c2xz3womw6peuasteono");
        assert_eq!(sig.b, "L7Gap8PVabc+/=");
        assert_eq!(sig.a, "rsa-sha256");
    }

    #[test]
    fn from_domain_cases() {
        let cases: [(&str, &[u8], Result<&str, &str>); 4] = [
            ("display name", b"From: Phenom <noreply@Example.com>\r\n\r\n", Ok("example.com")),
            ("bare address", b"From: noreply@mail.example.com\r\n\r\n", Ok("mail.example.com")),
            ("no From", b"To: a@b.example\r\n\r\n", Err("the message has no From header")),
            ("two addresses", b"From: a@x.example, b@y.example\r\n\r\n", Err("two")),
        ];
        for (name, raw, want) in cases {
            let got = from_domain(raw);
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{name}"),
                (Err(g), Err(w)) => assert!(g.contains(w) || w == "two" && g.contains("2 addresses"), "{name}: {g}"),
                (g, w) => panic!("{name}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn header_fields_keep_order_and_raw_values() {
        let raw = b"Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@example.com\r\nReceived: \
            from x\r\nFrom: a@example.com\r\n\r\nbody";
        let fields = header_fields(raw);
        let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Authentication-Results", "Received", "From"]);
        assert!(fields[0].value.contains("dkim=pass header.i=@example.com"), "{:?}", fields[0].value);
    }
}

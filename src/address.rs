//! The From address as a pool stores it (`EmailConfiguration.From`, Terraform's `from_email_address`):
//! RFC 5322 mailbox parsing, and the one rule for display-name specials that `probe doctor` and
//! `probe lint-terraform` both apply (runbook, "Display name quirk": AWS stores a name with specials
//! quoted, so Terraform shows a perpetual diff).

/// RFC 5322 §3.2.3 `specials` that may not appear in an atom, plus `.` (RFC 5322 §4.1 obs-phrase: obsolete
/// in a phrase, and quoted by AWS too). `"` is not among them: it delimits a quoted-string.
const SPECIALS: &str = "()<>[]:;@\\,.";

/// A From header value that is not an RFC 5322 mailbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FromError {
    #[error("From {value:?} has no address, expected \"Name <user@domain>\" or \"user@domain\"")]
    NoAddress { value: String },
    #[error("From {value:?}: \"<\" without a closing \">\" at the end, expected \"Name <user@domain>\"")]
    Unclosed { value: String },
    #[error("From {value:?}: address {address:?} is not user@domain (RFC 5322 §3.4.1 addr-spec)")]
    BadAddress { value: String, address: String },
    #[error("From {value:?}: quoted display name is not closed, expected \"\\\"Name\\\" <user@domain>\"")]
    UnclosedQuote { value: String },
}

/// A parsed From mailbox (RFC 5322 §3.4 `name-addr` or `addr-spec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name as written (quotes kept), when there is one.
    pub display_name: Option<String>,
    /// The address, lower-cased.
    pub address: String,
    /// Specials in an unquoted display name (RFC 5322 §3.2.3); empty when the name is quoted or clean.
    pub unquoted_specials: Vec<char>,
}

impl Mailbox {
    /// The domain of the address.
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

/// Parses a From value: `addr-spec`, or `display-name <addr-spec>` where the display name is a quoted
/// string (RFC 5322 §3.2.4) or a phrase of atoms. Specials in an unquoted name are reported, not rejected:
/// AWS stores such a name quoted (runbook, "Display name quirk"), which is what makes Terraform's plan differ.
pub fn parse_mailbox(value: &str) -> Result<Mailbox, FromError> {
    let trimmed = value.trim();
    let (display, address) = match trimmed.rfind('<') {
        Some(open) => {
            let Some(inner) = trimmed[open + 1..].strip_suffix('>') else {
                return Err(FromError::Unclosed { value: value.to_string() });
            };
            let name = trimmed[..open].trim();
            (Some(name).filter(|n| !n.is_empty()), inner.trim())
        }
        None => (None, trimmed),
    };
    if address.is_empty() {
        return Err(FromError::NoAddress { value: value.to_string() });
    }
    if !is_addr_spec(address) {
        return Err(FromError::BadAddress { value: value.to_string(), address: address.to_string() });
    }
    if let Some(rest) = display.and_then(|name| name.strip_prefix('"'))
        && !closes_quote(rest)
    {
        return Err(FromError::UnclosedQuote { value: value.to_string() });
    }
    let unquoted_specials = display.map(specials_outside_quotes).unwrap_or_default();
    Ok(Mailbox { display_name: display.map(str::to_string), address: address.to_ascii_lowercase(), unquoted_specials })
}

/// The specials of a display name outside its quoted-strings (RFC 5322 §3.2.5 phrase = words, each an atom
/// or a quoted-string §3.2.4, whose backslash escapes are skipped), each once, in order.
pub fn specials_outside_quotes(name: &str) -> Vec<char> {
    let mut found = Vec::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in name.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && SPECIALS.contains(c) && !found.contains(&c) {
            found.push(c);
        }
    }
    found
}

/// The specials in the display name of a whole From value (the part before `<`; none without one).
pub fn unquoted_specials(from: &str) -> Vec<char> {
    from.rsplit_once('<').map(|(name, _)| specials_outside_quotes(name.trim())).unwrap_or_default()
}

/// The bare address of a `Name <addr>` or `addr` header value, lower-cased.
pub fn address_of(value: &str) -> String {
    let inner = match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value,
    };
    inner.trim().to_ascii_lowercase()
}

/// `rest` (after the opening quote) ends with the closing quote and holds no other unescaped quote.
fn closes_quote(rest: &str) -> bool {
    let mut escaped = false;
    let mut closed_at = None;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => {
                closed_at = Some(i);
                break;
            }
            _ => {}
        }
    }
    closed_at.is_some_and(|i| i + 1 == rest.len())
}

/// RFC 5322 §3.4.1 addr-spec in its dot-atom form (what SES identities use): `local@domain`, both dot-atoms
/// of atext (§3.2.3), the domain made of letter/digit/hyphen labels.
fn is_addr_spec(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom =
        |s: &str, ok: &dyn Fn(char) -> bool| !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(ok));
    dot_atom(local, &atext)
        && dot_atom(domain, &|c: char| c.is_ascii_alphanumeric() || c == '-')
        && domain.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_values_parse_as_rfc5322_mailboxes() {
        // (value, address or error, unquoted specials)
        let cases: &[(&str, Result<&str, ()>, &str)] = &[
            ("Team <noreply@example.com>", Ok("noreply@example.com"), ""),
            ("noreply@example.com", Ok("noreply@example.com"), ""),
            ("NoReply@Example.com", Ok("noreply@example.com"), ""),
            ("Team (dev) <noreply@example.com>", Ok("noreply@example.com"), "()"),
            ("\"Team (dev)\" <noreply@example.com>", Ok("noreply@example.com"), ""),
            ("Team, Inc. <noreply@example.com>", Ok("noreply@example.com"), ",."),
            ("<noreply@example.com>", Ok("noreply@example.com"), ""),
            ("Team <noreply@example.com", Err(()), ""),
            ("Team <>", Err(()), ""),
            ("Team <noreply>", Err(()), ""),
            ("Team <no reply@example.com>", Err(()), ""),
            ("\"Team <noreply@example.com>", Err(()), ""),
            ("", Err(()), ""),
        ];
        for (value, expected, specials) in cases {
            let got = parse_mailbox(value);
            match expected {
                Ok(addr) => {
                    let m = got.unwrap_or_else(|e| panic!("{value:?}: {e}"));
                    assert_eq!(m.address, *addr, "{value:?}");
                    assert_eq!(m.unquoted_specials.iter().collect::<String>(), *specials, "{value:?}");
                }
                Err(()) => assert!(got.is_err(), "{value:?} should not parse: {got:?}"),
            }
        }
    }

    /// `probe doctor` and `probe lint-terraform` see the same specials in every From: one rule.
    #[test]
    fn specials_of_a_from_value_case_table() {
        let cases: [(&str, &str, &str); 9] = [
            ("plain name", "Team <noreply@example.com>", ""),
            ("parentheses", "Team (dev) <noreply@example.com>", "()"),
            ("quoted parentheses", "\"Team (dev)\" <noreply@example.com>", ""),
            ("dot and comma", "Team, Inc. <noreply@example.com>", ",."),
            ("bare address", "noreply@example.com", ""),
            ("escaped quote inside quotes", "\"Te\\\"am (x)\" <a@b.c>", ""),
            ("angle address only", "<noreply@example.com>", ""),
            ("mixed: a quoted word, then an unquoted special", "\"Team\" (dev) <a@b.c>", "()"),
            ("mixed: an atom, then a quoted special", "Team \"(dev)\" <a@b.c>", ""),
        ];
        for (name, from, want) in cases {
            let lint: String = unquoted_specials(from).into_iter().collect();
            assert_eq!(lint, want, "{name}");
            if let Ok(m) = parse_mailbox(from) {
                assert_eq!(m.unquoted_specials.iter().collect::<String>(), want, "{name}: doctor agrees");
            }
        }
    }
}

//! Trusted-receiver selection: which Authentication-Results fields were written by the receiver whose
//! verdict we read, and which were in the message before it arrived (written by the sender or a hop on the
//! way, possibly forged) and must be ignored.
//!
//! Rules (RFC 8601 §5 and §7.2; research/authres-realworld.md §13.9). Fields are read top down; a receiver
//! prepends its own, so its fields are above everything a sender can write:
//! * only fields whose authserv-id is configured (exact, or `*.suffix`) count; with nothing configured,
//!   the topmost field's authserv-id (widened to its operator's domains, so iCloud's per-check ids
//!   `dkim-verifier.icloud.com`, `spf.icloud.com`, … form one receiver, [`super::trace`]) is trusted;
//! * the trusted block must lie in the receiver's own trace: no `Received` field above it may name a host
//!   of another operator, and no `DKIM-Signature` may be above it (signatures are added by senders) —
//!   a field below those was in the message before the receiver saw it;
//! * the block is the topmost *contiguous* run of trusted fields: a `Received` or `DKIM-Signature` field
//!   or an untrusted Authentication-Results field ends it, and every Authentication-Results field below it
//!   is ignored, whatever it claims;
//! * a field that claims the receiver's authserv-id (or is the topmost one) but cannot be parsed means the
//!   receiver's verdict is unknown: selection stops there, lower fields are never consulted instead;
//! * a field without authserv-id (Outlook/M365, research §2) is trusted only when no authserv-id is
//!   configured or the policy allows it, only as the topmost Authentication-Results field (Microsoft
//!   strips inbound ones), and only under a Microsoft hop: a `Received` by a Microsoft host above it or
//!   right below it;
//! * ARC-Authentication-Results are records of the ARC chain (RFC 8617 §4.1.1), not the receiver's
//!   verdict: reported as ignored.

use serde::{Deserialize, Serialize};

use super::message::HeaderField;
use super::parse::{AuthResults, parse, parse_arc};
use super::trace::{self, ByHost, by_host, operator_domains};

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

/// Whether a field without authserv-id (Outlook/M365 write none) may be the receiver's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoAuthservId {
    /// Only when no authserv-id is configured: naming the receiver's ids says the receiver writes one.
    #[default]
    Auto,
    /// Also with authserv-ids configured (probe files' `no_authserv_id = true`, `--no-authserv-id`).
    Trust,
    /// Never.
    Ignore,
}

impl TrustPolicy {
    /// A policy trusting exactly these authserv-ids (and id-less fields only when there are none).
    pub fn with_ids<S: Into<String>>(ids: impl IntoIterator<Item = S>) -> Self {
        TrustPolicy { authserv_ids: ids.into_iter().map(Into::into).collect(), no_authserv_id: NoAuthservId::Auto }
    }

    /// This policy with id-less fields trusted (under a Microsoft hop) whatever ids are configured.
    pub fn trusting_no_authserv_id(mut self, yes: bool) -> Self {
        if yes {
            self.no_authserv_id = NoAuthservId::Trust;
        }
        self
    }

    fn allows_no_authserv_id(&self) -> bool {
        match self.no_authserv_id {
            NoAuthservId::Auto => self.authserv_ids.is_empty(),
            NoAuthservId::Trust => true,
            NoAuthservId::Ignore => false,
        }
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
    /// A field that claims to be the receiver's but cannot be read: the verdict is unknown, and why.
    pub unreadable: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Before,
    In,
    After,
}

/// The top-down walk over the header fields.
struct Walk<'a, 'p> {
    fields: &'a [HeaderField],
    policy: &'p TrustPolicy,
    sel: Selection<'a>,
    state: State,
    seen_ar: bool,
    /// Nothing configured: the topmost field's receiver (its operator's domains), once seen.
    topmost: Option<Vec<String>>,
    /// `by` hosts of the Received fields above the trusted block.
    trace: Vec<ByHost>,
    /// A DKIM-Signature lies above: what follows was in the message before the receiver.
    signature_above: bool,
}

/// Selects the receiver's block of Authentication-Results among `fields` (top to bottom).
pub fn select<'a>(fields: &'a [HeaderField], policy: &TrustPolicy) -> Selection<'a> {
    let mut walk = Walk {
        fields,
        policy,
        sel: Selection::default(),
        state: State::Before,
        seen_ar: false,
        topmost: None,
        trace: Vec::new(),
        signature_above: false,
    };
    for idx in 0..fields.len() {
        walk.field(idx);
    }
    walk.sel
}

impl<'a> Walk<'a, '_> {
    fn field(&mut self, idx: usize) {
        let field = &self.fields[idx];
        if field.is("Received") || field.is("DKIM-Signature") {
            match self.state {
                State::In => self.state = State::After,
                State::Before if field.is("Received") => self.trace.push(by_host(&field.value)),
                State::Before => self.signature_above = true,
                State::After => {}
            }
        } else if field.is("ARC-Authentication-Results") {
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
            self.ignore(idx, id, reason);
        } else if field.is("Authentication-Results") {
            let first_ar = !self.seen_ar;
            self.seen_ar = true;
            match parse(&field.value) {
                Ok(ar) => self.parsed(idx, ar, first_ar),
                Err(err) => self.unparseable(idx, &err.to_string(), first_ar),
            }
        }
    }

    fn ignore(&mut self, idx: usize, authserv_id: Option<String>, reason: String) {
        let field = self.fields[idx].name.clone();
        self.sel.ignored.push(IgnoredHeader { field, position: idx + 1, authserv_id, reason });
    }

    /// A field that does not parse: the receiver's unreadable verdict when it claims to be the receiver's,
    /// else set aside (and, inside the block, the end of it).
    fn unparseable(&mut self, idx: usize, err: &str, first_ar: bool) {
        let claimed = lenient_authserv_id(&self.fields[idx].value);
        let claims_receiver = self.state != State::After
            && match &claimed {
                Some(id) if !self.policy.authserv_ids.is_empty() => {
                    self.policy.authserv_ids.iter().any(|p| id_matches(p, id))
                }
                Some(_) => first_ar || self.state == State::In,
                None => first_ar && self.policy.allows_no_authserv_id(),
            };
        if claims_receiver {
            let who = claimed.as_deref().map(|id| format!("authserv-id {id:?}")).unwrap_or("no authserv-id".into());
            let reason = format!(
                "the receiver's field ({who}) cannot be read: {err}; its verdict is unknown, and no field below it \
                 is consulted instead"
            );
            self.sel.unreadable = Some(reason.clone());
            self.ignore(idx, claimed, reason);
            self.state = State::After;
            return;
        }
        if self.state == State::In {
            self.state = State::After;
        }
        self.ignore(idx, claimed, format!("unparseable: {err}"));
    }

    fn parsed(&mut self, idx: usize, ar: AuthResults<'a>, first_ar: bool) {
        let id = ar.authserv_id.as_deref().map(str::to_string);
        if self.state == State::After {
            let reason = match self.claim(&ar, first_ar) {
                Ok(_) => format!(
                    "claims the trusted authserv-id {} but lies below the receiver's block (a Received or \
                     DKIM-Signature field or an untrusted result comes between): added upstream, possibly \
                     forged (RFC 8601 §5)",
                    show_id(&id)
                ),
                Err(why) => why,
            };
            return self.ignore(idx, id, reason);
        }
        let claim = self.claim(&ar, first_ar).and_then(|(basis, receiver)| match self.state {
            State::Before => self.in_receivers_trace(idx, basis, &receiver).map(|()| basis),
            _ => Ok(basis),
        });
        match claim {
            Ok(basis) => {
                if self.sel.trusted.is_empty() {
                    self.sel.authserv_id = id;
                    self.sel.basis = Some(basis);
                    self.sel.first_trusted_index = Some(idx);
                }
                self.sel.trusted.push(ar);
                self.state = State::In;
            }
            Err(why) => {
                if self.state == State::In {
                    self.state = State::After;
                }
                self.ignore(idx, id, why);
            }
        }
    }

    /// Whether a field that would start the trusted block lies in its receiver's own trace.
    fn in_receivers_trace(&self, idx: usize, basis: TrustBasis, receiver: &[String]) -> Result<(), String> {
        let who = receiver.join(", ");
        if let Some(host) = self.trace.iter().find(|h| h.foreign_to(receiver)) {
            return Err(format!(
                "lies below a Received field by {host}, which is not a host of the receiver ({who}): the field was \
                 in the message before the receiver saw it, possibly forged (RFC 8601 §5)"
            ));
        }
        if self.signature_above {
            return Err("lies below a DKIM-Signature field, which senders add: the field was in the message before \
                        the receiver saw it, possibly forged (RFC 8601 §5)"
                .to_string());
        }
        if basis == TrustBasis::PositionNoAuthservId {
            let below = self.fields[idx + 1..].iter().find(|f| f.is("Received")).map(|f| by_host(&f.value));
            let microsoft: Vec<String> = trace::MICROSOFT.iter().map(|d| d.to_string()).collect();
            if !self.trace.iter().chain(below.iter()).any(|h| h.is_of(&microsoft)) {
                return Err("no authserv-id, and no Received field by a Microsoft host above or right below it: \
                            only Microsoft's own topmost field omits it (Outlook/M365)"
                    .to_string());
            }
        }
        Ok(())
    }

    /// Whether one parsed field claims the receiver's identity, and the receiver's domains; `Err` carries
    /// the one-line reason it does not.
    fn claim(&mut self, ar: &AuthResults, first_ar: bool) -> Result<(TrustBasis, Vec<String>), String> {
        let policy = self.policy;
        let Some(id) = ar.authserv_id.as_deref() else {
            // Outlook/M365: trusted only at the top, or contiguous with an id-less block that started there.
            let continues_block = self.state == State::In && self.sel.authserv_id.is_none();
            if !policy.allows_no_authserv_id() {
                return Err(match policy.no_authserv_id {
                    NoAuthservId::Ignore => "no authserv-id, and the trust policy ignores such fields".to_string(),
                    _ => "no authserv-id, while the receiver's authserv-ids are configured (opt in with \
                          no_authserv_id = true / --no-authserv-id for a mailbox at Microsoft)"
                        .to_string(),
                });
            }
            return if first_ar || continues_block {
                Ok((TrustBasis::PositionNoAuthservId, trace::MICROSOFT.iter().map(|d| d.to_string()).collect()))
            } else {
                Err("no authserv-id and not the topmost Authentication-Results field: only the receiver's own \
                     topmost field may omit it (Outlook/M365)"
                    .to_string())
            };
        };
        if !policy.authserv_ids.is_empty() {
            return if policy.authserv_ids.iter().any(|p| id_matches(p, id)) {
                Ok((TrustBasis::Configured, operator_domains(id)))
            } else {
                Err(format!(
                    "authserv-id {id:?} is not a trusted receiver (trusted: {})",
                    policy.authserv_ids.join(", ")
                ))
            };
        }
        if first_ar {
            self.topmost = Some(operator_domains(id));
        }
        match &self.topmost {
            Some(group) if operator_domains(id).iter().any(|d| group.contains(d)) => {
                Ok((TrustBasis::Topmost, group.clone()))
            }
            Some(group) => Err(format!(
                "authserv-id {id:?} is not the receiver's (the topmost field's receiver is {})",
                group.join(", ")
            )),
            None => Err(format!("authserv-id {id:?} is not the receiver's (the topmost field had no authserv-id)")),
        }
    }
}

fn show_id(id: &Option<String>) -> String {
    match id {
        Some(id) => format!("{id:?}"),
        None => "(none)".to_string(),
    }
}

/// The authserv-id a field claims even when the rest does not parse: the first token before `;`, comments
/// removed, when it looks like a domain name (RFC 8601 §2.2 `authserv-id` is a `value`, in practice a host).
fn lenient_authserv_id(value: &str) -> Option<String> {
    let head = value.split(';').next().unwrap_or_default();
    let mut depth = 0usize;
    let cleaned: String = head
        .chars()
        .filter(|c| match c {
            '(' => {
                depth += 1;
                false
            }
            ')' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect();
    let token = cleaned.split_whitespace().next()?;
    (token.contains('.')
        && !token.contains('=')
        && token.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)))
    .then(|| token.to_ascii_lowercase())
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

    fn received(by: &str) -> HeaderField {
        HeaderField::new("Received", &format!(" from a8-64.smtp-out.amazonses.com by {by} with ESMTPS"))
    }

    #[test]
    fn outlook_position_rule_needs_a_microsoft_hop() {
        let ms = received("BN8NAM11FT066.mail.protection.outlook.com");
        let id_less = ar(" spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com");
        // (case, fields, policy, trusted fields, basis)
        let nobody = TrustPolicy::default();
        let gmail = TrustPolicy::with_ids(["mx.google.com"]);
        let opted_in = gmail.clone().trusting_no_authserv_id(true);
        let ignoring = TrustPolicy { authserv_ids: vec![], no_authserv_id: NoAuthservId::Ignore };
        let cases: Vec<(&str, Vec<HeaderField>, &TrustPolicy, usize)> = vec![
            ("at the top, the Microsoft hop right below", vec![id_less.clone(), ms.clone()], &nobody, 1),
            (
                "below a Microsoft internal hop",
                vec![received("SN6PR01MB1234.prod.outlook.com"), id_less.clone()],
                &nobody,
                1,
            ),
            ("no Microsoft hop at all", vec![id_less.clone()], &nobody, 0),
            (
                "below another operator's hop",
                vec![received("mail.example.net"), id_less.clone(), ms.clone()],
                &nobody,
                0,
            ),
            ("ids configured: not without opting in", vec![id_less.clone(), ms.clone()], &gmail, 0),
            ("ids configured and opted in", vec![id_less.clone(), ms.clone()], &opted_in, 1),
            ("ignored by policy", vec![id_less.clone(), ms.clone()], &ignoring, 0),
        ];
        for (case, fields, policy, trusted) in cases {
            let sel = select(&fields, policy);
            assert_eq!(sel.trusted.len(), trusted, "{case}: {:?}", sel.ignored);
            if trusted > 0 {
                assert_eq!(sel.basis, Some(TrustBasis::PositionNoAuthservId), "{case}");
            }
        }
        let below = [ar(" mx.google.com; spf=pass"), ar(" spf=pass smtp.mailfrom=x.example")];
        let sel = select(&below, &gmail);
        assert_eq!((sel.trusted.len(), sel.authserv_id.as_deref()), (1, Some("mx.google.com")));
    }

    /// Forgeries a sender can write into its own message, refused in both modes (with the receiver
    /// configured and without): the sender's fields are always below the receiver's own `Received`.
    #[test]
    fn forged_fields_below_the_receivers_trace_are_refused() {
        let forged_pass = ar(" mx.google.com; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com; \
                             dmarc=pass header.from=example.com");
        let gmail = TrustPolicy::with_ids(["mx.google.com"]);
        let nobody = TrustPolicy::default();
        // (case, fields): none may yield a trusted field.
        let cases: Vec<(&str, Vec<HeaderField>)> = vec![
            (
                "self-hosted receiver without results, forged Gmail hop and pass below",
                vec![received("mail.example.net"), received("mx.google.com"), forged_pass.clone()],
            ),
            (
                "forged pass below a DKIM-Signature",
                vec![HeaderField::new("DKIM-Signature", " v=1; d=example.com; s=x; b=abc"), forged_pass.clone()],
            ),
        ];
        for (case, fields) in cases {
            for (mode, policy) in [("configured", &gmail), ("default", &nobody)] {
                let sel = select(&fields, policy);
                assert!(sel.trusted.is_empty(), "{case}, {mode}: trusted {:?}", sel.trusted.len());
                assert!(sel.ignored.iter().any(|i| i.reason.contains("before the receiver saw it")), "{case}, {mode}");
            }
        }
    }

    /// The receiver's own field that cannot be read (a value the sender shaped) stops the selection: the
    /// verdict is unknown, a forged pass below never decides it.
    #[test]
    fn an_unreadable_receiver_field_is_unknown_not_a_fall_through() {
        let unreadable = ar(" mx.google.com; spf=pass smtp.mailfrom=\"unterminated@example.com; dkim=fail");
        let forged = ar(" mx.google.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com");
        for policy in [TrustPolicy::with_ids(["mx.google.com"]), TrustPolicy::default()] {
            let fields = [received("mx.google.com"), unreadable.clone(), forged.clone()];
            let sel = select(&fields, &policy);
            assert!(sel.trusted.is_empty(), "{policy:?}");
            let why = sel.unreadable.unwrap_or_else(|| panic!("{policy:?}: {:?}", sel.ignored));
            assert!(why.contains("\"mx.google.com\"") && why.contains("verdict is unknown"), "{why}");
        }
        // Someone else's unreadable field is only set aside.
        let other = ar(" relay.example.net; spf=pass smtp.mailfrom=\"oops");
        let fields = [other, ar(" mx.google.com; dkim=pass header.d=example.com")];
        let sel = select(&fields, &TrustPolicy::with_ids(["mx.google.com"]));
        assert_eq!((sel.trusted.len(), sel.unreadable.is_none()), (1, true));
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

//! Which arrived message is the probe's. Anyone can mail the test user with the pool's From, so a message
//! that matches sender and recipient is only a candidate: it is read from its raw header — the same fields
//! the authentication verdict reads, for both mailbox backends — and
//!
//! * a message with several From fields is never the probe's (SES writes one; RFC 7489 §6.6.1 gives such a
//!   message no single author, and a server's ENVELOPE, a mail client and this check may each read another);
//! * among the probe's candidates the one carrying SES's Message-ID form is preferred
//!   (`<id@email.amazonses.com>` in us-east-1, `<id@<region>.amazonses.com>` elsewhere: SES overrides any
//!   Message-ID it is given, research/ses-events-oauth-emf.md §1 "SES messageId vs delivered Message-ID");
//! * every other matching message is foreign: named in the report's notes, never the one judged.
//!
//! Without SES event records the probe cannot tell a forgery that copies SES's Message-ID form from the
//! real mail; the README says so.

use crate::authres::message::header_fields;

use super::Matcher;

/// What one arrived message is to the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    /// Not from the pool's sender to the test user.
    NotOurs,
    /// Looks like the probe's but cannot be: the reason, for the report's notes.
    Foreign(String),
    /// From the sender to the test user; with the SES messageId when its Message-ID has SES's form.
    Ours { ses_message_id: Option<String> },
}

/// Judges a message by its raw header.
pub fn judge(raw: &[u8], matcher: &Matcher) -> Candidate {
    let fields = header_fields(raw);
    let froms = fields.iter().filter(|f| f.is("From")).count();
    let Some(message) = mail_parser::MessageParser::new().parse_headers(raw) else { return Candidate::NotOurs };
    let from: Vec<&str> = message.from().map(|a| a.iter().filter_map(|a| a.address()).collect()).unwrap_or_default();
    let to: Vec<&str> = message.to().map(|a| a.iter().filter_map(|a| a.address()).collect()).unwrap_or_default();
    let names_sender =
        fields.iter().filter(|f| f.is("From")).any(|f| f.value.to_ascii_lowercase().contains(&matcher.from));
    if !to.iter().any(|a| a.eq_ignore_ascii_case(&matcher.to)) {
        return Candidate::NotOurs;
    }
    if froms > 1 {
        return if names_sender {
            Candidate::Foreign(format!("{froms} From fields (RFC 7489 §6.6.1): SES writes one"))
        } else {
            Candidate::NotOurs
        };
    }
    match from.as_slice() {
        [one] if one.eq_ignore_ascii_case(&matcher.from) => {
            Candidate::Ours { ses_message_id: message.message_id().and_then(ses_message_id) }
        }
        many if many.iter().any(|a| a.eq_ignore_ascii_case(&matcher.from)) => {
            Candidate::Foreign(format!("{} addresses in its From field: SES writes one", many.len()))
        }
        _ => Candidate::NotOurs,
    }
}

/// The SES messageId inside a Message-ID of SES's form (`id@email.amazonses.com`,
/// `id@<region>.amazonses.com`; mail-parser has removed the angle brackets), else `None`.
pub fn ses_message_id(message_id: &str) -> Option<String> {
    let (id, domain) = message_id.trim_matches(|c| c == '<' || c == '>').rsplit_once('@')?;
    let domain = domain.to_ascii_lowercase();
    let region_ok =
        |r: &str| r == "email" || (r.contains('-') && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    let ses = domain.strip_suffix(".amazonses.com").is_some_and(region_ok);
    (ses && !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')).then(|| id.to_string())
}

/// How the candidates of one look at the mailbox were decided.
#[derive(Debug)]
pub struct Choice<T> {
    /// The probe's message: the first with SES's Message-ID form, else the first candidate.
    pub chosen: Option<T>,
    /// Whether the chosen message lacks SES's Message-ID form (a note says so).
    pub without_ses_form: bool,
    /// The chosen message's label, for the note when a better one replaces it.
    chosen_label: String,
    /// One line per foreign message, for the notes.
    pub foreign: Vec<String>,
}

impl<T> Default for Choice<T> {
    fn default() -> Self {
        Choice { chosen: None, without_ses_form: false, chosen_label: String::new(), foreign: Vec::new() }
    }
}

impl<T> Choice<T> {
    /// Takes one judged message (`label` names it in notes: folder and UID or file).
    pub fn offer(&mut self, label: &str, judged: Candidate, item: T) {
        match judged {
            Candidate::NotOurs => {}
            Candidate::Foreign(why) => self.foreign.push(format!("{label}: {why}; not the probe's mail")),
            Candidate::Ours { ses_message_id: Some(_) } if self.chosen.is_none() || self.without_ses_form => {
                if self.chosen.is_some() {
                    let earlier = &self.chosen_label;
                    self.foreign
                        .push(format!("{earlier}: no SES Message-ID form; set aside for {label}, which has it"));
                }
                self.chosen = Some(item);
                self.chosen_label = label.to_string();
                self.without_ses_form = false;
            }
            Candidate::Ours { ses_message_id } if self.chosen.is_none() => {
                self.chosen = Some(item);
                self.chosen_label = label.to_string();
                self.without_ses_form = ses_message_id.is_none();
            }
            Candidate::Ours { .. } => {
                self.foreign.push(format!("{label}: another message from the sender to the test user; not judged"))
            }
        }
    }

    /// Whether looking further cannot give a better choice.
    pub fn settled(&self) -> bool {
        self.chosen.is_some() && !self.without_ses_form
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(from: &[&str], to: &str, message_id: &str) -> Vec<u8> {
        let mut h = String::new();
        for f in from {
            h.push_str(&format!("From: {f}\r\n"));
        }
        h.push_str(&format!("To: {to}\r\nMessage-ID: {message_id}\r\nSubject: x\r\n\r\nbody\r\n"));
        h.into_bytes()
    }

    #[test]
    fn candidates_case_table() {
        let m = Matcher::new("noreply@example.com", "probe+prod@mail.test");
        let ses = "<0100017674efab57-04b8-000000@email.amazonses.com>";
        let cases = [
            ("the probe's mail", msg(&["Team <noreply@example.com>"], "probe+prod@mail.test", ses), "ours ses"),
            (
                "another Region's form",
                msg(
                    &["noreply@example.com"],
                    "probe+prod@mail.test",
                    "<01020191db30b13f-x-000000@eu-west-1.amazonses.com>",
                ),
                "ours ses",
            ),
            ("not SES's form", msg(&["noreply@example.com"], "probe+prod@mail.test", "<x@attacker.example>"), "ours"),
            (
                "lookalike SES domain",
                msg(&["noreply@example.com"], "probe+prod@mail.test", "<x@amazonses.com.evil.example>"),
                "ours",
            ),
            (
                "two From fields",
                msg(&["noreply@example.com", "attacker@evil.example"], "probe+prod@mail.test", ses),
                "foreign",
            ),
            (
                "two From fields, the sender second",
                msg(&["attacker@evil.example", "noreply@example.com"], "probe+prod@mail.test", ses),
                "foreign",
            ),
            ("two addresses", msg(&["noreply@example.com, x@evil.example"], "probe+prod@mail.test", ses), "foreign"),
            ("other recipient", msg(&["noreply@example.com"], "probe+staging@mail.test", ses), "not ours"),
            ("other sender", msg(&["friend@example.net"], "probe+prod@mail.test", ses), "not ours"),
        ];
        for (case, raw, want) in cases {
            let got = match judge(&raw, &m) {
                Candidate::NotOurs => "not ours",
                Candidate::Foreign(_) => "foreign",
                Candidate::Ours { ses_message_id: Some(_) } => "ours ses",
                Candidate::Ours { ses_message_id: None } => "ours",
            };
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn the_ses_form_is_preferred_and_the_rest_is_foreign() {
        let ours = |ses: bool| Candidate::Ours { ses_message_id: ses.then(|| "id".to_string()) };
        let mut choice = Choice::default();
        choice.offer("INBOX 7", ours(false), 7);
        assert!(!choice.settled());
        choice.offer("INBOX 8", Candidate::Foreign("2 From fields".into()), 8);
        choice.offer("INBOX 9", ours(true), 9);
        assert!(choice.settled());
        choice.offer("INBOX 10", ours(true), 10);
        assert_eq!(choice.chosen, Some(9));
        assert!(!choice.without_ses_form);
        assert_eq!(choice.foreign.len(), 3, "{:?}", choice.foreign);
        assert!(
            choice.foreign[1].starts_with("INBOX 7: no SES Message-ID form; set aside for INBOX 9"),
            "{:?}",
            choice.foreign
        );
    }
}

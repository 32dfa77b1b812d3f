//! Which arrived message is the probe's. Anyone can mail the test user with the pool's From, so a message
//! that matches sender and recipient is only a candidate: it is read from its raw header — the same fields
//! the authentication verdict reads, for both mailbox backends — and
//!
//! * a message with several From fields is never the probe's (SES writes one; RFC 7489 §6.6.1 gives such a
//!   message no single author, and a server's ENVELOPE, a mail client and this check may each read another);
//! * among the probe's candidates the one carrying SES's Message-ID form is preferred
//!   (`<id@email.amazonses.com>` in us-east-1, `<id@<region>.amazonses.com>` elsewhere: SES overrides any
//!   Message-ID it is given, research/ses-events-oauth-emf.md §1 "SES messageId vs delivered Message-ID");
//! * every other matching message is foreign: named in the report's notes, never the one judged;
//! * a candidate over `max_message_size` is never chosen, so never read whole: it is named in the notes as
//!   not read ([`Choice::offer_sized`]). Probe mail is a few KB.
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

/// Lines kept per kind of note in one look; past it they are counted, so a mailbox flooded with
/// lookalikes cannot grow the report without bound.
pub const MAX_NOTES: usize = 20;

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
    /// One line per message left unread: the probe's candidate over `max_message_size`, or (Maildir) an
    /// entry that is not a regular file.
    pub unread: Vec<String>,
    /// Lines past [`MAX_NOTES`] in `foreign` and in `unread`, counted only.
    more_foreign: usize,
    more_unread: usize,
}

impl<T> Default for Choice<T> {
    fn default() -> Self {
        Choice {
            chosen: None,
            without_ses_form: false,
            chosen_label: String::new(),
            foreign: Vec::new(),
            unread: Vec::new(),
            more_foreign: 0,
            more_unread: 0,
        }
    }
}

fn push_note(lines: &mut Vec<String>, more: &mut usize, line: String) {
    if lines.len() < MAX_NOTES {
        lines.push(line);
    } else {
        *more += 1;
    }
}

impl<T> Choice<T> {
    /// Takes one judged message (`label` names it in notes: folder and UID or file).
    pub fn offer(&mut self, label: &str, judged: Candidate, item: T) {
        match judged {
            Candidate::NotOurs => {}
            Candidate::Foreign(why) => self.note_foreign(format!("{label}: {why}; not the probe's mail")),
            Candidate::Ours { ses_message_id: Some(_) } if self.chosen.is_none() || self.without_ses_form => {
                if self.chosen.is_some() {
                    let earlier = &self.chosen_label;
                    let line = format!("{earlier}: no SES Message-ID form; set aside for {label}, which has it");
                    self.note_foreign(line);
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
                self.note_foreign(format!("{label}: another message from the sender to the test user; not judged"))
            }
        }
    }

    /// [`Choice::offer`] for a message of `size` bytes (when known): a candidate of the probe's over `limit`
    /// (`max_message_size`) is never chosen, so never read whole — it is named in `unread`. Probe mail is a
    /// few KB; a message that large is not the mail Cognito sends.
    pub fn offer_sized(&mut self, label: &str, judged: Candidate, size: Option<u64>, limit: u64, item: T) {
        match (judged, size) {
            (Candidate::Ours { .. }, Some(size)) if size > limit => self.not_read(format!(
                "{label} is {size} bytes, over max_message_size ({}); not read",
                crate::size::show(limit)
            )),
            (judged, _) => self.offer(label, judged, item),
        }
    }

    /// Notes a message the probe did not read (the line says which and why).
    pub fn not_read(&mut self, line: String) {
        push_note(&mut self.unread, &mut self.more_unread, line);
    }

    fn note_foreign(&mut self, line: String) {
        push_note(&mut self.foreign, &mut self.more_foreign, line);
    }

    /// Whether looking further cannot give a better choice.
    pub fn settled(&self) -> bool {
        self.chosen.is_some() && !self.without_ses_form
    }

    /// The chosen message, the foreign notes and the unread notes, each list closed by a count of the lines
    /// past [`MAX_NOTES`].
    pub fn finish(self) -> (Option<T>, Vec<String>, Vec<String>) {
        let close = |mut lines: Vec<String>, more: usize| {
            if more > 0 {
                lines.push(format!("{more} more like these, not listed"));
            }
            lines
        };
        (self.chosen, close(self.foreign, self.more_foreign), close(self.unread, self.more_unread))
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

    #[test]
    fn a_candidate_over_the_limit_is_never_chosen_and_notes_are_bounded() {
        let ours = || Candidate::Ours { ses_message_id: Some("id".to_string()) };
        let mut choice = Choice::default();
        choice.offer_sized("INBOX UID 1", ours(), Some(1_048_576), 65_536, 1);
        choice.offer_sized("INBOX UID 2", Candidate::Foreign("2 From fields".into()), Some(1_048_576), 65_536, 2);
        assert!(choice.chosen.is_none(), "an oversized candidate is not chosen");
        choice.offer_sized("INBOX UID 3", ours(), None, 65_536, 3);
        assert_eq!(choice.chosen, Some(3), "a size the server did not give is bounded when the message is read");
        for uid in 4..40 {
            choice.offer_sized(&format!("INBOX UID {uid}"), ours(), Some(1 << 30), 65_536, uid);
        }
        let (chosen, foreign, unread) = choice.finish();
        assert_eq!(chosen, Some(3));
        assert_eq!(foreign, ["INBOX UID 2: 2 From fields; not the probe's mail"]);
        assert_eq!(unread[0], "INBOX UID 1 is 1048576 bytes, over max_message_size (64 KiB); not read");
        assert_eq!(unread.len(), MAX_NOTES + 1);
        assert_eq!(unread[MAX_NOTES], "17 more like these, not listed");
    }
}

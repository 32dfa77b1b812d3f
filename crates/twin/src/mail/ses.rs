//! What SES puts on a message before it leaves AWS: its message id, the envelope sender (MAIL FROM), the
//! outbound host and IP, the Cognito→SES Received hop, the original header block and body, and the trailer
//! headers `X-SES-Outgoing` and `Feedback-ID`. Shapes from research/authres-realworld.md §0.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::Rng as _;
use sha2::{Digest as _, Sha256};

use super::{MailError, Outgoing, Sending};

/// The facts about one SES send that several headers repeat.
#[derive(Debug, Clone)]
pub(super) struct Envelope {
    /// SES message id: `<16 hex>-<uuid>-000000` (research §0, Message-ID and MAIL FROM rows).
    pub ses_id: String,
    /// Envelope sender (RFC 5321 MAIL FROM), a full address.
    pub mail_from: String,
    /// Domain of `mail_from`.
    pub mail_from_domain: String,
    /// Outbound host, e.g. `a8-64.smtp-out.amazonses.com` (research §0, Connecting host row).
    pub host: String,
    pub ip: String,
    /// Domain of the RFC 5322 From address (the DMARC Author Domain, RFC 7489 §3.1).
    pub from_domain: String,
    /// Bare recipient address.
    pub rcpt: String,
}

/// What SES fixes when it accepts a message: its message id and the outbound host and IP it sends from.
/// Made at acceptance, so the event records of the message and the delivered mail carry the same values
/// (research/ses-events-oauth-emf.md §1: `mail.messageId` is the id inside the delivered `Message-ID`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SesSend {
    /// `<16 hex>-<uuid>-000000` (research/authres-realworld.md §0, Message-ID and MAIL FROM rows).
    pub message_id: String,
    /// Outbound host, e.g. `a8-64.smtp-out.amazonses.com` (research §0, Connecting host row).
    pub host: String,
    pub ip: String,
}

impl SesSend {
    /// A fresh id and outbound host for a message SES accepted in `region` at `sent_at`.
    pub fn new(region: &str, sent_at: DateTime<Utc>) -> SesSend {
        let mut rng = rand::thread_rng();
        // The first four hex digits name the sending Region in real ids: 0100 us-east-1, 0101 us-west-2, 0102
        // eu-west-1, 0107 eu-central-1 (SES notification samples); the next twelve are the send time in ms.
        let message_id = format!(
            "{:04x}{:012x}-{}-000000",
            id_prefix(region),
            sent_at.timestamp_millis().max(0),
            uuid::Uuid::new_v4().hyphenated()
        );
        // SES outbound hosts are `a<N>-<M>.smtp-out[.<region>].amazonses.com` at 54.240.N.M (research §0).
        let (a, b) = (rng.gen_range(1..=63u8), rng.gen_range(1..=254u8));
        let host = format!("a{a}-{b}.{}", ses_domain_prefixed(region, "smtp-out", "amazonses.com"));
        SesSend { message_id, host, ip: format!("54.240.{a}.{b}") }
    }

    /// The `Message-ID` header value SES writes: `<id@email.amazonses.com>` in us-east-1,
    /// `<id@<region>.amazonses.com>` elsewhere (research §0).
    pub fn message_id_header(&self, region: &str) -> String {
        let domain =
            if region == "us-east-1" { "email.amazonses.com".to_string() } else { ses_domain(region, "amazonses.com") };
        format!("<{}@{domain}>", self.message_id)
    }
}

/// An SES feedback id (bounce and complaint records, suppression-list attributes): the shape of a
/// message id (research/ses-events-oauth-emf.md §1 `feedbackId`; real ones share the `-000000` form).
pub fn feedback_id(region: &str, at: DateTime<Utc>) -> String {
    format!(
        "{:04x}{:012x}-{}-000000",
        id_prefix(region),
        at.timestamp_millis().max(0),
        uuid::Uuid::new_v4().hyphenated()
    )
}

fn id_prefix(region: &str) -> u32 {
    match region {
        "us-east-1" => 0x0100,
        "us-west-2" => 0x0101,
        "eu-west-1" => 0x0102,
        "eu-central-1" => 0x0107,
        _ => 0x0110,
    }
}

impl Envelope {
    pub fn new(msg: &Outgoing, send: &SesSend) -> Result<Self, MailError> {
        // A line break in an address would end the header and let the value write its own (RFC 5322 §2.2).
        let fields = [("from", Some(&msg.from)), ("to", Some(&msg.to)), ("reply_to", msg.reply_to.as_ref())];
        for (field, value) in fields {
            if let Some(value) = value.filter(|v| v.contains(['\r', '\n'])) {
                return Err(MailError::Address { field, value: value.clone() });
            }
        }
        let from_addr = address_of(&msg.from);
        let from_domain = domain_of(from_addr)
            .ok_or_else(|| MailError::Address { field: "from", value: msg.from.clone() })?
            .to_ascii_lowercase();
        let rcpt = address_of(&msg.to).to_string();
        if domain_of(&rcpt).is_none() {
            return Err(MailError::Address { field: "to", value: msg.to.clone() });
        }
        if msg.region.is_empty() || !msg.region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(MailError::Region(msg.region.clone()));
        }
        let ses_id = send.message_id.clone();
        // Default MAIL FROM: `…@amazonses.com` in us-east-1, `…@<region>.amazonses.com` elsewhere; a custom
        // MAIL FROM domain replaces the domain and keeps the id (research §0, MAIL FROM rows).
        let mail_from_domain = match &msg.sending {
            Sending::Developer { mail_from_domain: Some(domain), .. } => domain.to_ascii_lowercase(),
            _ => ses_domain(&msg.region, "amazonses.com"),
        };
        Ok(Envelope {
            mail_from: format!("{ses_id}@{mail_from_domain}"),
            ses_id,
            mail_from_domain,
            host: send.host.clone(),
            ip: send.ip.clone(),
            from_domain,
            rcpt,
        })
    }

    /// `<id@email.amazonses.com>` in us-east-1, `<id@<region>.amazonses.com>` elsewhere (research §0).
    pub fn message_id(&self, region: &str) -> String {
        let send = SesSend { message_id: self.ses_id.clone(), host: self.host.clone(), ip: self.ip.clone() };
        send.message_id_header(region)
    }
}

/// `<base>` in us-east-1, `<region>.<base>` elsewhere.
fn ses_domain(region: &str, base: &str) -> String {
    if region == "us-east-1" { base.to_string() } else { format!("{region}.{base}") }
}

/// `<first>.<base>` in us-east-1, `<first>.<region>.<base>` elsewhere (`smtp-out.us-west-2.amazonses.com`).
fn ses_domain_prefixed(region: &str, first: &str, base: &str) -> String {
    format!("{first}.{}", ses_domain(region, base))
}

/// The addr-spec of a mailbox: the part in angle brackets, or the whole value trimmed.
pub(super) fn address_of(mailbox: &str) -> &str {
    match (mailbox.rfind('<'), mailbox.rfind('>')) {
        (Some(open), Some(close)) if open < close => mailbox[open + 1..close].trim(),
        _ => mailbox.trim(),
    }
}

/// Domain of an addr-spec, if it has a non-empty local part and domain.
pub(super) fn domain_of(addr: &str) -> Option<&str> {
    let (local, domain) = addr.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty() && !domain.contains(char::is_whitespace)).then_some(domain)
}

/// RFC 5322 date as SES writes Date: `Mon, 7 Dec 2020 17:11:40 +0000`.
pub(super) fn rfc5322_date(at: DateTime<Utc>) -> String {
    at.format("%a, %-d %b %Y %H:%M:%S +0000").to_string()
}

/// The Received hop SES adds when it accepts the message from Cognito, dated `sent_at`. Shape of the hop SES
/// writes on accepting a message (`… by email-smtp.amazonaws.com with SMTP (SimpleEmailService-d-…) id … for
/// …; <date> +0000 (UTC)`, SES event notification headers); the `from` part names Cognito's service host.
pub(super) fn received_hop(msg: &Outgoing, env: &Envelope) -> String {
    let mut rng = rand::thread_rng();
    let service: String =
        (0..9).map(|_| char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[rng.gen_range(0..32)])).collect();
    let id: String = (0..20).map(|_| char::from(rng.sample(rand::distributions::Alphanumeric))).collect();
    format!(
        "Received: from cognito-idp.{region}.amazonaws.com (cognito-idp.{region}.amazonaws.com [10.0.{}.{}])\r\n \
         by email-smtp.amazonaws.com with SMTP (SimpleEmailService-d-{service}) id {id}\r\n \
         for {rcpt}; {} (UTC)\r\n",
        rng.gen_range(0..=255u8),
        rng.gen_range(1..=254u8),
        rfc5322_date(msg.sent_at),
        region = msg.region,
        rcpt = env.rcpt,
    )
}

/// The message as Cognito handed it to SES, plus SES's trailer headers: the header block (CRLF-terminated
/// lines, no blank line) and the encoded body.
pub(super) struct Content {
    pub headers: String,
    pub body: String,
}

/// Writes the original header block in the order SES keeps it, then `X-SES-Outgoing` and `Feedback-ID`
/// (which follow the original headers in real SES mail, research §0), and encodes the body.
pub(super) fn content(msg: &Outgoing, env: &Envelope) -> Content {
    let (cte, body) = encode_body(&msg.body);
    let mut h = String::new();
    h.push_str(&format!("From: {}\r\n", encode_mailbox(&msg.from)));
    if let Some(reply_to) = &msg.reply_to {
        h.push_str(&format!("Reply-To: {}\r\n", encode_mailbox(reply_to)));
    }
    h.push_str(&format!("To: {}\r\n", msg.to.trim()));
    h.push_str(&format!("Subject: {}\r\n", encode_words(msg.subject.trim())));
    h.push_str(&format!("Date: {}\r\n", rfc5322_date(msg.sent_at)));
    h.push_str(&format!("Message-ID: {}\r\n", env.message_id(&msg.region)));
    h.push_str("MIME-Version: 1.0\r\n");
    h.push_str("Content-Type: text/plain; charset=UTF-8\r\n");
    h.push_str(&format!("Content-Transfer-Encoding: {cte}\r\n"));
    h.push_str(&format!("X-SES-Outgoing: {}-{}\r\n", msg.sent_at.format("%Y.%m.%d"), env.ip));
    // `1.<region>.<44 base64 chars>:AmazonSES` (research §0); derived from the From domain so it is stable
    // per sender, as SES's is per account and identity.
    let digest = Sha256::digest(env.from_domain.as_bytes());
    let feedback = base64::engine::general_purpose::STANDARD.encode(digest);
    h.push_str(&format!("Feedback-ID: 1.{}.{feedback}:AmazonSES\r\n", msg.region));
    Content { headers: h, body }
}

/// Body in CRLF lines with its Content-Transfer-Encoding: `7bit` for short-lined ASCII, else `base64` in 76
/// character lines (RFC 2045 §2.7, §6.8).
fn encode_body(text: &str) -> (&'static str, String) {
    let normalised = text.replace("\r\n", "\n");
    let plain = normalised.is_ascii() && normalised.lines().all(|l| l.len() <= 998) && !normalised.contains('\r');
    if plain {
        let mut body = normalised.replace('\n', "\r\n");
        if !body.ends_with("\r\n") {
            body.push_str("\r\n");
        }
        return ("7bit", body);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(normalised.replace('\n', "\r\n").as_bytes());
    let mut body = String::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for chunk in encoded.as_bytes().chunks(76) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        body.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        body.push_str("\r\n");
    }
    ("base64", body)
}

/// A header text as RFC 2047 encoded words when it is not plain ASCII (`=?UTF-8?B?…?=`, each word at most 75
/// characters, RFC 2047 §2), folded between words.
fn encode_words(text: &str) -> String {
    if text.is_ascii() && !text.contains(['\r', '\n']) {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for ch in text.chars().filter(|c| *c != '\r' && *c != '\n') {
        if chunk.len() + ch.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(ch);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(w.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// A mailbox (`Name <addr>` or `addr`) with a non-ASCII display name encoded and an unquoted display name
/// holding RFC 5322 specials quoted (RFC 5322 §3.4).
fn encode_mailbox(mailbox: &str) -> String {
    let mailbox = mailbox.trim();
    let Some(open) = mailbox.rfind('<') else {
        return mailbox.to_string();
    };
    let name = mailbox[..open].trim();
    let addr = &mailbox[open..];
    if name.is_empty() {
        return addr.to_string();
    }
    if !name.is_ascii() {
        return format!("{} {addr}", encode_words(name.trim_matches('"')));
    }
    let quoted = name.starts_with('"') && name.ends_with('"') && name.len() >= 2;
    if !quoted && name.contains(['(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '.', '"']) {
        return format!("\"{}\" {addr}", name.replace('\\', "\\\\").replace('"', "\\\""));
    }
    format!("{name} {addr}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_encoding() {
        let cases = [
            ("bare address", "noreply@thephenom.app", "noreply@thephenom.app"),
            ("plain name", "Phenom <noreply@thephenom.app>", "Phenom <noreply@thephenom.app>"),
            ("specials quoted", "Phenom, Inc. <a@b.c>", "\"Phenom, Inc.\" <a@b.c>"),
            ("already quoted", "\"Phenom, Inc.\" <a@b.c>", "\"Phenom, Inc.\" <a@b.c>"),
            ("non-ASCII name", "Phénom <a@b.c>", "=?UTF-8?B?UGjDqW5vbQ==?= <a@b.c>"),
        ];
        for (name, input, expected) in cases {
            assert_eq!(encode_mailbox(input), expected, "{name}");
        }
    }

    #[test]
    fn body_encoding() {
        let cases = [
            ("ascii LF becomes CRLF", "Your code is 123456\nBye", "7bit", "Your code is 123456\r\nBye\r\n"),
            ("non-ASCII is base64", "Code: 1 é", "base64", "Q29kZTogMSDDqQ==\r\n"),
        ];
        for (name, input, cte, body) in cases {
            assert_eq!(encode_body(input), (cte, body.to_string()), "{name}");
        }
    }

    #[test]
    fn addresses() {
        let cases = [
            ("angle", "Phenom <noreply@thephenom.app>", Some("thephenom.app")),
            ("bare", "probe+prod@mail.test", Some("mail.test")),
            ("no at", "Phenom <noreply>", None),
            ("empty local", "@x.test", None),
        ];
        for (name, input, expected) in cases {
            assert_eq!(domain_of(address_of(input)), expected, "{name}");
        }
    }
}

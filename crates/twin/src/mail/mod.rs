//! Writes the message the twin "sends": a real RFC 5322 message, DKIM-signed with test keys, carrying a
//! receiver's Received chain and Authentication-Results in a chosen provider's style, delivered into a
//! Maildir folder.
//!
//! Layout, top to bottom of a composed message (each part's shapes and sources are in its module):
//!
//! * [`receiver`] — what the final receiver adds: Return-Path, its Authentication-Results in the chosen
//!   style, ARC set and Received-SPF where that receiver writes them, its Received hop dated `delivered_at`;
//! * the forged upstream Authentication-Results, when that fault is on;
//! * [`ses`] — SES's Received hop dated `sent_at`; the DKIM-Signature headers SES adds (customer domain, then
//!   amazonses.com), really signed with mail-auth's `DkimSigner` and the test keys of [`keys`]; the original
//!   headers, `X-SES-Outgoing`, `Feedback-ID` and the body.
//!
//! [`arc`] seals the ARC sets. The body carries a code or temporary password: nothing here logs it, and the
//! `Debug` of [`Outgoing`] redacts it.

mod arc;
mod keys;
mod receiver;
mod ses;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{Canonicalization, DkimSigner};

pub use keys::{DkimKeys, KeyRole};
pub use receiver::{FORGED_AUTHSERV_ID, OPENDKIM_HOST, smtp_response};
pub use ses::{SesSend, feedback_id};

/// Everything needed to write one message. The Cognito side renders subject and body from the pool's
/// templates; this module only decides how the message looks once SES and the receiver have handled it.
/// `Debug` redacts the body (it carries the code or temporary password).
#[derive(Clone)]
pub struct Outgoing {
    /// From header as the pool stores it: `Phenom <noreply@thephenom.app>` or a bare address.
    pub from: String,
    pub reply_to: Option<String>,
    /// Recipient address (the test user's email).
    pub to: String,
    pub subject: String,
    /// Plain-text body, already rendered (contains the code or temporary password).
    pub body: String,
    /// When SES accepted the message (the Send metric rises at this minute).
    pub sent_at: DateTime<Utc>,
    /// When the receiver accepted it (sent_at plus any delay fault).
    pub delivered_at: DateTime<Utc>,
    /// SES Region of the sending identity, e.g. `us-east-1`.
    pub region: String,
    pub sending: Sending,
    pub receiver: ReceiverStyle,
    pub auth: AuthFaults,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("from", &self.from)
            .field("reply_to", &self.reply_to)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("body", &format_args!("<redacted, {} bytes>", self.body.len()))
            .field("sent_at", &self.sent_at)
            .field("delivered_at", &self.delivered_at)
            .field("region", &self.region)
            .field("sending", &self.sending)
            .field("receiver", &self.receiver)
            .field("auth", &self.auth)
            .finish()
    }
}

/// How the mail left AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sending {
    /// Through the customer's SES identity (EmailSendingAccount=DEVELOPER).
    Developer {
        /// Domain of the customer's Easy DKIM signature; `None` when the identity has no DKIM.
        dkim_domain: Option<String>,
        /// Custom MAIL FROM domain in use; `None` means SES's default (`amazonses.com`).
        mail_from_domain: Option<String>,
    },
    /// Cognito's own sender (EmailSendingAccount=COGNITO_DEFAULT): generic AWS sender, unaligned.
    CognitoDefault,
}

/// Receiver styles the twin can imitate (research/authres-realworld.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiverStyle {
    Gmail,
    Outlook,
    Yahoo,
    Fastmail,
    /// A plain Postfix host with OpenDKIM and OpenDMARC milters.
    Opendkim,
}

impl ReceiverStyle {
    /// Every style, for tables and tests.
    pub const ALL: [ReceiverStyle; 5] = [
        ReceiverStyle::Gmail,
        ReceiverStyle::Outlook,
        ReceiverStyle::Yahoo,
        ReceiverStyle::Fastmail,
        ReceiverStyle::Opendkim,
    ];

    /// The authserv-id this receiver writes, as a trust rule: exact, or `*.suffix` where it varies per message
    /// (Yahoo's atlas hosts, Fastmail's mx1..6); `None` for Outlook, which writes none
    /// (research/authres-realworld.md §12).
    pub fn authserv_id(self) -> Option<&'static str> {
        match self {
            ReceiverStyle::Gmail => Some("mx.google.com"),
            ReceiverStyle::Outlook => None,
            ReceiverStyle::Yahoo => Some("*.yahoo.com"),
            ReceiverStyle::Fastmail => Some("*.messagingengine.com"),
            ReceiverStyle::Opendkim => Some(OPENDKIM_HOST),
        }
    }

    /// Whether this receiver seals an ARC set (i=1) on inbound mail (research §1, §5).
    pub fn writes_arc(self) -> bool {
        matches!(self, ReceiverStyle::Gmail | ReceiverStyle::Fastmail)
    }
}

/// Authentication faults the receiver reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthFaults {
    pub dkim: DkimFault,
    pub spf_fail: bool,
    pub dmarc_fail: bool,
    /// An Authentication-Results header claiming pass, added upstream by someone other than the receiver.
    pub forged_upstream: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DkimFault {
    /// Both signatures verify.
    #[default]
    None,
    /// The customer-domain signature fails verification: it was made with a key other than the one its
    /// selector publishes (as after a key rotation the DNS record did not follow), so any verifier reports
    /// `dkim=fail` (RFC 6376 §6.1.3). Without a customer signature the amazonses.com one fails instead.
    Fail,
    /// No DKIM signatures at all.
    Missing,
    /// Only the amazonses.com signature: passes but never aligns with the From domain.
    Unaligned,
}

/// The Maildir folder a message lands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Folder {
    Inbox,
    Junk,
}

/// Why a message could not be written. Never carries the body.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("cannot write message into Maildir {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot sign message: {0}")]
    Sign(String),
    #[error("{field} address {value:?} has no local part and domain; expected `name@domain` or `Name <name@domain>`")]
    Address { field: &'static str, value: String },
    #[error("SES Region {0:?} is not a Region name; expected e.g. `us-east-1`")]
    Region(String),
    #[error("test key {file} does not load: {reason}; hint: restore it from version control")]
    Key { file: &'static str, reason: String },
}

/// Headers SES's Easy DKIM signature covers (research/authres-realworld.md §0, DKIM-Signature #1); SES's own
/// amazonses.com signature also covers Feedback-ID (#2).
const SES_SIGNED: [&str; 8] =
    ["Date", "From", "To", "Message-ID", "Subject", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"];

/// Writes the full message (headers and body) as the receiver stores it, with a fresh SES message id.
pub fn compose(msg: &Outgoing, keys: &DkimKeys) -> Result<Vec<u8>, MailError> {
    compose_with(msg, keys, &SesSend::new(&msg.region, msg.sent_at))
}

/// Like [`compose`], with the message id and outbound host SES fixed when it accepted the message.
pub fn compose_with(msg: &Outgoing, keys: &DkimKeys, send: &SesSend) -> Result<Vec<u8>, MailError> {
    let env = ses::Envelope::new(msg, send)?;
    let content = ses::content(msg, &env);
    let original = format!("{}\r\n{}", content.headers, content.body);
    let (signatures, outcomes) = sign_as_ses(msg, keys, original.as_bytes())?;

    let mut below = String::new();
    if msg.auth.forged_upstream {
        below.push_str(&receiver::forged_upstream(&env));
    }
    below.push_str(&ses::received_hop(msg, &env));
    below.push_str(&signatures);
    below.push_str(&original);

    let verdicts = receiver::Verdicts::decide(msg, &env, outcomes);
    let top = receiver::block(msg, &env, &verdicts, keys, below.as_bytes())?;
    Ok([top, below].concat().into_bytes())
}

/// The DKIM-Signature headers SES adds, customer domain first, then amazonses.com (research §0), with what a
/// verifier will conclude about each. Signed with mail-auth's `DkimSigner`, `c=relaxed/simple` like SES.
fn sign_as_ses(
    msg: &Outgoing,
    keys: &DkimKeys,
    message: &[u8],
) -> Result<(String, Vec<receiver::SigOutcome>), MailError> {
    let region = msg.region.as_str();
    let customer_domain = match (&msg.sending, msg.auth.dkim) {
        (Sending::Developer { dkim_domain: Some(domain), .. }, DkimFault::None | DkimFault::Fail) => {
            Some(domain.as_str())
        }
        _ => None,
    };
    // (d=, s=, the key that really publishes this selector, whether it is the customer's signature)
    let mut plan: Vec<(&str, &str, KeyRole, bool)> = Vec::new();
    if let Some(domain) = customer_domain {
        plan.push((domain, keys.customer_selector(), KeyRole::Customer, true));
    }
    if msg.auth.dkim != DkimFault::Missing {
        plan.push(("amazonses.com", DkimKeys::amazonses_selector(region), KeyRole::Amazonses, false));
    }
    // The From side's signature is the one DkimFault::Fail breaks: the customer's, else SES's only one.
    let broken = (msg.auth.dkim == DkimFault::Fail).then_some(0);
    let mut headers = String::new();
    let mut outcomes = Vec::new();
    for (index, (domain, selector, published, is_customer)) in plan.into_iter().enumerate() {
        let pass = broken != Some(index);
        // A broken signature is made with the other test key than the one its selector publishes.
        let signing = match (pass, published) {
            (true, role) => role,
            (false, KeyRole::Customer) => KeyRole::Amazonses,
            (false, _) => KeyRole::Customer,
        };
        let mut names: Vec<&str> = SES_SIGNED.to_vec();
        if msg.reply_to.is_some() {
            names.insert(2, "Reply-To");
        }
        if !is_customer {
            names.push("Feedback-ID");
        }
        let signature = DkimSigner::from_key(keys.signing_key(signing)?)
            .domain(domain)
            .selector(selector)
            .headers(names)
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Simple)
            .sign(message)
            .map_err(|e| MailError::Sign(format!("DKIM d={domain} s={selector}: {e}")))?;
        headers.push_str(&signature.to_header());
        outcomes.push(receiver::SigOutcome {
            domain: domain.to_string(),
            selector: selector.to_string(),
            b: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &signature.b),
            pass,
        });
    }
    Ok((headers, outcomes))
}

/// Delivers a message into `folder` of the Maildir at `root` (Maildir++: INBOX at the root, Junk at
/// `.Junk`), atomically through `tmp/` then `new/` (the Maildir delivery protocol), with the file's mtime set
/// to `at`, which Dovecot reports as the message's INTERNALDATE. Returns the path of the delivered file.
pub fn deliver(root: &Path, folder: Folder, message: &[u8], at: DateTime<Utc>) -> Result<PathBuf, MailError> {
    let dir = match folder {
        Folder::Inbox => root.to_path_buf(),
        Folder::Junk => root.join(".Junk"),
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MailError::Io { path, source }
    };
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(io(&dir.join(sub)))?;
    }
    // Unique name per the Maildir spec: time, a unique part, host.
    let name = format!(
        "{}.M{}P{}Q{}.twin,S={}",
        at.timestamp(),
        at.timestamp_subsec_micros(),
        std::process::id(),
        uuid::Uuid::new_v4().simple(),
        message.len()
    );
    let tmp = dir.join("tmp").join(&name);
    let new = dir.join("new").join(&name);
    std::fs::write(&tmp, message).map_err(io(&tmp))?;
    let file = std::fs::File::options().write(true).open(&tmp).map_err(io(&tmp))?;
    file.set_modified(at.into()).map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, &new).map_err(io(&new))?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliver_writes_into_new_of_the_folder_with_mtime() {
        let root = tempfile::tempdir().unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-26T12:00:03Z").unwrap().to_utc();
        let cases = [(Folder::Inbox, root.path().join("new")), (Folder::Junk, root.path().join(".Junk/new"))];
        for (folder, expected_dir) in cases {
            let path = deliver(root.path(), folder, b"Subject: x\r\n\r\nbody\r\n", at).unwrap();
            assert_eq!(path.parent().unwrap(), expected_dir, "{folder:?}");
            assert_eq!(std::fs::read(&path).unwrap(), b"Subject: x\r\n\r\nbody\r\n");
            let mtime: DateTime<Utc> = std::fs::metadata(&path).unwrap().modified().unwrap().into();
            assert_eq!(mtime, at);
            assert!(std::fs::read_dir(path.parent().unwrap().parent().unwrap().join("tmp")).unwrap().next().is_none());
        }
    }
}

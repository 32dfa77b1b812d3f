//! Writes the message the twin "sends": a real RFC 5322 message, DKIM-signed with test keys, carrying a
//! receiver's Received chain and Authentication-Results in a chosen provider's style, delivered into a
//! Maildir folder.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// Everything needed to write one message. The Cognito side renders subject and body from the pool's
/// templates; this module only decides how the message looks once SES and the receiver have handled it.
#[derive(Debug, Clone)]
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
    /// The customer-domain signature fails verification (body altered in transit).
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

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("cannot write message into Maildir {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot sign message: {0}")]
    Sign(String),
}

/// Test DKIM keys of the twin (customer domain and amazonses.com). Not secrets: published for tests.
#[derive(Clone)]
pub struct DkimKeys {}

impl DkimKeys {
    pub fn test_keys() -> Self {
        DkimKeys {}
    }
}

/// Writes the full message (headers and body) as the receiver stores it.
pub fn compose(msg: &Outgoing, _keys: &DkimKeys) -> Result<Vec<u8>, MailError> {
    // Placeholder until the mail writer lands: a minimal unsigned message.
    let text = format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}@email.amazonses.com>\r\n\r\n{}\r\n",
        msg.from,
        msg.to,
        msg.subject,
        msg.sent_at.to_rfc2822(),
        uuid::Uuid::new_v4(),
        msg.body
    );
    Ok(text.into_bytes())
}

/// Delivers a message into `folder` of the Maildir at `root` (Maildir++: INBOX at the root, Junk at
/// `.Junk`), atomically through `tmp/`, with the file's mtime set to `at` (Dovecot's INTERNALDATE).
pub fn deliver(root: &Path, folder: Folder, message: &[u8], at: DateTime<Utc>) -> Result<PathBuf, MailError> {
    let _ = (root, folder, message, at);
    Err(MailError::Sign("not yet written".into()))
}

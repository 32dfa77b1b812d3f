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

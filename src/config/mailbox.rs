//! The mailbox section of a probe file: exactly one of `[imap]` (the real thing) or `[maildir]` (a local
//! Maildir on a mail host, `probe demo`), read into one [`Mailbox`].

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::oauth2::OAuth2Settings;
use crate::duration;
use crate::secret::SecretSource;
use crate::size;

/// The mailbox the test user's mail lands in.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per probe file, read once: boxing the IMAP settings buys nothing
pub enum Mailbox {
    Imap(ImapSettings),
    Maildir(MaildirSettings),
}

impl Mailbox {
    /// What happens to the probe's own mail once it is judged.
    pub fn cleanup(&self) -> &Cleanup {
        match self {
            Mailbox::Imap(i) => &i.cleanup,
            Mailbox::Maildir(m) => &m.cleanup,
        }
    }

    pub fn cleanup_mut(&mut self) -> &mut Cleanup {
        match self {
            Mailbox::Imap(i) => &mut i.cleanup,
            Mailbox::Maildir(m) => &mut m.cleanup,
        }
    }

    /// authserv-ids of the receiver whose Authentication-Results are trusted.
    pub fn trusted_authserv_ids(&self) -> &[String] {
        match self {
            Mailbox::Imap(i) => &i.trusted_authserv_ids,
            Mailbox::Maildir(m) => &m.trusted_authserv_ids,
        }
    }

    /// Which receivers' Authentication-Results to believe.
    pub fn trust_policy(&self) -> crate::authres::TrustPolicy {
        let no_authserv_id = match self {
            Mailbox::Imap(i) => i.no_authserv_id,
            Mailbox::Maildir(m) => m.no_authserv_id,
        };
        crate::authres::TrustPolicy::with_ids(self.trusted_authserv_ids().iter().cloned())
            .trusting_no_authserv_id(no_authserv_id)
    }

    /// The IMAP settings, for an IMAP mailbox.
    pub fn imap(&self) -> Option<&ImapSettings> {
        match self {
            Mailbox::Imap(i) => Some(i),
            Mailbox::Maildir(_) => None,
        }
    }

    /// The largest message the probe reads whole.
    pub fn max_message_size(&self) -> u64 {
        match self {
            Mailbox::Imap(i) => i.max_message_size,
            Mailbox::Maildir(m) => m.max_message_size,
        }
    }

    /// One line for `probe validate`: `imap host:993 as user` or `maildir /path`.
    pub fn describe(&self) -> String {
        match self {
            Mailbox::Imap(i) => format!("imap {}:{} as {}", i.host, i.port, i.username),
            Mailbox::Maildir(m) => format!("maildir {}", m.path.display()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSettings {
    pub host: String,
    #[serde(default = "defaults::imap_port")]
    pub port: u16,
    /// Implicit TLS with certificate verification; turning it off is for loopback tests only.
    #[serde(default = "defaults::yes")]
    pub tls: bool,
    /// PEM file with extra trusted CA certificates (private CAs); the system's web roots are always trusted.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub auth: ImapAuth,
    pub username: String,
    /// Password for LOGIN.
    #[serde(default)]
    pub password: Option<SecretSource>,
    /// A ready OAuth2 access token for XOAUTH2 (Gmail, Microsoft 365), refreshed by someone else.
    #[serde(default)]
    pub token: Option<SecretSource>,
    /// How the probe gets XOAUTH2 access tokens itself (`[imap.oauth2]`), instead of `token`.
    #[serde(default)]
    pub oauth2: Option<OAuth2Settings>,
    /// Folders watched besides Junk.
    #[serde(default = "defaults::folders")]
    pub folders: Vec<String>,
    /// The Junk folder; default: the folder with SPECIAL-USE `\Junk`, else a well-known name.
    #[serde(default)]
    pub junk_folder: Option<String>,
    /// Use IDLE when the server offers it; otherwise poll with NOOP every `poll_interval`.
    #[serde(default = "defaults::yes")]
    pub idle: bool,
    #[serde(default = "defaults::poll_interval", deserialize_with = "duration::de")]
    pub poll_interval: Duration,
    /// authserv-ids of the receiver whose Authentication-Results are trusted (exact or `*.suffix`).
    #[serde(default)]
    pub trusted_authserv_ids: Vec<String>,
    /// Trust a field without authserv-id (Outlook/M365 write none) under a Microsoft hop even though
    /// `trusted_authserv_ids` is set; without ids it is trusted anyway.
    #[serde(default)]
    pub no_authserv_id: bool,
    #[serde(default)]
    pub cleanup: Cleanup,
    /// Most connections `probe monitor` opens to this login at once (logged-in sessions in use plus idle
    /// ones kept for reuse), shared by every probe with the same login. Servers cap connections per user
    /// (Dovecot `mail_max_userip_connections` 10, Gmail 15); a run waits for a free one before its baseline.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
    /// The largest message the probe reads whole (`RFC822.SIZE`, bytes). A candidate over it is judged on its
    /// header only and named in the report's notes, never fetched; probe mail is a few KB.
    #[serde(default = "defaults::max_message_size", deserialize_with = "size::de")]
    pub max_message_size: u64,
}

impl ImapSettings {
    /// The secret the login uses: the password for LOGIN, the ready token for XOAUTH2 (none with
    /// `[imap.oauth2]`, whose secrets are [`OAuth2Settings::secret_sources`]).
    pub fn credential(&self) -> Option<&SecretSource> {
        match self.auth {
            ImapAuth::Login => self.password.as_ref(),
            ImapAuth::Xoauth2 => self.token.as_ref(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapAuth {
    /// LOGIN with username and password.
    #[default]
    Login,
    /// SASL XOAUTH2 with an OAuth2 access token.
    Xoauth2,
}

/// What happens to the probe's own mail once it is judged. Other mail is never touched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cleanup {
    #[default]
    Delete,
    MoveTo(String),
    Keep,
}

impl std::fmt::Display for Cleanup {
    /// As written in the probe file: `delete`, `keep`, `move:<folder>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cleanup::Delete => f.write_str("delete"),
            Cleanup::Keep => f.write_str("keep"),
            Cleanup::MoveTo(folder) => write!(f, "move:{folder}"),
        }
    }
}

impl<'de> Deserialize<'de> for Cleanup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "delete" => Ok(Cleanup::Delete),
            "keep" => Ok(Cleanup::Keep),
            other => match other.strip_prefix("move:") {
                Some(folder) if !folder.trim().is_empty() => Ok(Cleanup::MoveTo(folder.trim().to_string())),
                _ => Err(serde::de::Error::custom(format!(
                    "invalid cleanup {other:?}, expected \"delete\", \"keep\" or \"move:<folder>\""
                ))),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaildirSettings {
    /// Root of the Maildir++ (INBOX at the root, Junk at `.Junk`).
    pub path: PathBuf,
    #[serde(default)]
    pub trusted_authserv_ids: Vec<String>,
    /// As `[imap] no_authserv_id`.
    #[serde(default)]
    pub no_authserv_id: bool,
    #[serde(default)]
    pub cleanup: Cleanup,
    /// As `[imap] max_message_size`: a larger file is judged on its first bytes only and named in the notes.
    #[serde(default = "defaults::max_message_size", deserialize_with = "size::de")]
    pub max_message_size: u64,
}

mod defaults {
    use std::time::Duration;

    pub fn imap_port() -> u16 {
        993
    }
    pub fn yes() -> bool {
        true
    }
    pub fn folders() -> Vec<String> {
        vec!["INBOX".to_string()]
    }
    pub fn poll_interval() -> Duration {
        Duration::from_secs(5)
    }
    pub fn max_connections() -> usize {
        8
    }
    pub fn max_message_size() -> u64 {
        crate::inbox::DEFAULT_MAX_MESSAGE_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_forms_round_trip() {
        let cases = [
            ("delete", Cleanup::Delete),
            ("keep", Cleanup::Keep),
            ("move:Probe/Done", Cleanup::MoveTo("Probe/Done".into())),
        ];
        for (text, expected) in cases {
            let v: Cleanup = serde_json::from_str(&format!("\"{text}\"")).unwrap();
            assert_eq!(v, expected);
            assert_eq!(v.to_string(), text, "Display is the probe file's spelling");
        }
    }
}

//! The inbox phase's mailbox access, behind one small interface: take a baseline before the trigger, wait
//! for the probe's message, fetch it, clean up only what the probe matched (DESIGN.md §4).
//!
//! Two backends: IMAP (the real thing: TLS, LOGIN or XOAUTH2, IDLE with a NOOP-poll fallback) and a local
//! Maildir (mail hosts, `probe demo`). Both find the probe's mail by From + To among messages that arrived
//! after the baseline — never by scanning the mailbox — so a run costs the same on a full mailbox as on an
//! empty one.
//!
//! Nothing a mailbox holds is read without a bound: a message over `max_message_size` is judged on its
//! header and named in the notes, never read whole; IMAP answers are read within a byte budget per command
//! ([`budget`]) and new mail is listed in bounded batches; a Maildir entry that is not a regular file is
//! never opened.
//!
//! [`pool::ImapPool`] shares logged-in IMAP sessions between the monitor's runs of probes with the same
//! login, one run per connection at a time, capped by `imap.max_connections`.

pub mod budget;
pub mod candidate;
pub mod imap;
pub mod maildir;
pub mod oauth2;
pub mod pool;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Cleanup;

/// Which messages are the probe's: sender and recipient, compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// The pool's sender address.
    pub from: String,
    /// The test user's address (plus-addressed per pool, so pools can share a mailbox).
    pub to: String,
}

impl Matcher {
    pub fn new(from: &str, to: &str) -> Matcher {
        Matcher { from: from.trim().to_ascii_lowercase(), to: to.trim().to_ascii_lowercase() }
    }

    /// True when the message is from the pool's sender to the test user.
    pub fn matches<'a>(&self, from: impl IntoIterator<Item = &'a str>, to: impl IntoIterator<Item = &'a str>) -> bool {
        from.into_iter().any(|a| a.eq_ignore_ascii_case(&self.from))
            && to.into_iter().any(|a| a.eq_ignore_ascii_case(&self.to))
    }
}

/// The probe's message, as found.
#[derive(Clone, Serialize)]
pub struct Found {
    /// Folder it was found in (INBOX, Junk, …).
    pub folder: String,
    /// True when that folder is the Junk folder.
    pub junk: bool,
    /// IMAP UID, or the Maildir file name.
    pub id: String,
    /// When the message became visible in the mailbox (IMAP INTERNALDATE, Maildir mtime).
    pub visible_at: Option<DateTime<Utc>>,
    /// When the probe saw it.
    pub detected_at: DateTime<Utc>,
    /// The SES messageId of its Message-ID, when that has SES's form ([`candidate::ses_message_id`]).
    pub ses_message_id: Option<String>,
    /// The whole message. Never logged or printed: it carries the code or temporary password.
    #[serde(skip)]
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found")
            .field("folder", &self.folder)
            .field("junk", &self.junk)
            .field("id", &self.id)
            .field("visible_at", &self.visible_at)
            .field("raw", &format_args!("<{} bytes redacted>", self.raw.len()))
            .finish()
    }
}

/// What a wait saw: the probe's message, if it came in time, the messages set aside as foreign and those
/// left unread (one line each, for the report's notes).
#[derive(Debug, Default)]
pub struct Waited {
    pub found: Option<Found>,
    pub foreign: Vec<String>,
    /// Candidates over `max_message_size`, and Maildir entries that are not regular files.
    pub unread: Vec<String>,
}

/// The most a message may be for the probe to read it, unless `max_message_size` says otherwise: probe
/// mail is a few KB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 10 * 1024 * 1024;

/// How much of a header is read to judge a candidate (`BODY.PEEK[HEADER]<0.N>`, the first bytes of a Maildir
/// file): SES's headers with a receiver's trace are a few KB.
pub const HEADER_BYTES: u64 = 256 * 1024;

/// Mailbox state before the trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Baseline {
    pub taken_at: DateTime<Utc>,
    pub folders: Vec<FolderMark>,
}

/// Where a folder stood before the trigger: the next UID (IMAP) or the time (Maildir).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderMark {
    pub folder: String,
    pub junk: bool,
    pub uid_validity: Option<u32>,
    pub uid_next: Option<u32>,
}

/// Why the mailbox could not be read. All of these are the probe's own trouble (UNKNOWN), never a delivery
/// failure.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("cannot connect to IMAP server {host}:{port}: {detail}")]
    Connect { host: String, port: u16, detail: String },
    #[error("TLS with {host} failed: {detail} (hint: a private CA needs imap.ca_file)")]
    Tls { host: String, detail: String },
    #[error("IMAP login as {username} rejected: {detail}")]
    Login { username: String, detail: String },
    #[error("IMAP {command} failed: {detail}")]
    Protocol { command: String, detail: String },
    #[error("IMAP folder {folder:?} does not exist (hint: check imap.folders / imap.junk_folder)")]
    NoFolder { folder: String },
    #[error("UIDVALIDITY of {folder} changed during the run ({before} → {after}); the folder was rebuilt")]
    UidValidity { folder: String, before: u32, after: u32 },
    #[error("secret for the mailbox: {0}")]
    Secret(#[from] crate::secret::SecretError),
    /// No access token for the XOAUTH2 login (`[imap.oauth2]`).
    #[error("no OAuth2 access token for the IMAP login: {0}")]
    OAuth2(#[from] oauth2::OAuth2Error),
    #[error("Maildir {path}: {source}")]
    Maildir { path: std::path::PathBuf, source: std::io::Error },
    #[error(
        "the IMAP server's answer to {command} exceeded the {} the probe reads for it (a broken or hostile \
         server); the connection was dropped",
        crate::size::show(*limit)
    )]
    TooLarge { command: String, limit: u64 },
    #[error("timed out after {} talking to the mail server", crate::duration::show(*.0))]
    Timeout(Duration),
    #[error(
        "all {max} IMAP connections of {login} were busy for {} (imap.max_connections = {max}; hint: raise it \
            if the server allows more connections per user, or spread the probes with jitter)",
        crate::duration::show(*waited)
    )]
    Busy { login: String, max: usize, waited: Duration },
}

/// Which of the probe's own messages from before the baseline count as late: those that arrived in
/// (`after`, `before`). With `cleanup = delete` every earlier run's mail was removed when judged, so all
/// probe mail older than one timeout is late (`after` = `None`). With `cleanup = keep` the judged mail
/// stays, so only mail that arrived after the previous run stopped waiting is late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateWindow {
    pub after: Option<DateTime<Utc>>,
    pub before: DateTime<Utc>,
}

impl LateWindow {
    pub fn contains(&self, arrived: DateTime<Utc>) -> bool {
        arrived < self.before && self.after.is_none_or(|a| arrived > a)
    }
}

/// Outcome of the sweep of the probe's own stale mail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sweep {
    /// Probe mail older than the timeout found (and removed unless cleanup = keep): it arrived late.
    pub late: u32,
}

/// A connected mailbox of either kind.
pub enum Inbox {
    /// An IMAP session checked out of an [`pool::ImapPool`]; closing it hands it back.
    Pooled(Box<pool::PooledInbox>),
    Maildir(maildir::MaildirInbox),
}

impl Inbox {
    pub async fn baseline(&mut self) -> Result<Baseline, InboxError> {
        match self {
            Inbox::Pooled(p) => p.baseline().await,
            Inbox::Maildir(m) => m.baseline(),
        }
    }

    /// Waits until the probe's message shows up after `baseline`, or `deadline` passes (`found: None`).
    pub async fn wait(
        &mut self,
        baseline: &Baseline,
        matcher: &Matcher,
        deadline: tokio::time::Instant,
    ) -> Result<Waited, InboxError> {
        match self {
            Inbox::Pooled(p) => p.inbox()?.wait(baseline, matcher, deadline).await,
            Inbox::Maildir(m) => m.wait(baseline, matcher, deadline).await,
        }
    }

    /// Removes (or moves) the matched message, per the probe's cleanup setting.
    pub async fn cleanup(&mut self, found: &Found, how: &Cleanup) -> Result<(), InboxError> {
        match self {
            Inbox::Pooled(p) => p.inbox()?.cleanup(found, how).await,
            Inbox::Maildir(m) => m.cleanup(found, how),
        }
    }

    /// Finds the probe's own mail that arrived before `baseline` within `window`: mail of earlier runs that
    /// came too late. It is counted, and removed unless cleanup = keep.
    pub async fn sweep(
        &mut self,
        baseline: &Baseline,
        matcher: &Matcher,
        window: &LateWindow,
        how: &Cleanup,
    ) -> Result<Sweep, InboxError> {
        match self {
            Inbox::Pooled(p) => p.inbox()?.sweep(baseline, matcher, window, how).await,
            Inbox::Maildir(m) => m.sweep(baseline, matcher, window, how),
        }
    }

    /// Ends the run's use of the mailbox: LOGOUT, or back to its pool when the session is sound.
    pub async fn close(self) {
        match self {
            Inbox::Pooled(p) => p.close().await,
            Inbox::Maildir(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_needs_both_sender_and_recipient() {
        let m = Matcher::new("noreply@thephenom.app", "Probe+Prod@mail.test");
        let cases = [
            (vec!["noreply@thephenom.app"], vec!["probe+prod@mail.test"], true),
            (vec!["NoReply@ThePhenom.app"], vec!["other@mail.test", "probe+prod@mail.test"], true),
            (vec!["noreply@thephenom.app"], vec!["probe+staging@mail.test"], false),
            (vec!["someone@else.test"], vec!["probe+prod@mail.test"], false),
            (vec![], vec![], false),
        ];
        for (from, to, expected) in cases {
            assert_eq!(m.matches(from.iter().copied(), to.iter().copied()), expected, "{from:?} → {to:?}");
        }
    }

    #[test]
    fn found_debug_redacts_the_message() {
        let f = Found {
            folder: "INBOX".into(),
            junk: false,
            id: "7".into(),
            visible_at: None,
            detected_at: Utc::now(),
            ses_message_id: None,
            raw: b"Your temporary password is Zq9!canary".to_vec(),
        };
        assert!(!format!("{f:?}").contains("canary"));
        assert!(!serde_json::to_string(&f).unwrap().contains("canary"));
    }
}

//! The Maildir backend: a local Maildir++ (INBOX at the root, Junk at `.Junk`), for mail hosts and for
//! `probe demo`, where the AWS twin delivers into a temporary Maildir.
//!
//! New mail is recognised by its file name: Maildir names start with the delivery time in seconds
//! (the Maildir specification's `time.unique.host`), so messages from before the baseline are skipped
//! without being opened.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::candidate::{self, Candidate, Choice};
use super::{Baseline, FolderMark, Found, InboxError, LateWindow, Matcher, Sweep, Waited};
use crate::config::Cleanup;

/// A local Maildir.
#[derive(Debug, Clone)]
pub struct MaildirInbox {
    root: PathBuf,
    poll: Duration,
}

/// Folder name and whether it is Junk, with its directory.
fn folders(root: &Path) -> [(&'static str, bool, PathBuf); 2] {
    [("INBOX", false, root.to_path_buf()), ("Junk", true, root.join(".Junk"))]
}

fn delivered_secs(name: &str) -> Option<i64> {
    name.split('.').next()?.parse().ok()
}

/// A message from the sender to the test user found by a scan: folder, whether it is the Junk folder, its
/// file, its bytes, and what it is to the probe.
type Hit = (String, bool, PathBuf, Vec<u8>, Candidate);

impl MaildirInbox {
    pub fn open(root: &Path) -> Result<MaildirInbox, InboxError> {
        if !root.join("new").is_dir() && !root.join("cur").is_dir() {
            return Err(InboxError::Maildir {
                path: root.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a Maildir (no new/ or cur/)"),
            });
        }
        Ok(MaildirInbox { root: root.to_path_buf(), poll: Duration::from_millis(20) })
    }

    pub fn baseline(&mut self) -> Result<Baseline, InboxError> {
        Ok(Baseline {
            taken_at: Utc::now(),
            folders: folders(&self.root)
                .into_iter()
                .map(|(name, junk, _)| FolderMark { folder: name.into(), junk, uid_validity: None, uid_next: None })
                .collect(),
        })
    }

    /// The messages from the sender to the test user in `new/` and `cur/` of every folder delivered at or
    /// after `since_secs` and before `until_secs`, with their bytes (read once, to judge the header), in
    /// delivery order. A file that cannot be read — moved or removed since the listing by a mail client or
    /// another probe's clean-up — is not there.
    fn scan(&self, matcher: &Matcher, since_secs: i64, until_secs: i64) -> Result<Vec<Hit>, InboxError> {
        let mut hits = Vec::new();
        for (folder, junk, dir) in folders(&self.root) {
            for sub in ["new", "cur"] {
                let path = dir.join(sub);
                let entries = match std::fs::read_dir(&path) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(source) => return Err(InboxError::Maildir { path, source }),
                };
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let Some(t) = delivered_secs(&name) else { continue };
                    if t < since_secs || t >= until_secs {
                        continue;
                    }
                    let file = entry.path();
                    let Ok(bytes) = std::fs::read(&file) else { continue };
                    match candidate::judge(&bytes, matcher) {
                        Candidate::NotOurs => {}
                        judged => hits.push((folder.to_string(), junk, file, bytes, judged)),
                    }
                }
            }
        }
        // Maildir names start with the delivery time: name order is arrival order within a second.
        hits.sort_by(|a, b| a.2.file_name().cmp(&b.2.file_name()));
        Ok(hits)
    }

    pub async fn wait(
        &mut self,
        baseline: &Baseline,
        matcher: &Matcher,
        deadline: tokio::time::Instant,
    ) -> Result<Waited, InboxError> {
        let since = baseline.taken_at.timestamp();
        loop {
            let mut choice = Choice::default();
            for (folder, junk, path, raw, judged) in self.scan(matcher, since, i64::MAX)? {
                let label = format!("{folder} {}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
                choice.offer(&label, judged.clone(), (folder, junk, path, raw, judged));
            }
            // Mail without SES's Message-ID form decides only when nothing better came by the deadline.
            let last_look = tokio::time::Instant::now() + self.poll > deadline;
            let decided = choice.settled() || last_look;
            if let Some((folder, junk, path, raw, judged)) = choice.chosen.take().filter(|_| decided) {
                let visible_at = std::fs::metadata(&path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
                let ses_message_id = match judged {
                    Candidate::Ours { ses_message_id } => ses_message_id,
                    _ => None,
                };
                let found = Found {
                    folder,
                    junk,
                    id: path.to_string_lossy().into_owned(),
                    visible_at,
                    detected_at: Utc::now(),
                    ses_message_id,
                    raw,
                };
                return Ok(Waited { found: Some(found), foreign: choice.foreign });
            }
            if last_look {
                return Ok(Waited { found: None, foreign: choice.foreign });
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    pub fn cleanup(&mut self, found: &Found, how: &Cleanup) -> Result<(), InboxError> {
        let path = PathBuf::from(&found.id);
        let io = |source| InboxError::Maildir { path: path.clone(), source };
        match how {
            Cleanup::Keep => Ok(()),
            Cleanup::Delete => std::fs::remove_file(&path).map_err(io),
            Cleanup::MoveTo(folder) => {
                let dir = self.root.join(format!(".{folder}"));
                for sub in ["tmp", "new", "cur"] {
                    std::fs::create_dir_all(dir.join(sub)).map_err(io)?;
                }
                let name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
                std::fs::rename(&path, dir.join("cur").join(name)).map_err(io)
            }
        }
    }

    pub fn sweep(
        &mut self,
        baseline: &Baseline,
        matcher: &Matcher,
        window: &LateWindow,
        how: &Cleanup,
    ) -> Result<Sweep, InboxError> {
        // Maildir names carry the delivery second: (after, before) in whole seconds.
        let until = baseline.taken_at.timestamp().min(window.before.timestamp());
        let since = window.after.map_or(0, |a| a.timestamp() + 1);
        let mut late = 0;
        // Only the probe's own mail: a message that merely looks like it is not swept.
        for (folder, junk, path, _, judged) in self.scan(matcher, since, until)? {
            if !matches!(judged, Candidate::Ours { .. }) {
                continue;
            }
            let found = Found {
                folder,
                junk,
                id: path.to_string_lossy().into_owned(),
                visible_at: None,
                detected_at: Utc::now(),
                ses_message_id: None,
                raw: Vec::new(),
            };
            self.cleanup(&found, how)?;
            late += 1;
        }
        Ok(Sweep { late })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, folder: &str, secs: i64, from: &str, to: &str) -> PathBuf {
        let dir = if folder == "INBOX" { root.to_path_buf() } else { root.join(format!(".{folder}")) };
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let path = dir.join("new").join(format!("{secs}.M1P1Q{}.test", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, format!("From: {from}\r\nTo: {to}\r\nSubject: x\r\n\r\nbody\r\n")).unwrap();
        path
    }

    #[tokio::test]
    async fn finds_only_new_mail_from_the_sender_to_the_user_and_sweeps_old_probe_mail() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let m = Matcher::new("noreply@thephenom.app", "probe+prod@mail.test");
        let old = write(root, "INBOX", 1_000, "Phenom <noreply@thephenom.app>", "probe+prod@mail.test");
        let other = write(root, "INBOX", 1_000, "friend@example.net", "probe+prod@mail.test");
        let mut inbox = MaildirInbox::open(root).unwrap();
        let baseline = inbox.baseline().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
        assert!(inbox.wait(&baseline, &m, deadline).await.unwrap().found.is_none(), "old mail must not match");

        let now = baseline.taken_at.timestamp();
        write(root, "INBOX", now, "friend@example.net", "probe+prod@mail.test");
        write(root, "INBOX", now, "noreply@thephenom.app", "probe+staging@mail.test");
        let ours = write(root, "Junk", now, "Phenom <noreply@thephenom.app>", "probe+prod@mail.test");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let found = inbox.wait(&baseline, &m, deadline).await.unwrap().found.expect("probe mail in Junk");
        assert_eq!((found.folder.as_str(), found.junk), ("Junk", true));
        assert_eq!(PathBuf::from(&found.id), ours);

        inbox.cleanup(&found, &Cleanup::Delete).unwrap();
        assert!(!ours.exists());
        let window = LateWindow { after: None, before: baseline.taken_at };
        let sweep = inbox.sweep(&baseline, &m, &window, &Cleanup::Delete).unwrap();
        assert_eq!(sweep.late, 1);
        assert!(!old.exists(), "stale probe mail is swept");
        assert!(other.exists(), "other senders' mail is never touched");
    }

    /// SES's mail decides the moment it is there; a candidate without SES's Message-ID form waits for the
    /// deadline (a better one may still come). Measured on tokio's paused clock, where a wait that sleeps
    /// until its deadline shows as elapsed virtual time.
    #[tokio::test(start_paused = true)]
    async fn mail_with_ses_form_is_found_at_once_and_other_mail_waits_for_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let m = Matcher::new("noreply@thephenom.app", "probe+prod@mail.test");
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        let mut inbox = MaildirInbox::open(root).unwrap();
        let baseline = inbox.baseline().unwrap();
        let now = baseline.taken_at.timestamp();
        let plain = write(root, "INBOX", now, "noreply@thephenom.app", "probe+prod@mail.test");
        let start = tokio::time::Instant::now();
        let found = inbox.wait(&baseline, &m, start + Duration::from_secs(60)).await.unwrap().found.unwrap();
        assert_eq!(PathBuf::from(&found.id), plain);
        assert!(start.elapsed() >= Duration::from_secs(55), "waited for something better: {:?}", start.elapsed());

        std::fs::remove_file(&plain).unwrap();
        let ses = write(root, "INBOX", now, "noreply@thephenom.app", "probe+prod@mail.test");
        let text = std::fs::read_to_string(&ses).unwrap();
        let id = "Message-ID: <0100019e073d2c68-04b83c28-ae44-470a-afe5-6d58b9fb4ac5-000000@email.amazonses.com>\r\n";
        std::fs::write(&ses, format!("{id}{text}")).unwrap();
        let start = tokio::time::Instant::now();
        let found = inbox.wait(&baseline, &m, start + Duration::from_secs(60)).await.unwrap().found.unwrap();
        assert_eq!(PathBuf::from(&found.id), ses);
        assert!(found.ses_message_id.is_some());
        assert!(start.elapsed() < Duration::from_secs(5), "SES's mail decided at once: {:?}", start.elapsed());
    }
}

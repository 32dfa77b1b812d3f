//! The Maildir backend: a local Maildir++ (INBOX at the root, Junk at `.Junk`), for mail hosts and for
//! `probe demo`, where the AWS twin delivers into a temporary Maildir.
//!
//! New mail is recognised by its file name: Maildir names start with the delivery time in seconds
//! (the Maildir specification's `time.unique.host`), so messages from before the baseline are skipped
//! without being opened.
//!
//! Only regular files are read ([`crate::regular_file`]): an entry that is a symbolic link, a FIFO, a device
//! or a socket is never opened through — a link to `/dev/zero` or a FIFO cannot hang or exhaust a run — and
//! is named in the notes. A candidate is judged on its first [`HEADER_BYTES`]; one over `max_message_size`
//! is named in the notes and never read whole; only the chosen message is read, once, and never past the
//! limit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::candidate::{self, Candidate, Choice};
use super::{Baseline, FolderMark, Found, HEADER_BYTES, InboxError, LateWindow, Matcher, Sweep, Waited};
use crate::config::Cleanup;
use crate::regular_file::{self, OpenError};

/// A local Maildir.
#[derive(Debug, Clone)]
pub struct MaildirInbox {
    root: PathBuf,
    poll: Duration,
    /// The largest message read whole (`max_message_size`).
    max_message_size: u64,
}

/// Folder name and whether it is Junk, with its directory.
fn folders(root: &Path) -> [(&'static str, bool, PathBuf); 2] {
    [("INBOX", false, root.to_path_buf()), ("Junk", true, root.join(".Junk"))]
}

fn delivered_secs(name: &str) -> Option<i64> {
    name.split('.').next()?.parse().ok()
}

/// A message from the sender to the test user found by a scan, judged on its header; its bytes are read
/// again only if it is chosen.
#[derive(Debug)]
struct Hit {
    folder: &'static str,
    junk: bool,
    path: PathBuf,
    size: u64,
    modified: Option<DateTime<Utc>>,
    judged: Candidate,
}

impl Hit {
    fn label(&self) -> String {
        format!("{} {}", self.folder, self.path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())
    }
}

/// What a scan found: candidates in delivery order, and a line per entry it did not read.
#[derive(Debug, Default)]
struct Scan {
    hits: Vec<Hit>,
    odd: Vec<String>,
}

impl MaildirInbox {
    pub fn open(root: &Path, max_message_size: u64) -> Result<MaildirInbox, InboxError> {
        if !root.join("new").is_dir() && !root.join("cur").is_dir() {
            return Err(InboxError::Maildir {
                path: root.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a Maildir (no new/ or cur/)"),
            });
        }
        Ok(MaildirInbox { root: root.to_path_buf(), poll: Duration::from_millis(20), max_message_size })
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
    /// after `since_secs` and before `until_secs`, each judged on its first [`HEADER_BYTES`], in delivery
    /// order; and a line for each entry in that time that is not a regular file. A file that cannot be
    /// read — moved or removed since the listing by a mail client or another probe's clean-up — is not there.
    fn scan(&self, matcher: &Matcher, since_secs: i64, until_secs: i64) -> Result<Scan, InboxError> {
        let mut scan = Scan::default();
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
                    let not_read = |what: &dyn std::fmt::Display| format!("{folder} {sub}/{name} is {what}; not read");
                    // The entry's own type (a link is a link), before anything is opened.
                    if let Some(odd) = entry.file_type().ok().and_then(regular_file::odd) {
                        scan.odd.push(not_read(&format_args!("{odd}, not a regular file")));
                        continue;
                    }
                    let file = entry.path();
                    let (mut f, meta) = match regular_file::open(&file) {
                        Ok(opened) => opened,
                        Err(e @ OpenError::Odd(_)) => {
                            scan.odd.push(not_read(&e));
                            continue;
                        }
                        Err(OpenError::Io(_)) => continue,
                    };
                    let Ok(header) = regular_file::read_at_most(&mut f, meta.len(), HEADER_BYTES) else { continue };
                    match candidate::judge(&header, matcher) {
                        Candidate::NotOurs => {}
                        judged => scan.hits.push(Hit {
                            folder,
                            junk,
                            path: file,
                            size: meta.len(),
                            modified: meta.modified().ok().map(DateTime::<Utc>::from),
                            judged,
                        }),
                    }
                }
            }
        }
        // Maildir names start with the delivery time: name order is arrival order within a second.
        scan.hits.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
        scan.odd.sort();
        Ok(scan)
    }

    /// The chosen message, whole: `None` when it is gone, no longer a regular file, or grew past the limit.
    fn read(&self, hit: &Hit) -> Option<Vec<u8>> {
        let (mut f, meta) = regular_file::open(&hit.path).ok()?;
        let raw = regular_file::read_at_most(&mut f, meta.len(), self.max_message_size + 1).ok()?;
        (raw.len() as u64 <= self.max_message_size).then_some(raw)
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
            let scan = self.scan(matcher, since, i64::MAX)?;
            for line in scan.odd {
                choice.not_read(line);
            }
            for hit in scan.hits {
                let (label, judged) = (hit.label(), hit.judged.clone());
                choice.offer_sized(&label, judged, Some(hit.size), self.max_message_size, hit);
            }
            // Mail without SES's Message-ID form decides only when nothing better came by the deadline.
            let last_look = tokio::time::Instant::now() + self.poll > deadline;
            let decided = choice.settled() || last_look;
            let (chosen, foreign, unread) = choice.finish();
            if let Some(hit) = chosen.filter(|_| decided)
                && let Some(raw) = self.read(&hit)
            {
                let ses_message_id = match hit.judged {
                    Candidate::Ours { ses_message_id } => ses_message_id,
                    _ => None,
                };
                let found = Found {
                    folder: hit.folder.to_string(),
                    junk: hit.junk,
                    id: hit.path.to_string_lossy().into_owned(),
                    visible_at: hit.modified,
                    detected_at: Utc::now(),
                    ses_message_id,
                    raw,
                };
                return Ok(Waited { found: Some(found), foreign, unread, notes: Vec::new() });
            }
            if last_look {
                return Ok(Waited { found: None, foreign, unread, notes: Vec::new() });
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
        // Only the probe's own mail, within the size it reads: a message that merely looks like it, or that
        // is too large to be it, is not swept.
        for hit in self.scan(matcher, since, until)?.hits {
            if !matches!(hit.judged, Candidate::Ours { .. }) || hit.size > self.max_message_size {
                continue;
            }
            let found = Found {
                folder: hit.folder.to_string(),
                junk: hit.junk,
                id: hit.path.to_string_lossy().into_owned(),
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
        let mut inbox = MaildirInbox::open(root, crate::inbox::DEFAULT_MAX_MESSAGE_SIZE).unwrap();
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
        let mut inbox = MaildirInbox::open(root, 10 * 1024 * 1024).unwrap();
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

    fn mkfifo(path: &Path) {
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo has no other preconditions.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
    }

    /// Runs `f` on its own thread and fails the test if it does not finish within 60 s: a guard against a
    /// hang (a FIFO blocks an open for ever), not a timing.
    fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(60)).expect("the wait did not end: it hung on an entry of new/")
    }

    /// A link to /dev/zero, a FIFO, a directory and a link to a file outside the Maildir in new/ are not
    /// read; a candidate over max_message_size is a note; the normal probe mail among them is found.
    #[test]
    fn links_fifos_and_oversized_files_are_notes_and_the_probe_mail_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let m = Matcher::new("noreply@thephenom.app", "probe+prod@mail.test");
        write(&root, "INBOX", 1_000, "noreply@thephenom.app", "probe+prod@mail.test");
        let now = Utc::now().timestamp();
        let new = root.join("new");
        std::os::unix::fs::symlink("/dev/zero", new.join(format!("{now}.M1P1Q1.zero"))).unwrap();
        mkfifo(&new.join(format!("{now}.M1P1Q2.fifo")));
        std::fs::create_dir(new.join(format!("{now}.M1P1Q3.dir"))).unwrap();
        let outside = dir.path().join("outside.eml");
        std::fs::write(&outside, "From: noreply@thephenom.app\r\nTo: probe+prod@mail.test\r\n\r\nx\r\n").unwrap();
        std::os::unix::fs::symlink(&outside, new.join(format!("{now}.M1P1Q4.link"))).unwrap();
        // A candidate of 1 MiB with SES's Message-ID form, delivered first: it would be chosen if it were read.
        let big = new.join(format!("{now}.M1P1Q5.big"));
        let mut bytes = b"From: noreply@thephenom.app\r\nTo: probe+prod@mail.test\r\n\
            Message-ID: <0100017674efab57-04b8-000000@email.amazonses.com>\r\n\r\n"
            .to_vec();
        bytes.resize(1024 * 1024, b'x');
        std::fs::write(&big, &bytes).unwrap();
        let ours = write(&root, "INBOX", now, "Phenom <noreply@thephenom.app>", "probe+prod@mail.test");
        let limit = 64 * 1024;

        let waited = within_a_minute(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            runtime.block_on(async move {
                let mut inbox = MaildirInbox::open(&root, limit).unwrap();
                let baseline =
                    Baseline { taken_at: DateTime::from_timestamp(now, 0).unwrap(), ..inbox.baseline().unwrap() };
                let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
                inbox.wait(&baseline, &m, deadline).await.unwrap()
            })
        });
        let found = waited.found.expect("the probe mail among the odd entries is found");
        assert_eq!(PathBuf::from(&found.id), ours, "the oversized candidate is never chosen");
        assert!(found.raw.len() < 1024, "the probe mail read whole");
        let big_name = big.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            waited.unread,
            [
                format!("INBOX new/{now}.M1P1Q1.zero is a symbolic link, not a regular file; not read"),
                format!("INBOX new/{now}.M1P1Q2.fifo is a FIFO, not a regular file; not read"),
                format!("INBOX new/{now}.M1P1Q3.dir is a directory, not a regular file; not read"),
                format!("INBOX new/{now}.M1P1Q4.link is a symbolic link, not a regular file; not read"),
                format!("INBOX {big_name} is 1048576 bytes, over max_message_size (64 KiB); not read"),
            ]
        );
        assert!(waited.foreign.is_empty(), "{:?}", waited.foreign);
    }
}

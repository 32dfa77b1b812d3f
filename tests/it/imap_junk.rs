//! The Junk folder against a real Dovecot over TLS (issue 16): mail landing in Junk wakes the wait as fast
//! as mail in INBOX (a second session IDLEs on Junk), within `max_connections` — with one connection the
//! Junk folder is re-checked every `poll_interval` and the notes say so; waiting is read-only, so other mail
//! keeps its `\Recent` and `\Seen`; and the Junk folder is found by name under the personal namespace prefix
//! and separator the server uses (`INBOX.Junk`, `INBOX/Junk`) when it is not marked SPECIAL-USE.

use std::time::{Duration, Instant};

use async_imap::types::Flag;
use chrono::Utc;
use cognito_delivery_probe::config::{Cleanup, ImapSettings};
use cognito_delivery_probe::inbox::imap::ImapInbox;
use cognito_delivery_probe::inbox::pool::ImapPool;
use cognito_delivery_probe::inbox::{Matcher, Waited};
use futures::TryStreamExt as _;
use testkit::dovecot::{Dovecot, Options};
use testkit::mail::{FROM, TO, probe_mail};
use twin::mail::{Folder, deliver};

/// Far longer than any wait here: only IDLE can find mail in time.
const NO_POLL: Duration = Duration::from_secs(120);

/// How soon after delivery the probe must have its mail with IDLE: Dovecot itself announces new mail up to
/// about 1.5 s late (`mailbox_idle_check_interval = 1 secs` plus its 500 ms notification batching).
const IDLE_LAG: Duration = Duration::from_secs(4);

fn matcher() -> Matcher {
    Matcher::new(FROM, TO)
}

fn deadline_in(secs: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(secs)
}

async fn connect(dovecot: &Dovecot, settings: &ImapSettings) -> ImapInbox {
    match ImapInbox::connect(settings).await {
        Ok(inbox) => inbox,
        Err(e) => panic!("connect: {e}\n{}", dovecot.log()),
    }
}

/// Delivers `bytes` into `folder` after `delay` from another task, as the mail server would; yields the
/// moment the message was in `new/`.
fn deliver_later(dovecot: &Dovecot, folder: Folder, bytes: &[u8], delay: Duration) -> tokio::task::JoinHandle<Instant> {
    let (maildir, bytes) = (dovecot.maildir.clone(), bytes.to_vec());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        deliver(&maildir, folder, &bytes, Utc::now()).expect("deliver");
        Instant::now()
    })
}

/// Waits on `inbox` while the probe mail is delivered into `folder` after a second (so the first look finds
/// nothing and the wait has to watch); returns what the wait gave and how long after delivery it returned.
async fn wait_for_delivery(dovecot: &Dovecot, inbox: &mut ImapInbox, folder: Folder, secs: u64) -> (Waited, Duration) {
    let baseline = inbox.baseline().await.expect("baseline");
    let writer = deliver_later(dovecot, folder, &probe_mail(Utc::now()), Duration::from_secs(1));
    let waited = match inbox.wait(&baseline, &matcher(), deadline_in(secs)).await {
        Ok(waited) => waited,
        Err(e) => panic!("wait: {e}\n{}", dovecot.log()),
    };
    let returned = Instant::now();
    let delivered = writer.await.expect("writer");
    (waited, returned.saturating_duration_since(delivered))
}

#[tokio::test]
async fn junk_mail_wakes_the_wait_as_fast_as_inbox_mail() {
    let dovecot = Dovecot::start();
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.poll_interval = NO_POLL;
    let mut inbox = connect(&dovecot, &settings).await;
    for (folder, name) in [(Folder::Inbox, "INBOX"), (Folder::Junk, "Junk")] {
        let before = dovecot.logins();
        let (waited, lag) = wait_for_delivery(&dovecot, &mut inbox, folder, 30).await;
        let found = waited.found.unwrap_or_else(|| panic!("{name}: not found by the deadline\n{}", dovecot.log()));
        assert_eq!(found.folder, name);
        assert!(lag < IDLE_LAG, "{name}: found {lag:?} after delivery; only a watched folder is this fast");
        assert!(waited.notes.is_empty(), "{name}: {:?}", waited.notes);
        assert_eq!(dovecot.logins() - before, 1, "{name}: one second session watched Junk during the wait");
        inbox.cleanup(&found, &Cleanup::Delete).await.expect("cleanup");
    }
    inbox.logout().await;
}

#[tokio::test]
async fn with_one_connection_junk_is_re_checked_every_poll_interval_and_the_notes_say_so() {
    let dovecot = Dovecot::start();
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.max_connections = 1;
    settings.poll_interval = Duration::from_secs(1);
    let mut inbox = connect(&dovecot, &settings).await;
    let before = dovecot.logins();
    let (waited, _) = wait_for_delivery(&dovecot, &mut inbox, Folder::Junk, 30).await;
    assert_eq!(waited.found.expect("found by re-checking").folder, "Junk");
    assert_eq!(dovecot.logins(), before, "no second connection beyond max_connections = 1");
    let notes = waited.notes.join("\n");
    for words in ["Junk was re-checked every 1s instead of watched with IDLE", "imap.max_connections = 1"] {
        assert!(notes.contains(words), "{notes}");
    }
    inbox.logout().await;
}

/// The monitor's pool: the second session is one of the login's connections, goes back to the pool after
/// the wait and serves the next run; with every other connection in use there is none, and the notes say so.
#[tokio::test]
async fn the_pool_lends_the_junk_watcher_within_max_connections() {
    let dovecot = Dovecot::start();
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.poll_interval = NO_POLL;
    settings.max_connections = 2;
    let pool = ImapPool::default();
    for round in 1..=2 {
        let mut run = pool.checkout(&settings, deadline_in(10)).await.expect("checkout");
        let baseline = run.baseline().await.expect("baseline");
        let writer = deliver_later(&dovecot, Folder::Junk, &probe_mail(Utc::now()), Duration::from_secs(1));
        let waited = run.wait(&baseline, &matcher(), deadline_in(30)).await.expect("wait");
        let returned = Instant::now();
        let lag = returned.saturating_duration_since(writer.await.expect("writer"));
        let found = waited.found.unwrap_or_else(|| panic!("round {round}: not found\n{}", dovecot.log()));
        assert!(lag < IDLE_LAG, "round {round}: found {lag:?} after delivery");
        assert!(waited.notes.is_empty(), "round {round}: {:?}", waited.notes);
        run.inbox().expect("session").cleanup(&found, &Cleanup::Delete).await.expect("cleanup");
        run.close().await;
    }
    assert_eq!(dovecot.logins(), 2, "the run's session and the watcher, both reused by the second run");

    // A second run holds the other connection: the first run's Junk folder is only re-checked.
    settings.poll_interval = Duration::from_secs(1);
    let mut run = pool.checkout(&settings, deadline_in(10)).await.expect("checkout");
    let other = pool.checkout(&settings, deadline_in(10)).await.expect("second checkout");
    let baseline = run.baseline().await.expect("baseline");
    let writer = deliver_later(&dovecot, Folder::Junk, &probe_mail(Utc::now()), Duration::from_secs(1));
    let waited = run.wait(&baseline, &matcher(), deadline_in(30)).await.expect("wait");
    writer.await.expect("writer");
    assert_eq!(waited.found.expect("found by re-checking").folder, "Junk");
    let notes = waited.notes.join("\n");
    assert!(notes.contains("all 2 connections of imap.max_connections were in use"), "{notes}");
    other.close().await;
    run.close().await;
    pool.close_idle().await;
}

/// Flags of every message in `folder` as a new session EXAMINEs it (read-only, so it takes nothing):
/// (UID, `\Seen`, `\Recent`).
async fn flags(dovecot: &Dovecot, folder: &str) -> Vec<(u32, bool, bool)> {
    let mut session = dovecot.session().await;
    let mailbox = session.examine(folder).await.expect("EXAMINE");
    if mailbox.exists == 0 {
        return Vec::new();
    }
    let fetches: Vec<_> =
        session.uid_fetch("1:*", "(UID FLAGS)").await.expect("UID FETCH").try_collect().await.expect("FLAGS");
    let mut all: Vec<_> = fetches
        .iter()
        .map(|f| {
            let seen = f.flags().any(|x| matches!(x, Flag::Seen));
            let recent = f.flags().any(|x| matches!(x, Flag::Recent));
            (f.uid.expect("UID"), seen, recent)
        })
        .collect();
    all.sort_unstable();
    session.logout().await.expect("logout");
    all
}

/// A whole probe run that finds its mail in Junk — baseline, a wait watching INBOX and Junk, the fetch, a
/// clean-up that deletes it — changes nothing of the other mail: the `\Seen` of both folders as they were,
/// and the `\Recent` of INBOX, which the probe only EXAMINEs (RFC 3501 §6.3.2). Junk, SELECTed for the clean-up
/// alone, loses its `\Recent` to the probe's session (§2.3.2: a read-write session takes it); with
/// `cleanup = keep` nothing is SELECTed and Junk keeps it too. Mail arriving after the clean-up keeps it: the
/// session is back to read-only at once.
#[tokio::test]
async fn a_probe_run_leaves_other_mail_its_seen_and_recent_flags() {
    for (cleanup, junk_keeps_recent) in [(Cleanup::Delete, false), (Cleanup::Keep, true)] {
        let dovecot = Dovecot::start();
        let mut other = dovecot.session().await;
        for folder in ["INBOX", "Junk"] {
            for flags in [Some("(\\Seen)"), None] {
                let text = format!("From: friend@example.org\r\nTo: {TO}\r\nSubject: hello\r\n\r\nhi\r\n");
                other.append(folder, flags, None, text.as_bytes()).await.expect("APPEND");
            }
        }
        other.logout().await.expect("logout");
        let inbox_before = flags(&dovecot, "INBOX").await;
        let junk_before = flags(&dovecot, "Junk").await;
        assert_eq!(inbox_before, [(1, true, true), (2, false, true)], "as appended, seen by an EXAMINE");
        assert_eq!(junk_before, inbox_before);

        let mut settings: ImapSettings = dovecot.probe_settings();
        settings.poll_interval = NO_POLL;
        let mut inbox = connect(&dovecot, &settings).await;
        let (waited, _) = wait_for_delivery(&dovecot, &mut inbox, Folder::Junk, 30).await;
        let found = waited.found.expect("probe mail found in Junk");
        assert_eq!(found.folder, "Junk");
        inbox.cleanup(&found, &cleanup).await.expect("cleanup");
        // Mail arriving after the clean-up, while the session idles in the pool and is checked with NOOP
        // before its next run: a session left read-write would take its \Recent.
        let later = format!("From: friend@example.org\r\nTo: {TO}\r\nSubject: later\r\n\r\nhi\r\n");
        deliver(&dovecot.maildir, Folder::Junk, later.as_bytes(), Utc::now()).expect("deliver");
        inbox.noop().await.expect("NOOP");
        inbox.logout().await;

        assert_eq!(flags(&dovecot, "INBOX").await, inbox_before, "{cleanup:?}: INBOX as it was");
        let last = flags(&dovecot, "Junk").await.pop().expect("the later mail");
        assert!(last.2, "{cleanup:?}: mail that arrived after the clean-up keeps its \\Recent: {last:?}");
        let junk_after: Vec<_> = flags(&dovecot, "Junk").await.into_iter().filter(|(uid, _, _)| *uid <= 2).collect();
        let seen = |f: &[(u32, bool, bool)]| f.iter().map(|(u, s, _)| (*u, *s)).collect::<Vec<_>>();
        assert_eq!(seen(&junk_after), seen(&junk_before), "{cleanup:?}: Junk's \\Seen as it was");
        let recent = junk_after.iter().all(|(_, _, r)| *r);
        assert_eq!(recent, junk_keeps_recent, "{cleanup:?}: Junk's \\Recent: {junk_after:?}");
    }
}

/// Servers without SPECIAL-USE: the Junk folder is found by name under the namespace the server uses, and
/// mail landing there is found in it.
#[tokio::test]
async fn junk_is_found_by_name_under_the_servers_namespace_prefix_and_separator() {
    let cases = [
        ("Courier / Cyrus without altnamespace", '.', Some("INBOX."), "INBOX.Junk"),
        ("INBOX/ prefix", '/', Some("INBOX/"), "INBOX/Junk"),
        ("no prefix", '/', None, "Junk"),
    ];
    for (name, separator, prefix, junk) in cases {
        let options = Options {
            namespace_separator: Some(separator),
            namespace_prefix: prefix.map(str::to_string),
            junk_without_special_use: true,
            ..Options::default()
        };
        let dovecot = Dovecot::start_with(&options);
        let mut settings: ImapSettings = dovecot.probe_settings();
        settings.poll_interval = NO_POLL;
        let mut inbox = connect(&dovecot, &settings).await;
        assert_eq!(inbox.folders(), [("INBOX".to_string(), false), (junk.to_string(), true)], "{name}");
        let (waited, lag) = wait_for_delivery(&dovecot, &mut inbox, Folder::Junk, 30).await;
        let found = waited.found.unwrap_or_else(|| panic!("{name}: not found\n{}", dovecot.log()));
        assert_eq!((found.folder.as_str(), found.junk), (junk, true), "{name}");
        assert!(lag < IDLE_LAG, "{name}: found {lag:?} after delivery");
        inbox.cleanup(&found, &Cleanup::Delete).await.expect("cleanup");
        inbox.logout().await;
    }
}

//! The probe's inbox phase against a real Dovecot serving the twin's Maildir: baseline, wait (IDLE and the
//! NOOP-poll fallback), INBOX and the SPECIAL-USE Junk folder, matching only the probe's own new mail,
//! clean-up of exactly the matched UID, the sweep of the probe's own stale mail, and the bounds on what is
//! read: a candidate over `max_message_size` is never fetched, new mail is listed in bounded batches.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cognito_delivery_probe::config::{Cleanup, ImapSettings};
use cognito_delivery_probe::inbox::LateWindow;
use cognito_delivery_probe::inbox::imap::ImapInbox;
use cognito_delivery_probe::inbox::{Found, Matcher};
use futures::TryStreamExt as _;
use twin::mail::{AuthFaults, DkimKeys, Folder, Outgoing, ReceiverStyle, Sending, compose, deliver};

use testkit::dovecot::{Dovecot, Options};

const FROM: &str = "noreply@thephenom.app";
const TO: &str = "probe+prod@mail.test";

fn matcher() -> Matcher {
    Matcher::new(FROM, TO)
}

/// An SES-shaped message as the twin writes it, from `from` to `to`, received at `at`.
fn message(from: &str, to: &str, at: DateTime<Utc>) -> Vec<u8> {
    message_with_body(from, to, at, format!("Your confirmation code is 482913 ({})\n", uuid::Uuid::new_v4()))
}

fn message_with_body(from: &str, to: &str, at: DateTime<Utc>, body: String) -> Vec<u8> {
    let msg = Outgoing {
        from: format!("Phenom <{from}>"),
        reply_to: None,
        to: to.into(),
        subject: "Your verification code".into(),
        body,
        sent_at: at - chrono::Duration::seconds(2),
        delivered_at: at,
        region: "us-east-1".into(),
        sending: Sending::Developer { dkim_domain: Some("thephenom.app".into()), mail_from_domain: None },
        receiver: ReceiverStyle::Gmail,
        auth: AuthFaults::default(),
    };
    compose(&msg, &DkimKeys::test_keys()).expect("compose")
}

fn probe_mail(at: DateTime<Utc>) -> Vec<u8> {
    message(FROM, TO, at)
}

async fn connect(dovecot: &Dovecot, settings: &ImapSettings) -> ImapInbox {
    match ImapInbox::connect(settings).await {
        Ok(inbox) => inbox,
        Err(e) => panic!("connect: {e}\n{}", dovecot.log()),
    }
}

fn deadline_in(secs: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(secs)
}

/// Delivers `bytes` into `folder` after `delay`, from another task, as the mail server would.
fn deliver_later(dovecot: &Dovecot, folder: Folder, bytes: &[u8], delay: Duration) -> tokio::task::JoinHandle<()> {
    let (maildir, bytes) = (dovecot.maildir.clone(), bytes.to_vec());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        deliver(&maildir, folder, &bytes, Utc::now()).expect("deliver");
    })
}

/// One message as another IMAP client sees it.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    uid: u32,
    seen: bool,
    deleted: bool,
    body: Vec<u8>,
}

/// Every message in `folder`, read by a separate session with BODY.PEEK (changes nothing).
async fn contents(dovecot: &Dovecot, folder: &str) -> Vec<Seen> {
    let mut session = dovecot.session().await;
    let mailbox = session.examine(folder).await.expect("EXAMINE");
    if mailbox.exists == 0 {
        return Vec::new();
    }
    let fetches: Vec<_> = session
        .uid_fetch("1:*", "(UID FLAGS BODY.PEEK[])")
        .await
        .expect("UID FETCH")
        .try_collect()
        .await
        .expect("UID FETCH responses");
    let mut all: Vec<Seen> = fetches
        .iter()
        .map(|f| Seen {
            uid: f.uid.expect("UID"),
            seen: f.flags().any(|x| matches!(x, async_imap::types::Flag::Seen)),
            deleted: f.flags().any(|x| matches!(x, async_imap::types::Flag::Deleted)),
            body: f.body().expect("body").to_vec(),
        })
        .collect();
    all.sort_by_key(|s| s.uid);
    session.logout().await.expect("logout");
    all
}

fn uids(folder: &[Seen]) -> Vec<u32> {
    folder.iter().map(|s| s.uid).collect()
}

async fn wait_for(dovecot: &Dovecot, inbox: &mut ImapInbox, secs: u64) -> Option<Found> {
    let baseline = inbox.baseline().await.expect("baseline");
    match inbox.wait(&baseline, &matcher(), deadline_in(secs)).await {
        Ok(waited) => waited.found,
        Err(e) => panic!("wait: {e}\n{}", dovecot.log()),
    }
}

#[tokio::test]
async fn idle_finds_the_probe_mail_byte_identical_and_it_stays_unseen_until_cleanup() {
    let dovecot = Dovecot::start();
    let mut settings: ImapSettings = dovecot.probe_settings();
    // A poll interval longer than the whole wait: only IDLE can find the mail before the deadline.
    settings.poll_interval = Duration::from_secs(120);
    let mut inbox = connect(&dovecot, &settings).await;
    let baseline = inbox.baseline().await.expect("baseline");
    let bytes = probe_mail(Utc::now());
    let writer = deliver_later(&dovecot, Folder::Inbox, &bytes, Duration::from_millis(300));
    let deadline = Utc::now() + chrono::Duration::seconds(20);
    let found =
        inbox.wait(&baseline, &matcher(), deadline_in(20)).await.expect("wait").found.expect("probe mail found");
    writer.await.expect("writer");

    assert!(found.detected_at < deadline, "IDLE did not wake the wait; it ran to the deadline");
    assert_eq!((found.folder.as_str(), found.junk, found.id.as_str()), ("INBOX", false, "1"));
    assert!(found.raw == bytes, "fetched message differs from what was delivered");
    assert!(found.visible_at.is_some(), "INTERNALDATE read");
    let before = contents(&dovecot, "INBOX").await;
    assert_eq!(before.len(), 1);
    assert!(!before[0].seen, "the probe's fetch must leave the message unseen");

    inbox.cleanup(&found, &Cleanup::Delete).await.expect("cleanup");
    inbox.logout().await;
    assert_eq!(contents(&dovecot, "INBOX").await, [], "cleanup removed the probe mail");
}

#[tokio::test]
async fn noop_polling_finds_the_probe_mail_without_idle() {
    let dovecot = Dovecot::start();
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.idle = false;
    settings.poll_interval = Duration::from_secs(1);
    let mut inbox = connect(&dovecot, &settings).await;
    let baseline = inbox.baseline().await.expect("baseline");
    let bytes = probe_mail(Utc::now());
    let writer = deliver_later(&dovecot, Folder::Inbox, &bytes, Duration::from_millis(1500));
    let found =
        inbox.wait(&baseline, &matcher(), deadline_in(20)).await.expect("wait").found.expect("probe mail found");
    writer.await.expect("writer");
    inbox.logout().await;
    assert_eq!((found.folder.as_str(), found.junk), ("INBOX", false));
    assert!(found.raw == bytes, "fetched message differs from what was delivered");
}

#[tokio::test]
async fn mail_in_the_special_use_junk_folder_is_found_and_marked_junk() {
    let dovecot = Dovecot::start();
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.poll_interval = Duration::from_secs(1);
    let mut inbox = connect(&dovecot, &settings).await;
    assert_eq!(inbox.folders(), [("INBOX".to_string(), false), ("Junk".to_string(), true)]);
    let baseline = inbox.baseline().await.expect("baseline");
    let bytes = probe_mail(Utc::now());
    let writer = deliver_later(&dovecot, Folder::Junk, &bytes, Duration::from_millis(300));
    let found =
        inbox.wait(&baseline, &matcher(), deadline_in(20)).await.expect("wait").found.expect("probe mail found");
    writer.await.expect("writer");
    assert_eq!((found.folder.as_str(), found.junk), ("Junk", true));
    assert!(found.raw == bytes, "fetched message differs from what was delivered");
    inbox.cleanup(&found, &Cleanup::Delete).await.expect("cleanup");
    inbox.logout().await;
    assert_eq!(contents(&dovecot, "Junk").await, [], "cleanup removed it from Junk");
}

#[tokio::test]
async fn other_senders_other_recipients_and_older_probe_mail_are_never_matched() {
    let dovecot = Dovecot::start();
    let now = Utc::now();
    // Probe mail from an earlier run, before the baseline.
    deliver(&dovecot.maildir, Folder::Inbox, &probe_mail(now - chrono::Duration::minutes(10)), now).expect("deliver");
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.poll_interval = Duration::from_secs(1);
    let mut inbox = connect(&dovecot, &settings).await;
    let baseline = inbox.baseline().await.expect("baseline");
    // After the baseline: the same sender to another recipient (another pool's plus address), another
    // sender to the test user, in INBOX and Junk.
    let others = [
        (Folder::Inbox, message(FROM, "probe+staging@mail.test", now)),
        (Folder::Inbox, message("newsletter@shop.example", TO, now)),
        (Folder::Junk, message("noreply@phish.example", TO, now)),
    ];
    for (folder, bytes) in &others {
        deliver(&dovecot.maildir, *folder, bytes, Utc::now()).expect("deliver");
    }
    let none = inbox.wait(&baseline, &matcher(), deadline_in(3)).await.expect("wait");
    assert!(none.found.is_none(), "matched mail that is not the probe's: {none:?}");

    // The probe's mail arriving after them is the one found.
    let bytes = probe_mail(Utc::now());
    let writer = deliver_later(&dovecot, Folder::Inbox, &bytes, Duration::from_millis(300));
    let found =
        inbox.wait(&baseline, &matcher(), deadline_in(20)).await.expect("wait").found.expect("probe mail found");
    writer.await.expect("writer");
    inbox.logout().await;
    assert_eq!((found.folder.as_str(), found.id.as_str()), ("INBOX", "4"), "UIDs 1–3 are not the probe's new mail");
    assert!(found.raw == bytes, "fetched message differs from what was delivered");
}

#[tokio::test]
async fn cleanup_delete_expunges_only_the_matched_uid() {
    let dovecot = Dovecot::start();
    let now = Utc::now();
    deliver(&dovecot.maildir, Folder::Inbox, &message("friend@example.org", TO, now), now).expect("deliver");
    deliver(&dovecot.maildir, Folder::Inbox, &message("friend@example.org", TO, now), now).expect("deliver");
    {
        // Someone else's client flags UID 2 \Deleted without expunging: a plain EXPUNGE would remove it.
        let mut session = dovecot.session().await;
        session.select("INBOX").await.expect("SELECT");
        let _: Vec<_> = session
            .uid_store("2", "+FLAGS.SILENT (\\Deleted)")
            .await
            .expect("STORE")
            .try_collect()
            .await
            .expect("STORE responses");
        session.logout().await.expect("logout");
    }
    let mut inbox = connect(&dovecot, &dovecot.probe_settings()).await;
    let bytes = probe_mail(Utc::now());
    let writer = deliver_later(&dovecot, Folder::Inbox, &bytes, Duration::from_millis(300));
    let found = wait_for(&dovecot, &mut inbox, 20).await.expect("probe mail found");
    writer.await.expect("writer");
    assert_eq!(found.id, "3");
    inbox.cleanup(&found, &Cleanup::Delete).await.expect("cleanup");
    inbox.logout().await;

    let left = contents(&dovecot, "INBOX").await;
    assert_eq!(uids(&left), [1, 2], "only the probe's UID 3 is gone");
    assert!(!left[0].deleted && left[1].deleted, "the other client's \\Deleted flag is untouched: {left:?}");
    assert!(!left.iter().any(|s| s.seen), "the probe never marked other mail seen");
}

#[tokio::test]
async fn cleanup_move_puts_the_matched_mail_into_the_folder() {
    let dovecot = Dovecot::start();
    let now = Utc::now();
    let other = message("friend@example.org", TO, now);
    deliver(&dovecot.maildir, Folder::Inbox, &other, now).expect("deliver");
    {
        let mut session = dovecot.session().await;
        session.create("Probe").await.expect("CREATE Probe");
        session.logout().await.expect("logout");
    }
    let mut inbox = connect(&dovecot, &dovecot.probe_settings()).await;
    let bytes = probe_mail(Utc::now());
    let writer = deliver_later(&dovecot, Folder::Inbox, &bytes, Duration::from_millis(300));
    let found = wait_for(&dovecot, &mut inbox, 20).await.expect("probe mail found");
    writer.await.expect("writer");
    inbox.cleanup(&found, &Cleanup::MoveTo("Probe".into())).await.expect("cleanup");
    inbox.logout().await;

    let left = contents(&dovecot, "INBOX").await;
    assert_eq!(uids(&left), [1], "the probe mail left INBOX, the other stayed");
    assert!(left[0].body == other);
    let moved = contents(&dovecot, "Probe").await;
    assert_eq!(moved.len(), 1, "the probe mail is in Probe");
    assert!(moved[0].body == bytes, "moved message is byte-identical");
}

#[tokio::test]
async fn sweep_counts_and_removes_only_the_probes_own_stale_mail() {
    let dovecot = Dovecot::start();
    let now = Utc::now();
    let old = now - chrono::Duration::hours(2);
    let stale = [(Folder::Inbox, probe_mail(old)), (Folder::Inbox, probe_mail(old)), (Folder::Junk, probe_mail(old))];
    let kept = [
        // Recent probe mail (another run may still be waiting for it), and old mail that is not the probe's.
        (Folder::Inbox, probe_mail(now - chrono::Duration::seconds(30)), now - chrono::Duration::seconds(30)),
        (Folder::Inbox, message("friend@example.org", TO, old), old),
        (Folder::Inbox, message(FROM, "probe+staging@mail.test", old), old),
        (Folder::Junk, message("noreply@phish.example", TO, old), old),
    ];
    for (folder, bytes) in &stale {
        deliver(&dovecot.maildir, *folder, bytes, old).expect("deliver");
    }
    for (folder, bytes, at) in &kept {
        deliver(&dovecot.maildir, *folder, bytes, *at).expect("deliver");
    }
    let mut inbox = connect(&dovecot, &dovecot.probe_settings()).await;
    let baseline = inbox.baseline().await.expect("baseline");
    let cutoff = now - chrono::Duration::minutes(5);
    let window = LateWindow { after: None, before: cutoff };
    let sweep = inbox.sweep(&baseline, &matcher(), &window, &Cleanup::Delete).await.expect("sweep");
    inbox.logout().await;
    assert_eq!(sweep.late, 3, "two stale probe mails in INBOX and one in Junk");

    // Mail written before Dovecot first looks gets UIDs in directory order: compare as sets.
    let bodies = |seen: Vec<Seen>| -> BTreeSet<Vec<u8>> { seen.into_iter().map(|s| s.body).collect() };
    let inbox_left = bodies(contents(&dovecot, "INBOX").await);
    let junk_left = bodies(contents(&dovecot, "Junk").await);
    let expect_inbox: BTreeSet<Vec<u8>> = kept[..3].iter().map(|(_, b, _)| b.clone()).collect();
    let expect_junk: BTreeSet<Vec<u8>> = [kept[3].1.clone()].into();
    assert!(inbox_left == expect_inbox, "INBOX keeps the recent probe mail and other mail");
    assert!(junk_left == expect_junk, "Junk keeps other mail");
}

/// With `cleanup = keep` the window starts where the previous run stopped waiting: mail from before it was
/// judged on time (or swept) then, so it is not late again.
#[tokio::test]
async fn sweep_with_keep_counts_only_mail_after_the_previous_deadline_and_removes_nothing() {
    let dovecot = Dovecot::start();
    let old = Utc::now() - chrono::Duration::hours(2);
    deliver(&dovecot.maildir, Folder::Inbox, &probe_mail(old), old).expect("deliver");
    let mut inbox = connect(&dovecot, &dovecot.probe_settings()).await;
    let baseline = inbox.baseline().await.expect("baseline");
    // (previous run's deadline, late mails)
    let cases = [(old - chrono::Duration::minutes(10), 1), (old + chrono::Duration::minutes(10), 0)];
    for (after, late) in cases {
        let window = LateWindow { after: Some(after), before: baseline.taken_at };
        let sweep = inbox.sweep(&baseline, &matcher(), &window, &Cleanup::Keep).await.expect("sweep");
        assert_eq!(sweep.late, late, "previous deadline {after}");
    }
    inbox.logout().await;
    assert_eq!(uids(&contents(&dovecot, "INBOX").await), [1], "keep leaves the stale mail in place");
}

/// Bytes Dovecot sent and the command lines it received, over every session in its rawlog.
fn rawlog(dovecot: &Dovecot) -> (u64, Vec<String>) {
    let dir = dovecot.rawlog_dir.as_ref().expect("Dovecot started with rawlog");
    let (mut sent, mut commands) = (0, Vec::new());
    for entry in std::fs::read_dir(dir).expect("rawlog dir") {
        let path = entry.expect("rawlog entry").path();
        let data = std::fs::read(&path).expect("read rawlog");
        match path.extension().and_then(|e| e.to_str()) {
            Some("out") => sent += data.len() as u64,
            Some("in") => commands.extend(String::from_utf8_lossy(&data).lines().map(str::to_string)),
            _ => {}
        }
    }
    (sent, commands)
}

/// Makes Dovecot take in what was delivered so far (UIDs in delivery order), from another session: STATUS
/// only, so nothing of the mail is read.
async fn sync(dovecot: &Dovecot) {
    let mut session = dovecot.session().await;
    session.status("INBOX", "(MESSAGES UIDNEXT)").await.expect("STATUS");
    session.logout().await.expect("logout");
}

/// A message of the sender's to the test user that is over `max_message_size` — with SES's Message-ID form,
/// delivered first, so it would be the one judged if it were read — is a note and never crosses the wire;
/// the normal probe mail after it is found.
#[tokio::test]
async fn a_candidate_over_max_message_size_is_a_note_and_never_fetched_while_the_probe_mail_is_found() {
    let dovecot = Dovecot::start_with(&Options { rawlog: true, ..Options::default() });
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.poll_interval = Duration::from_secs(1);
    settings.max_message_size = 64 * 1024;
    let mut inbox = connect(&dovecot, &settings).await;
    let baseline = inbox.baseline().await.expect("baseline");
    let padding = "A newsletter line that makes this message large, repeated for a mebibyte.\n".repeat(15_000);
    let big = message_with_body(FROM, TO, Utc::now(), padding);
    assert!(big.len() > 1024 * 1024, "{}", big.len());
    deliver(&dovecot.maildir, Folder::Inbox, &big, Utc::now()).expect("deliver");
    sync(&dovecot).await;
    let bytes = probe_mail(Utc::now());
    deliver(&dovecot.maildir, Folder::Inbox, &bytes, Utc::now()).expect("deliver");

    let waited = inbox.wait(&baseline, &matcher(), deadline_in(20)).await.expect("wait");
    inbox.logout().await;
    let found = waited.found.expect("the probe mail is found");
    assert_eq!(found.id, "2", "the oversized candidate (UID 1) is never the one judged");
    assert!(found.raw == bytes, "fetched message differs from what was delivered");
    assert_eq!(waited.unread.len(), 1, "{:?}", waited.unread);
    let note = &waited.unread[0];
    let size: u64 = note
        .strip_prefix("INBOX UID 1 is ")
        .and_then(|rest| rest.strip_suffix(" bytes, over max_message_size (64 KiB); not read"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the note names the message, its size and the limit: {note:?}"));
    assert!(size >= big.len() as u64, "RFC822.SIZE {size} of a {}-byte message", big.len());
    let (sent, _) = rawlog(&dovecot);
    assert!(sent < 256 * 1024, "the server sent {sent} bytes: the {}-byte message was fetched", big.len());
}

/// More new mail than one look lists (another sender's flood) is listed on the next looks, in bounded
/// batches — never an open-ended `UID FETCH n:*` — and the probe mail behind it is found.
#[tokio::test]
async fn a_flood_of_new_mail_is_listed_in_bounded_batches_and_the_probe_mail_behind_it_is_found() {
    let dovecot = Dovecot::start_with(&Options { rawlog: true, ..Options::default() });
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.poll_interval = Duration::from_secs(1);
    let mut inbox = connect(&dovecot, &settings).await;
    let baseline = inbox.baseline().await.expect("baseline");
    let flood = cognito_delivery_probe::inbox::imap::NEW_PER_LOOK + 40;
    let now = Utc::now();
    for _ in 0..flood {
        deliver(&dovecot.maildir, Folder::Inbox, &message("newsletter@shop.example", TO, now), now).expect("deliver");
    }
    sync(&dovecot).await;
    let bytes = probe_mail(Utc::now());
    deliver(&dovecot.maildir, Folder::Inbox, &bytes, Utc::now()).expect("deliver");

    let found = inbox.wait(&baseline, &matcher(), deadline_in(60)).await.expect("wait").found.expect("probe mail");
    inbox.logout().await;
    assert_eq!(found.id, (flood + 1).to_string());
    assert!(found.raw == bytes, "fetched message differs from what was delivered");
    let (_, commands) = rawlog(&dovecot);
    let fetches: Vec<&String> = commands.iter().filter(|c| c.contains("UID FETCH")).collect();
    assert!(!fetches.is_empty(), "the rawlog holds the probe's commands");
    for fetch in &fetches {
        assert!(!fetch.contains(":*"), "an open-ended fetch: {fetch}");
    }
}

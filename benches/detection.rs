//! Detection delay of the probe's IMAP wait against a real Dovecot (DESIGN.md §10: verdict ≤ 50 ms after
//! the message becomes visible, with IDLE).
//!
//! Per sample: the probe takes its baseline and waits (`ImapInbox::wait`); after a random pause the twin's
//! message is renamed into `new/` (the moment Dovecot can see it); the sample is the time from that rename
//! to `wait` returning with the fetched message. A second, plain IDLE connection records when Dovecot
//! announces the message (`* n EXISTS`), splitting each sample into the server's own notification delay
//! (Dovecot 2.3 batches file-system notifications for 500 ms, `NOTIFY_DELAY_MSECS` in
//! src/lib-storage/mailbox-watch.c) and the probe's share after the announcement.
//!
//! Rows, one server and one run: IDLE with the mail delivered into INBOX and into Junk (watched by the
//! probe's second session), Junk with `max_connections = 1` (no second session: re-checked every 5 s, the
//! baseline), and NOOP polling at 5 s (the default) and 1 s. `cargo bench --bench detection`;
//! `INBOX_BENCH_SAMPLES` changes the 30 samples per row.

use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use chrono::Utc;
use cognito_delivery_probe::config::{Cleanup, ImapSettings};
use cognito_delivery_probe::inbox::Matcher;
use cognito_delivery_probe::inbox::imap::ImapInbox;
use imap_proto::types::{MailboxDatum, Response};
use rand::Rng as _;
use testkit::dovecot::Dovecot;
use testkit::mail::{FROM, TO, probe_mail};
use testkit::stats::{ms, percentile, samples};
use twin::mail::{Folder, deliver};

struct Row {
    name: String,
    from_rename: Vec<Duration>,
    after_exists: Vec<Duration>,
}

type Observer = async_imap::Session<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// One row: how the probe waits and where the mail lands.
struct Case {
    name: &'static str,
    idle: bool,
    poll: Duration,
    max_connections: usize,
    folder: Folder,
}

/// IDLEs on the EXAMINEd folder until Dovecot announces a new message (EXISTS); returns the session and that moment.
async fn observe_exists(session: Observer) -> (Observer, Instant) {
    let mut idle = session.idle();
    idle.init().await.expect("observer IDLE");
    let seen = loop {
        let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(60));
        match wait.await.expect("observer IDLE wait") {
            IdleResponse::NewData(data) => {
                if matches!(data.parsed(), Response::MailboxData(MailboxDatum::Exists(_))) {
                    break Instant::now();
                }
            }
            other => panic!("observer IDLE ended without EXISTS: {other:?}"),
        }
    };
    let session = idle.done().await.expect("observer DONE");
    (session, seen)
}

async fn measure(dovecot: &Dovecot, case: &Case, n: usize) -> Row {
    let Case { name, idle, poll, max_connections, folder } = *case;
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.idle = idle;
    settings.poll_interval = poll;
    settings.max_connections = max_connections;
    let mut inbox = ImapInbox::connect(&settings).await.unwrap_or_else(|e| panic!("connect: {e}\n{}", dovecot.log()));
    let mut observer = dovecot.session().await;
    let observed = match folder {
        Folder::Inbox => "INBOX",
        Folder::Junk => "Junk",
    };
    observer.examine(observed).await.expect("observer EXAMINE");
    let mut row = Row { name: name.to_string(), from_rename: Vec::new(), after_exists: Vec::new() };
    // The delivery's phase against the poll cycle is uniform; with IDLE it only has to come after IDLE began.
    let watched = idle && (folder == Folder::Inbox || max_connections > 1);
    let spread = if watched { Duration::from_millis(300) } else { poll };
    for i in 0..n {
        // Let the previous clean-up's notifications settle, and consume them on the observer.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        observer.noop().await.expect("observer NOOP");
        let baseline = inbox.baseline().await.expect("baseline");
        let watcher = tokio::spawn(observe_exists(observer));
        let bytes = probe_mail(Utc::now());
        let pause = Duration::from_millis(200) + spread.mul_f64(rand::thread_rng().gen_range(0.0..1.0));
        let maildir = dovecot.maildir.clone();
        let writer = tokio::spawn(async move {
            tokio::time::sleep(pause).await;
            deliver(&maildir, folder, &bytes, Utc::now()).expect("deliver");
            Instant::now()
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let found = inbox.wait(&baseline, &Matcher::new(FROM, TO), deadline).await.expect("wait").found.expect(
            "probe mail \
                found",
        );
        let returned = Instant::now();
        let renamed = writer.await.expect("writer");
        let (session, announced) = watcher.await.expect("observer");
        observer = session;
        row.from_rename.push(returned.saturating_duration_since(renamed));
        row.after_exists.push(returned.saturating_duration_since(announced));
        inbox.cleanup(&found, &Cleanup::Delete).await.expect("cleanup");
        eprint!("\r{name}: {}/{n}", i + 1);
    }
    eprintln!();
    inbox.logout().await;
    let _ = observer.logout().await;
    row
}

fn main() {
    let n = samples(30);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let five = Duration::from_secs(5);
    let cases = [
        Case { name: "IDLE, into INBOX", idle: true, poll: five, max_connections: 8, folder: Folder::Inbox },
        Case { name: "IDLE, into Junk", idle: true, poll: five, max_connections: 8, folder: Folder::Junk },
        Case { name: "Junk, max_connections = 1", idle: true, poll: five, max_connections: 1, folder: Folder::Junk },
        Case { name: "NOOP poll 5 s (default)", idle: false, poll: five, max_connections: 8, folder: Folder::Inbox },
        Case {
            name: "NOOP poll 1 s",
            idle: false,
            poll: Duration::from_secs(1),
            max_connections: 8,
            folder: Folder::Inbox,
        },
    ];
    let rows = runtime.block_on(async {
        let dovecot = Dovecot::start();
        let mut rows = Vec::new();
        for case in &cases {
            rows.push(measure(&dovecot, case, n).await);
        }
        rows
    });
    println!();
    println!("detection delay, Dovecot {} over TLS on loopback, {n} samples per row (ms)", dovecot_version());
    println!("{:<26} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9}", "wait mode", "p50", "p95", "max", "p50", "p95", "max");
    println!("{:<26} | {:^29} | {:^29}", "", "rename into new/ → found", "Dovecot's EXISTS → found");
    for row in &rows {
        println!(
            "{:<26} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9}",
            row.name,
            ms(percentile(&row.from_rename, 50)),
            ms(percentile(&row.from_rename, 95)),
            ms(percentile(&row.from_rename, 100)),
            ms(percentile(&row.after_exists, 50)),
            ms(percentile(&row.after_exists, 95)),
            ms(percentile(&row.after_exists, 100)),
        );
    }
    println!("goal: IDLE ≤ 50 ms after the message becomes visible (DESIGN.md §10), into Junk as into INBOX");
}

fn dovecot_version() -> String {
    std::process::Command::new("/usr/sbin/dovecot")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().next().unwrap_or("?").to_string())
        .unwrap_or_else(|_| "?".into())
}

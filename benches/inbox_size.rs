//! What mailbox size costs the probe (DESIGN.md §10: a run on a 50,000-message mailbox ≤ 1.1× a run on an
//! empty one), against two real Dovecots over TLS on loopback.
//!
//! The full mailbox is written straight into INBOX's `cur/` (other people's read mail) before Dovecot first
//! looks, then indexed once by a SELECT, and warmed by one probe run, like a mailbox the probe has been
//! watching for a while. Two measurements, alternating between the mailboxes:
//!
//! * cycle — on an open connection: baseline, the probe's message delivered, `wait` (finds it on its first
//!   look), `cleanup` (delete): the per-run work that must not grow with the mailbox.
//! * inbox phase — what `probe` does per run: connect and log in, baseline, sweep of stale probe mail,
//!   delivery, wait, cleanup, logout. Commands and bytes per run come from Dovecot's `rawlog_dir` (the
//!   session after login).
//!
//! A third mailbox holds the same 50,000 messages with `maildir_very_dirty_syncs = yes`: Maildir keeps no
//! index of its own, so by default Dovecot re-reads all of `cur/` whenever its mtime changes — and every
//! delivery and expunge changes it. That row separates the storage format's cost from the probe's.
//!
//! `cargo bench --bench inbox_size`; `INBOX_BENCH_SAMPLES` changes the 20 samples, `INBOX_BENCH_MESSAGES`
//! the 50,000 messages.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use cognito_delivery_probe::config::{Cleanup, ImapSettings};
use cognito_delivery_probe::inbox::Matcher;
use cognito_delivery_probe::inbox::imap::ImapInbox;
use testkit::dovecot::{Dovecot, Options};
use testkit::mail::{FROM, TO, probe_mail};
use testkit::stats::{ms, percentile, samples};
use twin::mail::{Folder, deliver};

const VERY_DIRTY: &str = "maildir_very_dirty_syncs = yes";

/// Other people's mail: small plain messages from many senders to the test user's mailbox.
fn fill(maildir: &Path, count: usize) {
    let cur = maildir.join("cur");
    let start = Utc::now().timestamp() - 400 * 24 * 3600;
    for i in 0..count {
        let at = start + (i as i64) * 600;
        let date = chrono::DateTime::from_timestamp(at, 0).expect("timestamp").to_rfc2822();
        let body = format!(
            "Return-Path: <sender{s}@example.org>\r\nDate: {date}\r\nFrom: Sender {s} <sender{s}@example.org>\r\n\
             To: probe+prod@mail.test\r\nSubject: Newsletter {i}\r\nMessage-ID: <{i}.bench@example.org>\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             Hello, this is message {i} of the benchmark mailbox.\r\n",
            s = i % 997
        );
        let name = format!("{at}.M{i}P1.bench,S={}:2,S", body.len());
        std::fs::write(cur.join(name), body).expect("write message");
    }
}

fn rawlog_files(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir).expect("rawlog dir").map(|e| e.expect("rawlog entry").path()).collect()
}

/// Commands sent and bytes each way in the rawlog files that appeared since `before`.
fn traffic(dir: &Path, before: &BTreeSet<PathBuf>) -> (usize, u64, u64) {
    let (mut commands, mut sent, mut received) = (0, 0, 0);
    for path in rawlog_files(dir).difference(before) {
        let data = std::fs::read(path).expect("read rawlog");
        match path.extension().and_then(|e| e.to_str()) {
            Some("in") => {
                sent += data.len() as u64;
                commands += data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
            }
            Some("out") => received += data.len() as u64,
            _ => {}
        }
    }
    (commands, sent, received)
}

struct Mailbox {
    name: String,
    dovecot: Dovecot,
    inbox: ImapInbox,
    cycle: Vec<Duration>,
    phase: Vec<Duration>,
    traffic: Vec<(usize, u64, u64)>,
}

async fn open(dovecot: &Dovecot) -> ImapInbox {
    ImapInbox::connect(&dovecot.probe_settings::<ImapSettings>())
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", dovecot.log()))
}

/// Baseline, delivery, wait, cleanup on an open connection.
async fn cycle(dovecot: &Dovecot, inbox: &mut ImapInbox) -> Duration {
    let bytes = probe_mail(Utc::now());
    let started = Instant::now();
    let baseline = inbox.baseline().await.expect("baseline");
    deliver(&dovecot.maildir, Folder::Inbox, &bytes, Utc::now()).expect("deliver");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let found =
        inbox.wait(&baseline, &Matcher::new(FROM, TO), deadline).await.expect("wait").found.expect("probe mail found");
    inbox.cleanup(&found, &Cleanup::Delete).await.expect("cleanup");
    started.elapsed()
}

/// The whole inbox phase of one probe run, on its own session.
async fn phase(dovecot: &Dovecot) -> Duration {
    let bytes = probe_mail(Utc::now());
    let started = Instant::now();
    let mut inbox = open(dovecot).await;
    let baseline = inbox.baseline().await.expect("baseline");
    let stale_before = baseline.taken_at - chrono::Duration::minutes(5);
    let window = cognito_delivery_probe::inbox::LateWindow { after: None, before: stale_before };
    inbox.sweep(&baseline, &Matcher::new(FROM, TO), &window, &Cleanup::Delete).await.expect("sweep");
    deliver(&dovecot.maildir, Folder::Inbox, &bytes, Utc::now()).expect("deliver");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let found =
        inbox.wait(&baseline, &Matcher::new(FROM, TO), deadline).await.expect("wait").found.expect("probe mail found");
    inbox.cleanup(&found, &Cleanup::Delete).await.expect("cleanup");
    inbox.logout().await;
    started.elapsed()
}

async fn prepare(name: &str, messages: usize, extra_config: &[&str]) -> Mailbox {
    let extra_config = extra_config.iter().map(|l| l.to_string()).collect();
    let dovecot = Dovecot::start_with(&Options { rawlog: true, extra_config, ..Options::default() });
    let written = Instant::now();
    fill(&dovecot.maildir, messages);
    let written = written.elapsed();
    // Dovecot indexes the folder once, on the first SELECT.
    let indexed = Instant::now();
    let mut session = dovecot.session().await;
    let selected = session.select("INBOX").await.expect("SELECT INBOX");
    assert_eq!(selected.exists as usize, messages, "Dovecot sees every message");
    session.logout().await.expect("logout");
    let indexed = indexed.elapsed();
    // One probe run to warm the caches (the sweep's search fields get cached after first use).
    phase(&dovecot).await;
    phase(&dovecot).await;
    eprintln!("{name}: {messages} messages written in {}, indexed in {}", ms(written), ms(indexed));
    let inbox = open(&dovecot).await;
    Mailbox { name: name.to_string(), dovecot, inbox, cycle: Vec::new(), phase: Vec::new(), traffic: Vec::new() }
}

fn main() {
    let n = samples(20);
    let big: usize = std::env::var("INBOX_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let boxes = runtime.block_on(async {
        let mut boxes = vec![
            prepare("empty", 0, &[]).await,
            prepare(&format!("{big}"), big, &[]).await,
            // Dovecot rescans all of cur/ whenever its mtime changed (each delivery and expunge does);
            // this setting lets it trust its index instead, like a server that is the mailbox's only writer.
            prepare(&format!("{big}, very dirty"), big, &[VERY_DIRTY]).await,
        ];
        for i in 0..n {
            for b in boxes.iter_mut() {
                let took = cycle(&b.dovecot, &mut b.inbox).await;
                b.cycle.push(took);
                let rawlog = b.dovecot.rawlog_dir.clone().expect("rawlog enabled");
                let before = rawlog_files(&rawlog);
                let took = phase(&b.dovecot).await;
                b.phase.push(took);
                b.traffic.push(traffic(&rawlog, &before));
            }
            eprint!("\rsample {}/{n}", i + 1);
        }
        eprintln!();
        boxes
    });

    println!();
    println!("probe cost by mailbox size, Dovecot over TLS on loopback, {n} samples per row (ms)");
    println!(
        "{:<16} | {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} | {:>8} {:>9} {:>9}",
        "mailbox", "p50", "p95", "max", "p50", "p95", "max", "commands", "bytes out", "bytes in"
    );
    println!(
        "{:<16} | {:^26} | {:^26} | {:^28}",
        "", "cycle (open connection)", "inbox phase (per run)", "per run (median)"
    );
    let median = |v: &[(usize, u64, u64)], f: fn(&(usize, u64, u64)) -> u64| {
        let mut x: Vec<u64> = v.iter().map(f).collect();
        x.sort();
        x.get(x.len() / 2).copied().unwrap_or(0)
    };
    for b in &boxes {
        println!(
            "{:<16} | {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} | {:>8} {:>9} {:>9}",
            b.name,
            ms(percentile(&b.cycle, 50)),
            ms(percentile(&b.cycle, 95)),
            ms(percentile(&b.cycle, 100)),
            ms(percentile(&b.phase, 50)),
            ms(percentile(&b.phase, 95)),
            ms(percentile(&b.phase, 100)),
            median(&b.traffic, |t| t.0 as u64),
            median(&b.traffic, |t| t.1),
            median(&b.traffic, |t| t.2),
        );
    }
    let ratio = |i: usize, f: fn(&Mailbox) -> &Vec<Duration>| {
        percentile(f(&boxes[i]), 50).as_secs_f64() / percentile(f(&boxes[0]), 50).as_secs_f64().max(1e-9)
    };
    for (i, b) in boxes.iter().enumerate().skip(1) {
        println!(
            "ratio {} / empty (p50): cycle {:.2}×, inbox phase {:.2}×  (goal ≤ 1.1×, DESIGN.md §10)",
            b.name,
            ratio(i, |b| &b.cycle),
            ratio(i, |b| &b.phase)
        );
    }
    println!("\"very dirty\": {VERY_DIRTY}");
}

//! What a pooled IMAP session saves a run (issue 6): the time from "open the mailbox" to "baseline taken"
//! — everything a run pays before its trigger — with a cold connection (the one-shot path: root store,
//! TCP, TLS, LOGIN, CAPABILITY, LIST, STATUS, then LOGOUT) against a session reused from the monitor's pool
//! (STATUS only), and the logins Dovecot saw for each row.
//!
//! `cargo bench --bench imap_pool`; `INBOX_BENCH_SAMPLES` changes the 50 samples per row. Prints a table,
//! asserts nothing about speed.

use std::time::{Duration, Instant};

use cognito_delivery_probe::config::ImapSettings;
use cognito_delivery_probe::inbox::pool::ImapPool;
use testkit::dovecot::Dovecot;
use testkit::stats::{ms, percentile, samples};

struct Row {
    name: &'static str,
    open_to_baseline: Vec<Duration>,
    logins: usize,
}

/// `n` cycles of checkout → baseline → close; `shared` keeps one pool (reuse), else a fresh one-shot pool
/// per cycle, as `probe --pool` does.
async fn measure(dovecot: &Dovecot, name: &'static str, shared: bool, n: usize) -> Row {
    let settings: ImapSettings = dovecot.probe_settings();
    let pool = ImapPool::default();
    let logins_before = dovecot.logins();
    let mut row = Row { name, open_to_baseline: Vec::new(), logins: 0 };
    for i in 0..n {
        let one_shot = ImapPool::one_shot();
        let pool = if shared { &pool } else { &one_shot };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let started = Instant::now();
        let mut inbox = pool.checkout(&settings, deadline).await.unwrap_or_else(|e| panic!("{e}\n{}", dovecot.log()));
        inbox.baseline().await.unwrap_or_else(|e| panic!("{e}\n{}", dovecot.log()));
        row.open_to_baseline.push(started.elapsed());
        inbox.close().await;
        eprint!("\r{name}: {}/{n}", i + 1);
    }
    eprintln!();
    // Dovecot writes its log asynchronously.
    tokio::time::sleep(Duration::from_millis(300)).await;
    row.logins = dovecot.logins() - logins_before;
    row
}

fn main() {
    let n = samples(50);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let rows = runtime.block_on(async {
        let dovecot = Dovecot::start();
        vec![
            measure(&dovecot, "cold connect (one-shot)", false, n).await,
            measure(&dovecot, "pooled session (monitor)", true, n).await,
        ]
    });
    println!();
    println!("open mailbox → baseline taken, Dovecot over TLS on loopback, {n} runs per row (ms)");
    println!("{:<26} | {:>9} {:>9} {:>9} | {:>14}", "session", "p50", "p95", "max", "Dovecot logins");
    for row in &rows {
        println!(
            "{:<26} | {:>9} {:>9} {:>9} | {:>14}",
            row.name,
            ms(percentile(&row.open_to_baseline, 50)),
            ms(percentile(&row.open_to_baseline, 95)),
            ms(percentile(&row.open_to_baseline, 100)),
            row.logins
        );
    }
}

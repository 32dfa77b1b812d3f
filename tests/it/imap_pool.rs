//! IMAP connections shared by the monitor's runs (issue 6), proved from a real Dovecot's side over TLS with
//! the AWS twin in-process: a second run reuses the first run's session (one login in Dovecot's log), a
//! session the server killed meanwhile is replaced and the run stays OK, five probes on one mailbox with
//! `max_connections = 2` never need a third connection (Dovecot itself refuses one), a run that finds every
//! connection busy is UNKNOWN before anything is sent, and the password shows nowhere.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cognito_delivery_probe::aws::Clients;
use cognito_delivery_probe::config::ProbeFile;
use cognito_delivery_probe::inbox::pool::{ImapPool, PoolTimings};
use cognito_delivery_probe::metrics::Metrics;
use cognito_delivery_probe::report::Report;
use cognito_delivery_probe::verdict::{Outcome, Phase};
use testkit::dovecot::{Dovecot, Options};

const PROD: &str = "us-east-1_knEL7cqS3";
const STAGING: &str = "us-east-1_Qp3xT9vLm";
const DEV: &str = "us-east-1_7HdWk2RsA";

/// The rig (Dovecot + twin), the probe's SDK clients for it, and a password file in its scratch dir.
struct Rig {
    rig: testkit::Rig,
    clients: Clients,
}

impl Rig {
    async fn start(options: &Options) -> Rig {
        let rig = testkit::Rig::builder().dovecot_options(options.clone()).build().await;
        std::fs::write(rig.dir().join("imap-password"), format!("{}\n", rig.dovecot().password)).unwrap();
        let clients = Clients::from_sdk_config(rig.sdk_config().await);
        Rig { rig, clients }
    }

    fn dovecot(&self) -> &Dovecot {
        self.rig.dovecot()
    }

    /// A probe file as a user writes it: `username` of `pool`, IMAP to this Dovecot, `imap_extra` lines in
    /// `[imap]`.
    fn probe(&self, pool: &str, username: &str, timeout: &str, imap_extra: &str) -> ProbeFile {
        let text = self.probe_text(pool, username, timeout, imap_extra);
        ProbeFile::parse(&text, Path::new(&format!("{username}.toml"))).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// The text of [`Rig::probe`]'s file.
    fn probe_text(&self, pool: &str, username: &str, timeout: &str, imap_extra: &str) -> String {
        format!(
            r#"pool_id = "{pool}"
username = "{username}"
timeout = "{timeout}"
{aws_section}[imap]
{imap_section}{imap_extra}
[expect]
from = "noreply@thephenom.app"
[cloudwatch]
poll_interval = "200ms"
settle = "1s"
"#,
            aws_section = self.rig.aws_section(),
            imap_section = self.dovecot().imap_toml(self.dovecot().port, &self.rig.dir().join("imap-password")),
        )
    }

    async fn run(&self, probe: &ProbeFile, pool: &ImapPool) -> Report {
        let ctx = cognito_delivery_probe::probe::RunContext {
            clients: &self.clients,
            imap: pool,
            memory: Default::default(),
        };
        cognito_delivery_probe::probe::run_with(probe, &ctx, &|_| {}).await
    }

    /// The `mailbox` label of this Dovecot in the pool's metrics.
    fn label(&self) -> String {
        format!("{}:{}", self.dovecot().host, self.dovecot().port)
    }
}

fn describe(r: &Report) -> String {
    cognito_delivery_probe::output::text(r).to_string()
}

/// The value of one series in the Prometheus text, 0 when absent.
fn series(metrics: &Metrics, name: &str, labels: &str) -> f64 {
    let text = metrics.encode();
    let prefix = format!("{name}{{{labels}}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim().parse().unwrap()).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_reuses_the_first_runs_session() {
    let rig = Rig::start(&Options::default()).await;
    let metrics = Metrics::new();
    let pool = ImapPool::with_metrics(metrics.imap());
    let probe = rig.probe(PROD, "probe-prod-fcp", "5s", "");
    for round in 1..=2 {
        let report = rig.run(&probe, &pool).await;
        assert_eq!(report.outcome, Outcome::Ok, "run {round}:\n{}", describe(&report));
    }
    assert_eq!(rig.dovecot().logins(), 1, "Dovecot saw one login for two pooled runs\n{}", rig.dovecot().log());
    let mailbox = format!("mailbox=\"{}\"", rig.label());
    assert_eq!(series(&metrics, "cognito_probe_imap_connections_opened_total", &mailbox), 1.0);
    assert_eq!(series(&metrics, "cognito_probe_imap_sessions_reused_total", &mailbox), 1.0);

    // The one-shot path shares nothing: each run logs in (and the log count above is a real measure).
    let report = cognito_delivery_probe::probe::run(&probe, &rig.clients, &|_| {}).await;
    assert_eq!(report.outcome, Outcome::Ok, "{}", describe(&report));
    assert_eq!(rig.dovecot().logins(), 2, "{}", rig.dovecot().log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_server_killed_is_replaced_and_the_run_is_ok() {
    let rig = Rig::start(&Options::default()).await;
    let probe = rig.probe(PROD, "probe-prod-fcp", "5s", "");
    let mailbox = format!("mailbox=\"{}\"", rig.label());
    // (how the dead session is noticed, pool timings): reused at once, the baseline fails and a fresh
    // connection takes it again; idle past check_after, NOOP fails before the run relies on it.
    let cases = [
        ("first command fails", PoolTimings::default()),
        ("NOOP fails", PoolTimings { check_after: Duration::ZERO, ..PoolTimings::default() }),
    ];
    for (name, timings) in cases {
        let metrics = Metrics::new();
        let pool = ImapPool::with_metrics(metrics.imap()).with_timings(timings);
        let before = rig.dovecot().logins();
        let report = rig.run(&probe, &pool).await;
        assert_eq!(report.outcome, Outcome::Ok, "{name}, first run:\n{}", describe(&report));
        rig.dovecot().kick();
        let report = rig.run(&probe, &pool).await;
        assert_eq!(report.outcome, Outcome::Ok, "{name}, after the kick:\n{}", describe(&report));
        assert_eq!(rig.dovecot().logins() - before, 2, "{name}: a new login replaced the killed session");
        let dead = format!("{mailbox},reason=\"dead\"");
        assert_eq!(series(&metrics, "cognito_probe_imap_sessions_discarded_total", &dead), 1.0, "{name}");
        assert_eq!(series(&metrics, "cognito_probe_imap_connections_opened_total", &mailbox), 2.0, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_probes_at_once_share_two_connections_and_all_are_ok() {
    // Dovecot itself refuses a third session of the user from 127.0.0.1.
    let options = Options { extra_config: vec!["mail_max_userip_connections = 2".into()], ..Options::default() };
    let rig = Rig::start(&options).await;
    let metrics = Metrics::new();
    let pool = ImapPool::with_metrics(metrics.imap());
    // Five test users of three pools, plus-addressed into the one mailbox.
    let users = [
        (PROD, "probe-prod-fcp"),
        (STAGING, "probe-staging-fcp"),
        (DEV, "probe-dev-fcp"),
        (PROD, "probe-prod-confirmed"),
        (STAGING, "probe-staging-confirmed"),
    ];
    let probes: Vec<ProbeFile> =
        users.iter().map(|(pool, user)| rig.probe(pool, user, "20s", "max_connections = 2")).collect();
    let reports = futures::future::join_all(probes.iter().map(|p| rig.run(p, &pool))).await;
    for report in &reports {
        assert_eq!(report.outcome, Outcome::Ok, "{}:\n{}\n{}", report.probe, describe(report), rig.dovecot().log());
    }
    let log = rig.dovecot().log();
    assert!(!log.contains("Maximum number of connections"), "Dovecot refused a connection:\n{log}");
    assert!(rig.dovecot().logins() <= 2, "at most two logins for five runs:\n{log}");
    let mailbox = format!("mailbox=\"{}\"", rig.label());
    let reused = series(&metrics, "cognito_probe_imap_sessions_reused_total", &mailbox);
    let waits = series(&metrics, "cognito_probe_imap_slot_wait_seconds_count", &mailbox);
    assert!(reused >= 3.0, "three runs went on pooled sessions, got {reused}\n{}", metrics.encode());
    assert!(waits >= 3.0, "three runs waited for a connection, got {waits}\n{}", metrics.encode());

    // The limit is real: with the pool's two idle sessions open, Dovecot refuses a third.
    let third = rig.dovecot().imap().await;
    let attempt = tokio::time::timeout(Duration::from_secs(10), async {
        match third.login(&rig.dovecot().username, &rig.dovecot().password).await {
            Ok(mut session) => session.noop().await.is_err(),
            Err(_) => true,
        }
    });
    let refused = attempt.await.unwrap_or(true);
    assert!(
        refused,
        "a third session was accepted: mail_max_userip_connections is not in force\n{}",
        rig.dovecot().log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_finds_every_connection_busy_is_unknown_and_sends_nothing() {
    let rig = Rig::start(&Options::default()).await;
    let metrics = Metrics::new();
    let pool = ImapPool::with_metrics(metrics.imap());
    let probe = rig.probe(PROD, "probe-prod-fcp", "1s", "max_connections = 1");
    let settings = probe.mailbox.imap().cloned().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let held = pool.checkout(&settings, deadline).await.unwrap_or_else(|e| panic!("{e}\n{}", rig.dovecot().log()));

    let report = rig.run(&probe, &pool).await;
    assert_eq!(
        (report.outcome, report.phase, report.diagnosis.code.as_str()),
        (Outcome::Unknown, Phase::Inbox, "mailbox_unavailable"),
        "{}",
        describe(&report)
    );
    let text = describe(&report);
    assert!(text.contains("all 1 IMAP connections of probe@127.0.0.1 were busy"), "{text}");
    assert!(report.trigger.is_none(), "no mail is sent that the run could not watch: {:?}", report.trigger);
    let inbox_seconds = report.timings.get(&Phase::Inbox).copied().flatten().unwrap_or(0.0);
    assert!(inbox_seconds >= 0.9, "the wait counts into the inbox phase: {inbox_seconds}");
    let mailbox = format!("mailbox=\"{}\"", rig.label());
    assert_eq!(series(&metrics, "cognito_probe_imap_slot_wait_seconds_count", &mailbox), 1.0);

    // Once the connection is free, the next run gets it (idle, logged in) and is OK.
    held.close().await;
    let report = rig.run(&probe, &pool).await;
    assert_eq!(report.outcome, Outcome::Ok, "{}", describe(&report));
    assert_eq!(rig.dovecot().logins(), 1, "{}", rig.dovecot().log());
}

/// A `MakeWriter` collecting every log line of the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

// One thread, so the test's log subscriber sees every task the pool spawns.
#[tokio::test(flavor = "current_thread")]
async fn the_password_shows_in_no_log_error_or_debug_of_the_pool() {
    let rig = Rig::start(&Options::default()).await;
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let metrics = Metrics::new();
    let pool = ImapPool::with_metrics(metrics.imap())
        .with_timings(PoolTimings { check_after: Duration::ZERO, ..PoolTimings::default() });
    let probe = rig.probe(PROD, "probe-prod-fcp", "5s", "max_connections = 1");
    let mut texts = Vec::new();
    // A run, a killed session replaced, a busy login, and a wrong password.
    let report = rig.run(&probe, &pool).await;
    assert_eq!(report.outcome, Outcome::Ok, "{}", describe(&report));
    rig.dovecot().kick();
    let report = rig.run(&probe, &pool).await;
    assert_eq!(report.outcome, Outcome::Ok, "{}", describe(&report));
    let held = pool.checkout(probe.mailbox.imap().unwrap(), tokio::time::Instant::now() + Duration::from_secs(5)).await;
    let held = held.unwrap_or_else(|e| panic!("{e}"));
    let busy = rig.probe(PROD, "probe-prod-fcp", "300ms", "max_connections = 1");
    texts.push(serde_json::to_string(&rig.run(&busy, &pool).await).unwrap());
    held.close().await;
    std::fs::write(rig.rig.dir().join("imap-password"), "canary-wrong-imap-password-q7\n").unwrap();
    let other_pool = ImapPool::with_metrics(metrics.imap());
    let report = rig.run(&probe, &other_pool).await;
    assert_eq!(report.diagnosis.code, "mailbox_unavailable", "{}", describe(&report));
    texts.push(serde_json::to_string(&report).unwrap());
    texts.push(format!("{pool:?} {other_pool:?}"));
    texts.push(metrics.encode());

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("connecting afresh"), "the pool's own logs were captured:\n{logged}");
    texts.push(logged);
    assert!(texts.iter().any(|t| t.contains("were busy")), "{texts:?}");
    for canary in [rig.dovecot().password.as_str(), "canary-wrong-imap-password-q7"] {
        for text in &texts {
            assert!(!text.contains(canary), "the secret {canary:?} leaked:\n{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_past_their_age_are_logged_out() {
    let rig = Rig::start(&Options::default()).await;
    let metrics = Metrics::new();
    let timings = PoolTimings { max_idle_age: Duration::from_millis(500), ..PoolTimings::default() };
    let pool = ImapPool::with_metrics(metrics.imap()).with_timings(timings);
    let probe = rig.probe(PROD, "probe-prod-fcp", "5s", "");
    let report = rig.run(&probe, &pool).await;
    assert_eq!(report.outcome, Outcome::Ok, "{}", describe(&report));
    let logged_out =
        || rig.dovecot().log().lines().filter(|l| l.contains("imap(probe)") && l.contains("Logged out")).count();
    let start = std::time::Instant::now();
    while logged_out() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the idle session was never logged out\n{}",
            rig.dovecot().log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expired = format!("mailbox=\"{}\",reason=\"expired\"", rig.label());
    assert_eq!(series(&metrics, "cognito_probe_imap_sessions_discarded_total", &expired), 1.0);
    // The next run logs in afresh.
    let report = rig.run(&probe, &pool).await;
    assert_eq!(report.outcome, Outcome::Ok, "{}", describe(&report));
    assert_eq!(rig.dovecot().logins(), 2, "{}", rig.dovecot().log());
}

/// The real `probe monitor` binary: two probe files of one login with `max_connections = 1` run one after
/// the other on one connection, and `/metrics` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_binary_shares_one_connection_between_two_probe_files() {
    let rig = Rig::start(&Options::default()).await;
    let probes = rig.rig.dir().join("probes");
    std::fs::create_dir(&probes).unwrap();
    for (name, pool, user) in [("prod", PROD, "probe-prod-fcp"), ("staging", STAGING, "probe-staging-fcp")] {
        std::fs::write(probes.join(format!("{name}.toml")), rig.probe_text(pool, user, "10s", "max_connections = 1"))
            .unwrap();
    }
    let (mut child, url) = testkit::monitor::start(
        testkit::monitor::command(crate::PROBE, &probes, &rig.rig.dir().join("state.sqlite"))
            .stderr(std::process::Stdio::null()),
    );
    let mailbox = format!("mailbox=\"{}\"", rig.label());
    let value = |text: &str, name: &str, labels: &str| -> f64 {
        testkit::monitor::metric(text, &format!("{name}{{{labels}}}")).unwrap_or(0.0)
    };
    let start = std::time::Instant::now();
    let text = loop {
        let (_, body, _) = crate::twin_harness::http(&url, "GET", "/metrics", &[], b"").await;
        let text = String::from_utf8(body).unwrap();
        let ok = |p: &str| value(&text, "cognito_probe_runs_total", &format!("probe=\"{p}\",result=\"ok\""));
        if ok("prod") >= 1.0 && ok("staging") >= 1.0 {
            break text;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("both probes should have run OK:\n{text}\n{}", rig.dovecot().log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(value(&text, "cognito_probe_imap_connections_opened_total", &mailbox), 1.0, "{text}");
    assert!(value(&text, "cognito_probe_imap_sessions_reused_total", &mailbox) >= 1.0, "{text}");
    assert_eq!(rig.dovecot().logins(), 1, "{}", rig.dovecot().log());

    // SIGTERM: the monitor stops and logs its idle session out instead of dropping the connection.
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a clean shutdown");
    let log = rig.dovecot().log();
    let session = log.lines().filter(|l| l.contains("imap(probe)")).collect::<Vec<_>>();
    assert!(session.iter().any(|l| l.contains("Logged out")), "LOGOUT at shutdown:\n{log}");
}

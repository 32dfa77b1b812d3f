//! The one-shot probe end to end: the AWS twin in-process (real SDK clients over HTTP), a real Dovecot over
//! TLS serving the twin's Maildir (the probe's own IMAP client), and the verdict a user needs for each
//! trigger status and each twin fault (issue: "every status of the trigger table gets the right call and
//! OK; every twin fault gets the verdict, phase and diagnosis a user needs").

use std::path::{Path, PathBuf};

use cognito_delivery_probe::aws::Clients;
use cognito_delivery_probe::aws::trigger::Trigger;
use cognito_delivery_probe::config::ProbeFile;
use cognito_delivery_probe::report::Report;
use cognito_delivery_probe::verdict::{Outcome, Phase};
use serde_json::json;
use testkit::dovecot::Dovecot;
use twin::Twin;

const PROD: &str = "us-east-1_knEL7cqS3";
const WEB_CLIENT: &str = "ujzde8gxd6ncf10epf91dhodzd";
const BACKEND_CLIENT: &str = "oc9is0j8ht9lgmxg9edn581u33";

/// The rig (Dovecot + twin) and the probe's SDK clients for it.
struct Rig {
    rig: testkit::Rig,
    clients: Clients,
}

impl Rig {
    async fn start() -> Rig {
        let rig = testkit::Rig::builder().dovecot(true).build().await;
        let clients = Clients::from_sdk_config(rig.sdk_config().await);
        Rig { rig, clients }
    }

    fn dovecot(&self) -> &Dovecot {
        self.rig.dovecot()
    }

    /// Scratch space for secrets.
    fn dir(&self) -> &Path {
        self.rig.dir()
    }

    /// A probe file as a user writes it, for `username` in `pool`, IMAP to this Dovecot.
    fn probe(&self, pool: &str, username: &str, extra: &str) -> ProbeFile {
        let text = format!(
            r#"pool_id = "{pool}"
username = "{username}"
{timeout}{extra_top}
{aws_section}
{imap_section}{extra_imap}
[expect]
from = "noreply@thephenom.app"
{extra_expect}
[cloudwatch]
poll_interval = "200ms"
settle = "1s"
"#,
            aws_section = self.rig.aws_section(),
            imap_section = self.rig.imap_section(),
            timeout = if section(extra, "top").contains("timeout") { "" } else { "timeout = \"3s\"\n" },
            extra_top = section(extra, "top"),
            extra_imap = section(extra, "imap"),
            extra_expect = section(extra, "expect"),
        );
        ProbeFile::parse(&text, Path::new("e2e.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    async fn run(&self, probe: &ProbeFile) -> Report {
        cognito_delivery_probe::probe::run(probe, &self.clients, &|_| {}).await
    }

    fn control(&self) -> &Twin {
        self.rig.control()
    }

    /// Files in INBOX and Junk (new/ and cur/).
    fn mailbox_files(&self) -> Vec<PathBuf> {
        let root = self.rig.maildir();
        [root.join("new"), root.join("cur"), root.join(".Junk/new"), root.join(".Junk/cur")]
            .iter()
            .flat_map(|d| {
                std::fs::read_dir(d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())).flatten().map(|e| e.path())
            })
            .collect()
    }
}

/// `extra` holds lines prefixed `top:`, `imap:` or `expect:`; returns those of one section.
fn section(extra: &str, name: &str) -> String {
    extra
        .lines()
        .filter_map(|l| l.trim().strip_prefix(&format!("{name}:")))
        .map(|l| format!("{}\n", l.trim()))
        .collect()
}

fn imap_mut(probe: &mut ProbeFile) -> &mut cognito_delivery_probe::config::ImapSettings {
    match &mut probe.mailbox {
        cognito_delivery_probe::config::Mailbox::Imap(imap) => imap,
        other => panic!("the rig's probes read IMAP: {other:?}"),
    }
}

fn describe(r: &Report) -> String {
    cognito_delivery_probe::output::text(r).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trigger_status_gets_its_call_and_ok() {
    let rig = Rig::start().await;
    // (username, client, expected call) — DESIGN.md §2.
    let cases: &[(&str, Option<&str>, Trigger)] = &[
        ("probe-prod-fcp", None, Trigger::Resend),
        ("probe-prod-confirmed", Some(WEB_CLIENT), Trigger::ForgotPassword),
        ("probe-prod-confirmed", None, Trigger::AdminResetUserPassword),
        ("probe-prod-reset", Some(WEB_CLIENT), Trigger::ForgotPassword),
        ("probe-prod-unconfirmed", Some(WEB_CLIENT), Trigger::ResendConfirmationCode),
    ];
    for (user, client, call) in cases {
        let extra = client.map(|c| format!("top: client_id = \"{c}\"")).unwrap_or_default();
        let report = rig.run(&rig.probe(PROD, user, &extra)).await;
        assert_eq!(report.outcome, Outcome::Ok, "{user} via {call}:\n{}", describe(&report));
        assert_eq!(report.trigger.as_ref().map(|t| t.call), Some(*call), "{user}");
        assert_eq!(report.diagnosis.code, "delivered");
        let mail = report.mail.as_ref().unwrap();
        assert_eq!(mail.folder, "INBOX");
        assert!(mail.latency.total_seconds.is_some_and(|s| (0.0..3.0).contains(&s)), "{:?}", mail.latency);
        assert_eq!(report.ses.status, "checked");
        assert!(report.timings.values().filter(|t| t.is_some()).count() >= 5, "{:?}", report.timings);
    }
    assert!(rig.mailbox_files().is_empty(), "cleanup removed every probe mail: {:?}", rig.mailbox_files());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secret_is_used_for_the_secret_hash() {
    let rig = Rig::start().await;
    std::fs::write(rig.dir().join("client-secret"), "vdgaj8gxbenyjqwx4hh5344tfjgvq4k7bn7xj8b7tfq7xkwo886").unwrap();
    let extra = format!(
        "top: client_id = \"{BACKEND_CLIENT}\"\ntop: client_secret = {{ file = {} }}",
        testkit::toml_path(&rig.dir().join("client-secret"))
    );
    let report = rig.run(&rig.probe(PROD, "probe-prod-confirmed", &extra)).await;
    assert_eq!(report.outcome, Outcome::Ok, "{}", describe(&report));

    std::fs::write(rig.dir().join("client-secret"), "not-the-secret").unwrap();
    let report = rig.run(&rig.probe(PROD, "probe-prod-confirmed", &extra)).await;
    assert_eq!(
        (report.outcome, report.diagnosis.code.as_str()),
        (Outcome::Unknown, "trigger_rejected"),
        "{}",
        describe(&report)
    );
    assert!(report.diagnosis.summary.contains("NotAuthorizedException"), "{}", report.diagnosis.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::type_complexity)] // a case table reads best as tuples
async fn every_fault_gets_the_verdict_phase_and_diagnosis_a_user_needs() {
    let rig = Rig::start().await;
    // (name, faults, extra probe lines, outcome, phase, diagnosis code, words the summary/evidence/fix must carry)
    let cases: &[(&str, serde_json::Value, &str, Outcome, Phase, &str, &[&str])] = &[
        ("healthy", json!({}), "", Outcome::Ok, Phase::Authenticate, "delivered", &[]),
        (
            "identity policy missing",
            json!({"identity_policy_missing": true}),
            "",
            Outcome::Critical,
            Phase::Ses,
            "two_piece_gotcha",
            &["two-piece gotcha", "aws_ses_identity_policy", "flat", "noreply@thephenom.app"],
        ),
        ("junk", json!({"junk": true}), "", Outcome::Warning, Phase::Inbox, "delivered_junk", &["Junk"]),
        (
            "junk is critical when asked",
            json!({"junk": true}),
            "expect: junk = \"critical\"",
            Outcome::Critical,
            Phase::Inbox,
            "delivered_junk",
            &[],
        ),
        (
            "recipient drop",
            json!({"recipient_drop": "silent"}),
            "",
            Outcome::Critical,
            Phase::Inbox,
            "recipient_side",
            &["SES sent", "rose"],
        ),
        (
            "bounce",
            json!({"recipient_drop": "bounce"}),
            "",
            Outcome::Critical,
            Phase::Ses,
            "bounced",
            &["bounced", "not listed before the trigger", "delete-suppressed-destination"],
        ),
        (
            "dkim unaligned",
            json!({"dkim": "unaligned"}),
            "",
            Outcome::Critical,
            Phase::Authenticate,
            "auth_failed",
            &[],
        ),
        ("dkim fail", json!({"dkim": "fail"}), "", Outcome::Critical, Phase::Authenticate, "auth_failed", &["dkim"]),
        (
            "dkim missing",
            json!({"dkim": "missing"}),
            "",
            Outcome::Critical,
            Phase::Authenticate,
            "auth_failed",
            &["dkim"],
        ),
        ("spf fail", json!({"spf_fail": true}), "", Outcome::Critical, Phase::Authenticate, "auth_failed", &["spf"]),
        (
            "dmarc fail",
            json!({"dmarc_fail": true}),
            "",
            Outcome::Critical,
            Phase::Authenticate,
            "auth_failed",
            &["dmarc"],
        ),
        (
            "forged upstream header is ignored",
            json!({"forged_upstream": true}),
            "",
            Outcome::Ok,
            Phase::Authenticate,
            "delivered",
            &[],
        ),
        (
            "forged pass cannot hide a dkim fail",
            json!({"forged_upstream": true, "dkim": "fail"}),
            "",
            Outcome::Critical,
            Phase::Authenticate,
            "auth_failed",
            &[],
        ),
        (
            "slow delivery",
            json!({"delivery_delay_seconds": 2}),
            "top: timeout = \"6s\"\nexpect: max_delivery = \"1s\"",
            Outcome::Warning,
            Phase::Inbox,
            "delivered_slow",
            &[],
        ),
        (
            "throttled",
            json!({"throttle": true, "throttle_operations": ["AdminCreateUser"]}),
            "",
            Outcome::Unknown,
            Phase::Trigger,
            "throttled",
            &["RESEND", "15 minutes"],
        ),
        (
            "attempt limit",
            json!({"exceptions": [{"operation": "AdminCreateUser", "name": "LimitExceededException",
                "message": "Attempt limit exceeded, please try after some time."}]}),
            "",
            Outcome::Unknown,
            Phase::Trigger,
            "throttled",
            &["LimitExceededException"],
        ),
        (
            "cognito cannot use the identity",
            json!({"exceptions": [{"operation": "AdminCreateUser", "name": "InvalidEmailRoleAccessPolicyException",
                "message": "Cognito isn't allowed to use your email identity."}]}),
            "",
            Outcome::Critical,
            Phase::Trigger,
            "cognito_cannot_send",
            &["InvalidEmailRoleAccessPolicyException"],
        ),
    ];
    for (name, faults, extra, outcome, phase, code, words) in cases {
        rig.control().reset();
        rig.control().patch_faults(faults).unwrap();
        let report = rig.run(&rig.probe(PROD, "probe-prod-fcp", extra)).await;
        let text = describe(&report);
        assert_eq!(
            (report.outcome, report.phase, report.diagnosis.code.as_str()),
            (*outcome, *phase, *code),
            "{name}:\n{text}"
        );
        for word in *words {
            assert!(text.contains(word), "{name}: report lacks {word:?}:\n{text}");
        }
    }
    // Late mail of the slow case, the dropped ones and Junk were cleaned or never written: nothing stays.
    assert!(rig.mailbox_files().is_empty(), "{:?}", rig.mailbox_files());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_side_trouble_is_unknown_and_sends_no_mail() {
    let rig = Rig::start().await;
    let cases: &[(&str, &str, &str)] = &[
        ("wrong password", "wrong", "mailbox_unavailable"),
        ("IMAP down", "port", "mailbox_unavailable"),
        ("unknown user", "user", "user_not_found"),
        ("disabled user", "disabled", "user_state"),
        ("external provider", "external", "user_state"),
        ("unverified email for ForgotPassword", "unverified", "email_unverified"),
        ("AWS unreachable", "aws", "aws_unreachable"),
    ];
    for (name, kind, code) in cases {
        let (user, extra) = match *kind {
            "user" => ("nobody-such", ""),
            "disabled" => ("probe-prod-disabled", ""),
            "external" => ("Google_107716451260948812345", ""),
            "unverified" => ("probe-prod-unverified", ""),
            _ => ("probe-prod-fcp", ""),
        };
        let mut probe = rig.probe(PROD, user, extra);
        if *kind == "unverified" {
            probe.client_id = Some(WEB_CLIENT.into());
        }
        match *kind {
            "wrong" => {
                std::fs::write(rig.dir().join("wrong"), "not-the-password").unwrap();
                imap_mut(&mut probe).password =
                    Some(cognito_delivery_probe::secret::SecretSource::File(rig.dir().join("wrong")));
            }
            "port" => {
                let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
                imap_mut(&mut probe).port = free;
            }
            _ => {}
        }
        let clients = if *kind == "aws" {
            let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            Clients::from_sdk_config(testkit::aws::sdk_config(&format!("http://127.0.0.1:{free}")).await)
        } else {
            rig.clients.clone()
        };
        let before = rig.control().sent().len();
        let report = cognito_delivery_probe::probe::run(&probe, &clients, &|_| {}).await;
        assert_eq!(
            (report.outcome, report.diagnosis.code.as_str()),
            (Outcome::Unknown, *code),
            "{name}:\n{}",
            describe(&report)
        );
        assert_eq!(rig.control().sent().len(), before, "{name}: no mail may be sent");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_mail_is_never_matched_or_deleted_and_stale_probe_mail_is_swept() {
    use twin::mail::{Folder, deliver};
    let rig = Rig::start().await;
    let root = rig.dovecot().maildir.clone();
    let long_ago = chrono::Utc::now() - chrono::Duration::hours(2);
    let msg = |from: &str, to: &str| {
        format!("From: {from}\r\nTo: {to}\r\nSubject: hello\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n")
    };
    // Another sender to the probe's address, the pool's sender to another address, and a late probe mail of
    // an earlier run (older than the timeout).
    let other_sender =
        deliver(&root, Folder::Inbox, msg("friend@example.net", "probe+prod-fcp@mail.test").as_bytes(), long_ago)
            .unwrap();
    let other_rcpt = deliver(
        &root,
        Folder::Junk,
        msg("Phenom <noreply@thephenom.app>", "probe+staging-fcp@mail.test").as_bytes(),
        long_ago,
    )
    .unwrap();
    let stale = deliver(
        &root,
        Folder::Inbox,
        msg("Phenom <noreply@thephenom.app>", "probe+prod-fcp@mail.test").as_bytes(),
        long_ago,
    )
    .unwrap();
    let _ = stale;
    let report = rig.run(&rig.probe(PROD, "probe-prod-fcp", "")).await;
    assert_eq!(report.outcome, Outcome::Ok, "{}", describe(&report));
    assert_eq!(report.late_mails, 1, "the stale probe mail is counted as late");
    let left = rig.mailbox_files();
    assert_eq!(left.len(), 2, "exactly the two foreign mails remain: {left:?}");
    let names: Vec<String> =
        left.iter().map(|p| p.file_name().unwrap().to_string_lossy().split(':').next().unwrap().to_string()).collect();
    for kept in [&other_sender, &other_rcpt] {
        let base = kept.file_name().unwrap().to_string_lossy().split(':').next().unwrap().to_string();
        assert!(names.contains(&base), "{kept:?} was touched; left: {names:?}");
    }
}

/// The reported phase is the one that failed, not a default of the diagnosis: a throttled read is a
/// resolve failure, a trigger that got no answer a trigger failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reported_phase_is_the_phase_that_failed() {
    let rig = Rig::start().await;
    // (case, faults, outcome, phase, code)
    let cases = [
        ("AdminGetUser throttled", json!({"throttle": true, "throttle_operations": ["AdminGetUser"]}), Phase::Resolve),
        (
            "DescribeUserPool throttled",
            json!({"throttle": true, "throttle_operations": ["DescribeUserPool"]}),
            Phase::Resolve,
        ),
        (
            "AdminCreateUser throttled",
            json!({"throttle": true, "throttle_operations": ["AdminCreateUser"]}),
            Phase::Trigger,
        ),
    ];
    for (case, faults, phase) in cases {
        rig.control().reset();
        rig.control().patch_faults(&faults).unwrap();
        let report = rig.run(&rig.probe(PROD, "probe-prod-fcp", "")).await;
        let got = (report.outcome, report.phase, report.diagnosis.code.as_str());
        assert_eq!(got, (Outcome::Unknown, phase, "throttled"), "{case}:\n{}", describe(&report));
    }

    // The trigger's client (retries off) reaches nothing; every read still reaches the twin.
    rig.control().reset();
    let before = rig.control().sent().len();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{dead}"))
        .test_credentials()
        .load()
        .await;
    let mut clients = rig.clients.clone();
    clients.cognito_trigger = aws_sdk_cognitoidentityprovider::Client::new(&unreachable);
    let report = cognito_delivery_probe::probe::run(&rig.probe(PROD, "probe-prod-fcp", ""), &clients, &|_| {}).await;
    let got = (report.outcome, report.phase, report.diagnosis.code.as_str());
    assert_eq!(got, (Outcome::Unknown, Phase::Trigger, "aws_unreachable"), "{}", describe(&report));
    assert!(report.diagnosis.summary.contains("may or may not have sent a mail"), "{}", report.diagnosis.summary);
    assert_eq!(rig.control().sent().len(), before);
}

/// The mailbox lost after the trigger is the probe's own trouble (UNKNOWN), and it says the mail was sent —
/// not "no mail was sent", which is true only before the trigger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imap_failure_during_the_wait_says_the_mail_was_sent() {
    let rig = Rig::start().await;
    rig.control().patch_faults(&json!({"delivery_delay_seconds": 3})).unwrap();
    let before = rig.control().sent().len();
    let probe = rig.probe(PROD, "probe-prod-fcp", "top: timeout = \"8s\"");
    let run = cognito_delivery_probe::probe::run(&probe, &rig.clients, &|_| {});
    let kick = async {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        rig.dovecot().kick();
    };
    let (report, ()) = tokio::join!(run, kick);
    let got = (report.outcome, report.phase, report.diagnosis.code.as_str());
    assert_eq!(got, (Outcome::Unknown, Phase::Inbox, "mailbox_lost"), "{}", describe(&report));
    assert!(report.diagnosis.summary.contains("a mail was sent"), "{}", report.diagnosis.summary);
    assert!(report.trigger.is_some(), "the trigger ran");
    assert_eq!(rig.control().sent().len(), before + 1, "exactly one mail went out");
}

/// With `cleanup = keep`, a run counts as late only the probe mail that arrived after the previous run
/// stopped waiting: mail judged on time and kept is never counted, and a late mail is counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_mail_is_counted_late_once_and_on_time_mail_never() {
    use cognito_delivery_probe::inbox::pool::ImapPool;
    use cognito_delivery_probe::probe::{RunContext, run_with};
    let rig = Rig::start().await;
    let probe = rig.probe(PROD, "probe-prod-fcp", "top: timeout = \"2s\"\nimap: cleanup = \"keep\"");
    let imap = ImapPool::one_shot();
    let mut previous = None;
    let mut run = async |faults: serde_json::Value| {
        rig.control().reset();
        rig.control().patch_faults(&faults).unwrap();
        let memory = cognito_delivery_probe::probe::Memory {
            previous_wait_until: previous,
            receiver: None,
            own_triggers: Vec::new(),
        };
        let ctx = RunContext { clients: &rig.clients, imap: &imap, memory };
        let report = run_with(&probe, &ctx, &|_| {}).await;
        previous = report.trigger.as_ref().map(|t| t.wait_until).or(previous);
        report
    };
    let first = run(json!({})).await;
    assert_eq!((first.outcome, first.late_mails), (Outcome::Ok, 0), "{}", describe(&first));
    assert!(first.notes.iter().any(|n| n.contains("cleanup = keep")), "the first run says why it counts nothing");
    // Each run after the previous one's mail is older than the timeout: the old rule counted it again.
    for round in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let report = run(json!({})).await;
        assert_eq!((report.outcome, report.late_mails), (Outcome::Ok, 0), "round {round}: {}", describe(&report));
    }
    // A mail that arrives after its run gave up is late, once.
    let late = run(json!({"delivery_delay_seconds": 3})).await;
    assert_eq!(late.outcome, Outcome::Critical, "{}", describe(&late));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let next = run(json!({})).await;
    assert_eq!((next.outcome, next.late_mails), (Outcome::Ok, 1), "{}", describe(&next));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let after = run(json!({})).await;
    assert_eq!((after.outcome, after.late_mails), (Outcome::Ok, 0), "{}", describe(&after));
    assert_eq!(rig.mailbox_files().len(), 6, "keep leaves every probe mail in place");
}

/// The live view shows every phase as it ends, the SES checkpoint included, with marks that say how it
/// went; timings add the inbox's two parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_shows_every_phase() {
    use cognito_delivery_probe::probe::PhaseLine;
    use cognito_delivery_probe::verdict::Mark;
    let rig = Rig::start().await;
    let lines = std::sync::Mutex::new(Vec::new());
    let progress = |l: &PhaseLine| lines.lock().unwrap().push((l.phase, l.mark));
    let report =
        cognito_delivery_probe::probe::run(&rig.probe(PROD, "probe-prod-fcp", ""), &rig.clients, &progress).await;
    assert_eq!(report.outcome, Outcome::Ok, "{}", describe(&report));
    let seen = lines.into_inner().unwrap();
    assert_eq!(seen.len(), 8, "{seen:?}");
    let before =
        [(Phase::Resolve, Mark::Ok), (Phase::Inbox, Mark::Ok), (Phase::Ses, Mark::Ok), (Phase::Trigger, Mark::Ok)];
    assert_eq!(seen[..4], before, "baselines before the trigger: {seen:?}");
    // ses ∥ inbox: the metric may rise first (ok) or the mail arrive first (the checkpoint stops, unneeded).
    let mut side_by_side = seen[4..6].to_vec();
    side_by_side.sort_by_key(|(p, _)| *p);
    assert!(matches!(side_by_side[..], [(Phase::Ses, Mark::Ok | Mark::Skip), (Phase::Inbox, Mark::Ok)]), "{seen:?}");
    assert_eq!(seen[6..], [(Phase::Authenticate, Mark::Ok), (Phase::Cleanup, Mark::Ok)], "{seen:?}");
    for phase in [Phase::Resolve, Phase::Trigger, Phase::Ses, Phase::Inbox, Phase::Authenticate, Phase::Cleanup] {
        assert!(report.timings[&phase].is_some(), "{phase} timed: {:?}", report.timings);
    }
    assert!(report.timings[&Phase::Config].is_none());
}

/// A hand-made message from the pool's sender to the test user, as anyone on the internet can send one:
/// a `Received` line and Authentication-Results claiming to be Gmail's, then `extra` header lines.
fn forgery(results: &str, message_id: &str, extra: &str) -> String {
    format!(
        "Received: from mail.evil.example (mail.evil.example [203.0.113.9]) by mx.google.com with ESMTPS id f0rg3d\r\n\
         Authentication-Results: mx.google.com;\r\n       {results}\r\n\
         From: Phenom <noreply@thephenom.app>\r\n{extra}\
         To: probe+prod-fcp@mail.test\r\nSubject: Your temporary password\r\nMessage-ID: {message_id}\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\nYour username is probe-prod-fcp and temporary password is \
         forged-0000.\r\n"
    )
}

/// Anyone who can mail the plus-addressed test user can race the real mail. Each forgery lands in INBOX
/// the moment SES accepts the probe's message — before the real one, which the receiver takes 2 s later —
/// and must neither hide an outage (a forged pass over a real DKIM failure) nor page on a healthy chain (a
/// forged fail). The real mail decides; the forgery is named in the notes and left where it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgery_racing_the_real_mail_never_decides_the_verdict() {
    use twin::mail::{Folder, deliver};
    const PASS: &str = "dkim=pass header.i=@thephenom.app header.s=s1;\r\n       spf=pass smtp.mailfrom=thephenom.app;\
                        \r\n       dmarc=pass (p=QUARANTINE) header.from=thephenom.app";
    const FAIL: &str = "dkim=fail header.i=@thephenom.app;\r\n       spf=fail smtp.mailfrom=thephenom.app;\
                        \r\n       dmarc=fail (p=QUARANTINE) header.from=thephenom.app";
    // SES's Message-ID form (research/ses-events-oauth-emf.md §1): a forger can copy it.
    const SES_FORM: &str = "<0100019ad1e2f3a4-5b6c7d8e-1111-2222-3333-444455556666-000000@email.amazonses.com>";
    let rig = Rig::start().await;
    let probe = rig.probe(PROD, "probe-prod-fcp", "top: timeout = \"15s\"");
    // (case, faults of the real chain, forged message, outcome, code, note the forgery gets)
    let cases = [
        (
            "forged pass over a real DKIM failure",
            json!({"dkim": "fail"}),
            forgery(PASS, "<forged-1@evil.example>", ""),
            Outcome::Critical,
            "auth_failed",
            "no SES Message-ID form; set aside",
        ),
        (
            "forged fail over a healthy chain",
            json!({}),
            forgery(FAIL, "<forged-2@evil.example>", ""),
            Outcome::Ok,
            "delivered",
            "no SES Message-ID form; set aside",
        ),
        (
            "two From fields and SES's Message-ID form",
            json!({"dkim": "fail"}),
            forgery(PASS, SES_FORM, "From: Phenom <noreply@thephenom.app>\r\n"),
            Outcome::Critical,
            "auth_failed",
            "2 From fields",
        ),
    ];
    for (case, faults, forged, outcome, code, note) in cases {
        rig.control().reset();
        rig.control().patch_faults(&faults).unwrap();
        rig.control().patch_faults(&json!({"delivery_delay_seconds": 2})).unwrap();
        let (twin, root, sent_before) =
            (rig.control().clone(), rig.rig.maildir().to_path_buf(), rig.control().sent().len());
        let forger = tokio::spawn(async move {
            while twin.sent().len() == sent_before {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            deliver(&root, Folder::Inbox, forged.as_bytes(), chrono::Utc::now()).unwrap()
        });
        let report = rig.run(&probe).await;
        let forged_file = forger.await.unwrap();
        assert_eq!((report.outcome, report.diagnosis.code.as_str()), (outcome, code), "{case}:\n{}", describe(&report));
        let foreign: Vec<&String> = report.notes.iter().filter(|n| n.starts_with("foreign mail:")).collect();
        assert!(
            foreign.len() == 1 && foreign[0].contains(note),
            "{case}: one foreign note saying {note:?}: {:?}",
            report.notes
        );
        let mail = report.mail.as_ref().unwrap_or_else(|| panic!("{case}: no mail judged\n{}", describe(&report)));
        assert!(mail.ses_message_id.is_some(), "{case}: the judged mail is SES's: {mail:?}");
        let base = forged_file.file_name().unwrap().to_string_lossy().split(':').next().unwrap().to_string();
        assert!(
            rig.mailbox_files().iter().any(|p| p.file_name().unwrap().to_string_lossy().starts_with(&base)),
            "{case}: the forgery was deleted"
        );
    }
}

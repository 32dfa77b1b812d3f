//! `[imap.oauth2]`: the probe gets its own XOAUTH2 access tokens from a loopback token endpoint
//! (`testkit::oauth2`) and logs in to a real Dovecot whose `oauth2` passdb asks that endpoint's
//! introspection. Each grant logs in; a long `probe monitor` run refreshes the short-lived token before it
//! expires, never failing a login; a revoked grant is UNKNOWN `imap_oauth2` with the provider's fix; no
//! token, secret or refresh token shows in any output; `probe doctor`'s `imap.oauth2` check.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cognito_delivery_probe::config::{ImapAuth, ImapSettings, OAuth2Settings, ProbeFile};
use cognito_delivery_probe::doctor::Status;
use cognito_delivery_probe::doctor::imap::oauth2_check;
use cognito_delivery_probe::inbox::InboxError;
use cognito_delivery_probe::inbox::imap::ImapInbox;
use cognito_delivery_probe::inbox::oauth2::TokenCache;

use testkit::dovecot::{Dovecot, Options};
use testkit::monitor::{self, metric, sigterm, wait_for};
use testkit::oauth2::{Grants, TestKey, TokenEndpoint};
use testkit::rig::{Rig, toml_path};

const USER: &str = "probe";
const CLIENT_ID: &str = "probe-client-1234.apps.example";
const CLIENT_SECRET: &str = "cs-canary-Hq72vN";
const REFRESH_TOKEN: &str = "rt-canary-Jp39xW";
const SA_EMAIL: &str = "probe@probe-project.iam.gserviceaccount.com";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn grants(key: Option<&TestKey>, expires_in: u64) -> Grants {
    Grants {
        username: USER.into(),
        client_id: CLIENT_ID.into(),
        client_secret: Some(CLIENT_SECRET.into()),
        refresh_token: Some(REFRESH_TOKEN.into()),
        rotate: true,
        service_account: key.map(|k| (SA_EMAIL.to_string(), k.public_pem.clone())),
        certificate: key.map(|k| (k.public_pem.clone(), k.x5t.clone())),
        expires_in,
        scope: Some("https://mail.google.com/".into()),
    }
}

fn oauth2_dovecot(endpoint: &TokenEndpoint) -> Options {
    Options { oauth2_introspection_url: Some(endpoint.introspection_url.clone()), ..Options::default() }
}

/// The `[imap.oauth2]` body of the refresh-token grant, secrets in files under `dir`.
fn refresh_section(dir: &Path, endpoint: &TokenEndpoint) -> String {
    std::fs::write(dir.join("client-secret"), CLIENT_SECRET).unwrap();
    std::fs::write(dir.join("refresh-token"), REFRESH_TOKEN).unwrap();
    format!(
        "grant = \"refresh_token\"\nprovider = \"google\"\ntoken_url = \"{url}\"\nclient_id = \"{CLIENT_ID}\"\n\
         client_secret = {{ file = {secret} }}\nrefresh_token = {{ file = {refresh} }}\n",
        url = endpoint.token_url,
        secret = toml_path(&dir.join("client-secret")),
        refresh = toml_path(&dir.join("refresh-token")),
    )
}

fn settings_with(dovecot: &Dovecot, section: &str) -> ImapSettings {
    let mut settings: ImapSettings = dovecot.probe_settings();
    settings.auth = ImapAuth::Xoauth2;
    settings.password = None;
    settings.oauth2 = Some(toml::from_str::<OAuth2Settings>(section).unwrap_or_else(|e| panic!("{e}\n{section}")));
    settings
}

async fn logs_in(dovecot: &Dovecot, settings: &ImapSettings, tokens: &TokenCache, case: &str) {
    let mut inbox = match ImapInbox::connect_with(settings, None, tokens).await {
        Ok(inbox) => inbox,
        Err(e) => panic!("{case}: XOAUTH2 login failed: {e}\n{}", dovecot.log()),
    };
    inbox.baseline().await.unwrap_or_else(|e| panic!("{case}: baseline: {e}"));
    inbox.logout().await;
}

#[tokio::test]
async fn each_grant_gets_a_token_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::generate(dir.path());
    let endpoint = TokenEndpoint::start(grants(Some(&key), 300));
    let dovecot = Dovecot::start_with(&oauth2_dovecot(&endpoint));
    assert_eq!(dovecot.username, USER);

    let refresh = settings_with(&dovecot, &refresh_section(dir.path(), &endpoint));
    logs_in(&dovecot, &refresh, &TokenCache::default(), "refresh_token").await;
    assert_eq!(endpoint.issued("refresh_token"), 1);

    // A service account's JSON key whose token_uri is the endpoint: domain-wide delegation as `probe`.
    let sa_key = serde_json::json!({
        "type": "service_account",
        "client_email": SA_EMAIL,
        "private_key_id": "k1",
        "private_key": key.private_pem,
        "token_uri": endpoint.token_url,
    });
    std::fs::write(dir.path().join("sa.json"), sa_key.to_string()).unwrap();
    let sa = settings_with(
        &dovecot,
        &format!("grant = \"service_account\"\nkey = {{ file = {} }}\n", toml_path(&dir.path().join("sa.json"))),
    );
    logs_in(&dovecot, &sa, &TokenCache::default(), "service_account").await;
    assert_eq!(endpoint.issued(JWT_BEARER), 1, "the endpoint verified the signed assertion");

    let app_secret = settings_with(
        &dovecot,
        &format!(
            "grant = \"client_credentials\"\ntoken_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
             client_secret = {{ file = {} }}\n",
            endpoint.token_url,
            toml_path(&dir.path().join("client-secret"))
        ),
    );
    logs_in(&dovecot, &app_secret, &TokenCache::default(), "client_credentials with a secret").await;

    std::fs::write(dir.path().join("cert-key.pem"), &key.private_pem).unwrap();
    let app_cert = settings_with(
        &dovecot,
        &format!(
            "grant = \"client_credentials\"\ntoken_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
             certificate_key = {{ file = {} }}\ncertificate_thumbprint = \"{}\"\n",
            endpoint.token_url,
            toml_path(&dir.path().join("cert-key.pem")),
            key.thumbprint_hex
        ),
    );
    logs_in(&dovecot, &app_cert, &TokenCache::default(), "client_credentials with a certificate").await;
    assert_eq!(endpoint.issued("client_credentials"), 2, "secret and certificate assertion both accepted");
    assert_eq!(endpoint.introspections().1, 0, "Dovecot never saw an inactive token");
}

#[tokio::test]
async fn a_cached_token_serves_logins_until_its_margin_and_a_rotated_refresh_token_is_used() {
    let dir = tempfile::tempdir().unwrap();
    // 8 s tokens are replaced 2 s before expiry (a quarter of their life).
    let endpoint = TokenEndpoint::start(grants(None, 8));
    let dovecot = Dovecot::start_with(&oauth2_dovecot(&endpoint));
    let settings = settings_with(&dovecot, &refresh_section(dir.path(), &endpoint));
    let tokens = TokenCache::default();

    logs_in(&dovecot, &settings, &tokens, "first").await;
    logs_in(&dovecot, &settings, &tokens, "second, cached").await;
    assert_eq!(endpoint.issued("refresh_token"), 1, "the second login reused the cached token");

    tokio::time::sleep(Duration::from_millis(6500)).await;
    logs_in(&dovecot, &settings, &tokens, "third, past the margin").await;
    // The endpoint rotates refresh tokens and refuses the old one: the second refresh used the new one.
    assert_eq!(endpoint.issued("refresh_token"), 2, "refreshed before expiry with the rotated refresh token");
    assert_eq!(endpoint.refused("invalid_grant"), 0);
    assert_eq!(endpoint.introspections().1, 0, "no login was refused");
}

#[tokio::test]
async fn a_token_the_server_refuses_is_reported_with_its_challenge_and_replaced_at_the_next_login() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = TokenEndpoint::start(grants(None, 3600));
    let dovecot = Dovecot::start_with(&oauth2_dovecot(&endpoint));
    let settings = settings_with(&dovecot, &refresh_section(dir.path(), &endpoint));
    let tokens = TokenCache::default();
    logs_in(&dovecot, &settings, &tokens, "first").await;

    // The cached token is still fresh for the probe, but the provider no longer accepts it.
    endpoint.expire_tokens();
    let err = ImapInbox::connect_with(&settings, None, &tokens).await.err().expect("a dead token must not log in");
    let text = err.to_string();
    assert!(matches!(err, InboxError::Login { .. }), "{err:?}");
    assert!(text.contains("the server refused the token: status"), "the XOAUTH2 challenge, decoded: {text}");
    assert_no_secret(&endpoint, &format!("{text} {err:?}"), "login error");

    logs_in(&dovecot, &settings, &tokens, "after the refusal").await;
    assert_eq!(endpoint.issued("refresh_token"), 2, "the refused token was dropped and a new one asked for");
}

/// A probe file of the default scenario's FORCE_CHANGE_PASSWORD user whose mailbox logs in with
/// `[imap.oauth2]`.
fn probe_file(rig: &Rig, name: &str, interval: &str, oauth2: &str) -> String {
    let d = rig.dovecot();
    format!(
        r#"name = "{name}"
pool_id = "us-east-1_knEL7cqS3"
username = "probe-prod-fcp"
timeout = "3s"
interval = "{interval}"
[aws]
endpoint_url = "{endpoint}"
[imap]
host = "{host}"
port = {port}
ca_file = {ca}
username = "{USER}"
auth = "xoauth2"
poll_interval = "250ms"
trusted_authserv_ids = ["mx.google.com"]
[imap.oauth2]
{oauth2}
[cloudwatch]
poll_interval = "200ms"
settle = "1s"
"#,
        endpoint = rig.endpoint_url(),
        host = d.host,
        port = d.port,
        ca = toml_path(&d.ca_pem_path),
    )
}

fn probe_command(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(crate::PROBE);
    command
        .args(["--config", config.to_str().unwrap()])
        .args(args)
        .env("RUST_LOG", "trace")
        .env("AWS_ACCESS_KEY_ID", testkit::aws::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", testkit::aws::SECRET_ACCESS_KEY)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    command
}

fn run_probe(config: &Path, format: &str) -> (Option<i32>, String) {
    let out = probe_command(config, &["--format", format]).output().expect("run the probe");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), all)
}

fn assert_no_secret(endpoint: &TokenEndpoint, text: &str, case: &str) {
    for secret in [CLIENT_SECRET, REFRESH_TOKEN].into_iter().map(str::to_string).chain(endpoint.handed_out()) {
        assert!(!text.contains(&secret), "{case}: a secret ({} chars) leaked into the output:\n{text}", secret.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_logs_in_with_its_own_token_and_a_revoked_grant_is_unknown_with_googles_fix() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = TokenEndpoint::start(grants(None, 300));
    let rig = Rig::builder().dovecot_options(oauth2_dovecot(&endpoint)).build().await;
    let config = rig.dir().join("prod.toml");
    std::fs::write(&config, probe_file(&rig, "prod", "5m", &refresh_section(dir.path(), &endpoint))).unwrap();

    let (code, all) = tokio::task::spawn_blocking({
        let config = config.clone();
        move || run_probe(&config, "json")
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "the run with an OAuth2 login is OK:\n{all}");
    assert_eq!(endpoint.issued("refresh_token"), 1);
    assert_no_secret(&endpoint, &all, "OK run at trace level");

    endpoint.revoke();
    for format in ["text", "json"] {
        let (code, all) = tokio::task::spawn_blocking({
            let config = config.clone();
            move || run_probe(&config, format)
        })
        .await
        .unwrap();
        assert_eq!(code, Some(3), "{format}: a refused grant is UNKNOWN, never CRITICAL:\n{all}");
        assert!(all.contains("imap_oauth2"), "{format}: the diagnosis code:\n{all}");
        assert!(all.contains("invalid_grant"), "{format}: the endpoint's error:\n{all}");
        assert!(all.contains("In production"), "{format}: Google's 7-day Testing fix:\n{all}");
        assert_no_secret(&endpoint, &all, format);
    }
    assert_eq!(rig.control().sent().len(), 1, "no mail was sent by the runs that could not log in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_monitor_run_refreshes_short_lived_tokens_and_no_login_fails() {
    let dir = tempfile::tempdir().unwrap();
    // Tokens of 4 s, runs every 10 s: every new login needs a token the previous one could not serve.
    let endpoint = TokenEndpoint::start(grants(None, 4));
    let rig = Rig::builder().dovecot_options(oauth2_dovecot(&endpoint)).build().await;
    let probes = rig.dir().join("probes");
    std::fs::create_dir(&probes).unwrap();
    std::fs::write(probes.join("prod.toml"), probe_file(&rig, "prod", "10s", &refresh_section(dir.path(), &endpoint)))
        .unwrap();
    let log = rig.dir().join("monitor.log");
    let (child, url) = monitor::start(
        monitor::command(crate::PROBE, &probes, &rig.dir().join("state.sqlite"))
            .env("RUST_LOG", "debug")
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    let runs = async |result: &str| {
        let text = reqwest_free_get(&url).await;
        metric(&text, &format!("cognito_probe_runs_total{{probe=\"prod\",result=\"{result}\"}}")).unwrap_or(0.0)
    };
    let show = || std::fs::read_to_string(&log).unwrap_or_default();
    let _print = PrintOnPanic(&log);
    for n in 1..=3 {
        wait_for(&format!("run {n}"), Duration::from_secs(40), async || {
            runs("ok").await >= n as f64 || runs("unknown").await > 0.0
        })
        .await;
        assert_eq!(runs("unknown").await, 0.0, "run {n} could not log in:\n{}", show());
        // The server drops the pooled session between runs (as Exchange does when a token expires): the
        // next run logs in afresh, with a token the cache must have refreshed.
        rig.dovecot().kick();
    }
    sigterm(child);
    let text = show();
    assert!(
        endpoint.issued("refresh_token") >= 3,
        "refreshed for each new login: {}",
        endpoint.issued("refresh_token")
    );
    assert_eq!(endpoint.introspections().1, 0, "Dovecot never saw an expired token");
    assert_eq!(endpoint.refused("invalid_grant"), 0, "the rotated refresh token was used each time");
    assert_no_secret(&endpoint, &text, "monitor log at debug level");
}

/// Prints the monitor's log when the test fails.
struct PrintOnPanic<'a>(&'a Path);

impl Drop for PrintOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- probe monitor ---\n{}", std::fs::read_to_string(self.0).unwrap_or_default());
        }
    }
}

/// GET /metrics over a plain TCP connection (the monitor serves HTTP/1.1 on loopback).
async fn reqwest_free_get(url: &str) -> String {
    let (status, body, _) = crate::twin_harness::http(url, "GET", "/metrics", &[], b"").await;
    assert_eq!(status, 200);
    String::from_utf8(body).unwrap()
}

#[tokio::test]
async fn doctor_checks_the_grant_its_scope_and_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let section = |endpoint: &TokenEndpoint| -> OAuth2Settings {
        toml::from_str(&refresh_section(dir.path(), endpoint)).unwrap()
    };

    let endpoint = TokenEndpoint::start(grants(None, 3600));
    let finding = oauth2_check(&section(&endpoint), USER, &TokenCache::default()).await;
    assert_eq!(finding.status, Status::Ok, "{finding:?}");
    assert!(finding.summary.contains("expires in 59 minutes"), "{}", finding.summary);
    assert!(finding.evidence.iter().any(|e| e.contains("https://mail.google.com/")), "{finding:?}");

    let narrow = TokenEndpoint::start(Grants {
        scope: Some("https://www.googleapis.com/auth/gmail.readonly".into()),
        ..grants(None, 3600)
    });
    let finding = oauth2_check(&section(&narrow), USER, &TokenCache::default()).await;
    assert_eq!(finding.status, Status::Fail, "{finding:?}");
    assert!(finding.summary.contains("https://mail.google.com/"), "names the missing scope: {}", finding.summary);

    endpoint.revoke();
    let finding = oauth2_check(&section(&endpoint), USER, &TokenCache::default()).await;
    assert_eq!(finding.status, Status::Fail, "{finding:?}");
    assert!(finding.summary.contains("invalid_grant"), "{}", finding.summary);
    assert!(finding.fix.contains("In production"), "Google's fix: {}", finding.fix);
    let shown = format!("{finding:?}");
    assert!(!shown.contains(CLIENT_SECRET) && !shown.contains(REFRESH_TOKEN), "{shown}");
}

#[tokio::test]
async fn doctor_checks_the_grant_before_the_login_and_logs_in_with_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = TokenEndpoint::start(grants(None, 3600));
    let dovecot = Dovecot::start_with(&oauth2_dovecot(&endpoint));
    let text = format!(
        "pool_id = \"us-east-1_knEL7cqS3\"\nusername = \"probe-prod-fcp\"\n[imap]\nhost = \"{host}\"\nport = {port}\n\
         ca_file = {ca}\nusername = \"{USER}\"\nauth = \"xoauth2\"\n[imap.oauth2]\n{oauth2}",
        host = dovecot.host,
        port = dovecot.port,
        ca = toml_path(&dovecot.ca_pem_path),
        oauth2 = refresh_section(dir.path(), &endpoint),
    );
    let probe = ProbeFile::parse(&text, Path::new("probes/p.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let findings = cognito_delivery_probe::doctor::imap::run(&probe).await;
    let checks: Vec<(&str, Status)> = findings.iter().map(|f| (f.check, f.status)).collect();
    assert_eq!(
        checks[..4],
        [
            ("imap.oauth2", Status::Ok),
            ("imap.connect", Status::Ok),
            ("imap.tls", Status::Ok),
            ("imap.login", Status::Ok)
        ],
        "{findings:#?}"
    );
    assert_eq!(endpoint.issued("refresh_token"), 1, "the login check used the token the grant check got");
}

#[tokio::test]
async fn after_authenticate_a_real_command_must_succeed_before_the_login_counts() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = TokenEndpoint::start(grants(None, 3600));
    let dovecot = Dovecot::start_with(&Options { rawlog: true, ..oauth2_dovecot(&endpoint) });
    let settings = settings_with(&dovecot, &refresh_section(dir.path(), &endpoint));
    logs_in(&dovecot, &settings, &TokenCache::default(), "login").await;
    // Dovecot's rawlog starts once the login is done: its first command is the probe's check.
    let rawlog = dovecot.rawlog_dir.as_ref().expect("rawlog");
    let mut first = Vec::new();
    for entry in std::fs::read_dir(rawlog).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "in") {
            first.extend(std::fs::read_to_string(&path).unwrap().lines().next().map(str::to_string));
        }
    }
    assert_eq!(first.len(), 1, "one session: {first:?}");
    assert!(first[0].ends_with("LIST \"\" \"\""), "the first command after AUTHENTICATE: {first:?}");
}

//! Shared set-up for the twin's integration tests: the rig's twin in-process on 127.0.0.1:0 (manual clock
//! unless a test needs real time), the real SDK clients pointed at it with test credentials and retries
//! disabled, a raw HTTP helper for malformed requests and the control endpoint, and Maildir listing.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use twin::Twin;
use twin::clock::Clock;
use twin::scenario::Scenario;

/// Prod pool of the default scenario (seeds/ runbook id).
pub const PROD: &str = "us-east-1_knEL7cqS3";
/// App client without a secret, PreventUserExistenceErrors=ENABLED.
pub const WEB_CLIENT: &str = "ujzde8gxd6ncf10epf91dhodzd";
/// App client with a secret, PreventUserExistenceErrors=LEGACY.
pub const BACKEND_CLIENT: &str = "oc9is0j8ht9lgmxg9edn581u33";
pub const BACKEND_SECRET: &str = "vdgaj8gxbenyjqwx4hh5344tfjgvq4k7bn7xj8b7tfq7xkwo886";
pub const IDENTITY: &str = "noreply@thephenom.app";

/// The manual clock's start: a Thursday noon, 25 s into the minute.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T12:00:25Z").unwrap().to_utc()
}

pub struct Env {
    pub rig: testkit::Rig,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The probe's own clients over the same configuration.
    pub clients: cognito_delivery_probe::aws::Clients,
}

impl Env {
    pub fn control(&self) -> &Twin {
        self.rig.control()
    }

    pub fn maildir(&self) -> &Path {
        self.rig.maildir()
    }

    /// Messages in INBOX and in Junk (Maildir++ `.Junk`), as delivered (`new/`).
    pub fn inbox(&self) -> Vec<PathBuf> {
        files(&self.maildir().join("new"))
    }

    pub fn junk(&self) -> Vec<PathBuf> {
        files(&self.maildir().join(".Junk/new"))
    }

    pub fn url(&self) -> String {
        self.rig.endpoint_url()
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    out.sort();
    out
}

pub fn default_scenario() -> Scenario {
    Scenario::default_scenario().unwrap()
}

/// The default scenario on a manual clock at [`t0`].
pub async fn start() -> Env {
    start_with(default_scenario(), Some(t0())).await
}

/// A scenario on a manual clock starting at `manual`, or on the system clock when `None`.
pub async fn start_with(scenario: Scenario, manual: Option<DateTime<Utc>>) -> Env {
    let clock = manual.map_or_else(Clock::system, Clock::manual);
    let rig = testkit::Rig::builder().scenario(scenario).clock(clock).build().await;
    let conf = rig.sdk_config_without_retries().await;
    Env {
        clients: cognito_delivery_probe::aws::Clients::from_sdk_config(conf.clone()),
        cognito: aws_sdk_cognitoidentityprovider::Client::new(&conf),
        ses: aws_sdk_sesv2::Client::new(&conf),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&conf),
        rig,
    }
}

/// The code and message of an SDK error, for table-driven assertions.
pub fn code_and_message<E, R>(err: &aws_sdk_cognitoidentityprovider::error::SdkError<E, R>) -> (String, String)
where
    E: aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(e) => (e.code().unwrap_or("<no code>").to_string(), e.message().unwrap_or("").to_string()),
        None => ("<not a service error>".to_string(), format!("{err:?}")),
    }
}

/// A raw HTTP/1.1 exchange with the twin: status and body.
pub async fn http(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP response without a header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec(), head)
}

/// Parses a delivered message.
pub fn parse(path: &Path) -> (Vec<u8>, mail_parser::Message<'static>) {
    let bytes = std::fs::read(path).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&bytes).unwrap().into_owned();
    (bytes, msg)
}

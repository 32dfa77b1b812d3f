//! A private moto (`moto_server`, PyPI) for the conformance tests: started as a child process on 127.0.0.1
//! on a free port, ready once `GET /moto-api/` answers 200, emptied with `POST /moto-api/reset`, killed on
//! drop. One port serves every service: moto routes by the SigV4 credential scope, and unsigned Cognito
//! calls (ForgotPassword) by `X-Amz-Target` (research/aws.md §4.1). Its account is always 123456789012.
//!
//! A missing `moto_server` fails the test with the install command; it never skips.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;

/// These tests were written against moto 5.2.1, the version `tests/run-all.sh` installs.
pub const INSTALL_HINT: &str = "install moto: `pip install \"moto[cognitoidp]==5.2.1\" flask flask-cors` \
                                (`bash tests/run-all.sh` does it when moto_server is missing or another version)";
/// research/aws.md §4.1: "Account: 123456789012 (any access key works)".
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// How long moto may take to import its services and bind (a cold Python start on a busy machine).
const STARTUP: Duration = Duration::from_secs(60);

/// A running moto_server. Killed (and reaped) on drop.
pub struct Moto {
    pub port: u16,
    child: Child,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    /// Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until it answers. When another process
    /// took the port between probing and binding (tests start servers in parallel), tries a new one.
    pub fn start() -> Moto {
        let mut last_log = String::new();
        for _ in 0..3 {
            match Self::try_start() {
                Ok(moto) => return moto,
                Err(log) if log.contains("Address already in use") => last_log = log,
                Err(log) => panic!("{log}"),
            }
        }
        panic!("moto_server could not bind a free port three times\n--- moto log ---\n{last_log}");
    }

    fn try_start() -> Result<Moto, String> {
        let dir = tempfile::tempdir().expect("temp dir for moto's log");
        let log_path = dir.path().join("moto.log");
        let port = free_port();
        let log = std::fs::File::create(&log_path).expect("create moto log");
        let err_log = log.try_clone().expect("clone moto log handle");
        // MOTO_SERVER names the executable when it is not on PATH (e.g. inside a virtualenv).
        let program = std::env::var_os("MOTO_SERVER").unwrap_or_else(|| "moto_server".into());
        let child = match Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .spawn()
        {
            Ok(child) => child,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                panic!("{} not found (PATH, or $MOTO_SERVER); {INSTALL_HINT}", program.to_string_lossy())
            }
            Err(err) => panic!("could not start moto_server: {err}; {INSTALL_HINT}"),
        };
        let mut moto = Moto { port, child, log_path, _dir: dir };
        moto.wait_ready()?;
        Ok(moto)
    }

    /// Polls until moto answers; Err carries the reason and moto's log.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll moto_server") {
                return Err(format!(
                    "moto_server exited with {status} before answering; {INSTALL_HINT}\n--- moto log ---\n{}",
                    self.log()
                ));
            }
            if matches!(self.request("GET", "/moto-api/"), Ok(200)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "moto_server did not answer on 127.0.0.1:{} within {STARTUP:?}\n--- moto log ---\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forgets every pool, user, identity and policy (research/aws.md §4.1 `POST /moto-api/reset`).
    pub fn reset(&self) {
        let status = self.request("POST", "/moto-api/reset").expect("reach moto_server");
        assert_eq!(status, 200, "POST /moto-api/reset\n--- moto log ---\n{}", self.log());
    }

    /// The SDK configuration for moto: its endpoint, us-east-1, test credentials (research/aws.md §4.1
    /// "Rust client setup").
    pub async fn sdk_config(&self) -> SdkConfig {
        crate::aws::sdk_config(&self.endpoint_url()).await
    }

    /// `sent_notifications` of one topic from moto's model dump (`GET /moto-api/data.json`, research/aws.md
    /// §4.1): one `[message_id, message, subject, attributes, group_id]` per `Publish`, in order.
    pub fn sent_notifications(&self, topic_arn: &str) -> Vec<Vec<serde_json::Value>> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).expect("reach moto_server");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("set a read timeout");
        // HTTP/1.0: no chunked encoding, the body ends when the connection closes.
        write!(stream, "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("send the request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read data.json");
        let text = String::from_utf8_lossy(&raw);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        let data: serde_json::Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("data.json ({e}): {body:.300}"));
        let topics =
            data["sns"]["Topic"].as_array().unwrap_or_else(|| panic!("no sns.Topic in data.json: {body:.300}"));
        let topic =
            topics.iter().find(|t| t["arn"] == topic_arn).unwrap_or_else(|| panic!("{topic_arn} not in {topics:?}"));
        serde_json::from_value(topic["sent_notifications"].clone()).expect("sent_notifications is a list of lists")
    }

    /// moto's combined stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// A bare HTTP/1.1 exchange; the status code.
    fn request(&self, method: &str, path: &str) -> std::io::Result<u16> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            self.port
        )?;
        let mut head = Vec::new();
        stream.read_to_end(&mut head)?;
        let text = String::from_utf8_lossy(&head);
        text.split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {:.80}", text)))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
            eprintln!("--- moto log (127.0.0.1:{}), last {} lines ---\n{}", self.port, tail.len(), tail.join("\n"));
        }
    }
}

/// A port that was free a moment ago (bind to :0, read it, release it).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

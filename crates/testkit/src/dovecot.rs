//! A private Dovecot for the tests: Debian's `dovecot-imapd` 2.3 started as a child process with its own
//! configuration in a temp dir (own base_dir, state_dir and log; `-F -c <conf>`, no system config),
//! listening only on 127.0.0.1 on a free port with implicit TLS (imaps) under a certificate of the test CA,
//! one passwd-file user, `mail_location = maildir:<dir>` (Maildir++: Junk on disk at `.Junk`, marked
//! SPECIAL-USE `\Junk`) and IDLE. Killed on drop; its log is printed when a test panics.
//!
//! [`Options::oauth2_introspection_url`] adds Dovecot 2.3's `oauth2` passdb for SASL XOAUTH2/OAUTHBEARER:
//! Dovecot POSTs `token=<token>` to that URL (`introspection_mode = post`, RFC 7662 §2.1) and accepts the
//! login when the answer has `"active": true` and `"username"` equal to the login name. LOGIN/PLAIN keep
//! using the passwd-file.
//!
//! Running as root (CI containers), Dovecot's own processes run as the users the Debian package creates
//! (`dovecot` internal, `dovenull` login) and mail is accessed as `nobody`, because Dovecot refuses mail
//! access as uid 0; the Maildir is created owned by that user so root's deliveries and Dovecot's index
//! writes both work. Running as a normal user, every process is that user.

use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, pki_types::ServerName};

use crate::tls::{TestCa, client_config_trusting};

const DOVECOT: &str = "/usr/sbin/dovecot";
const INSTALL_HINT: &str =
    "install Debian's dovecot-imapd (`apt-get install dovecot-imapd`; `bash tests/run-all.sh` does it)";

/// A running private Dovecot. Fields are what a client needs to reach it.
pub struct Dovecot {
    pub host: String,
    pub port: u16,
    /// The test CA that issued the server certificate; clients verify against it.
    pub ca_pem_path: PathBuf,
    pub username: String,
    pub password: String,
    /// A file holding `password`, for the probe's `SecretSource::File`.
    pub password_file: PathBuf,
    /// The Maildir Dovecot serves (INBOX at the root, Junk at `.Junk`).
    pub maildir: PathBuf,
    /// With [`Options::rawlog`]: one `<date>-<pid>.in`/`.out` pair per IMAP session.
    pub rawlog_dir: Option<PathBuf>,
    conf_path: PathBuf,
    log_path: PathBuf,
    stderr_path: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

/// How the private Dovecot is configured beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Enables the `oauth2` passdb (XOAUTH2, OAUTHBEARER) against this token-introspection URL.
    pub oauth2_introspection_url: Option<String>,
    /// Records every IMAP session's traffic (`rawlog_dir`) so benchmarks can count commands and bytes.
    pub rawlog: bool,
    /// Extra `dovecot.conf` lines, e.g. `maildir_very_dirty_syncs = yes`.
    pub extra_config: Vec<String>,
    /// The personal namespace's hierarchy separator (default `/`), e.g. `.` as Courier and Cyrus use.
    pub namespace_separator: Option<char>,
    /// The personal namespace's prefix (RFC 2342; default none), e.g. `INBOX.` as Courier and Cyrus without
    /// altnamespace use: then the Junk folder is `INBOX.Junk`.
    pub namespace_prefix: Option<String>,
    /// The Junk folder without SPECIAL-USE `\Junk` (RFC 6154), as on servers that mark none.
    pub junk_without_special_use: bool,
}

/// Who Dovecot's processes and the mail user run as.
struct Accounts {
    internal_user: String,
    internal_group: String,
    login_user: String,
    mail_uid: u32,
    mail_gid: u32,
}

impl Accounts {
    fn detect(dir: &Path) -> Accounts {
        // The owner of /proc/self is this process's effective uid.
        let meta = std::fs::metadata("/proc/self").expect("read /proc/self");
        if meta.uid() == 0 {
            for user in ["dovecot", "dovenull"] {
                let known = Command::new("getent").args(["passwd", user]).output().is_ok_and(|o| o.status.success());
                assert!(known, "user {user} is missing (created by Debian's dovecot-core); {INSTALL_HINT}");
            }
            Accounts {
                internal_user: "dovecot".into(),
                internal_group: "dovecot".into(),
                login_user: "dovenull".into(),
                mail_uid: 65534,
                mail_gid: 65534,
            }
        } else {
            let name = |flag: &str| {
                let out = Command::new("id").arg(flag).output().expect("run id");
                String::from_utf8_lossy(&out.stdout).trim().to_string()
            };
            let own = std::fs::metadata(dir).expect("temp dir metadata");
            Accounts {
                internal_user: name("-un"),
                internal_group: name("-gn"),
                login_user: name("-un"),
                mail_uid: own.uid(),
                mail_gid: own.gid(),
            }
        }
    }
}

impl Dovecot {
    /// Starts Dovecot and waits until it greets over TLS. Panics with an install hint when the binary is
    /// missing, and with Dovecot's log when it does not come up.
    pub fn start() -> Dovecot {
        Self::start_with(&Options::default())
    }

    /// Like [`Dovecot::start`], with [`Options`].
    pub fn start_with(options: &Options) -> Dovecot {
        assert!(Path::new(DOVECOT).exists(), "{DOVECOT} not found: {INSTALL_HINT}");
        let mut last_log = String::new();
        for _ in 0..3 {
            match Self::try_start(options) {
                Ok(dovecot) => return dovecot,
                // Another process took the port between probing and binding: try a new one.
                Err(log) if log.contains("Address already in use") => last_log = log,
                Err(log) => panic!("Dovecot did not start; its log:\n{log}"),
            }
        }
        panic!("Dovecot could not bind a free port three times; its log:\n{last_log}");
    }

    fn try_start(options: &Options) -> Result<Dovecot, String> {
        let dir = tempfile::Builder::new().prefix("dovecot-test").tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        // Dovecot's unprivileged processes must reach the files below.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        let accounts = Accounts::detect(&root);
        let ca = TestCa::create(&root);

        let maildir = root.join("Maildir");
        let home = root.join("home");
        for d in [
            home.clone(),
            maildir.clone(),
            maildir.join("tmp"),
            maildir.join("new"),
            maildir.join("cur"),
            maildir.join(".Junk"),
            maildir.join(".Junk/tmp"),
            maildir.join(".Junk/new"),
            maildir.join(".Junk/cur"),
        ] {
            std::fs::create_dir_all(&d).expect("create Maildir");
            std::os::unix::fs::chown(&d, Some(accounts.mail_uid), Some(accounts.mail_gid)).expect("chown Maildir");
        }

        let username = "probe".to_string();
        let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
        let users = root.join("users");
        std::fs::write(
            &users,
            format!(
                "{username}:{{PLAIN}}{password}:{}:{}::{}::\n",
                accounts.mail_uid,
                accounts.mail_gid,
                home.display()
            ),
        )
        .expect("write passwd-file");
        let password_file = root.join("password");
        std::fs::write(&password_file, format!("{password}\n")).expect("write password file");
        let oauth2 = options.oauth2_introspection_url.as_ref().map(|url| {
            let path = root.join("oauth2.conf.ext");
            std::fs::write(&path, oauth2_config(url)).expect("write oauth2 config");
            path
        });

        let rawlog_dir = options.rawlog.then(|| {
            let dir = home.join("rawlog");
            std::fs::create_dir_all(&dir).expect("create rawlog dir");
            std::os::unix::fs::chown(&dir, Some(accounts.mail_uid), Some(accounts.mail_gid)).expect("chown rawlog");
            dir
        });
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).expect("free port").port();
        let log_path = root.join("dovecot.log");
        let conf = root.join("dovecot.conf");
        let mut text = config(
            &root,
            &accounts,
            &ca,
            &maildir,
            &users,
            &log_path,
            port,
            oauth2.as_deref(),
            rawlog_dir.as_deref(),
            &namespace(options),
        );
        for line in &options.extra_config {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&conf, text).expect("write config");

        let stderr_path = root.join("stderr.log");
        let child = Command::new(DOVECOT)
            .args(["-F", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {DOVECOT}: {e}; {INSTALL_HINT}"));

        let mut dovecot = Dovecot {
            host: Ipv4Addr::LOCALHOST.to_string(),
            port,
            ca_pem_path: ca.ca_pem_path,
            username,
            password,
            password_file,
            maildir,
            rawlog_dir,
            conf_path: conf.clone(),
            log_path,
            stderr_path,
            child,
            _dir: dir,
        };
        dovecot.wait_ready()?;
        Ok(dovecot)
    }

    /// Connect and read the IMAP greeting over verified TLS; Err carries the log when Dovecot exits or
    /// does not greet within 20 s.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("dovecot exited with {status}\n{}", self.log()));
            }
            if let Ok(tcp) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) {
                match greeting(tcp, &self.ca_pem_path) {
                    // Until its auth process is up Dovecot greets "* OK Waiting for authentication…".
                    Ok(line) if line.starts_with("* OK") && line.contains("ready") => return Ok(()),
                    Ok(line) if line.starts_with("* OK") && Instant::now() < deadline => {}
                    Ok(line) => {
                        return Err(format!("unexpected greeting {line:?}\n{}", self.log()));
                    }
                    Err(_) if Instant::now() < deadline => {}
                    Err(e) => return Err(format!("no TLS greeting: {e}\n{}", self.log())),
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("dovecot did not listen on 127.0.0.1:{} within 20 s\n{}", self.port, self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Dovecot's log file and its stderr, for assertion messages.
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        format!("--- dovecot.log ---\n{log}--- stderr ---\n{stderr}")
    }

    /// Successful IMAP logins so far, from Dovecot's own log (`imap-login: Info: Login: user=<…>`): what the
    /// server saw, independent of the client's bookkeeping.
    pub fn logins(&self) -> usize {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("imap-login: Info: Login: "))
            .count()
    }

    /// Runs `doveadm` against this instance (its own config, so its own anvil and sockets).
    pub fn doveadm(&self, args: &[&str]) -> std::process::Output {
        Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf_path)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run doveadm: {e}; {INSTALL_HINT}"))
    }

    /// The body of an `[imap]` section of a probe file reading this Dovecot over TLS on `port` (the server's
    /// own, or a closed one to make the mailbox unreachable), the password read from `password_file`.
    pub fn imap_toml(&self, port: u16, password_file: &Path) -> String {
        let s = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
        format!(
            "host = \"{host}\"\nport = {port}\nca_file = {ca}\nusername = \"{user}\"\npassword = {{ file = {pw} }}\n\
             poll_interval = \"250ms\"\ntrusted_authserv_ids = [\"mx.google.com\"]\n",
            host = self.host,
            ca = s(&self.ca_pem_path),
            user = self.username,
            pw = s(password_file),
        )
    }

    /// Disconnects every IMAP session of the test user, as an administrator or a server restart would.
    pub fn kick(&self) {
        let out = self.doveadm(&["kick", &self.username]);
        assert!(
            out.status.success(),
            "doveadm kick failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// A TCP + TLS connection with the given client config (server name 127.0.0.1).
    pub async fn tls(&self, config: Arc<rustls::ClientConfig>) -> std::io::Result<TlsStream<tokio::net::TcpStream>> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await?;
        let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        TlsConnector::from(config).connect(name, tcp).await
    }

    /// An async-imap client over TLS verified against the test CA, greeting already read.
    pub async fn imap(&self) -> async_imap::Client<TlsStream<tokio::net::TcpStream>> {
        let tls = self
            .tls(client_config_trusting(&self.ca_pem_path))
            .await
            .unwrap_or_else(|e| panic!("TLS to Dovecot: {e}\n{}", self.log()));
        let mut client = async_imap::Client::new(tls);
        let greeting = client.read_response().await;
        assert!(matches!(greeting, Some(Ok(_))), "no IMAP greeting\n{}", self.log());
        client
    }

    /// The probe's IMAP settings for this server, as the probe file's `[imap]` table (without the header):
    /// verified TLS against the test CA, LOGIN with the password from [`Dovecot::password_file`], INBOX
    /// watched (Junk found by SPECIAL-USE), IDLE on, NOOP every 5 s, no trusted authserv-ids, cleanup delete,
    /// at most 8 connections.
    pub fn probe_settings_toml(&self) -> String {
        let s = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
        format!(
            "host = \"{host}\"\nport = {port}\ntls = true\nca_file = {ca}\nauth = \"login\"\nusername = \"{user}\"\n\
             password = {{ file = {pw} }}\nfolders = [\"INBOX\"]\nidle = true\npoll_interval = \"5s\"\n\
             trusted_authserv_ids = []\ncleanup = \"delete\"\nmax_connections = 8\n",
            host = self.host,
            port = self.port,
            ca = s(&self.ca_pem_path),
            user = self.username,
            pw = s(&self.password_file),
        )
    }

    /// [`Dovecot::probe_settings_toml`] read into the probe's settings type (`ImapSettings`, which
    /// deserializes from the `[imap]` table); this crate does not know the probe's types.
    pub fn probe_settings<T: serde::de::DeserializeOwned>(&self) -> T {
        let text = self.probe_settings_toml();
        toml::from_str(&text)
            .unwrap_or_else(|e| panic!("the [imap] settings of the test Dovecot do not parse: {e}\n{text}"))
    }

    /// A logged-in IMAP session as the test user.
    pub async fn session(&self) -> async_imap::Session<TlsStream<tokio::net::TcpStream>> {
        match self.imap().await.login(&self.username, &self.password).await {
            Ok(session) => session,
            Err((e, _)) => panic!("IMAP login failed: {e}\n{}", self.log()),
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log());
        }
        // SIGTERM lets the master stop its children; SIGKILL if it does not within 3 s.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the first line a TLS server sends, verifying its certificate against the CA.
fn greeting(tcp: TcpStream, ca_pem_path: &Path) -> Result<String, String> {
    tcp.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
    let conn = rustls::ClientConnection::new(client_config_trusting(ca_pem_path), name).map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(rustls::StreamOwned::new(conn, tcp)).read_line(&mut line).map_err(|e| e.to_string())?;
    Ok(line)
}

/// The oauth2 passdb's own settings file (Dovecot 2.3 "Open Authentication v2.0 database").
fn oauth2_config(introspection_url: &str) -> String {
    format!(
        "introspection_mode = post\n\
         introspection_url = {introspection_url}\n\
         username_attribute = username\n\
         username_format = %u\n\
         active_attribute = active\n\
         active_value = true\n\
         timeout_msecs = 5000\n"
    )
}

/// The `namespace inbox` block: INBOX, and Junk (created on login) under the options' separator and prefix.
fn namespace(options: &Options) -> String {
    let prefix = options.namespace_prefix.as_ref().map(|p| format!("  prefix = {p}\n")).unwrap_or_default();
    let special_use = if options.junk_without_special_use { "" } else { "    special_use = \\Junk\n" };
    format!(
        "namespace inbox {{\n  inbox = yes\n  separator = {sep}\n{prefix}  mailbox Junk {{\n{special_use}    auto = \
         subscribe\n  }}\n}}\n",
        sep = options.namespace_separator.unwrap_or('/'),
    )
}

#[allow(clippy::too_many_arguments)] // one value per placeholder of the template
fn config(
    root: &Path,
    a: &Accounts,
    ca: &TestCa,
    maildir: &Path,
    users: &Path,
    log: &Path,
    port: u16,
    oauth2: Option<&Path>,
    rawlog_dir: Option<&Path>,
    namespace: &str,
) -> String {
    let rawlog = rawlog_dir.map(|d| format!("rawlog_dir = {}\n", d.display())).unwrap_or_default();
    // The oauth2 passdb answers only the token mechanisms; LOGIN/PLAIN stay on the passwd-file.
    let (mechanisms, oauth2_passdb) = match oauth2 {
        Some(path) => (
            "plain login xoauth2 oauthbearer",
            format!(
                "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}\n}}\n",
                path.display()
            ),
        ),
        None => ("plain login", String::new()),
    };
    format!(
        r#"# Private test instance: nothing here reads the system configuration.
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = probe-test-{port}
log_path = {log}
info_log_path = {log}
auth_verbose = yes
default_internal_user = {iu}
default_internal_group = {ig}
default_login_user = {lu}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{maildir}
mailbox_idle_check_interval = 1 secs
{rawlog}ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
auth_mechanisms = {mechanisms}
disable_plaintext_auth = yes
{oauth2_passdb}passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {users}
}}
{namespace}service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"#,
        root = root.display(),
        log = log.display(),
        iu = a.internal_user,
        ig = a.internal_group,
        lu = a.login_user,
        uid = a.mail_uid,
        gid = a.mail_gid,
        maildir = maildir.display(),
        cert = ca.server_cert_path.display(),
        key = ca.server_key_path.display(),
        users = users.display(),
    )
}

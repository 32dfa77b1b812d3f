//! The rig: what most integration tests and benches stand on. The AWS twin runs in-process on
//! 127.0.0.1:0, delivering into a Maildir in a temp dir; optionally a private Dovecot serves that same
//! Maildir over TLS; the SDK configuration points the real clients at the twin; and the probe-file
//! sections (`[aws]`, `[maildir]`, `[imap]`) a test writes are built here, so every test reaches the same
//! world the same way.
//!
//! ```no_run
//! # async fn example() {
//! let rig = testkit::Rig::builder().dovecot(true).build().await;
//! let sdk = rig.sdk_config().await; // → cognito_delivery_probe::aws::Clients::from_sdk_config(sdk)
//! let probe = format!("pool_id = \"us-east-1_knEL7cqS3\"\nusername = \"probe-prod-fcp\"\n{}{}", rig.aws_section(),
//! rig.imap_section());
//! # let _ = (sdk, probe);
//! # }
//! ```

use std::path::{Path, PathBuf};

use aws_config::SdkConfig;
use twin::clock::Clock;
use twin::scenario::Scenario;
use twin::{Twin, TwinHandle};

use crate::dovecot::{Dovecot, Options};

/// How a [`Rig`] is built: [`Rig::builder`], then [`RigBuilder::build`].
#[derive(Default)]
pub struct RigBuilder {
    scenario: Option<Scenario>,
    scenario_text: Option<String>,
    dovecot: Option<Options>,
    clock: Option<Clock>,
}

impl RigBuilder {
    /// The twin's world as a value (a test that edits the default scenario first). Default: the twin's
    /// built-in default scenario.
    pub fn scenario(mut self, scenario: Scenario) -> RigBuilder {
        self.scenario = Some(scenario);
        self
    }

    /// The twin's world as the text of a scenario file; `None` keeps the default scenario.
    pub fn scenario_text(mut self, text: Option<&str>) -> RigBuilder {
        self.scenario_text = text.map(str::to_string);
        self
    }

    /// Whether a private Dovecot serves the twin's Maildir over TLS (default: no).
    pub fn dovecot(mut self, on: bool) -> RigBuilder {
        self.dovecot = on.then(Options::default);
        self
    }

    /// A private Dovecot with these options (OAuth2 passdb, rawlog, extra configuration).
    pub fn dovecot_options(mut self, options: Options) -> RigBuilder {
        self.dovecot = Some(options);
        self
    }

    /// The twin's clock (default: the system clock); [`Clock::manual`] lets a test move time.
    pub fn clock(mut self, clock: Clock) -> RigBuilder {
        self.clock = Some(clock);
        self
    }

    /// Starts Dovecot (when asked for) and the twin. Panics with the reason — Dovecot's install hint or
    /// log, the scenario's error — when either cannot start: a rig never half-works.
    pub async fn build(self) -> Rig {
        let dir = tempfile::Builder::new().prefix("rig").tempdir().expect("temp dir for the rig");
        let dovecot = self.dovecot.map(|options| Box::new(Dovecot::start_with(&options)));
        let maildir = dovecot.as_ref().map_or_else(|| dir.path().join("Maildir"), |d| d.maildir.clone());
        let scenario = match (self.scenario, self.scenario_text) {
            (Some(scenario), _) => scenario,
            (None, Some(text)) => Scenario::parse(&text, Path::new("rig-scenario.toml"))
                .unwrap_or_else(|e| panic!("the rig's scenario does not parse: {e}\n{text}")),
            (None, None) => Scenario::default_scenario().expect("the twin's default scenario parses"),
        };
        let twin = Twin::with_clock(scenario, &maildir, self.clock.unwrap_or_else(Clock::system))
            .unwrap_or_else(|e| panic!("the twin cannot start on {}: {e}", maildir.display()))
            .serve_locally()
            .await
            .unwrap_or_else(|e| panic!("the twin cannot listen on 127.0.0.1: {e}"));
        Rig { twin, dovecot, maildir, dir }
    }
}

/// A running rig. Dropping it stops the twin and Dovecot and removes the temp dirs.
pub struct Rig {
    twin: TwinHandle,
    /// Boxed: a Dovecot handle is large, and rigs are held in enums and structs beside small values.
    dovecot: Option<Box<Dovecot>>,
    maildir: PathBuf,
    dir: tempfile::TempDir,
}

impl Rig {
    pub fn builder() -> RigBuilder {
        RigBuilder::default()
    }

    /// Typed control of the twin: faults, account, reset, clock, send log.
    pub fn control(&self) -> &Twin {
        self.twin.control()
    }

    /// The running twin itself.
    pub fn twin(&self) -> &TwinHandle {
        &self.twin
    }

    /// `http://127.0.0.1:PORT` of the twin.
    pub fn endpoint_url(&self) -> String {
        self.twin.endpoint_url()
    }

    /// The Maildir the twin delivers into (Dovecot's, when there is one).
    pub fn maildir(&self) -> &Path {
        &self.maildir
    }

    /// A scratch directory for probe files, secrets and state files; removed with the rig.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The private Dovecot. Panics when the rig was built without one.
    pub fn dovecot(&self) -> &Dovecot {
        self.dovecot.as_deref().expect("this rig has no Dovecot: build it with Rig::builder().dovecot(true)")
    }

    /// The SDK configuration for the twin: its endpoint, us-east-1, test credentials, default retries.
    pub async fn sdk_config(&self) -> SdkConfig {
        crate::aws::sdk_config(&self.endpoint_url()).await
    }

    /// Like [`Rig::sdk_config`] with SDK retries off, for tests that count calls or expect one error.
    pub async fn sdk_config_without_retries(&self) -> SdkConfig {
        crate::aws::sdk_config_without_retries(&self.endpoint_url()).await
    }

    /// The probe file's `[aws]` section reaching the twin.
    pub fn aws_section(&self) -> String {
        format!("[aws]\nendpoint_url = \"{}\"\n", self.endpoint_url())
    }

    /// The probe file's `[maildir]` section reading the twin's Maildir directly.
    pub fn maildir_section(&self) -> String {
        format!("[maildir]\npath = {}\n", toml_path(&self.maildir))
    }

    /// The probe file's `[imap]` section reading the twin's Maildir through Dovecot over TLS (see
    /// [`Dovecot::imap_toml`] for the settings). Panics when the rig has no Dovecot.
    pub fn imap_section(&self) -> String {
        let dovecot = self.dovecot();
        format!("[imap]\n{}", dovecot.imap_toml(dovecot.port, &dovecot.password_file))
    }

    /// Another twin on this rig's Maildir, for a test that needs a fresh world per case while Dovecot
    /// keeps running.
    pub async fn spawn_twin(&self, scenario: Scenario) -> TwinHandle {
        Twin::spawn(scenario, &self.maildir).await.unwrap_or_else(|e| panic!("a second twin cannot start: {e}"))
    }

    /// Stops the twin and waits for it; Dovecot and the temp dirs go when the rig is dropped.
    pub async fn shutdown(self) {
        let Rig { twin, dovecot, maildir: _, dir } = self;
        twin.shutdown().await;
        drop(dovecot);
        drop(dir);
    }
}

/// A path as a TOML string literal (quoted and escaped), for probe files.
pub fn toml_path(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

//! The `[alert]` section of a probe file and of the alert defaults file: paging thresholds and the
//! channels that carry the alerts.
//!
//! ```toml
//! [alert]
//! failure_threshold = 3        # CRITICAL runs before a page
//! success_threshold = 2        # OK runs that resolve it
//! unknown_threshold = 6        # UNKNOWN runs before probe_blind
//! reminder_interval = "30m"    # optional, at least 5m (gatus)
//! warning_is_failure = false
//! [[alert.channels]]
//! type = "exec"
//! command = ["/usr/local/bin/page", "--team", "identity"]
//! timeout = "10s"
//! ```
//!
//! Both files are read into [`AlertOverrides`] (every key optional) and layered: the built-in defaults,
//! then the alert defaults file, then the probe file — key by key, and the channels as a whole (a file that
//! lists channels, even `channels = []`, pages only through its own).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::syntax::{self, ConfigError};
use crate::alert::ChannelConfig;
use crate::duration;

/// Reminders are at least this far apart (gatus: "reminders ≥ 5 min apart").
pub const MIN_REMINDER_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Paging settings of one probe, every layer applied.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSettings {
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub unknown_threshold: u32,
    pub reminder_interval: Option<Duration>,
    pub warning_is_failure: bool,
    pub channels: Vec<ChannelConfig>,
}

impl Default for AlertSettings {
    /// Page after 3 CRITICAL runs, resolve after 2 OK runs, `probe_blind` after 6 UNKNOWN runs, no
    /// reminders, pages nobody.
    fn default() -> Self {
        AlertSettings {
            failure_threshold: 3,
            success_threshold: 2,
            unknown_threshold: 6,
            reminder_interval: None,
            warning_is_failure: false,
            channels: Vec::new(),
        }
    }
}

/// An `[alert]` section as written: only the keys it sets.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertOverrides {
    #[serde(default)]
    pub failure_threshold: Option<u32>,
    #[serde(default)]
    pub success_threshold: Option<u32>,
    #[serde(default)]
    pub unknown_threshold: Option<u32>,
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub reminder_interval: Option<Duration>,
    #[serde(default)]
    pub warning_is_failure: Option<bool>,
    #[serde(default)]
    pub channels: Option<Vec<ChannelConfig>>,
}

impl AlertOverrides {
    /// `base` with every key this section sets replaced.
    pub fn over(&self, base: &AlertSettings) -> AlertSettings {
        AlertSettings {
            failure_threshold: self.failure_threshold.unwrap_or(base.failure_threshold),
            success_threshold: self.success_threshold.unwrap_or(base.success_threshold),
            unknown_threshold: self.unknown_threshold.unwrap_or(base.unknown_threshold),
            reminder_interval: self.reminder_interval.or(base.reminder_interval),
            warning_is_failure: self.warning_is_failure.unwrap_or(base.warning_is_failure),
            channels: self.channels.clone().unwrap_or_else(|| base.channels.clone()),
        }
    }

    /// Rules serde cannot express: the dotted field and the message.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        for (field, v) in [
            ("alert.failure_threshold", self.failure_threshold),
            ("alert.success_threshold", self.success_threshold),
            ("alert.unknown_threshold", self.unknown_threshold),
        ] {
            if v == Some(0) {
                return Err((field, "is 0, expected at least 1".into()));
            }
        }
        if let Some(r) = self.reminder_interval
            && r < MIN_REMINDER_INTERVAL
        {
            let message = format!("{} is shorter than the 5m minimum between reminders", duration::show(r));
            return Err(("alert.reminder_interval", message));
        }
        for ch in self.channels.iter().flatten() {
            // An unusable channel is a configuration error, never a warning: a silent pager is the worst
            // failure a monitor can have (STYLE.md).
            ch.validate().map_err(|e| ("alert.channels", e.to_string()))?;
        }
        Ok(())
    }
}

/// The alert defaults file (`probe monitor --alerts FILE`, `probe --state … --alerts FILE`): the same
/// `[alert]` section as a probe file, and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertFile {
    #[serde(default)]
    alert: AlertOverrides,
}

/// Reads and checks an alert defaults file; errors name the file, line and key.
pub fn load_defaults(path: &Path) -> Result<AlertOverrides, ConfigError> {
    let text = syntax::read(path)?;
    let file: AlertFile = syntax::from_toml(&text, path)?;
    file.alert.check().map_err(|(field, message)| syntax::invalid(&text, path, field, message))?;
    Ok(file.alert)
}

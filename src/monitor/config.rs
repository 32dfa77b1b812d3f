//! The `[alert]` section of a probe file: paging thresholds and the channels that carry the alerts.
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

use std::time::Duration;

use serde::Deserialize;

use crate::config::de_opt_duration;

use super::state::{MIN_REMINDER_INTERVAL, Thresholds};

/// Paging settings of one probe.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    #[serde(default = "d_failure")]
    pub failure_threshold: u32,
    #[serde(default = "d_success")]
    pub success_threshold: u32,
    #[serde(default = "d_unknown")]
    pub unknown_threshold: u32,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub reminder_interval: Option<Duration>,
    #[serde(default)]
    pub warning_is_failure: bool,
    #[serde(default)]
    pub channels: Vec<ChannelSettings>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            failure_threshold: d_failure(),
            success_threshold: d_success(),
            unknown_threshold: d_unknown(),
            reminder_interval: None,
            warning_is_failure: false,
            channels: Vec::new(),
        }
    }
}

/// One paging channel: exec, webhook, PagerDuty or SNS ([`crate::alert::ChannelConfig`]).
pub type ChannelSettings = crate::alert::ChannelConfig;

impl AlertSettings {
    /// The thresholds for the state machine.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            failure: self.failure_threshold,
            success: self.success_threshold,
            unknown: self.unknown_threshold,
            reminder: self.reminder_interval,
            warning_is_failure: self.warning_is_failure,
        }
    }

    /// Rules serde cannot express: returns the dotted field and the message.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        for (field, v) in [
            ("alert.failure_threshold", self.failure_threshold),
            ("alert.success_threshold", self.success_threshold),
            ("alert.unknown_threshold", self.unknown_threshold),
        ] {
            if v == 0 {
                return Err((field, "is 0, expected at least 1".into()));
            }
        }
        if let Some(r) = self.reminder_interval
            && r < MIN_REMINDER_INTERVAL
        {
            return Err(("alert.reminder_interval", format!("{r:?} is shorter than the 5m minimum between reminders")));
        }
        for ch in &self.channels {
            // An unusable channel is a configuration error, never a warning: a silent pager is the worst
            // failure a monitor can have (STYLE.md).
            ch.validate().map_err(|e| ("alert.channels", e.to_string()))?;
        }
        Ok(())
    }
}

/// The alert defaults file (`probe monitor --alerts FILE`, `probe --state … --alerts FILE`): the same
/// `[alert]` section as a probe file, applied to every probe file that does not set a key itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertFile {
    #[serde(default)]
    alert: AlertSettings,
}

/// Reads and checks an alert defaults file; errors name the file, line and key.
pub fn load_defaults(path: &std::path::Path) -> Result<AlertSettings, crate::config::ConfigError> {
    use crate::config::{ConfigError, from_toml, key_line};
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    let file: AlertFile = from_toml(&text, path)?;
    file.alert.check().map_err(|(field, message)| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: key_line(&text, field),
        field: field.to_string(),
        message,
    })?;
    Ok(file.alert)
}

fn d_failure() -> u32 {
    3
}
fn d_success() -> u32 {
    2
}
fn d_unknown() -> u32 {
    6
}

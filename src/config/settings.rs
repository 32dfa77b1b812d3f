//! The `[expect]` and `[cloudwatch]` sections of a probe file: what the delivered mail must look like, and
//! how the SES checkpoint reads CloudWatch.

use std::time::Duration;

use serde::Deserialize;

use crate::authres::{AlignmentMode, Requirement};
use crate::duration;

/// What the delivered mail must look like.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSettings {
    /// Sender address the mail must come from; default: the pool's From address.
    #[serde(default)]
    pub from: Option<String>,
    /// Domain of the DKIM signature that must pass and align; default: the From domain.
    #[serde(default)]
    pub dkim_domain: Option<String>,
    /// Required results: `pass`, or `any` to report without judging.
    #[serde(default = "defaults::pass")]
    pub dkim: Requirement,
    #[serde(default = "defaults::pass")]
    pub spf: Requirement,
    #[serde(default = "defaults::pass")]
    pub dmarc: Requirement,
    #[serde(default = "defaults::yes")]
    pub dkim_aligned: bool,
    /// SES's default MAIL FROM never aligns (authres-realworld.md §0), so this is off by default.
    #[serde(default)]
    pub spf_aligned: bool,
    #[serde(default)]
    pub alignment: AlignmentMode,
    /// The custom MAIL FROM domain configured in SES; a different real one is a warning (SES falls back to
    /// amazonses.com silently when the MX check fails, research/authres-realworld.md §0).
    #[serde(default)]
    pub mail_from_domain: Option<String>,
    /// Verdict when the mail lands in the Junk folder.
    #[serde(default)]
    pub junk: JunkVerdict,
    /// Slower delivery than this is a WARNING.
    #[serde(default = "defaults::max_delivery", deserialize_with = "duration::de")]
    pub max_delivery: Duration,
}

impl From<&ExpectSettings> for crate::authres::Expectations {
    fn from(e: &ExpectSettings) -> Self {
        crate::authres::Expectations {
            dkim: e.dkim,
            spf: e.spf,
            dmarc: e.dmarc,
            dkim_aligned: e.dkim_aligned,
            spf_aligned: e.spf_aligned,
            alignment: e.alignment,
            dkim_domain: e.dkim_domain.clone(),
            mail_from_domain: e.mail_from_domain.clone(),
        }
    }
}

impl Default for ExpectSettings {
    fn default() -> Self {
        ExpectSettings {
            from: None,
            dkim_domain: None,
            dkim: defaults::pass(),
            spf: defaults::pass(),
            dmarc: defaults::pass(),
            dkim_aligned: true,
            spf_aligned: false,
            alignment: AlignmentMode::Relaxed,
            mail_from_domain: None,
            junk: JunkVerdict::Warning,
            max_delivery: defaults::max_delivery(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JunkVerdict {
    #[default]
    Warning,
    Critical,
}

/// The SES checkpoint (DESIGN.md §3).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchSettings {
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// Also read the `ses:configuration-set` dimension of this configuration set (default: the pool's).
    #[serde(default)]
    pub configuration_set: Option<String>,
    /// How often the metric window is re-read.
    #[serde(default = "defaults::cw_poll", deserialize_with = "duration::de")]
    pub poll_interval: Duration,
    /// How long after the inbox gave up to keep reading the metric (it lags minutes, aws.md §2.2).
    #[serde(default = "defaults::settle", deserialize_with = "duration::de")]
    pub settle: Duration,
}

impl Default for CloudWatchSettings {
    fn default() -> Self {
        CloudWatchSettings {
            enabled: true,
            configuration_set: None,
            poll_interval: defaults::cw_poll(),
            settle: defaults::settle(),
        }
    }
}

mod defaults {
    use std::time::Duration;

    pub fn yes() -> bool {
        true
    }
    pub fn pass() -> crate::authres::Requirement {
        crate::authres::Requirement::Pass
    }
    pub fn max_delivery() -> Duration {
        Duration::from_secs(120)
    }
    pub fn cw_poll() -> Duration {
        Duration::from_secs(30)
    }
    pub fn settle() -> Duration {
        Duration::from_secs(60)
    }
}

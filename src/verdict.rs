//! Outcomes and phases: the vocabulary every output shares (text, JSON, nagios, metrics, alerts).
//!
//! Outcomes follow the Monitoring Plugins convention, which is also the process exit code
//! (DESIGN.md §6): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

use serde::{Deserialize, Serialize};

/// The result of a probe run or a check, ordered by severity for everything but `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Delivered, authenticated, on time.
    Ok,
    /// Delivered but degraded (Junk folder, slow, SPF unaligned, COGNITO_DEFAULT).
    Warning,
    /// Not delivered in time, or authentication failed.
    Critical,
    /// The probe could not tell (credentials, IMAP down, throttled, bad configuration).
    Unknown,
}

impl Outcome {
    /// The process exit code of the Monitoring Plugins convention; the one place it is decided.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Warning => 1,
            Outcome::Critical => 2,
            Outcome::Unknown => 3,
        }
    }

    /// Upper-case label used in text and nagios output.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::Warning => "WARNING",
            Outcome::Critical => "CRITICAL",
            Outcome::Unknown => "UNKNOWN",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The phases of a probe run (DESIGN.md §1). One name per phase, used identically everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Config,
    Resolve,
    Trigger,
    Ses,
    Inbox,
    Authenticate,
    Cleanup,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Config,
        Phase::Resolve,
        Phase::Trigger,
        Phase::Ses,
        Phase::Inbox,
        Phase::Authenticate,
        Phase::Cleanup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Config => "config",
            Phase::Resolve => "resolve",
            Phase::Trigger => "trigger",
            Phase::Ses => "ses",
            Phase::Inbox => "inbox",
            Phase::Authenticate => "authenticate",
            Phase::Cleanup => "cleanup",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_monitoring_plugins() {
        let cases = [(Outcome::Ok, 0), (Outcome::Warning, 1), (Outcome::Critical, 2), (Outcome::Unknown, 3)];
        for (outcome, code) in cases {
            assert_eq!(outcome.exit_code(), code, "{outcome}");
        }
    }

    #[test]
    fn phase_names_match_serde_names() {
        for phase in Phase::ALL {
            let json = serde_json::to_string(&phase).unwrap();
            assert_eq!(json, format!("\"{}\"", phase.name()));
        }
    }
}

//! Outcomes, phases and phase marks: the vocabulary every output shares (text, JSON, nagios, metrics,
//! alerts).
//!
//! Outcomes follow the Monitoring Plugins convention, which is also the process exit code
//! (DESIGN.md §6): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Whenever several judgements add up to one — the
//! findings of `probe doctor`, the candidate diagnoses of a delivered mail, the rules of `lint-terraform`,
//! the methods of an Authentication-Results evaluation — [`Outcome::worst`] decides.

use serde::{Deserialize, Serialize};

/// The result of a probe run or a check.
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
    pub const ALL: [Outcome; 4] = [Outcome::Ok, Outcome::Warning, Outcome::Critical, Outcome::Unknown];

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

    /// Lower-case name used in JSON, metric labels and alert bodies.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Warning => "warning",
            Outcome::Critical => "critical",
            Outcome::Unknown => "unknown",
        }
    }

    /// How much an outcome weighs when several add up to one: CRITICAL, then UNKNOWN, then WARNING, then
    /// OK. A failure found is real whatever else could not be checked, and "OK" is a claim a judge that
    /// could not check everything cannot make — so UNKNOWN outweighs WARNING.
    pub fn severity(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Warning => 1,
            Outcome::Unknown => 2,
            Outcome::Critical => 3,
        }
    }

    /// The most severe of `outcomes` ([`Outcome::severity`]); OK when there are none.
    pub fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        outcomes.into_iter().max_by_key(|o| o.severity()).unwrap_or(Outcome::Ok)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.label())
    }
}

/// The phases of a probe run (DESIGN.md §1). One name per phase, used identically everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    pub const ALL: [Phase; 7] =
        [Phase::Config, Phase::Resolve, Phase::Trigger, Phase::Ses, Phase::Inbox, Phase::Authenticate, Phase::Cleanup];

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
        f.pad(self.name())
    }
}

/// How one phase came out, as the live view and the debug log show it. Not an outcome: a phase that
/// found no mail is marked `Fail` while the verdict still depends on what the SES checkpoint saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    Ok,
    Warn,
    Fail,
    /// Did not apply to this run (e.g. the SES checkpoint of a COGNITO_DEFAULT pool).
    Skip,
}

impl Mark {
    /// The four-column mark of the live view.
    pub fn label(self) -> &'static str {
        match self {
            Mark::Ok => "ok  ",
            Mark::Warn => "warn",
            Mark::Fail => "FAIL",
            Mark::Skip => "skip",
        }
    }

    /// The mark of a phase whose judgement had this outcome.
    pub fn of(outcome: Outcome) -> Mark {
        match outcome {
            Outcome::Ok => Mark::Ok,
            Outcome::Warning => Mark::Warn,
            Outcome::Critical | Outcome::Unknown => Mark::Fail,
        }
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
    fn worst_outcome_case_table() {
        use Outcome::*;
        let cases: &[(&[Outcome], Outcome)] = &[
            (&[], Ok),
            (&[Ok, Ok], Ok),
            (&[Ok, Warning], Warning),
            (&[Warning, Unknown], Unknown),
            (&[Unknown, Critical, Warning], Critical),
            (&[Critical, Unknown], Critical),
        ];
        for (outcomes, expected) in cases {
            assert_eq!(Outcome::worst(outcomes.iter().copied()), *expected, "{outcomes:?}");
        }
    }

    #[test]
    fn names_match_serde_names() {
        for phase in Phase::ALL {
            assert_eq!(serde_json::to_string(&phase).unwrap(), format!("\"{}\"", phase.name()));
        }
        for outcome in Outcome::ALL {
            assert_eq!(serde_json::to_string(&outcome).unwrap(), format!("\"{}\"", outcome.name()));
        }
    }
}

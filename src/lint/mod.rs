//! `probe lint-terraform`: a static check of Terraform (`.tf`) for the runbook's configuration failures,
//! before anything is applied. Four rules ([`rules`]): a pool sending through SES without an identity policy
//! for the Cognito principal (the two-piece gotcha); the identity policy declared more than once (two states
//! fighting); unquoted RFC 5322 specials in from_email_address (the perpetual diff); COGNITO_DEFAULT on a
//! production-looking pool.
//!
//! [`tree`] reads the files (hcl-edit), [`rules`] produces findings — identity policies judged by the planned
//! mode of the probe's one policy rule ([`crate::aws::policy`]), fixes written by [`crate::fix`];
//! this module holds the report and its three renderings. Exit codes follow the probe's
//! ([`Outcome::exit_code`]): 0 clean, 1 warnings, 2 failures, 3 could not read or parse.

pub mod rules;
pub mod tree;

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::verdict::Outcome;

/// Why the tree could not be checked at all (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("cannot read {path}: {source}; expected a readable directory of Terraform files")]
    Read { path: String, source: std::io::Error },
    #[error("{file}:{line}:{column}: not valid HCL: {message}")]
    Parse { file: String, line: usize, column: usize, message: String },
    #[error("no .tf files under {dir}; expected a Terraform root or a tree of them")]
    NoFiles { dir: String },
    #[error("no .tf file under {dir} could be read ({count} left out; first: {first}); expected a Terraform root")]
    NoneReadable { dir: String, count: usize, first: String },
}

/// How bad a finding is: warnings exit 1, failures exit 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Failure,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Warning => "WARN",
            Severity::Failure => "FAIL",
        }
    }
}

/// One rule violated at one place, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The file as reached from the scanned directory (`terraform-example/production/cognito.tf`).
    pub file: String,
    /// 1-based line of the offending block or attribute.
    pub line: usize,
    /// The rule's stable name ([`rules::MISSING_IDENTITY_POLICY`], …).
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The Terraform change that fixes it.
    pub fix: String,
}

/// The result of linting a tree: what was scanned and what was found.
#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    pub outcome: Outcome,
    pub files: usize,
    pub pools: usize,
    pub identity_policies: usize,
    pub findings: Vec<Finding>,
}

/// Lints every `.tf` file under `dir`.
pub fn lint_dir(dir: &Path) -> Result<LintReport, LintError> {
    let tree = tree::read_tree(dir)?;
    let findings = rules::check(&tree);
    let outcome = Outcome::worst(findings.iter().map(|f| match f.severity {
        Severity::Warning => Outcome::Warning,
        Severity::Failure => Outcome::Critical,
    }));
    Ok(LintReport {
        outcome,
        files: tree.files,
        pools: tree.pools.len(),
        identity_policies: tree.policies.len(),
        findings,
    })
}

impl LintReport {
    fn counts(&self) -> (usize, usize) {
        let failures = self.findings.iter().filter(|f| f.severity == Severity::Failure).count();
        (failures, self.findings.len() - failures)
    }

    /// `file:line: FAIL rule: message` and an indented `fix:` per finding, then a summary line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let _ = writeln!(out, "{}:{}: {} {}: {}", f.file, f.line, f.severity.label(), f.rule, f.message);
            let mut lines = f.fix.lines();
            let _ = writeln!(out, "  fix: {}", lines.next().unwrap_or_default());
            for line in lines {
                let _ = writeln!(out, "       {line}");
            }
        }
        let (failures, warnings) = self.counts();
        let _ = writeln!(
            out,
            "lint-terraform {}: {failures} failure(s), {warnings} warning(s) in {} file(s), {} pool(s), {} identity \
             policy(ies)",
            self.outcome, self.files, self.pools, self.identity_policies
        );
        out
    }

    /// One JSON document.
    pub fn to_json(&self) -> String {
        // Plain data (strings, numbers, enums with serde names): serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// `LINT-TERRAFORM <STATE> - <summary> | perfdata` (Monitoring Plugins guidelines).
    pub fn to_nagios(&self) -> String {
        let (failures, warnings) = self.counts();
        let summary = match self.findings.first() {
            None => format!("{} file(s), {} pool(s) clean", self.files, self.pools),
            Some(first) => format!(
                "{failures} failure(s), {warnings} warning(s); first: {} at {}:{}",
                first.rule, first.file, first.line
            ),
        };
        format!(
            "LINT-TERRAFORM {} - {} | failures={failures};;;0 warnings={warnings};;;0 files={};;;0 pools={};;;0",
            self.outcome,
            summary.replace('|', "/"),
            self.files,
            self.pools
        )
    }
}

//! `probe lint-terraform DIR`: the static Terraform check of [`crate::lint`], for CI before an apply.
//! Exit 0 clean, 1 warnings, 2 failures, 3 when the tree could not be read or parsed (file:line printed).

use crate::cli::{Format, LintTerraformArgs};
use crate::lint;
use crate::verdict::Outcome;

/// Runs the command; returns the exit code.
pub async fn run(args: LintTerraformArgs) -> u8 {
    let report = match lint::lint_dir(&args.dir) {
        Ok(report) => report,
        Err(err) => {
            match args.format {
                Format::Nagios => {
                    crate::output::println(&format!("LINT-TERRAFORM UNKNOWN - {}", err.to_string().replace('|', "/")))
                }
                Format::Json => crate::output::println(
                    &serde_json::json!({ "outcome": "unknown", "error": err.to_string() }).to_string(),
                ),
                Format::Text => eprintln!("probe lint-terraform: {err}"),
            }
            return Outcome::Unknown.exit_code();
        }
    };
    match args.format {
        Format::Text => crate::output::print(&report.to_text()),
        Format::Json => crate::output::println(&report.to_json()),
        Format::Nagios => crate::output::println(&report.to_nagios()),
    }
    report.outcome.exit_code()
}

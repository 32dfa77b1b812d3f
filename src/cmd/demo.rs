//! `probe demo [--scenario NAME]`: runs the probe against the in-process AWS twin over the demo scenarios
//! and prints each verdict and diagnosis. Exit 0 when every scenario got its expected verdict, 2 otherwise,
//! 3 when the demo could not run.

use crate::cli::{DemoArgs, Format};
use crate::demo::{self, CaseResult};
use crate::output;
use crate::verdict::Outcome;

pub async fn run(args: DemoArgs) -> u8 {
    if args.list {
        for case in demo::CASES {
            crate::output::println(&format!(
                "{:<24} {:<8} {:<18} {}",
                case.name,
                case.outcome.label(),
                case.code,
                case.about
            ));
        }
        return 0;
    }
    let text = args.format != Format::Json;
    if text {
        crate::output::println(
            "probe demo: AWS twin in-process, real SDK clients over HTTP, mail in a temporary Maildir\n",
        );
    }
    let verbose = args.verbose;
    let print = |r: &CaseResult| {
        if !text {
            return;
        }
        let mark = if r.matched { "pass" } else { "MISMATCH" };
        crate::output::println(&format!(
            "{mark:<8} {:<24} {:<8} phase {:<12} {}",
            r.scenario,
            r.report.outcome.label(),
            r.report.phase.name(),
            r.report.diagnosis.code
        ));
        crate::output::println(&format!("         {}", r.about));
        crate::output::println(&format!("         → {}", r.report.diagnosis.summary));
        if !r.matched {
            crate::output::println(&format!("         expected {} {}", r.expected_outcome.label(), r.expected_code));
        }
        if verbose || !r.matched {
            for line in output::text(&r.report).lines() {
                crate::output::println(&format!("         | {line}"));
            }
        }
        crate::output::println("");
    };
    let results = match demo::run(args.scenario.as_deref(), print).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("probe demo: {e}");
            return Outcome::Unknown.exit_code();
        }
    };
    let matched = results.iter().filter(|r| r.matched).count();
    if text {
        crate::output::println(&format!("{matched} of {} scenarios got their expected verdict", results.len()));
    } else {
        crate::output::println(&serde_json::to_string_pretty(&results).unwrap_or_default());
    }
    if matched == results.len() { 0 } else { Outcome::Critical.exit_code() }
}

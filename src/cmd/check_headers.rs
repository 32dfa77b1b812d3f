//! `probe check-headers FILE.eml`: evaluate a saved message's Authentication-Results — for users asking
//! "why did this mail fail DMARC?". Exit 0 when the expectations hold, 1 when they hold but something is
//! degraded (e.g. SPF unaligned), 2 when they fail, 3 when no trusted header was found or the file could
//! not be read.

use std::io::Read;
use std::path::Path;

use crate::authres::{self, AlignmentMode, Expectations, TrustPolicy};
use crate::cli::{AlignmentArg, CheckHeadersArgs, Format};
use crate::verdict::Outcome;

/// Why the message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckHeadersError {
    #[error("cannot read {path}: {source}; expected a saved message (.eml) or `-` for standard input")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is empty; expected a saved message (.eml) with its header")]
    Empty { path: String },
}

/// Reads the message from a path or standard input (`-`).
fn read_message(path: &Path) -> Result<Vec<u8>, CheckHeadersError> {
    let shown = path.display().to_string();
    let raw = if shown == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    }
    .map_err(|source| CheckHeadersError::Read { path: shown.clone(), source })?;
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(CheckHeadersError::Empty { path: shown });
    }
    Ok(raw)
}

/// Renders one evaluation in the chosen format.
pub fn render(eval: &authres::Evaluation, format: Format) -> String {
    match format {
        Format::Text => eval.to_text(),
        // Serialising plain data (strings, bools, numbers) cannot fail.
        Format::Json => serde_json::to_string_pretty(eval).unwrap_or_default() + "\n",
        Format::Nagios => eval.to_nagios() + "\n",
    }
}

/// Runs the command; returns the exit code.
pub async fn run(args: CheckHeadersArgs) -> u8 {
    let raw = match read_message(&args.file) {
        Ok(raw) => raw,
        Err(err) => {
            eprintln!("probe check-headers: {err}");
            return Outcome::Unknown.exit_code();
        }
    };
    let policy =
        TrustPolicy::with_ids(args.trusted_authserv_ids.iter().cloned()).trusting_no_authserv_id(args.no_authserv_id);
    let expect = Expectations {
        alignment: match args.alignment {
            AlignmentArg::Relaxed => AlignmentMode::Relaxed,
            AlignmentArg::Strict => AlignmentMode::Strict,
        },
        spf_aligned: args.require_spf_alignment,
        ..Expectations::default()
    };
    let eval = authres::evaluate_message(&raw, &policy, &expect);
    crate::output::print(&render(&eval, args.format));
    eval.outcome().exit_code()
}

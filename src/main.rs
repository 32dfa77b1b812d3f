//! The `probe` binary: parse the command line, set up logging, run one command of the library and turn
//! its outcome into the process exit code. All logic lives in the library (`src/lib.rs`).

use std::process::ExitCode;

use clap::Parser;
use cognito_delivery_probe::cli::Cli;

fn main() -> ExitCode {
    // A usage error is UNKNOWN (3), not clap's default 2, which monitoring reads as CRITICAL.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                cognito_delivery_probe::verdict::Outcome::Unknown.exit_code()
            } else {
                0
            });
        }
    };
    cognito_delivery_probe::logging::init(cli.log_level.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("probe: cannot start the async runtime: {err}");
            return ExitCode::from(cognito_delivery_probe::verdict::Outcome::Unknown.exit_code());
        }
    };
    let code = runtime.block_on(cognito_delivery_probe::cmd::dispatch(cli));
    ExitCode::from(code)
}

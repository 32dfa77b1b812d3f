//! The `probe` binary: parse the command line, set up logging, run one command of the library and turn
//! its outcome into the process exit code. All logic lives in the library (`src/lib.rs`).

use std::process::ExitCode;

use clap::Parser;
use cognito_delivery_probe::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
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

//! One file per command; [`dispatch`] maps the parsed command line to it and returns the exit code.

pub mod check_headers;
pub mod demo;
pub mod doctor;
pub mod lint_terraform;
pub mod monitor;
pub mod probe;
pub mod sandbox;
pub mod validate;

use crate::cli::{Cli, Command};

/// Runs the chosen command and returns the process exit code (see [`crate::verdict::Outcome::exit_code`]).
pub async fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        None => probe::run(cli.run).await,
        Some(Command::Validate(args)) => validate::run(args).await,
        Some(Command::Demo(args)) => demo::run(args).await,
        Some(Command::Sandbox(args)) => sandbox::run(args).await,
        Some(Command::CheckHeaders(args)) => check_headers::run(args).await,
        Some(Command::Doctor(args)) => doctor::run(args).await,
        Some(Command::LintTerraform(args)) => lint_terraform::run(args).await,
        Some(Command::Monitor(args)) => monitor::run(args).await,
    }
}

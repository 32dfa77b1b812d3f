//! One file per command; [`dispatch`] maps the parsed command line to it and returns the exit code.

pub mod check_headers;
pub mod sandbox;

use crate::cli::{Cli, Command};

/// Runs the chosen command and returns the process exit code (see [`crate::verdict::Outcome::exit_code`]).
pub async fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::CheckHeaders(args) => check_headers::run(args).await,
    }
}

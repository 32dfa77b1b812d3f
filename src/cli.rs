//! The command line: one enum of subcommands, each with its own argument struct. Parsing only; the
//! commands themselves live in [`crate::cmd`], one file each.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// End-to-end delivery probe for Cognito user pools that send email through Amazon SES.
#[derive(Debug, Parser)]
#[command(name = "probe", version, about)]
pub struct Cli {
    /// Log filter for stderr (e.g. `info`, `debug`, `cognito_delivery_probe=trace`); default `warn` or RUST_LOG.
    #[arg(long, global = true)]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the AWS twin (Cognito, SESv2, CloudWatch) on loopback, delivering mail into a Maildir.
    Sandbox(SandboxArgs),
    /// Evaluate the Authentication-Results of a saved message (.eml): DKIM, SPF, DMARC and alignment.
    CheckHeaders(CheckHeadersArgs),
}

/// Output format shared by the commands that produce a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document.
    Json,
    /// One Nagios/Monitoring Plugins status line with perfdata.
    Nagios,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on; loopback only unless you mean it. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Maildir the twin delivers into (created when missing).
    #[arg(long)]
    pub maildir: PathBuf,
    /// Scenario file (TOML); default: the built-in healthy scenario.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckHeadersArgs {
    /// The saved message (RFC 5322, e.g. "Show original" → download); `-` reads standard input.
    pub file: PathBuf,
    /// authserv-id of the receiver to trust (exact, or `*.suffix`); repeatable. Default: the topmost
    /// header's authserv-id and its organizational domain. A header without authserv-id (Outlook/M365) is
    /// trusted only when it is the topmost one.
    #[arg(long = "trusted-authserv-id", value_name = "ID")]
    pub trusted_authserv_ids: Vec<String>,
    /// Identifier alignment mode (RFC 7489 §3.1).
    #[arg(long, value_enum, default_value_t = AlignmentArg::Relaxed)]
    pub alignment: AlignmentArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Identifier alignment mode as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlignmentArg {
    Relaxed,
    Strict,
}

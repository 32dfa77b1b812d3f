//! The command line: one enum of subcommands, each with its own argument struct. Parsing only; the
//! commands themselves live in [`crate::cmd`], one file each.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// End-to-end delivery probe for Cognito user pools that send email through Amazon SES.
///
/// `probe --pool <POOL_ID>` runs one probe (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
#[derive(Debug, Parser)]
#[command(name = "probe", version, about, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Cli {
    /// Log filter for stderr (e.g. `info`, `debug`, `cognito_delivery_probe=trace`); default `warn` or RUST_LOG.
    #[arg(long, global = true)]
    pub log_level: Option<String>,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Arguments of the one-shot probe (`probe --pool …`).
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Run the probe file whose pool_id is this user pool id.
    #[arg(long, value_name = "POOL_ID")]
    pub pool: Option<String>,
    /// Run the probe file with this name (its file name without .toml, or its `name`).
    #[arg(long, value_name = "NAME")]
    pub probe: Option<String>,
    /// Run this probe file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of probe files.
    #[arg(long, value_name = "DIR", default_value = "probes")]
    pub probes: PathBuf,
    /// Override the test user.
    #[arg(long)]
    pub user: Option<String>,
    /// Override how long to wait for the mail (e.g. 90s, 5m).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Override the pool's AWS Region.
    #[arg(long)]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (the AWS twin, an emulator).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Leave the probe's mail in the mailbox.
    #[arg(long)]
    pub no_cleanup: bool,
    /// Output format; default `emf` on AWS Lambda and ECS (where CloudWatch Logs makes metrics of it), else `text`.
    #[arg(long, value_enum, default_value_t = RunFormat::for_environment())]
    pub format: RunFormat,
    /// Keep alert state in this SQLite file and page through the probe file's channels (cron, timers).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Alert defaults (an `[alert]` section: thresholds, channels) for probe files that do not set them.
    #[arg(long, value_name = "FILE", requires = "state")]
    pub alerts: Option<PathBuf>,
    /// Claim each tick in this DynamoDB table before sending (partition key `pk`), so a tick delivered
    /// twice sends one mail: the second run exits 0 without sending (Fargate, cron on several hosts).
    #[arg(long, value_name = "TABLE")]
    pub tick_table: Option<String>,
    /// The scheduled time this run is for (RFC 3339); default: now floored to the probe's interval.
    #[arg(long, value_name = "TIME", requires = "tick_table", value_parser = crate::aws::ticks::parse)]
    pub tick: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check probe files (default: every file in probes/) and print what each will do.
    Validate(ValidateArgs),
    /// Run the probe end to end on this machine against the in-process AWS twin, over named scenarios.
    Demo(DemoArgs),
    /// Serve the AWS twin (Cognito, SESv2, CloudWatch) on loopback, delivering mail into a Maildir.
    Sandbox(SandboxArgs),
    /// Evaluate the Authentication-Results of a saved message (.eml): DKIM, SPF, DMARC and alignment.
    CheckHeaders(CheckHeadersArgs),
    /// Read-only preflight of pool, SES identity and policy, account, test user and mailbox; sends no mail.
    Doctor(DoctorArgs),
    /// Statically check Terraform (.tf) for the runbook's email failures: missing or duplicated SES identity
    /// policy, From display names with unquoted specials, COGNITO_DEFAULT in production.
    LintTerraform(LintTerraformArgs),
    /// Run every probe file on its interval: history, paging, Prometheus metrics on loopback.
    Monitor(MonitorArgs),
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

/// Output format of a probe run: the verdict formats, plus CloudWatch Embedded Metric Format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum RunFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document.
    Json,
    /// One Nagios/Monitoring Plugins status line with perfdata.
    Nagios,
    /// One CloudWatch Embedded Metric Format document (metrics and the verdict; see README "Metrics").
    Emf,
}

impl RunFormat {
    /// `emf` where standard output goes to CloudWatch Logs — a Lambda function (`AWS_LAMBDA_FUNCTION_NAME`,
    /// set by the Lambda runtime) or an ECS task (`ECS_CONTAINER_METADATA_URI_V4`, set by the ECS agent on
    /// Fargate platform 1.4 and later) — else `text`.
    pub fn for_environment() -> RunFormat {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        if set("AWS_LAMBDA_FUNCTION_NAME") || set("ECS_CONTAINER_METADATA_URI_V4") {
            RunFormat::Emf
        } else {
            RunFormat::Text
        }
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Run only this scenario (see `probe demo --list`).
    #[arg(long)]
    pub scenario: Option<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    pub list: bool,
    /// Print each scenario's full report.
    #[arg(long)]
    pub verbose: bool,
    /// Output format: text, or JSON (an array of {scenario, expected, matched, report}).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A probe file or a directory of them.
    #[arg(default_value = "probes")]
    pub path: PathBuf,
    /// Also check this alert defaults file and show each probe's paging with it applied.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// Check the files only, not what only the probe's own host can tell: whether the secrets they name
    /// can be read and the programs their exec channels run exist (CI, or a machine that is not the one
    /// the probe runs on).
    #[arg(long)]
    pub skip_secrets: bool,
    /// Refuse a probe whose longest run (timeout + settle + margin) does not fit in a Lambda function's
    /// timeout of this long (e.g. 300s; Lambda allows at most 15m).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub lambda_timeout: Option<std::time::Duration>,
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
    /// header's authserv-id and its operator's domains. Either way the trusted headers must lie in the
    /// receiver's own trace: no Received by another operator's host or DKIM-Signature above them.
    #[arg(long = "trusted-authserv-id", value_name = "ID")]
    pub trusted_authserv_ids: Vec<String>,
    /// Also trust a header without authserv-id (Outlook/M365) as the topmost one under a Microsoft hop when
    /// --trusted-authserv-id is given (without ids it is trusted anyway).
    #[arg(long)]
    pub no_authserv_id: bool,
    /// Identifier alignment mode (RFC 7489 §3.1).
    #[arg(long, value_enum, default_value_t = AlignmentArg::Relaxed)]
    pub alignment: AlignmentArg,
    /// Require SPF to align with the From domain too (a WARNING when it does not). Off by default: SES's
    /// default MAIL FROM (amazonses.com) never aligns, and DMARC passes through the aligned DKIM signature.
    #[arg(long)]
    pub require_spf_alignment: bool,
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

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Check the probe file whose pool_id is this user pool id.
    #[arg(long, value_name = "POOL_ID")]
    pub pool: Option<String>,
    /// Check the probe file with this name.
    #[arg(long, value_name = "NAME")]
    pub probe: Option<String>,
    /// Check this probe file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of probe files; without --pool/--probe/--config every file in it is checked.
    #[arg(long, value_name = "DIR", default_value = "probes")]
    pub probes: PathBuf,
    /// Override the pool's AWS Region.
    #[arg(long)]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (the AWS twin, an emulator).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// What a missing SES identity policy is for a DEVELOPER pool: fail (the runbook's two-piece gotcha) or
    /// warn (AWS documents the service-linked role as sufficient). Always fail for COGNITO_DEFAULT + SourceArn.
    #[arg(long, value_enum, default_value_t = PolicyMissingArg::Fail)]
    pub policy_missing: PolicyMissingArg,
    /// Skip the DNS posture check (hosts without a resolver).
    #[arg(long)]
    pub no_dns: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct LintTerraformArgs {
    /// Directory scanned recursively for .tf files (hidden directories such as .terraform/ are skipped).
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `--policy-missing` as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyMissingArg {
    Warn,
    Fail,
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Directory of probe files (SIGHUP reloads it).
    #[arg(long, value_name = "DIR", default_value = "probes")]
    pub probes: PathBuf,
    /// SQLite state database (created when missing).
    #[arg(long, value_name = "FILE", default_value = "probe-state.sqlite")]
    pub state: PathBuf,
    /// Alert defaults (an `[alert]` section: thresholds, channels) for probe files that do not set them;
    /// reloaded with the probe files on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// Address of /metrics, /healthz and /probes; loopback unless you mean it.
    #[arg(long, default_value = "127.0.0.1:9771")]
    pub listen: SocketAddr,
    /// How long run history is kept (e.g. 30d).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30d")]
    pub retention: std::time::Duration,
}

//! `probe validate [PATH]`: checks probe files and prints, per file, what the probe will do — or every
//! error with file:line. A file is valid when it parses, passes every rule, every secret it names can be
//! read here (variable set, file or credential readable, command found; no value is read out or shown)
//! and every exec channel's program can be started here. Exit 0 when all are valid, 3 otherwise.
//! `--skip-secrets` skips what only the probe's own host can tell: the secrets and the programs.
//! `--lambda-timeout` also refuses a probe whose longest run cannot finish within a Lambda function's timeout.

use std::path::Path;
use std::time::Duration;

use crate::alert::ChannelConfig;
use crate::child;
use crate::cli::ValidateArgs;
use crate::config::{self, AlertOverrides, ConfigError, ProbeFile, syntax};
use crate::duration;
use crate::output;
use crate::verdict::Outcome;

pub async fn run(args: ValidateArgs) -> u8 {
    let defaults = match args.alerts.as_deref().map(config::alert::load_defaults).transpose() {
        Ok(d) => d,
        Err(e) => {
            output::println(&format!("BAD {e}"));
            return Outcome::Unknown.exit_code();
        }
    };
    if let (Some(d), Some(path)) = (&defaults, args.alerts.as_deref())
        && !args.skip_secrets
        && let Err(unusable) = programs_found(d)
    {
        output::println(&format!("BAD {}", at_channel(path, unusable)));
        return Outcome::Unknown.exit_code();
    }
    let results = if args.path.is_dir() {
        match config::load_dir(&args.path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("probe: {e}");
                return Outcome::Unknown.exit_code();
            }
        }
    } else {
        vec![ProbeFile::load(&args.path)]
    };
    if results.is_empty() {
        eprintln!("probe: no *.toml probe files in {}", args.path.display());
        return Outcome::Unknown.exit_code();
    }
    let mut bad = 0;
    for result in results {
        let checked = result.and_then(|mut p| {
            if let Some(d) = &defaults {
                p.apply_alert_defaults(d);
            }
            if let Some(limit) = args.lambda_timeout {
                fits_lambda(&p, limit)?;
            }
            if args.skip_secrets {
                return Ok(p);
            }
            secrets_readable(&p)?;
            let path = p.source.clone().unwrap_or_default();
            programs_found(&p.alert_overrides).map_err(|message| at_channel(&path, message))?;
            Ok(p)
        });
        match checked {
            Ok(p) => output::println(&describe(&p)),
            Err(e) => {
                bad += 1;
                output::println(&format!("BAD {e}"));
            }
        }
    }
    if bad == 0 { Outcome::Ok.exit_code() } else { Outcome::Unknown.exit_code() }
}

/// What a run needs beyond its mail wait (`timeout`) and the sender side's `settle` after it. Outside the
/// wait a healthy run takes about a second (resolve, baseline and trigger before; authenticate and cleanup
/// after); the margin covers the slow paths that are bounded on their own: one IMAP command at its limit
/// (`inbox::imap::COMMAND_TIMEOUT`, 30 s) — or a secret command at its limit (`secret::COMMAND_TIMEOUT`,
/// 10 s) with the SDK's retries of the AWS calls around the trigger — plus the function's cold start.
pub const LAMBDA_MARGIN: Duration = Duration::from_secs(30);

/// The longest a run of `p` can take: the wait, the sender side's settle after it, and [`LAMBDA_MARGIN`].
pub fn worst_case(p: &ProbeFile) -> Duration {
    p.timeout + p.cloudwatch.settle + LAMBDA_MARGIN
}

/// Refuses `p` when its longest run does not fit in a Lambda timeout of `limit`, with the numbers.
fn fits_lambda(p: &ProbeFile, limit: Duration) -> Result<(), ConfigError> {
    let worst = worst_case(p);
    if worst <= limit {
        return Ok(());
    }
    let path = p.source.clone().unwrap_or_default();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let message = format!(
        "a run can take {} (timeout {} + cloudwatch.settle {} + {} margin), more than the Lambda timeout {} \
         (hint: raise the function's timeout to at least {}, or shorten timeout)",
        duration::show(worst),
        duration::show(p.timeout),
        duration::show(p.cloudwatch.settle),
        duration::show(LAMBDA_MARGIN),
        duration::show(limit),
        duration::show(worst),
    );
    Err(syntax::invalid(&text, &path, "timeout", message))
}

/// The first secret of `p` that cannot be read here, as a `file:line: key:` error.
fn secrets_readable(p: &ProbeFile) -> Result<(), ConfigError> {
    let Some((key, err)) = p.check_secrets().into_iter().next() else { return Ok(()) };
    let path = p.source.clone().unwrap_or_default();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    Err(syntax::invalid(&text, &path, key, format!("secret cannot be read here: {err}")))
}

/// The first exec channel of `section` whose program cannot be started here (found as the channel would
/// find it: a path as given, a bare name along the child's `PATH`), as its position and the message. A
/// probe file's own `[alert]` is checked against that file, the defaults file's against the defaults file.
fn programs_found(section: &AlertOverrides) -> Result<(), (usize, String)> {
    for (index, channel) in section.channels.iter().flatten().enumerate() {
        let ChannelConfig::Exec { command, .. } = channel else { continue };
        let Some(program) = command.first() else { continue };
        if let Err(e) = child::find_program(program) {
            return Err((index, format!("channel {} (exec) cannot run here: {e}", index + 1)));
        }
    }
    Ok(())
}

/// A `file:line: alert.channels: …` error pointing at the channel's `command`.
fn at_channel(path: &Path, (index, message): (usize, String)) -> ConfigError {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line: syntax::key_line(&text, &format!("alert.channels.{index}.command")),
        field: "alert.channels".into(),
        message,
    }
}

/// `ok  name (file): pool … in …, user …, trigger …, every …, timeout …, mailbox, paging`.
fn describe(p: &ProbeFile) -> String {
    let channels: Vec<&str> = p.alert.channels.iter().map(|c| c.kind()).collect();
    let paging = if channels.is_empty() {
        "pages nobody".to_string()
    } else {
        format!("pages {} after {} failures", channels.join("+"), p.alert.failure_threshold)
    };
    format!(
        "ok  {} ({}): pool {} in {}, user {}, trigger {}, every {}, timeout {}, {}, {paging}",
        p.name,
        p.shown(),
        p.pool_id,
        p.region(),
        p.username,
        p.trigger.name(),
        duration::show(p.interval),
        duration::show(p.timeout),
        p.mailbox.describe()
    )
}

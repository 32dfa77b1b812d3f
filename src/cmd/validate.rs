//! `probe validate [PATH]`: checks probe files and prints, per file, what the probe will do — or every
//! error with file:line. Exit 0 when all are valid, 3 otherwise.

use crate::cli::ValidateArgs;
use crate::config::{self, ProbeFile};
use crate::verdict::Outcome;

pub async fn run(args: ValidateArgs) -> u8 {
    let defaults = match args.alerts.as_deref().map(crate::monitor::config::load_defaults).transpose() {
        Ok(d) => d,
        Err(e) => {
            println!("BAD {e}");
            return Outcome::Unknown.exit_code();
        }
    };
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
        match result {
            Ok(mut p) => {
                if let Some(d) = &defaults {
                    p.apply_alert_defaults(d);
                }
                let mailbox = match (&p.imap, &p.maildir) {
                    (Some(i), _) => format!("imap {}:{} as {}", i.host, i.port, i.username),
                    (_, Some(m)) => format!("maildir {}", m.path.display()),
                    _ => "-".into(),
                };
                let channels: Vec<&str> = p.alert.channels.iter().map(|c| c.kind()).collect();
                let paging = if channels.is_empty() {
                    "pages nobody".to_string()
                } else {
                    format!("pages {} after {} failures", channels.join("+"), p.alert.failure_threshold)
                };
                println!(
                    "ok  {} ({}): pool {} in {}, user {}, trigger {:?}, every {}, timeout {}, {}, {paging}",
                    p.name,
                    p.source.as_deref().map(|s| s.display().to_string()).unwrap_or_default(),
                    p.pool_id,
                    p.region(),
                    p.username,
                    p.trigger,
                    humantime::format_duration(p.interval),
                    humantime::format_duration(p.timeout),
                    mailbox
                );
            }
            Err(e) => {
                bad += 1;
                println!("BAD {e}");
            }
        }
    }
    if bad == 0 { Outcome::Ok.exit_code() } else { Outcome::Unknown.exit_code() }
}

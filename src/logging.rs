//! Tracing setup for the binary: human-readable logs on stderr, filtered by `--log-level` or `RUST_LOG`.
//! Logs never carry secrets: secret-bearing types redact themselves in `Debug` and `Display`, and the
//! crates that log raw protocol traffic are capped below the level where they would (see [`WIRE_CAPS`]).

use tracing_subscriber::EnvFilter;

/// Targets that log wire data at debug/trace — async-imap logs every command (`LOGIN "user" "password"`)
/// and every response (the message body with its temporary password) — capped whatever level is asked.
pub const WIRE_CAPS: [&str; 2] = ["async_imap=info", "imap_proto=info"];

/// The probe's own log target: a bare level (`--log-level debug`) is about what the probe did — its runs,
/// phases, IMAP steps and AWS calls — so it applies here, and every other crate stays at `warn`.
const OWN_TARGET: &str = "cognito_delivery_probe";

/// The filter for `--log-level` (a bare level for the probe's own target) or else `RUST_LOG` (as given),
/// minus any directive for a capped target, plus the caps.
pub fn filter(level: Option<&str>) -> EnvFilter {
    // RUST_LOG keeps its usual meaning: a bare level there is global.
    let (requested, own) = match level {
        Some(l) => (l.to_string(), true),
        None => (std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_string()), false),
    };
    let mut directives: Vec<String> = Vec::new();
    for d in requested.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if WIRE_CAPS.iter().any(|cap| d.starts_with(cap.split('=').next().unwrap_or(cap))) {
            continue;
        }
        if !own || d.contains('=') || d.contains('[') {
            directives.push(d.to_string());
        } else {
            directives.push(format!("warn,{OWN_TARGET}={d}"));
        }
    }
    if directives.is_empty() {
        directives.push("warn".to_string());
    }
    directives.extend(WIRE_CAPS.iter().map(|c| c.to_string()));
    EnvFilter::try_new(directives.join(",")).unwrap_or_else(|_| EnvFilter::new(WIRE_CAPS.join(",") + ",warn"))
}

/// Installs the global subscriber once. `level` overrides `RUST_LOG`; the default is `warn`.
pub fn init(level: Option<&str>) {
    // Colour only on a terminal: logs captured by cron, systemd or a test harness stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A second init (tests) is harmless: try_init reports it and we ignore it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_logging_crates_stay_capped_at_any_requested_level() {
        for requested in ["trace", "debug,async_imap=trace", "async_imap::imap_stream=trace,info"] {
            let f = filter(Some(requested)).to_string();
            assert!(
                !f.contains("async_imap=trace") && !f.contains("async_imap::imap_stream=trace"),
                "{requested} → {f}"
            );
            assert!(f.contains("async_imap=info"), "{requested} → {f}");
        }
    }

    #[test]
    fn a_bare_level_is_about_the_probe_and_directives_pass_as_given() {
        let cases = [
            ("debug", &["cognito_delivery_probe=debug", "warn"][..], &["aws_smithy_runtime=debug"][..]),
            ("debug,aws_smithy_runtime=debug", &["cognito_delivery_probe=debug", "aws_smithy_runtime=debug"], &[]),
            ("twin=trace", &["twin=trace"], &["cognito_delivery_probe=trace"]),
        ];
        for (requested, has, lacks) in cases {
            let f = filter(Some(requested)).to_string();
            for d in has {
                assert!(f.contains(d), "{requested} → {f} lacks {d}");
            }
            for d in lacks {
                assert!(!f.contains(d), "{requested} → {f} has {d}");
            }
        }
    }
}

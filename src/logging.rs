//! Tracing setup for the binary: human-readable logs on stderr, filtered by `--log-level` or `RUST_LOG`.
//! Logs never carry secrets: secret-bearing types redact themselves in `Debug` and `Display`, and the
//! crates that log raw protocol traffic are capped below the level where they would (see [`WIRE_CAPS`]).

use tracing_subscriber::EnvFilter;

/// Targets that log wire data at debug/trace — async-imap logs every command (`LOGIN "user" "password"`)
/// and every response (the message body with its temporary password) — capped whatever level is asked.
pub const WIRE_CAPS: [&str; 2] = ["async_imap=info", "imap_proto=info"];

/// The filter for a requested level: the user's directives, minus any for a capped target, plus the caps.
pub fn filter(level: Option<&str>) -> EnvFilter {
    let requested = match level {
        Some(l) => l.to_string(),
        None => std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_string()),
    };
    let kept: Vec<&str> = requested
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !WIRE_CAPS.iter().any(|cap| d.starts_with(cap.split('=').next().unwrap_or(cap))))
        .collect();
    let mut directives = kept;
    directives.extend(WIRE_CAPS);
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
}

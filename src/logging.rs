//! Tracing setup for the binary: human-readable logs on stderr, filtered by `--log-level` or `RUST_LOG`.
//! Logs never carry secrets: secret-bearing types redact themselves in `Debug` and `Display`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once. `level` overrides `RUST_LOG`; the default is `warn`.
pub fn init(level: Option<&str>) {
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
    };
    // A second init (tests) is harmless: try_init reports it and we ignore it.
    // Colour only on a terminal: logs captured by cron, systemd or a test harness stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

//! What the benchmarks' tables share: nearest-rank percentiles, milliseconds for a cell, and the sample
//! count a run asks for.

use std::time::Duration;

/// Nearest-rank percentile (p in 0..=100) of unsorted samples; zero for none.
pub fn percentile(samples: &[Duration], p: u32) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p as usize * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Milliseconds with one decimal, for the tables.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Samples per row: `INBOX_BENCH_SAMPLES`, else `default`.
pub fn samples(default: usize) -> usize {
    std::env::var("INBOX_BENCH_SAMPLES").ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

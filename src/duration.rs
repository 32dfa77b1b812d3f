//! Durations and seconds as humans read and write them: `"90s"`, `"5m"`, `"500ms"` in every settings file
//! (serde helpers), and the one way output prints a duration or a number of seconds — never Rust's
//! `Debug` form, never `-0.00`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written as humans do (`"90s"`, `"5m"`, `"500ms"`).
pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!("invalid duration {text:?} ({e}), expected e.g. \"90s\", \"5m\", \"1h\""))
    })
}

/// [`de`] for an optional key.
pub fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de(d).map(Some)
}

/// `5m`, `1h 30m`, `500ms`: a duration as the probe files write it, to the millisecond (a measured wait
/// does not print its nanoseconds).
pub fn show(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

/// Seconds with `decimals` places; a value that rounds to zero prints as `0`, never `-0`.
pub fn seconds(value: f64, decimals: usize) -> String {
    number(value, decimals)
}

/// A number with `decimals` places; `-0.00` (a tiny negative, or IEEE negative zero) prints as `0.00`.
pub fn number(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_never_print_negative_zero() {
        let cases = [
            (0.0, 0, "0"),
            (-0.0, 0, "0"),
            (-0.0, 2, "0.00"),
            (-0.001, 2, "0.00"),
            (-0.004, 1, "0.0"),
            (-0.5, 1, "-0.5"),
            (1.234, 2, "1.23"),
            (3.0, 0, "3"),
        ];
        for (value, decimals, expected) in cases {
            assert_eq!(number(value, decimals), expected, "{value} with {decimals}");
        }
    }

    #[test]
    fn durations_show_as_written() {
        assert_eq!(show(Duration::from_secs(300)), "5m");
        assert_eq!(show(Duration::from_millis(1500)), "1s 500ms");
        assert_eq!(show(Duration::from_nanos(5_000_123_456)), "5s");
    }
}

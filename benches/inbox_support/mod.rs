//! What the inbox benchmarks share: the probe's test message, nearest-rank percentiles and the table rows.
//! Included by path from each bench binary (`benches/detection.rs`, `benches/inbox_size.rs`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use cognito_delivery_probe::inbox::Matcher;
use twin::mail::{AuthFaults, DkimKeys, Outgoing, ReceiverStyle, Sending, compose};

pub const FROM: &str = "noreply@thephenom.app";
pub const TO: &str = "probe+prod@mail.test";

pub fn matcher() -> Matcher {
    Matcher::new(FROM, TO)
}

/// The probe's message as the twin writes it (SES-shaped, DKIM-signed), unique per call.
pub fn probe_mail(at: DateTime<Utc>) -> Vec<u8> {
    let msg = Outgoing {
        from: format!("Phenom <{FROM}>"),
        reply_to: None,
        to: TO.into(),
        subject: "Your verification code".into(),
        body: format!("Your confirmation code is 482913 ({})\n", uuid::Uuid::new_v4()),
        sent_at: at - chrono::Duration::seconds(2),
        delivered_at: at,
        region: "us-east-1".into(),
        sending: Sending::Developer { dkim_domain: Some("thephenom.app".into()), mail_from_domain: None },
        receiver: ReceiverStyle::Gmail,
        auth: AuthFaults::default(),
    };
    compose(&msg, &DkimKeys::test_keys()).expect("compose the probe message")
}

/// Nearest-rank percentile (p in 0..=100) of unsorted samples.
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

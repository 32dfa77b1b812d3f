//! The probe's test message as the benchmarks deliver it: SES-shaped and DKIM-signed by the twin's mail
//! writer, from the default scenario's sender to its production test user, unique per call.

use chrono::{DateTime, Utc};
use twin::mail::{AuthFaults, DkimKeys, Outgoing, ReceiverStyle, Sending, compose};

/// The sender of the default scenario's production pool.
pub const FROM: &str = "noreply@thephenom.app";
/// The production test user's address.
pub const TO: &str = "probe+prod@mail.test";

/// The probe's message as the twin writes it, delivered at `at` (sent two seconds before).
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

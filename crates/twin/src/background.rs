//! The account's other senders: the busy production account of DESIGN.md §3, where "Send rose" proves
//! nothing because the account-level `AWS/SES` Send metric "counts every sender in the account" and "rises
//! every minute whatever Cognito does". While `rate_per_minute > 0`, SES sends that many messages a minute
//! from `[background] from` to other recipients (`user<N>@customers.example`): each one counts in Send and
//! Delivery and, when it goes through a configuration set, publishes its Send and Delivery records to that
//! set's destinations — foreign records in the probe's queue. No Cognito is involved and nothing reaches the
//! twin's Maildir. Driven by the twin's clock, so a manual clock produces the traffic deterministically.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::cloudwatch::SesMetric;
use crate::events::{self, EventType, SentMail};
use crate::mail::{self, ReceiverStyle, SesSend};
use crate::{Shared, State};

/// The `ses:caller-identity` of the other senders: an IAM user of the account's application (the twin's
/// name for it).
pub const CALLER_IDENTITY: &str = "newsletter-app";
/// Their calls come from the application's host (a documentation address, RFC 5737).
pub const SOURCE_IP: &str = "203.0.113.10";
/// The domain of their recipients.
pub const RECIPIENT_DOMAIN: &str = "customers.example";

/// The background schedule.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Schedule {
    pub rate_per_minute: u32,
    /// When the next message goes out; `None` when off.
    pub next: Option<DateTime<Utc>>,
    /// Messages sent so far (also the `<N>` of the next recipient).
    pub sent: u64,
}

impl Schedule {
    /// A schedule at `rate` per minute starting at `now` (the first message one interval later).
    pub fn new(rate: u32, now: DateTime<Utc>) -> Schedule {
        let mut s = Schedule::default();
        s.set_rate(rate, now);
        s
    }

    pub fn set_rate(&mut self, rate: u32, now: DateTime<Utc>) {
        self.rate_per_minute = rate;
        self.next = interval(rate).map(|i| now + i);
    }
}

fn interval(rate: u32) -> Option<Duration> {
    (rate > 0).then(|| Duration::milliseconds(60_000 / i64::from(rate)).max(Duration::milliseconds(1)))
}

/// How far back a busy account's traffic already shows when the twin starts (or resets).
pub const HISTORY_MINUTES: i64 = 15;

/// A busy account has been busy before the twin started: the last [`HISTORY_MINUTES`] of its traffic at
/// the scenario's rate are in the `AWS/SES` metrics (Send, Delivery; the set's fine-grained ones when its
/// CloudWatch destination matches them) and in SentLast24Hours — but not in the queues: their records went
/// to their own consumer long ago. Without it the first minutes of a run would show a quiet account.
pub(crate) fn history(state: &mut State, now: DateTime<Utc>) {
    let Some(step) = interval(state.background.rate_per_minute) else {
        return;
    };
    if state.scenario.background.from.is_none() || !state.scenario.account.sending_enabled {
        return;
    }
    let set = state.scenario.background.configuration_set.clone();
    let fine: Vec<SesMetric> = set
        .as_deref()
        .and_then(|name| state.scenario.configuration_set(name))
        .map(|cs| {
            cs.event_destinations
                .iter()
                .filter(|d| d.enabled && d.kind == crate::scenario::DestinationKind::Cloudwatch)
                .flat_map(|d| d.matching_event_types.iter().filter_map(|t| t.metric()))
                .filter(|m| matches!(m, SesMetric::Send | SesMetric::Delivery))
                .collect()
        })
        .unwrap_or_default();
    let mut at = now - Duration::minutes(HISTORY_MINUTES);
    while at < now {
        state.ses_sent.push(at);
        for metric in [SesMetric::Send, SesMetric::Delivery] {
            state.metrics.record_account(metric, at);
            if let Some(set) = set.as_deref().filter(|_| fine.contains(&metric)) {
                state.metrics.record_configuration_set(metric, set, at);
            }
        }
        at += step;
    }
}

/// Sends every background message due by `now`. A clock moved far ahead catches up at most one day of
/// traffic (the SentLast24Hours window): older messages would change no read the probe makes.
pub(crate) fn run_due(shared: &Shared, state: &mut State, now: DateTime<Utc>) {
    let Some(step) = interval(state.background.rate_per_minute) else {
        return;
    };
    let Some(from) = state.scenario.background.from.clone() else {
        return;
    };
    let account = &state.scenario.account;
    // SES refuses an account whose sending is paused, and the sandbox refuses unverified recipients
    // (research/aws.md §3.2): no background mail then.
    if !account.sending_enabled || !account.production_access_enabled {
        state.background.next = state.background.next.map(|n| n.max(now));
        return;
    }
    let Some(mut next) = state.background.next else { return };
    if now - next > Duration::days(1) {
        next = now - Duration::days(1);
    }
    while next <= now {
        send_one(shared, state, &from, next);
        next += step;
    }
    state.background.next = Some(next);
}

fn send_one(shared: &Shared, state: &mut State, from: &str, at: DateTime<Utc>) {
    let n = state.background.sent;
    state.background.sent += 1;
    let region = state.scenario.account.region.as_str().to_string();
    let ses = SesSend::new(&region, at);
    let to = format!("user{n}@{RECIPIENT_DOMAIN}");
    let subject = "Your weekly digest".to_string();
    let source_arn = state.scenario.sending_identity(from).map(|i| state.scenario.identity_arn(i)).unwrap_or_default();
    let mail = SentMail {
        message_id: ses.message_id.clone(),
        timestamp: at,
        source: from.to_string(),
        source_arn,
        sending_account_id: state.scenario.account.id.as_str().to_string(),
        destination: vec![to.clone()],
        headers: vec![
            ("From".into(), from.to_string()),
            ("To".into(), to),
            ("Subject".into(), subject.clone()),
            ("MIME-Version".into(), "1.0".into()),
            ("Content-Type".into(), "text/html; charset=UTF-8".into()),
        ],
        subject,
        reply_to: None,
        date: at.format("%a, %-d %b %Y %H:%M:%S +0000").to_string(),
        configuration_set: state.scenario.background.configuration_set.clone(),
        region: region.clone(),
        outbound_host: ses.host.clone(),
        outbound_ip: ses.ip.clone(),
        caller_identity: CALLER_IDENTITY.to_string(),
        source_ip: SOURCE_IP.to_string(),
    };
    state.metrics.record_account(SesMetric::Send, at);
    state.ses_sent.push(at);
    events::publish(shared, state, &mail, EventType::Send, json!({}), at, false);
    // Their recipients' servers are plain Postfix hosts.
    let smtp = mail::smtp_response(ReceiverStyle::Opendkim, &ses.message_id_header(&region), at, 4096);
    state.metrics.record_account(SesMetric::Delivery, at);
    events::publish(shared, state, &mail, EventType::Delivery, events::delivery(&mail, at, &smtp), at, true);
}

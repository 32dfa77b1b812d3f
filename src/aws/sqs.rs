//! The SES event queue (`[ses_events] queue_url`): the SQS queue a configuration set's event destination
//! feeds (EventBridge rule or SNS subscription, research/ses-events-oauth-emf.md §1). The probe reads it
//! with long polling and takes only its own message's records:
//!
//! * its own records are deleted once read (they are the probe's, nobody else needs them);
//! * on a **shared** queue (the default) other mail's records and bodies it cannot read are left alone: they
//!   stay hidden only for the short receive visibility timeout (`visibility_timeout`, default 5 s) and then
//!   reappear for their own consumer. A zero timeout would hand the same records back at once and the probe
//!   would never get past them; a long one would keep them from their consumer;
//! * on a **dedicated** queue (`dedicated = true`, a queue that only the probe reads) they are deleted, so the
//!   queue never fills with mail the probe does not care about.

use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde::Deserialize;

use super::AwsFailure;
use super::events::{Interest, Parsed, SesEvent, parse};

/// The `[ses_events]` section of a probe file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SesEventsSettings {
    /// The queue's URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`).
    pub queue_url: String,
    /// Only this probe reads the queue: other mail's records are deleted instead of left.
    #[serde(default)]
    pub dedicated: bool,
    /// How long a record the probe received stays hidden from other consumers (shared queues).
    #[serde(default = "default_visibility", deserialize_with = "crate::duration::de")]
    pub visibility_timeout: Duration,
}

fn default_visibility() -> Duration {
    Duration::from_secs(5)
}

/// Longest `WaitTimeSeconds` SQS accepts (ReceiveMessage: "Valid values: 0 to 20").
const MAX_WAIT: Duration = Duration::from_secs(20);
/// Most messages one `ReceiveMessage` returns ("Valid values: 1 to 10").
const MAX_MESSAGES: i32 = 10;

/// What one receive brought.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Polled {
    /// The probe's events, in the order received.
    pub events: Vec<SesEvent>,
    /// Records of other mail (left or deleted, see the module docs). On a shared queue the same record
    /// comes back after its visibility timeout: the SQS message id tells a repeat from a new one.
    pub foreign: Vec<Foreign>,
    /// Bodies that are not SES records: SQS message id and the reason (left or deleted alike).
    pub unreadable: Vec<(String, String)>,
}

/// A record of other mail.
#[derive(Debug, Clone, PartialEq)]
pub struct Foreign {
    /// The SQS message id.
    pub id: String,
    /// `mail.timestamp` of the record's message.
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Its `ses:configuration-set` tag.
    pub configuration_set: Option<String>,
}

/// The queue of one probe.
#[derive(Debug, Clone)]
pub struct EventQueue {
    client: aws_sdk_sqs::Client,
    settings: SesEventsSettings,
}

impl EventQueue {
    pub fn new(client: aws_sdk_sqs::Client, settings: SesEventsSettings) -> EventQueue {
        EventQueue { client, settings }
    }

    pub fn url(&self) -> &str {
        &self.settings.queue_url
    }

    /// One receive, long-polling up to `wait` (at most 20 s): the records of `interest`'s message.
    pub async fn poll(&self, interest: &Interest, wait: Duration) -> Result<Polled, AwsFailure> {
        let url = &self.settings.queue_url;
        let visibility = self.settings.visibility_timeout.as_secs().clamp(1, 43_200) as i32;
        let out = super::call(
            "ReceiveMessage",
            self.client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(MAX_MESSAGES)
                .wait_time_seconds(wait.min(MAX_WAIT).as_secs() as i32)
                .visibility_timeout(visibility)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .send(),
        )
        .await?;
        let mut polled = Polled::default();
        let mut delete = Vec::new();
        for message in out.messages() {
            let Some(handle) = message.receipt_handle() else { continue };
            let body = message.body().unwrap_or_default();
            let id = message.message_id().unwrap_or("?").to_string();
            let ours = match parse(body) {
                Parsed::Event(event) if interest.matches(&event) => {
                    polled.events.push(*event);
                    true
                }
                Parsed::Event(event) => {
                    let (sent_at, configuration_set) = (event.sent_at, event.configuration_set);
                    polled.foreign.push(Foreign { id, sent_at, configuration_set });
                    false
                }
                Parsed::NotSes(why) | Parsed::Malformed(why) => {
                    polled.unreadable.push((id, why));
                    false
                }
            };
            if ours || self.settings.dedicated {
                delete.push(handle.to_string());
            }
        }
        if !delete.is_empty() {
            self.delete(delete).await?;
        }
        Ok(polled)
    }

    async fn delete(&self, handles: Vec<String>) -> Result<(), AwsFailure> {
        let entries: Vec<DeleteMessageBatchRequestEntry> = handles
            .into_iter()
            .enumerate()
            .filter_map(|(i, h)| {
                DeleteMessageBatchRequestEntry::builder().id(format!("m{i}")).receipt_handle(h).build().ok()
            })
            .collect();
        let out = super::call(
            "DeleteMessageBatch",
            self.client.delete_message_batch().queue_url(&self.settings.queue_url).set_entries(Some(entries)).send(),
        )
        .await?;
        if let Some(failed) = out.failed().first() {
            // A record not deleted comes back after its visibility timeout and is matched again: the
            // events are deduplicated, so this costs a read, not a wrong verdict.
            tracing::debug!(code = failed.code(), "SQS kept a record the probe deleted");
        }
        Ok(())
    }
}

//! How the monitor hands an alert to a channel: the [`Notifier`] seam (tests record, the binary sends through
//! the channels of [`crate::alert`]).

use std::future::Future;
use std::pin::Pin;

use crate::alert::Alert;
use crate::alert::ChannelConfig as ChannelSettings;

/// An alert one channel delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Attempts that failed before the one that got through (each was retried).
    pub retries: u32,
}

/// An alert one channel did not deliver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotSent {
    /// Attempts repeated after a failed one before the channel gave up.
    pub retries: u32,
    /// What went wrong, for logs (no secrets).
    pub error: String,
    /// Whether the receiver may have taken it anyway (an attempt timed out or was cut short after the
    /// request went out): such a channel is owed the incident's resolve like one that confirmed the page.
    pub uncertain: bool,
}

impl std::fmt::Display for NotSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)
    }
}

/// A boxed send future.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Sent, NotSent>> + Send + 'a>>;

/// Delivers one alert to one channel, saying how many retries it took, so `/metrics` shows a channel that
/// only gets through on its second or third attempt.
pub trait Notifier: Send + Sync {
    fn notify<'a>(&'a self, channel: &'a ChannelSettings, alert: &'a Alert) -> SendFuture<'a>;
}

/// The notifier of the binary: builds the configured channel (secrets read now, so rotation is picked up)
/// and sends through it, with the channel's own retries and backoff.
#[derive(Debug, Default, Clone, Copy)]
pub struct Channels;

impl Notifier for Channels {
    fn notify<'a>(&'a self, channel: &'a ChannelSettings, alert: &'a Alert) -> SendFuture<'a> {
        Box::pin(async move {
            let channel = crate::alert::Channel::from_config(channel).await.map_err(|e| NotSent {
                retries: 0,
                error: e.to_string(),
                uncertain: false,
            })?;
            send(&channel, alert).await
        })
    }
}

/// Sends through a built channel and counts its retries: every failed attempt was retried except, when
/// the alert was not delivered, the last one.
pub async fn send(channel: &crate::alert::Channel, alert: &Alert) -> Result<Sent, NotSent> {
    let result = channel.send(alert).await;
    let failed = u32::try_from(channel.errors()).unwrap_or(u32::MAX);
    match result {
        Ok(()) => Ok(Sent { retries: failed }),
        Err(e) => {
            let uncertain = matches!(e, crate::alert::ChannelError::Undelivered { uncertain: true, .. });
            Err(NotSent { retries: failed.saturating_sub(1), error: e.to_string(), uncertain })
        }
    }
}

//! How the monitor hands an alert to a channel: the [`Notifier`] seam (tests record, the binary sends through
//! the channels of [`crate::alert`]).

use std::future::Future;
use std::pin::Pin;

use super::config::ChannelSettings;
use crate::alert::Alert;

/// A boxed send future.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Delivers one alert to one channel. `Err` carries a message for logs and metrics (no secrets).
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
            let channel = crate::alert::Channel::from_config(channel).await.map_err(|e| e.to_string())?;
            channel.send(alert).await.map_err(|e| e.to_string())
        })
    }
}

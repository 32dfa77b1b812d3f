//! The trigger phase: make Cognito send one real message with the call the resolve phase chose, through
//! the client with SDK retries off (a retried timeout can send a second mail, aws.md §1.8).

use chrono::{DateTime, Utc};

use super::clock::Step;
use super::decide;
use super::resolve::Target;
use crate::aws::Clients;
use crate::aws::cognito::User;
use crate::config::ProbeFile;
use crate::diagnosis::{Cause, Code};

/// When Cognito was asked, and which medium it says it used.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Taken before the call: Cognito may hand the mail to SES before it answers.
    pub at: DateTime<Utc>,
    pub delivery_medium: Option<String>,
}

pub async fn run(probe: &ProbeFile, target: &Target, user: &User, clients: &Clients) -> Result<Step<Sent>, Cause> {
    let secret = match &probe.client_secret {
        Some(source) => Some(
            source.read().await.map_err(|e| Cause::new(Code::ConfigInvalid).detail(format!("client_secret: {e}")))?,
        ),
        None => None,
    };
    let call = target.call;
    let at = Utc::now();
    let delivery = clients
        .trigger(call, &probe.pool_id, &probe.username, probe.client_id.as_deref(), secret.as_ref())
        .await
        .map_err(|e| decide::trigger_failure(call, &e, user))?;
    if let Some(medium) = delivery.medium.as_deref().filter(|m| *m != "EMAIL") {
        return Err(Cause::new(Code::SmsDelivery).detail(format!("{call} answered DeliveryMedium={medium}")));
    }
    let detail = format!("Cognito accepted {call} at {}", at.format("%H:%M:%S"));
    Ok(Step::ok(Sent { at, delivery_medium: delivery.medium }, detail))
}

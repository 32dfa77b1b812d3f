//! The resolve phase: read the test user (AdminGetUser) and the pool's email configuration
//! (DescribeUserPool) concurrently, and choose the call that makes the mail by the user's status
//! ([`crate::aws::trigger::choose`], DESIGN.md §2).

use crate::aws::Clients;
use crate::aws::cognito::{Pool, User};
use crate::aws::trigger::{self, Rate, Refusal, Trigger};
use crate::config::ProbeFile;
use crate::diagnosis::{Cause, Code};
use crate::duration;
use crate::verdict::Mark;

use super::clock::Step;
use super::decide;

/// What the run learned about the user and the pool.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub user: User,
    pub pool: Pool,
    /// The call that makes the mail, or why none can.
    pub call: Result<Trigger, Cause>,
    /// Findings that do not stop the run (an interval too short for the trigger's hourly limit).
    pub notes: Vec<String>,
}

/// Who the probe's mail is from and to, once a call is chosen.
#[derive(Debug, Clone)]
pub struct Target {
    pub call: Trigger,
    /// The test user's address (the trigger rule guarantees there is one).
    pub recipient: String,
    /// The sender the mail must come from: `[expect] from`, else the pool's From.
    pub sender: String,
}

impl Resolved {
    pub fn target(&self, probe: &ProbeFile) -> Result<Target, Cause> {
        let call = self.call.clone()?;
        let recipient = self.user.email.clone().ok_or_else(|| refusal(&Refusal::NoEmail))?;
        let sender = probe.expect.from.clone().unwrap_or_else(|| self.pool.sender_address());
        Ok(Target { call, recipient, sender })
    }
}

/// Reads the user and the pool; an AWS failure is the phase's cause.
pub async fn run(probe: &ProbeFile, clients: &Clients) -> Result<Step<Resolved>, Cause> {
    let (user, pool) = tokio::join!(
        clients.admin_get_user(&probe.pool_id, &probe.username),
        clients.describe_user_pool(&probe.pool_id)
    );
    let (user, pool) = match (user, pool) {
        (Ok(u), Ok(p)) => (u, p),
        (Err(e), _) | (_, Err(e)) => return Err(decide::resolve_failure(&e, &probe.username)),
    };
    let detail = format!(
        "user {} {}{}, email {}; pool {} from {}",
        user.username,
        user.status,
        if user.enabled { "" } else { " (disabled)" },
        user.email.as_deref().unwrap_or("-"),
        pool.sending_account,
        pool.sender_address()
    );
    let call = trigger::choose(probe.trigger, &user, probe.client_id.is_some()).map_err(|r| refusal(&r));
    let mut notes = Vec::new();
    if let Ok(call) = call
        && let Rate::TooFrequent { limit, .. } = trigger::rate(call, probe.interval)
    {
        notes.push(format!(
            "{call} allows as few as {limit} attempts per user per hour (aws.md §1.6); interval {} risks \
             LimitExceededException — use ≥ {} or a FORCE_CHANGE_PASSWORD user with RESEND",
            duration::show(probe.interval),
            duration::show(trigger::MIN_LIMITED_INTERVAL)
        ));
    }
    let mark = if call.is_ok() { Mark::Ok } else { Mark::Fail };
    Ok(Step::marked(Resolved { user, pool, call, notes }, mark, detail))
}

/// The cause of a trigger refusal (raised in the resolve phase).
fn refusal(r: &Refusal) -> Cause {
    let code = match r {
        Refusal::Disabled | Refusal::NoTriggerForStatus(_) => Code::UserState,
        Refusal::NeedsClient { .. } => Code::ConfigInvalid,
        Refusal::NeedsVerifiedEmail(_) | Refusal::NoEmail => Code::EmailUnverified,
    };
    Cause::new(code).detail(r.to_string())
}

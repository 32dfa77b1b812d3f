//! One probe run, the single code path behind `probe --pool`, the monitor and the paging hook. [`run_with`]
//! reads as the README's eight steps: resolve → inbox baseline → trigger → ses ∥ inbox → authenticate →
//! cleanup → verdict (DESIGN.md §1).
//!
//! Each phase is one file with one shape — `async fn(…) -> Result<Step<T>, Cause>` — run through the
//! [`clock::Clock`], which times it, shows its live line and places a raised cause in that phase. The
//! verdict decisions are pure functions ([`decide`]). Order matters for the user's mailbox and quota: the
//! mailbox is opened and baselined *before* the trigger, so a probe whose IMAP is down never sends a mail
//! it cannot see; and it is closed in exactly one place. The SES checkpoint runs beside the inbox wait and
//! never delays an OK verdict (DESIGN.md §3).

pub mod authenticate;
pub mod cleanup;
pub mod clock;
pub mod decide;
pub mod inbox;
pub mod resolve;
pub mod sender;
pub mod ses;
pub mod trigger;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

pub use clock::{PhaseLine, Progress};

use crate::aws::Clients;
use crate::config::ProbeFile;
use crate::diagnosis::Diagnosis;
use crate::inbox::pool::ImapPool;
use crate::report::{PoolSummary, Report, SesEvidence, TriggerRecord};
use crate::verdict::{Mark, Phase};
use clock::Clock;
use resolve::Target;

/// What a run uses besides its probe file.
pub struct RunContext<'a> {
    pub clients: &'a Clients,
    /// IMAP sessions: the monitor shares logged-in sessions between runs of probes with the same login
    /// and caps connections per login (`imap.max_connections`); a one-shot run has its own.
    pub imap: &'a ImapPool,
    /// What earlier runs of this probe left behind (the monitor's state; empty for a plain one-shot run).
    pub memory: Memory,
}

/// What a probe remembers from its earlier runs, kept in the monitor's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    /// When the previous run stopped waiting for its mail (its `trigger.wait_until`): with
    /// `cleanup = keep`, mail arriving after it is late.
    pub previous_wait_until: Option<DateTime<Utc>>,
    /// The receiver whose Authentication-Results the first trusted run read (its operator's domain), when
    /// no authserv-id is configured: a later run trusting another receiver is a WARNING, not a switch.
    pub receiver: Option<String>,
    /// When this probe's earlier runs triggered a mail, over the last [`ses::BACKGROUND_MINUTES`] and a
    /// bit: their own Sends are not the account's other mail.
    pub own_triggers: Vec<DateTime<Utc>>,
}

/// Runs one probe to its report with a one-shot IMAP pool. Never fails: trouble becomes a report.
pub async fn run(probe: &ProbeFile, clients: &Clients, progress: Progress<'_>) -> Report {
    let imap = ImapPool::one_shot();
    run_with(probe, &RunContext { clients, imap: &imap, memory: Memory::default() }, progress).await
}

/// Runs one probe to its report. Never fails: trouble becomes an UNKNOWN or CRITICAL report.
pub async fn run_with(probe: &ProbeFile, ctx: &RunContext<'_>, progress: Progress<'_>) -> Report {
    let span = tracing::info_span!("run", probe = %probe.name, pool = %probe.pool_id);
    async {
        let clock = Clock::new(progress);
        let mut report = Report::new(&probe.name, &probe.pool_id, &probe.username);
        // On the heap: a run's future is large in a debug build, and a caller that awaits it inline (a
        // test, `block_on`) would otherwise hold all of it on its thread's stack.
        let verdict = Box::pin(steps(probe, ctx, &clock, &mut report)).await.unwrap_or_else(|early| early);
        report.conclude(verdict, clock.timings());
        tracing::info!(outcome = %report.outcome, phase = %report.phase, code = %report.diagnosis.code, "run finished");
        report
    }
    .instrument(span)
    .await
}

/// The eight steps. `Err` is a verdict reached early; `Ok` the verdict of a delivered mail.
async fn steps(
    probe: &ProbeFile,
    ctx: &RunContext<'_>,
    clock: &Clock<'_>,
    report: &mut Report,
) -> Result<Diagnosis, Diagnosis> {
    // 1. resolve — the user and the pool, and the call that makes the mail.
    let resolved = clock.phase(Phase::Resolve, resolve::run(probe, ctx.clients)).await?;
    report.user = Some(resolved.user.clone());
    report.pool = Some(PoolSummary::from(&resolved.pool));
    report.notes.extend(resolved.notes.iter().cloned());
    let target = resolved.target(probe).map_err(|cause| cause.at(Phase::Resolve))?;
    // 2. inbox (baseline) — the mailbox is open from here to the one close below, whatever happens.
    let mut slot = None;
    let verdict = match clock.phase(Phase::Inbox, inbox::open(probe, &target, ctx, &mut slot)).await {
        Ok(opened) => Box::pin(after_baseline(probe, ctx, clock, report, &resolved, &target, opened)).await,
        Err(d) => Err(d),
    };
    if let Some(mailbox) = slot {
        mailbox.close().await;
    }
    // Fixes are written with the pool's own values (its identity ARN, ARN, account, From).
    let region = probe.region();
    verdict.map(|d| d.tailored(&resolved.pool, &region)).map_err(|d| d.tailored(&resolved.pool, &region))
}

/// Steps 3–8, with the mailbox open and baselined.
#[allow(clippy::too_many_arguments)] // the run's state, passed explicitly rather than bundled
async fn after_baseline(
    probe: &ProbeFile,
    ctx: &RunContext<'_>,
    clock: &Clock<'_>,
    report: &mut Report,
    resolved: &resolve::Resolved,
    target: &Target,
    mut opened: inbox::Opened<'_>,
) -> Result<Diagnosis, Diagnosis> {
    report.late_mails = opened.late;
    report.notes.append(&mut opened.notes);
    let sender =
        sender::Sender::prepare(probe, &resolved.pool, ctx.clients, &target.recipient, &mut report.notes).await;
    let window_start = Utc::now();
    let ses_base = if sender.any() {
        Some(clock.phase(Phase::Ses, sender.before_trigger(window_start, &ctx.memory.own_triggers)).await?)
    } else {
        clock.skip(Phase::Ses, ses::skipped_because(probe, &resolved.pool));
        None
    };
    // 3. trigger
    let sent = clock.phase(Phase::Trigger, trigger::run(probe, target, &resolved.user, ctx.clients)).await?;
    let deadline = tokio::time::Instant::now() + probe.timeout;
    let wait_until = Utc::now() + chrono::Duration::from_std(probe.timeout).unwrap_or_default();
    report.trigger =
        Some(TriggerRecord { call: target.call, at: sent.at, wait_until, delivery_medium: sent.delivery_medium });
    // 4. ses ∥ 5. inbox: the sender side watches until the mail is found, its own evidence decides, or the
    // timeout plus settle; a conclusive sender verdict (a bounce, a logged error) ends the inbox wait too.
    let conclusive = CancellationToken::new();
    let (tell, told) = tokio::sync::watch::channel(sender::Waited::Pending);
    let waiting = async {
        let wait = inbox::wait(&mut opened, probe.timeout, deadline, sent.at);
        let waited = clock
            .phase(Phase::Inbox, async {
                tokio::select! {
                    waited = wait => waited,
                    _ = conclusive.cancelled() => {
                        Ok(clock::Step::marked(None, Mark::Skip, "stopped: the sender side already decided"))
                    }
                }
            })
            .await;
        let _ = tell.send(match &waited {
            Ok(Some((found, _))) => sender::Waited::Found(found.ses_message_id.clone()),
            Ok(None) => sender::Waited::Gave,
            Err(_) => sender::Waited::Lost,
        });
        waited
    };
    let watching = async {
        match ses_base {
            Some(base) => {
                let until = deadline + probe.cloudwatch.settle;
                let watched = sender.watch(base.clone(), sent.at, window_start, until, told, &conclusive);
                clock.phase(Phase::Ses, watched).await.unwrap_or(base)
            }
            None => SesEvidence::default(),
        }
    };
    let (waited, ses) = tokio::join!(waiting, watching);
    report.ses = ses;
    report.notes.append(&mut report.ses.notes);
    report.notes.append(&mut opened.notes);
    if !matches!(waited, Ok(Some(_))) {
        sender.after_timeout(&mut report.ses).await;
    }
    let Some((found, mail)) = waited? else {
        return Err(decide::not_delivered(&resolved.pool, target.call, sent.at, &report.ses, probe));
    };
    // 6. authenticate
    let auth = clock.phase(Phase::Authenticate, authenticate::run(&found, probe)).await?;
    let receiver = decide::ReceiverChange::of(probe, ctx.memory.receiver.as_deref(), &auth.evaluation);
    report.auth = Some(auth.evaluation);
    // 7. cleanup
    let note = clock.phase(Phase::Cleanup, cleanup::run(opened.inbox, &found, probe)).await?;
    report.notes.extend(note);
    // 8. verdict
    report.notes.extend(decide::sender_notes(&report.ses));
    let verdict =
        decide::delivered(probe, &resolved.pool, &mail, &auth.judgement, receiver.as_ref(), &mut report.notes);
    report.mail = Some(mail);
    Ok(verdict)
}

//! The inbox phase, in two parts around the trigger (DESIGN.md §4): before it, open the mailbox, take the
//! baseline and sweep the probe's own late mail — so a probe whose mailbox is down never sends a mail it
//! cannot see; after it, wait for the probe's message and read its latency from the headers.

use chrono::{DateTime, Utc};

use super::RunContext;
use super::clock::Step;
use super::resolve::Target;
use crate::config::{Cleanup, Mailbox, ProbeFile};
use crate::diagnosis::{Cause, Code};
use crate::duration;
use crate::inbox::maildir::MaildirInbox;
use crate::inbox::{Baseline, Found, Inbox, InboxError, LateWindow, Matcher};
use crate::report::{Latency, MailRecord};
use crate::verdict::Mark;

/// The mailbox as the run left it before the trigger.
pub struct Opened<'s> {
    /// The open mailbox, held in the run's slot (the run closes it).
    pub inbox: &'s mut Inbox,
    pub baseline: Baseline,
    pub matcher: Matcher,
    /// Probe mail of earlier runs that arrived after their timeout, found now.
    pub late: u32,
    pub notes: Vec<String>,
}

/// Part one: opens the mailbox into `slot` (the run closes it, whatever happens next), takes the baseline
/// and sweeps late mail. An IMAP mailbox waits for a free connection of its login at most the timeout.
pub async fn open<'s>(
    probe: &ProbeFile,
    target: &Target,
    ctx: &RunContext<'_>,
    slot: &'s mut Option<Inbox>,
) -> Result<Step<Opened<'s>>, Cause> {
    let unavailable = |e: InboxError| match e {
        // The token endpoint, not the mail server: its own code, with the provider's fix in the detail.
        InboxError::OAuth2(e) => Cause::new(Code::ImapOauth2).detail(e.to_string()),
        e => Cause::new(Code::MailboxUnavailable).detail(e.to_string()),
    };
    let inbox = slot.insert(connect(probe, ctx).await.map_err(unavailable)?);
    let baseline = inbox.baseline().await.map_err(unavailable)?;
    let matcher = Matcher::new(&target.sender, &target.recipient);
    let mut notes = Vec::new();
    let window = late_window(probe, &baseline, ctx.memory.previous_wait_until);
    let late = match window {
        Some(window) => match inbox.sweep(&baseline, &matcher, &window, probe.mailbox.cleanup()).await {
            Ok(sweep) => sweep.late,
            // A server that sent more than the sweep reads left the connection out of step: no mail is sent
            // that the run could not watch.
            Err(e @ InboxError::TooLarge { .. }) => return Err(unavailable(e)),
            Err(e) => {
                notes.push(format!("sweep of late probe mail failed: {e}"));
                0
            }
        },
        None => {
            notes.push(
                "cleanup = keep: late mail is counted from the next run on (kept on-time mail cannot be told from \
                 late mail without the previous run's deadline)"
                    .into(),
            );
            0
        }
    };
    let folders: Vec<&str> = baseline.folders.iter().map(|f| f.folder.as_str()).collect();
    let mut detail = format!("baseline of {} taken", folders.join(", "));
    if late > 0 {
        detail.push_str(&format!("; {late} late probe mail(s) of earlier runs swept"));
    }
    Ok(Step::ok(Opened { inbox, baseline, matcher, late, notes }, detail))
}

/// Which of the probe's own earlier mail counts as late (see [`LateWindow`]); `None` when that cannot be
/// told: cleanup = keep with no previous run to start from.
fn late_window(probe: &ProbeFile, baseline: &Baseline, previous: Option<DateTime<Utc>>) -> Option<LateWindow> {
    match probe.mailbox.cleanup() {
        Cleanup::Keep => previous.map(|after| LateWindow { after: Some(after), before: baseline.taken_at }),
        Cleanup::Delete | Cleanup::MoveTo(_) => {
            let timeout = chrono::Duration::from_std(probe.timeout).unwrap_or_default();
            Some(LateWindow { after: None, before: baseline.taken_at - timeout })
        }
    }
}

async fn connect(probe: &ProbeFile, ctx: &RunContext<'_>) -> Result<Inbox, InboxError> {
    match &probe.mailbox {
        Mailbox::Imap(imap) => {
            let deadline = tokio::time::Instant::now() + probe.timeout;
            Ok(Inbox::Pooled(Box::new(ctx.imap.checkout(imap, deadline).await?)))
        }
        Mailbox::Maildir(m) => Ok(Inbox::Maildir(MaildirInbox::open(&m.path, m.max_message_size)?)),
    }
}

/// Part two: waits for the probe's message until `deadline`. `Ok(None)` is "not in time" (marked `Fail`,
/// decided with what the SES checkpoint saw); a mailbox error now is `mailbox_lost`: the mail was sent.
pub async fn wait(
    opened: &mut Opened<'_>,
    timeout: std::time::Duration,
    deadline: tokio::time::Instant,
    trigger_at: DateTime<Utc>,
) -> Result<Step<Option<(Found, MailRecord)>>, Cause> {
    let waited = opened
        .inbox
        .wait(&opened.baseline, &opened.matcher, deadline)
        .await
        .map_err(|e| Cause::new(Code::MailboxLost).detail(e.to_string()))?;
    opened.notes.extend(waited.foreign.iter().map(|f| format!("foreign mail: {f}")));
    opened.notes.extend(waited.unread);
    let Some(found) = waited.found else {
        let m = &opened.matcher;
        let detail = format!("no mail from {} to {} within {}", m.from, m.to, duration::show(timeout));
        return Ok(Step::marked(None, Mark::Fail, detail));
    };
    if found.ses_message_id.is_none() {
        opened.notes.push(format!(
            "the message judged ({} {}) has no Message-ID of SES's form: without SES event records the probe cannot \
             tell it from mail someone else sent to the test user",
            found.folder, found.id
        ));
    }
    let mail = mail_record(&found, trigger_at);
    let after =
        mail.latency.total_seconds.map(|s| format!("{}s", duration::seconds(s, 2))).unwrap_or_else(|| "?".into());
    let mark = if found.junk { Mark::Warn } else { Mark::Ok };
    let detail = format!("found in {} after {after}", found.folder);
    Ok(Step::marked(Some((found, mail)), mark, detail))
}

/// The record of the found mail: folder, Message-ID, and the latency split at the points its headers
/// reveal (DESIGN.md §4).
pub fn mail_record(found: &Found, trigger_at: DateTime<Utc>) -> MailRecord {
    let mut latency = Latency {
        trigger_at: Some(trigger_at),
        visible_at: found.visible_at,
        detected_at: Some(found.detected_at),
        ..Latency::default()
    };
    let mut message_id = None;
    if let Some(message) = mail_parser::MessageParser::new().parse_headers(&found.raw) {
        message_id = message.message_id().map(str::to_string);
        let date = |r: &mail_parser::Received<'_>| r.date().and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0));
        let received: Vec<_> = message.received_all().collect();
        latency.receiver_at = received.first().and_then(|r| date(r));
        // The SES hop: the bottom-most Received naming an amazonses.com / amazonaws.com host.
        latency.ses_handoff_at = received
            .iter()
            .rev()
            .find(|r| {
                let by = r.by().map(|h| h.to_string()).unwrap_or_default();
                let from = r.from().map(|h| h.to_string()).unwrap_or_default();
                [by, from].iter().any(|h| h.ends_with("amazonses.com") || h.ends_with("amazonaws.com"))
            })
            .and_then(|r| date(r));
    }
    latency.compute();
    let ses_message_id = found.ses_message_id.clone();
    MailRecord { folder: found.folder.clone(), junk: found.junk, message_id, ses_message_id, latency }
}

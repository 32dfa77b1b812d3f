//! The cleanup phase: delete (or move, or keep) exactly the matched message. Other mail is never touched;
//! a failed cleanup is a note, not the run's failure — the next run's sweep finds the message as the
//! probe's own.

use super::clock::Step;
use crate::config::ProbeFile;
use crate::diagnosis::Cause;
use crate::inbox::{Found, Inbox};
use crate::verdict::Mark;

/// Cleans up `found`; the value is the note to add when it failed.
pub async fn run(inbox: &mut Inbox, found: &Found, probe: &ProbeFile) -> Result<Step<Option<String>>, Cause> {
    let how = probe.mailbox.cleanup();
    Ok(match inbox.cleanup(found, how).await {
        Ok(()) => Step::ok(None, how.to_string()),
        Err(e) => Step::marked(Some(format!("cleanup failed: {e}")), Mark::Warn, e.to_string()),
    })
}

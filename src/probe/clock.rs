//! The phase clock: every phase of a run goes through [`Clock::phase`], which opens its tracing span,
//! measures it, tells the live view how it went, and places a raised [`Cause`] in that phase — on every
//! exit, so no early return can forget one. Phases that run concurrently (ses ∥ inbox) share the clock;
//! a phase that runs in two parts (the inbox: baseline before the trigger, wait after it) adds up.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use tracing::Instrument as _;

use crate::diagnosis::{Cause, Diagnosis};
use crate::verdict::{Mark, Phase};

/// A phase finished: what the live text output prints as it happens.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseLine {
    pub phase: Phase,
    pub mark: Mark,
    pub seconds: f64,
    pub detail: String,
}

/// Receives phase lines as they happen (the terminal's live view; a no-op elsewhere).
pub type Progress<'a> = &'a (dyn Fn(&PhaseLine) + Send + Sync);

/// What a phase produced, with the mark and one line for the live view.
#[derive(Debug)]
pub struct Step<T> {
    pub value: T,
    pub mark: Mark,
    pub detail: String,
}

impl<T> Step<T> {
    pub fn ok(value: T, detail: impl Into<String>) -> Step<T> {
        Step { value, mark: Mark::Ok, detail: detail.into() }
    }

    pub fn marked(value: T, mark: Mark, detail: impl Into<String>) -> Step<T> {
        Step { value, mark, detail: detail.into() }
    }
}

/// Times the phases of one run.
pub struct Clock<'a> {
    progress: Progress<'a>,
    /// Seconds per phase, summed over its parts. Never held across an await.
    timings: Mutex<BTreeMap<Phase, f64>>,
}

impl<'a> Clock<'a> {
    pub fn new(progress: Progress<'a>) -> Clock<'a> {
        Clock { progress, timings: Mutex::new(BTreeMap::new()) }
    }

    /// Runs one phase (or one part of it) to its value, or to the diagnosis it raised placed in `phase`.
    pub async fn phase<T, F>(&self, phase: Phase, work: F) -> Result<T, Diagnosis>
    where
        F: Future<Output = Result<Step<T>, Cause>>,
    {
        let span = tracing::debug_span!("phase", phase = phase.name());
        let started = Instant::now();
        // Each phase's future on the heap, so the run's own future holds a pointer per phase, not the phase.
        let result = Box::pin(work.instrument(span.clone())).await;
        let seconds = started.elapsed().as_secs_f64();
        let total = {
            let mut timings = self.timings.lock().unwrap_or_else(|p| p.into_inner());
            let t = timings.entry(phase).or_insert(0.0);
            *t += seconds;
            *t
        };
        let (mark, detail, out) = match result {
            Ok(step) => (step.mark, step.detail, Ok(step.value)),
            Err(cause) => (Mark::Fail, cause.summary(), Err(cause.at(phase))),
        };
        span.in_scope(|| tracing::debug!(mark = ?mark, seconds, "{detail}"));
        (self.progress)(&PhaseLine { phase, mark, seconds: total, detail });
        out
    }

    /// A phase that does not apply to this run: shown, not timed (its timing stays `null`).
    pub fn skip(&self, phase: Phase, detail: &str) {
        tracing::debug!(phase = phase.name(), "skipped: {detail}");
        (self.progress)(&PhaseLine { phase, mark: Mark::Skip, seconds: 0.0, detail: detail.to_string() });
    }

    /// Seconds spent in each phase that ran.
    pub fn timings(&self) -> BTreeMap<Phase, f64> {
        self.timings.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::Code;

    #[tokio::test]
    async fn every_exit_is_timed_shown_and_placed_in_its_phase() {
        let lines = Mutex::new(Vec::new());
        let progress = |l: &PhaseLine| lines.lock().unwrap().push((l.phase, l.mark, l.detail.clone()));
        let clock = Clock::new(&progress);
        let ok: Result<u32, Diagnosis> = clock.phase(Phase::Resolve, async { Ok(Step::ok(7, "read")) }).await;
        assert_eq!(ok.unwrap(), 7);
        let failed: Result<(), Diagnosis> =
            clock.phase(Phase::Trigger, async { Err(Cause::new(Code::AwsUnreachable).detail("no answer")) }).await;
        let d = failed.unwrap_err();
        assert_eq!((d.code, d.phase), (Code::AwsUnreachable, Phase::Trigger));
        let _ = clock.phase(Phase::Inbox, async { Ok(Step::ok((), "baseline")) }).await;
        let _ = clock.phase(Phase::Inbox, async { Ok(Step::marked((), Mark::Warn, "in Junk")) }).await;
        let timings = clock.timings();
        drop(clock);
        let seen = lines.into_inner().unwrap();
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[1].1, Mark::Fail);
        assert!(seen[1].2.ends_with("no answer"), "{:?}", seen[1]);
        assert_eq!(timings.keys().copied().collect::<Vec<_>>(), [Phase::Resolve, Phase::Trigger, Phase::Inbox]);
    }
}

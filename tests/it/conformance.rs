//! The scheme both moto conformance suites share (`moto_conformance`, `moto_sender_evidence`): one table
//! of cases, each a real SDK (or probe) call reduced to one line that must equal AWS's documented answer —
//! on the twin always, on moto unless the case names a known moto deviation, whose own answer is then
//! pinned so a moto upgrade that changes it fails and gets revisited.

use futures::future::BoxFuture;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Twin,
    Moto,
}

/// What moto does for a case.
pub enum OnMoto {
    /// moto answers as AWS does.
    Conforms,
    /// moto is known to answer differently: where that is documented, and what it answers.
    Deviates { why: &'static str, answers: &'static str },
}

/// One call on a seeded backend, reduced to a line.
pub type Check<F> = for<'a> fn(&'a F) -> BoxFuture<'a, String>;

pub struct Case<F: 'static> {
    pub name: &'static str,
    pub check: Check<F>,
    /// AWS's answer, as one line (the check's comment cites where it is documented).
    pub aws: &'static str,
    pub moto: OnMoto,
}

/// A started backend that can hand out its world as seeded, undoing whatever the previous case changed.
pub trait Seeded {
    type Fixture: 'static;
    async fn fresh(&mut self) -> Self::Fixture;
}

/// Runs every case on a freshly seeded `server` and fails with the full list of disagreements.
pub async fn run_suite<S: Seeded>(mut server: S, backend: Backend, cases: &[Case<S::Fixture>]) {
    let mut failures = Vec::new();
    for case in cases {
        let fixture = server.fresh().await;
        let got = (case.check)(&fixture).await;
        let (want, note) = match (&case.moto, backend) {
            (OnMoto::Deviates { why, answers }, Backend::Moto) => (*answers, format!(" (known moto deviation: {why})")),
            _ => (case.aws, String::new()),
        };
        if got != want {
            failures.push(format!("{backend:?}: {}{note}\n    want: {want}\n    got:  {got}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases disagree:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// A deviation row whose moto answer equals AWS's could not tell the backends apart; each also names its
/// source.
pub fn deviations_differ_from_aws<F>(cases: &[Case<F>]) {
    for case in cases {
        if let OnMoto::Deviates { answers, why } = &case.moto {
            assert_ne!(*answers, case.aws, "{}: a deviation must differ from AWS's answer", case.name);
            assert!(!why.is_empty(), "{}: a deviation names its source", case.name);
        }
    }
}

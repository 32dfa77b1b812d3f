//! The twin's clock: the system clock for `probe sandbox`, or a manual clock that tests move forward, so
//! that hourly attempt windows, the daily quota, metric publication lag and delivery delay are
//! deterministic and fast to test.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// Where the twin reads "now" from. Cloning shares the same clock.
#[derive(Debug, Clone)]
pub struct Clock(Arc<Inner>);

#[derive(Debug)]
enum Inner {
    System,
    Manual(Mutex<DateTime<Utc>>),
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Clock(Arc::new(Inner::System))
    }

    /// A clock that stands still at `start` until [`Clock::advance`] moves it.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock(Arc::new(Inner::Manual(Mutex::new(start))))
    }

    /// Whether this clock only moves when told to (then delayed deliveries happen on `advance`).
    pub fn is_manual(&self) -> bool {
        matches!(*self.0, Inner::Manual(_))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &*self.0 {
            Inner::System => Utc::now(),
            // A poisoned lock still holds a valid timestamp: a panic elsewhere cannot tear a DateTime.
            Inner::Manual(t) => *t.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Moves a manual clock forward; returns false (and does nothing) on the system clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &*self.0 {
            Inner::System => false,
            Inner::Manual(t) => {
                let mut t = t.lock().unwrap_or_else(PoisonError::into_inner);
                *t += by;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start = DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z").unwrap().to_utc();
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        assert!(clock.advance(Duration::seconds(90)));
        assert_eq!(clock.clone().now(), start + Duration::seconds(90));
        assert!(!Clock::system().advance(Duration::seconds(1)));
    }
}

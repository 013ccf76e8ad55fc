//! Where the use cases read the time: the system clock, or a simulated one the demo moves
//! forward day by day so ship-by times, shipments and exceptions line up with its calendar.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};

#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// A time that moves only when told to, in microseconds since the epoch.
    Simulated(Arc<AtomicI64>),
}

impl Clock {
    pub fn simulated(start: DateTime<Utc>) -> Clock {
        Clock::Simulated(Arc::new(AtomicI64::new(start.timestamp_micros())))
    }

    /// To the microsecond: what both databases keep, so a time written and read back is equal.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now().trunc_subsecs(6),
            Clock::Simulated(micros) => {
                DateTime::from_timestamp_micros(micros.load(Ordering::Relaxed)).unwrap_or(DateTime::UNIX_EPOCH)
            }
        }
    }

    /// Moves a simulated clock to `at`; the system clock cannot be set.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Clock::Simulated(micros) = self {
            micros.store(at.timestamp_micros(), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_clock_moves_only_when_set() {
        let start = DateTime::parse_from_rfc3339("2026-03-01T07:00:00Z").unwrap().to_utc();
        let clock = Clock::simulated(start);
        assert_eq!(clock.now(), start);
        let later = start + chrono::Duration::hours(30);
        clock.set(later);
        assert_eq!(clock.clone().now(), later);
    }
}

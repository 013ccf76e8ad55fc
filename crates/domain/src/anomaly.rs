//! Anomalies found in the business's own history: a rate (cancelled orders per order placed)
//! on one day against the same rate over the days before it. Pure: the caller brings the
//! counts and raises what is found.
//!
//! The test is one-sided: is the day's rate higher than the baseline's, by more than chance
//! explains? With the baseline rate p0 over the history and n trials on the day, the count
//! expected by chance is n·p0 with standard deviation √(n·p0·(1−p0)); the day is anomalous when
//! its count lies at least [`Z_THRESHOLD`] deviations above. Small numbers never alarm: the day
//! needs [`MIN_TRIALS`] trials and [`MIN_EVENTS`] events, the baseline [`MIN_BASELINE_TRIALS`].

use chrono::NaiveDate;
use serde::Serialize;

/// One day's count of events (cancelled orders) among trials (orders placed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateDay {
    pub day: NaiveDate,
    pub events: i64,
    pub trials: i64,
}

/// A day whose rate stands out, with what it was tested against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateSpike {
    pub day: NaiveDate,
    pub events: i64,
    pub trials: i64,
    pub baseline_events: i64,
    pub baseline_trials: i64,
    /// Per 10,000 trials, the day's and the baseline's.
    pub rate_per_10k: i64,
    pub baseline_per_10k: i64,
    /// Standard deviations above the count chance would give, to two decimals.
    pub z: f64,
}

/// Deviations above the expected count that make a day anomalous (about 1 in 740 by chance).
pub const Z_THRESHOLD: f64 = 3.0;
/// The fewest trials on the day, events on the day, and trials in the baseline that can alarm.
pub const MIN_TRIALS: i64 = 20;
pub const MIN_EVENTS: i64 = 5;
pub const MIN_BASELINE_TRIALS: i64 = 100;

/// Whether `day`'s rate is anomalously high against the pooled rate of `history` (the days
/// before it; `day` itself is left out if it is there).
pub fn rate_spike(history: &[RateDay], day: &RateDay) -> Option<RateSpike> {
    let before = history.iter().filter(|d| d.day != day.day);
    let (baseline_events, baseline_trials) = before.fold((0, 0), |(e, t), d| (e + d.events.max(0), t + d.trials.max(0)));
    if day.trials < MIN_TRIALS || day.events < MIN_EVENTS || baseline_trials < MIN_BASELINE_TRIALS || day.events > day.trials {
        return None;
    }
    // A baseline with no events at all still allows one, so a first burst can be judged.
    let p0 = (baseline_events.max(1) as f64) / baseline_trials as f64;
    let n = day.trials as f64;
    let expected = n * p0;
    let deviation = (n * p0 * (1.0 - p0)).sqrt();
    let z = (day.events as f64 - expected) / deviation;
    (z >= Z_THRESHOLD).then(|| RateSpike {
        day: day.day,
        events: day.events,
        trials: day.trials,
        baseline_events,
        baseline_trials,
        rate_per_10k: day.events * 10_000 / day.trials,
        baseline_per_10k: baseline_events * 10_000 / baseline_trials,
        z: (z * 100.0).round() / 100.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(n: u32, events: i64, trials: i64) -> RateDay {
        RateDay { day: NaiveDate::from_ymd_opt(2026, 11, n).unwrap_or_default(), events, trials }
    }

    fn usual() -> Vec<RateDay> {
        (1..=28).map(|n| day(n, 2, 50)).collect()
    }

    #[test]
    fn a_day_with_far_more_cancellations_than_usual_is_found_with_its_figures() {
        let spike = rate_spike(&usual(), &day(29, 12, 50)).unwrap();
        assert_eq!((spike.events, spike.trials, spike.baseline_events, spike.baseline_trials), (12, 50, 56, 1400));
        assert_eq!((spike.rate_per_10k, spike.baseline_per_10k), (2400, 400));
        assert!(spike.z > 7.0, "{spike:?}");
    }

    #[test]
    fn usual_days_and_small_numbers_do_not_alarm() {
        assert_eq!(rate_spike(&usual(), &day(29, 3, 50)), None, "a little above usual is chance");
        assert_eq!(rate_spike(&usual(), &day(29, 4, 10)), None, "too few orders on the day");
        assert_eq!(rate_spike(&usual(), &day(29, 4, 40)), None, "too few cancellations to judge");
        assert_eq!(rate_spike(&usual()[..1], &day(29, 30, 50)), None, "too little history");
    }

    #[test]
    fn the_day_itself_is_left_out_of_its_baseline() {
        let mut history = usual();
        history.push(day(29, 12, 50));
        assert_eq!(rate_spike(&history, &day(29, 12, 50)), rate_spike(&usual(), &day(29, 12, 50)));
    }

    proptest! {
        #[test]
        fn a_day_at_or_below_its_baseline_rate_never_alarms(trials in 20i64..10_000, base in 1i64..100) {
            let history: Vec<RateDay> = (1..=28).map(|n| day(n, base, 100)).collect();
            let events = trials * base / 100;
            prop_assert_eq!(rate_spike(&history, &day(29, events, trials)), None);
        }
    }
}

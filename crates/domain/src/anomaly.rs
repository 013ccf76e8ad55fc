//! Anomalies found in the business's own history: a rate (cancelled orders per order placed)
//! on one day against the same rate over the days before it. Pure: the caller brings the
//! counts and raises what is found.
//!
//! The test is one-sided: is the day's rate higher than the baseline's, by more than chance
//! explains? With the baseline rate p0 over the history (one event added, so a quiet history
//! never makes any event look impossible) and n trials on the day, the chance of seeing at
//! least the day's count is the exact binomial tail; the day is anomalous when that chance is
//! below [`P_THRESHOLD`]. (A normal approximation would alarm on a handful of events against
//! a small expected count.) Small numbers never alarm: the day needs [`MIN_TRIALS`] trials and
//! [`MIN_EVENTS`] events, the baseline [`MIN_BASELINE_TRIALS`].

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
    /// Standard deviations above the count chance would give, to two decimals: how far out.
    pub z: f64,
    /// The chance of at least this many events at the baseline rate: how surprising.
    pub p_value: f64,
}

/// The chance below which a day's count is anomalous: one in a thousand.
pub const P_THRESHOLD: f64 = 0.001;
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
    let p0 = (baseline_events + 1) as f64 / (baseline_trials + 1) as f64;
    let n = day.trials as f64;
    let expected = n * p0;
    if day.events as f64 <= expected {
        return None;
    }
    let p_value = binomial_tail(day.trials, day.events, p0);
    let z = (day.events as f64 - expected) / (n * p0 * (1.0 - p0)).sqrt();
    (p_value < P_THRESHOLD).then(|| RateSpike {
        day: day.day,
        events: day.events,
        trials: day.trials,
        baseline_events,
        baseline_trials,
        rate_per_10k: day.events * 10_000 / day.trials,
        baseline_per_10k: baseline_events * 10_000 / baseline_trials,
        z: (z * 100.0).round() / 100.0,
        p_value,
    })
}

/// P(X ≥ k) for X binomial with `n` trials of chance `p`, for k above the mean: the terms
/// fall from the first, so the sum stops once they no longer count.
fn binomial_tail(n: i64, k: i64, p: f64) -> f64 {
    let (n_f, q) = (n as f64, 1.0 - p);
    // ln P(X = k) = ln C(n, k) + k ln p + (n − k) ln q, C from the log-gamma-free product.
    let ln_choose: f64 = (0..k).map(|i| ((n - i) as f64).ln() - ((i + 1) as f64).ln()).sum();
    let mut term = (ln_choose + k as f64 * p.ln() + (n_f - k as f64) * q.ln()).exp();
    let mut sum = 0.0;
    for x in k..=n {
        sum += term;
        if term < sum * 1e-15 {
            break;
        }
        // P(x + 1) = P(x) · (n − x) / (x + 1) · p / q
        term *= (n - x) as f64 / (x + 1) as f64 * p / q;
    }
    sum.min(1.0)
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
        assert!(spike.z > 7.0 && spike.p_value < 1e-5, "{spike:?}");
    }

    #[test]
    fn a_few_events_against_a_quiet_baseline_are_judged_exactly() {
        // Six of 96 against 5 of 430 before: 4.6 deviations out by the normal curve, but at
        // the baseline rate at least six happen about three times in a thousand days.
        let quiet: Vec<RateDay> = (1..=5).map(|n| day(n, 1, 86)).collect();
        assert_eq!(rate_spike(&quiet, &day(29, 6, 96)), None);
        assert!(rate_spike(&quiet, &day(29, 12, 96)).is_some());
    }

    #[test]
    fn the_binomial_tail_is_exact() {
        // P(X ≥ 2) for 3 fair coins is 1/2; P(X ≥ 3) is 1/8.
        assert!((binomial_tail(3, 2, 0.5) - 0.5).abs() < 1e-12);
        assert!((binomial_tail(3, 3, 0.5) - 0.125).abs() < 1e-12);
        // P(X ≥ 6) for 96 trials at 1.39 %: about 0.003.
        let p = binomial_tail(96, 6, 6.0 / 431.0);
        assert!((0.002..0.005).contains(&p), "{p}");
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

//! Anomalies found in the business's own history. Pure: the caller brings the figures and
//! raises what is found. Two tests:
//!
//! - **A rate on one day against the days before it** ([`rate_spike`]): cancelled orders per
//!   order placed, units written off per unit that left a location, units returned for a
//!   reason per unit shipped.
//! - **A value against its own robust history** ([`robust_low`], [`robust_high`]): a week's
//!   contribution margin against the weeks before, a settlement fee against the channel's
//!   earlier fees of that type. Median and median absolute deviation, so one odd week or fee
//!   in the history does not move the yardstick, with a floor so a history that never varies
//!   does not make every small change an anomaly.
//!
//! The rate test is one-sided: is the day's rate higher than the baseline's, by more than chance
//! explains? With the baseline rate p0 over the history (one event added, so a quiet history
//! never makes any event look impossible) and n trials on the day, the chance of seeing at
//! least the day's count is the exact binomial tail; the day is anomalous when that chance is
//! below [`P_THRESHOLD`]. (A normal approximation would alarm on a handful of events against
//! a small expected count.) Small numbers never alarm: the day needs [`MIN_TRIALS`] trials and
//! [`MIN_EVENTS`] events, the baseline [`MIN_BASELINE_TRIALS`].

use chrono::NaiveDate;
use serde::Serialize;

pub mod fees;

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

/// Days before a day that its rate is judged against.
pub const BASELINE_DAYS: i64 = 28;

/// The days of `days` within the [`BASELINE_DAYS`] before `day`: what its rate is judged against.
pub fn baseline(days: &[RateDay], day: NaiveDate) -> Vec<RateDay> {
    let since = day - chrono::Duration::days(BASELINE_DAYS);
    days.iter().filter(|d| d.day >= since && d.day < day).copied().collect()
}

/// The chance below which a day's count is anomalous: one in a thousand.
pub const P_THRESHOLD: f64 = 0.001;
/// The fewest trials on the day, events on the day, and trials in the baseline that can alarm.
pub const MIN_TRIALS: i64 = 20;
pub const MIN_EVENTS: i64 = 5;
pub const MIN_BASELINE_TRIALS: i64 = 100;

/// The events and trials of `history`, `day` itself left out if it is there.
fn pooled(history: &[RateDay], day: &RateDay) -> (i64, i64) {
    history.iter().filter(|d| d.day != day.day).fold((0, 0), |(e, t), d| (e + d.events.max(0), t + d.trials.max(0)))
}

/// Whether the day and its baseline have the numbers to alarm at all.
fn enough(day: &RateDay, baseline_trials: i64) -> bool {
    day.trials >= MIN_TRIALS && day.events >= MIN_EVENTS && day.events <= day.trials && baseline_trials >= MIN_BASELINE_TRIALS
}

/// Whether [`rate_spike`] could find `day` anomalous against `history`, whatever its rate:
/// small numbers never alarm.
pub fn can_alarm(history: &[RateDay], day: &RateDay) -> bool {
    enough(day, pooled(history, day).1)
}

/// Whether `day`'s rate is anomalously high against the pooled rate of `history` (the days
/// before it; `day` itself is left out if it is there).
pub fn rate_spike(history: &[RateDay], day: &RateDay) -> Option<RateSpike> {
    let (baseline_events, baseline_trials) = pooled(history, day);
    if !enough(day, baseline_trials) {
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

/// A value judged against its history: the history's median and spread (the median absolute
/// deviation scaled to a normal's standard deviation, in the value's own units) and how far
/// out the value is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlier {
    pub value: i64,
    pub median: i64,
    pub spread: i64,
    /// The value past which it is an anomaly: `median ∓ max(k · spread, floor)`.
    pub threshold: i64,
    /// Spreads from the median, to two decimals (0 when the history never varies).
    pub robust_z: f64,
    pub history: usize,
}

/// How many spreads from the median a value must be to count.
pub const ROBUST_K: i64 = 4;

fn median(sorted: &[i64]) -> i64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]).div_euclid(2)
    }
}

/// The median and the scaled median absolute deviation (1.4826 · MAD, the normal's σ).
pub fn median_spread(values: &[i64]) -> Option<(i64, i64)> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let centre = median(&sorted);
    let mut deviations: Vec<i64> = sorted.iter().map(|v| (v - centre).abs()).collect();
    deviations.sort_unstable();
    Some((centre, median(&deviations) * 14_826 / 10_000))
}

fn judge(history: &[i64], value: i64, floor: i64, min_history: usize, below: bool) -> Option<Outlier> {
    if history.len() < min_history {
        return None;
    }
    let (centre, spread) = median_spread(history)?;
    let margin = (ROBUST_K * spread).max(floor.max(1));
    let threshold = if below { centre - margin } else { centre + margin };
    let out = if below { value < threshold } else { value > threshold };
    let robust_z = if spread > 0 { ((value - centre) as f64 / spread as f64 * 100.0).round() / 100.0 } else { 0.0 };
    out.then_some(Outlier { value, median: centre, spread, threshold, robust_z, history: history.len() })
}

/// Whether `value` is far below `history`: below its median by more than
/// [`ROBUST_K`] spreads and by more than `floor`, judged only on `min_history` points or more.
pub fn robust_low(history: &[i64], value: i64, floor: i64, min_history: usize) -> Option<Outlier> {
    judge(history, value, floor, min_history, true)
}

/// Whether `value` is far above `history` (see [`robust_low`]).
pub fn robust_high(history: &[i64], value: i64, floor: i64, min_history: usize) -> Option<Outlier> {
    judge(history, value, floor, min_history, false)
}

/// The fewest weeks of history a week's margin is judged on.
pub const MIN_MARGIN_WEEKS: usize = 3;
/// The least margin drop that counts, whatever the history's spread: twenty percentage
/// points. A SKU's week moves by up to fifteen on its own where fees are booked when the
/// settlement comes and revenue when the parcel leaves; a few weeks cannot show that spread.
pub const MARGIN_FLOOR_BP: i64 = 2_000;
/// The least contribution a margin drop must cost, in basis points of the business's revenue
/// that week, to be worth a person's time.
pub const MARGIN_MATERIAL_BP: i128 = 10;

/// Whether a week's margin (`value`, basis points, as judged: say, points from the whole
/// business's) is far below its `history` of weeks, and costs enough: the drop times the
/// week's `revenue` against the `business_revenue` that week (both minor units).
pub fn margin_drop(history: &[i64], value: i64, revenue: i128, business_revenue: i128) -> Option<Outlier> {
    let drop = robust_low(history, value, MARGIN_FLOOR_BP, MIN_MARGIN_WEEKS)?;
    let lost = i128::from(drop.median - drop.value) * revenue / 10_000;
    (lost * 10_000 >= business_revenue * MARGIN_MATERIAL_BP).then_some(drop)
}

/// Fees accrued to a week's sales: each channel's `sales` that week (revenue, minor units) at
/// the share of revenue that channel's fees came to, `rates` (its fees and revenue over the
/// weeks read). A settlement books its fees weeks after the parcels left; accrued, a week's
/// fees follow its own sales and their mix of channels, whenever the settlement came.
pub fn accrued_fees(sales: &[(String, i128)], rates: &std::collections::BTreeMap<String, (i128, i128)>) -> i128 {
    sales
        .iter()
        .map(|(channel, revenue)| match rates.get(channel) {
            Some((fees, sold)) if *sold > 0 => revenue * fees / sold,
            _ => 0,
        })
        .sum()
}

/// Of two ways to measure the same fees (per unit, as a rate of the line), the steadier: the
/// one whose spread is the smaller share of its median. A commission is a steady rate, a
/// fulfilment fee a steady amount per unit. `true` for the first.
pub fn first_is_steadier(first: &[i64], second: &[i64]) -> bool {
    let relative = |values: &[i64]| median_spread(values).map(|(centre, spread)| if centre == 0 { i64::MAX } else { spread * 10_000 / centre.abs() });
    match (relative(first), relative(second)) {
        (Some(a), Some(b)) => a <= b,
        (Some(_), None) => true,
        _ => false,
    }
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
    fn small_numbers_cannot_alarm_whatever_their_rate() {
        let history = usual();
        assert!(can_alarm(&history, &day(29, 5, 20)));
        assert!(!can_alarm(&history, &day(29, 4, 20)), "too few events");
        assert!(!can_alarm(&history, &day(29, 19, 19)), "too few trials");
        assert!(!can_alarm(&history, &day(29, 30, 20)), "more events than trials");
        assert!(!can_alarm(&history[..1], &day(29, 20, 20)), "a baseline of 50 trials");
        assert!(rate_spike(&history[..1], &day(29, 20, 20)).is_none());
    }

    #[test]
    fn a_day_is_judged_against_the_28_days_before_it_and_not_itself() {
        let days: Vec<RateDay> = (1..=30).map(|n| day(n, 2, 50)).collect();
        let history = baseline(&days, days[29].day);
        assert_eq!((history.first().map(|d| d.day), history.last().map(|d| d.day)), (Some(days[1].day), Some(days[28].day)));
        assert_eq!(history.len(), 28);
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

    #[test]
    fn a_week_far_below_its_history_is_low_and_one_odd_week_does_not_move_the_yardstick() {
        // Margins in basis points: steady around 30 %, one odd week at 5 % in the history.
        let history = [3_000, 3_100, 2_950, 500, 3_050, 2_980];
        let low = robust_low(&history, 1_500, 500, 3).unwrap();
        assert_eq!((low.median, low.history), (2_990, 6));
        assert!(low.robust_z < -4.0, "{low:?}");
        assert_eq!(robust_low(&history, 2_700, 500, 3), None, "within the usual spread");
        assert_eq!(robust_low(&history[..2], 0, 500, 3), None, "too little history");
    }

    #[test]
    fn fees_are_accrued_to_a_weeks_sales_at_their_channels_rates() {
        let rates = std::collections::BTreeMap::from([("amazon".to_owned(), (15_000, 100_000)), ("b2b".to_owned(), (0, 50_000)), ("gone".to_owned(), (10, 0))]);
        let sales = |pairs: &[(&str, i128)]| pairs.iter().map(|(c, r)| ((*c).to_owned(), *r)).collect::<Vec<_>>();
        assert_eq!(accrued_fees(&sales(&[("amazon", 2_000)]), &rates), 300, "15 % of amazon's sales");
        assert_eq!(accrued_fees(&sales(&[("amazon", 2_000), ("b2b", 8_000)]), &rates), 300, "a wholesale order adds no fees");
        assert_eq!(accrued_fees(&sales(&[("web", 2_000), ("gone", 5)]), &rates), 0, "a channel without a rate accrues none");
        assert_eq!(accrued_fees(&[], &rates), 0);
    }

    #[test]
    fn a_margin_drop_must_cross_the_floor_and_cost_enough() {
        let weeks = [500, 450, 520, 480];
        // 60 points below on 1,000.00 of a 100,000.00 week: 600.00 lost, 0.6 % of revenue.
        assert!(margin_drop(&weeks, -5_500, 100_000, 10_000_000).is_some());
        assert_eq!(margin_drop(&weeks, -5_500, 1_000, 10_000_000), None, "6.00 lost is too little to matter");
        assert_eq!(margin_drop(&weeks, -1_200, 100_000, 10_000_000), None, "17 points is within the floor");
        assert_eq!(margin_drop(&weeks[..2], -5_500, 100_000, 10_000_000), None, "two weeks are too few");
    }

    #[test]
    fn a_history_that_never_varies_still_needs_the_floor_crossed() {
        let fees = [1_500; 20];
        assert_eq!(robust_high(&fees, 1_560, 375, 10), None, "a rounding cent is not an anomaly");
        let high = robust_high(&fees, 4_000, 375, 10).unwrap();
        assert_eq!((high.median, high.spread, high.threshold, high.robust_z), (1_500, 0, 1_875, 0.0));
    }

    #[test]
    fn a_commission_is_judged_as_a_rate_and_a_fulfilment_fee_per_unit() {
        // A 15 % commission on lines of different prices: the rate is steady, the amount is not.
        let rates = [1_500, 1_500, 1_500, 1_500];
        let per_unit = [150, 900, 300, 2_400];
        assert!(first_is_steadier(&rates, &per_unit));
        assert!(!first_is_steadier(&per_unit, &rates));
    }

    proptest! {
        #[test]
        fn the_middle_of_a_history_is_never_an_outlier(history in proptest::collection::vec(-10_000i64..10_000, 3..40)) {
            let (centre, _) = median_spread(&history).unwrap_or_default();
            prop_assert!(robust_low(&history, centre, 1, 3).is_none() && robust_high(&history, centre, 1, 3).is_none());
            let (lowest, highest) = (*history.iter().min().unwrap_or(&0), *history.iter().max().unwrap_or(&0));
            prop_assert!(robust_high(&history, lowest, 1, 3).is_none());
            prop_assert!(robust_low(&history, highest, 1, 3).is_none());
        }

        #[test]
        fn a_day_at_or_below_its_baseline_rate_never_alarms(trials in 20i64..10_000, base in 1i64..100) {
            let history: Vec<RateDay> = (1..=28).map(|n| day(n, base, 100)).collect();
            let events = trials * base / 100;
            prop_assert_eq!(rate_spike(&history, &day(29, events, trials)), None);
        }
    }
}

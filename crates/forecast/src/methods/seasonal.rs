//! Seasonal adjustment by classical decomposition, for Theta on a history whose season is real.
//!
//! Theta follows a level and a trend, not a season. The Theta method as it won the M3
//! competition, and as the M4 competition's benchmarks and R's `forecast::thetaf` run it, meets
//! that the classical way, which Ordo follows: test the history for seasonality, divide a
//! seasonal history by its multiplicative indices, forecast the adjusted history, and multiply
//! the forecast by the indices again. A history that fails the test is left as it is.

/// Multiplicative seasonal indices of `history` for a cycle of `season` periods, one per
/// position in the cycle (position 0 is the history's first period), averaging one; `None`
/// when the history is not seasonal:
///
/// - shorter than three cycles (or a cycle shorter than two periods);
/// - its autocorrelation at one cycle's lag within the 90 % limit of no autocorrelation
///   (Bartlett's, one-sided: 1.645 standard errors), the M4 benchmarks' test;
/// - some position's index not positive: a weekday that never sells cannot be divided out.
pub(super) fn indices(history: &[f64], season: usize) -> Option<Vec<f64>> {
    let n = history.len();
    if season < 2 || n < 3 * season {
        return None;
    }
    let mean = history.iter().sum::<f64>() / n as f64;
    let variation: f64 = history.iter().map(|v| (v - mean) * (v - mean)).sum();
    if variation <= 0.0 {
        return None;
    }
    let autocorrelation = |lag: usize| (lag..n).map(|t| (history[t] - mean) * (history[t - lag] - mean)).sum::<f64>() / variation;
    let shorter: f64 = (1..season).map(|lag| autocorrelation(lag).powi(2)).sum();
    let limit = 1.645 * ((1.0 + 2.0 * shorter) / n as f64).sqrt();
    if autocorrelation(season).abs() <= limit {
        return None;
    }
    // Each period over the centred moving average of one cycle (2×m for an even cycle).
    let half = season / 2;
    let mut sums = vec![0.0; season];
    let mut counts = vec![0usize; season];
    for t in half..n - half {
        let inner: f64 = if season.is_multiple_of(2) {
            history[t + 1 - half..t + half].iter().sum::<f64>() + (history[t - half] + history[t + half]) / 2.0
        } else {
            history[t - half..=t + half].iter().sum()
        };
        let centred = inner / season as f64;
        if centred > 0.0 {
            sums[t % season] += history[t] / centred;
            counts[t % season] += 1;
        }
    }
    let raw: Vec<f64> = sums.iter().zip(&counts).map(|(sum, &count)| if count > 0 { sum / count as f64 } else { 0.0 }).collect();
    let level = raw.iter().sum::<f64>() / season as f64;
    let indices: Vec<f64> = raw.iter().map(|index| index / level).collect();
    indices.iter().all(|index| index.is_finite() && *index > 0.0).then_some(indices)
}

/// The index of period `t` (counted from the history's first).
pub(super) fn at(indices: &[f64], t: usize) -> f64 {
    indices[t % indices.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Weeks of a shop selling twice as much at the weekend, with a little noise.
    fn weekly_pattern(weeks: usize) -> Vec<f64> {
        let week = [10.0, 10.0, 10.0, 10.0, 10.0, 20.0, 20.0];
        (0..weeks * 7).map(|t| week[t % 7] + [0.0, 1.0, -1.0][t % 3]).collect()
    }

    #[test]
    fn a_weekly_pattern_is_found_and_divided_out() {
        let history = weekly_pattern(12);
        let found = indices(&history, 7).unwrap();
        assert!((found.iter().sum::<f64>() / 7.0 - 1.0).abs() < 1e-9, "the indices average one: {found:?}");
        // Weekends sell 20 where weekdays sell 10, of a mean of 90/7: 14/9 against 7/9.
        assert!(found[..5].iter().all(|i| (i - 7.0 / 9.0).abs() < 0.02) && found[5..].iter().all(|i| (i - 14.0 / 9.0).abs() < 0.02), "{found:?}");
        let adjusted: Vec<f64> = history.iter().enumerate().map(|(t, v)| v / at(&found, t)).collect();
        assert!(adjusted.iter().all(|v| (v - 90.0 / 7.0).abs() < 1.5), "the adjusted history is flat: {adjusted:?}");
    }

    #[test]
    fn a_history_without_a_season_or_too_short_is_left_alone() {
        // Noise without a cycle, from a linear congruential generator.
        let mut state = 7u64;
        let flat: Vec<f64> = (0..120)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                10.0 + ((state >> 40) % 11) as f64
            })
            .collect();
        assert_eq!(indices(&flat, 12), None);
        // Two cycles are not enough to tell.
        assert_eq!(indices(&weekly_pattern(2), 7), None);
        assert_eq!(indices(&[5.0; 40], 7), None);
        assert_eq!(indices(&weekly_pattern(12), 1), None);
    }

    #[test]
    fn a_day_that_never_sells_leaves_the_history_alone() {
        // Closed on Sundays: the pattern is real, but a zero cannot be divided out.
        let history: Vec<f64> = weekly_pattern(12).iter().enumerate().map(|(t, v)| if t % 7 == 6 { 0.0 } else { *v }).collect();
        assert_eq!(indices(&history, 7), None);
    }
}

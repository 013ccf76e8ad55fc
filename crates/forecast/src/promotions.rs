//! Promotions: how much a promotion lifts a SKU's demand, so that promoted periods neither
//! inflate the baseline forecast nor go unforecast when the next promotion is planned.
//!
//! The uplift is multiplicative, the ratio of mean demand in promoted periods to mean demand
//! in the others, shrunk toward a prior in proportion to how few promoted periods there were:
//! a SKU promoted twice has not shown its uplift, and the prior (1, no effect, unless the
//! caller knows a category-wide figure) should count for more than its two periods.

/// What the caller knows before looking at a SKU's own promotions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prior {
    /// The uplift assumed for a SKU never promoted, e.g. the category's; 1.0 for none.
    pub factor: f64,
    /// How many promoted periods of the SKU's own weigh as much as the prior.
    pub weight: f64,
}

impl Default for Prior {
    fn default() -> Self {
        Prior { factor: 1.0, weight: 8.0 }
    }
}

/// Uplifts beyond these bounds are clamped: a SKU that only ever sold on promotion would
/// otherwise get an infinite one.
const MAX_FACTOR: f64 = 10.0;

/// A SKU's estimated promotion uplift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Uplift {
    /// Demand in a promoted period over demand in an ordinary one.
    pub factor: f64,
    /// Promoted periods it was estimated from.
    pub promoted: usize,
    /// The ratio seen in the SKU's own history before shrinking; `None` without both
    /// promoted and ordinary periods.
    pub observed: Option<f64>,
}

impl Uplift {
    /// No promotion effect.
    pub const NONE: Uplift = Uplift { factor: 1.0, promoted: 0, observed: None };

    /// Estimates the uplift from the periods where `usable` holds (stockout periods are not:
    /// their sales understate demand, promoted or not).
    pub fn estimate(history: &[f64], promoted: &[bool], usable: &[bool], prior: Prior) -> Uplift {
        let (mut lifted, mut lifted_count, mut ordinary, mut ordinary_count) = (0.0, 0usize, 0.0, 0usize);
        for ((&value, &promo), &ok) in history.iter().zip(promoted).zip(usable) {
            if !ok {
                continue;
            }
            if promo {
                lifted += value;
                lifted_count += 1;
            } else {
                ordinary += value;
                ordinary_count += 1;
            }
        }
        let prior_factor = prior.factor.clamp(1.0 / MAX_FACTOR, MAX_FACTOR);
        if lifted_count == 0 || ordinary_count == 0 {
            return Uplift { factor: prior_factor, promoted: lifted_count, observed: None };
        }
        let lifted = lifted / lifted_count as f64;
        let ordinary = ordinary / ordinary_count as f64;
        let observed = if ordinary > 0.0 { lifted / ordinary } else if lifted > 0.0 { MAX_FACTOR } else { 1.0 };
        let observed = observed.clamp(1.0 / MAX_FACTOR, MAX_FACTOR);
        // Shrink on the log scale, where doubling and halving are equally far from 1.
        let own = lifted_count as f64 / (lifted_count as f64 + prior.weight.max(0.0));
        let factor = (own * observed.ln() + (1.0 - own) * prior_factor.ln()).exp();
        Uplift { factor, promoted: lifted_count, observed: Some(observed) }
    }

    /// The history as it would have been without promotions.
    pub fn remove(&self, history: &mut [f64], promoted: &[bool]) {
        for (value, _) in history.iter_mut().zip(promoted).filter(|(_, promo)| **promo) {
            *value /= self.factor;
        }
    }

    /// The forecast with the uplift applied to the periods that will be promoted.
    pub fn apply(&self, forecast: &mut [f64], promoted: &[bool]) {
        for (value, _) in forecast.iter_mut().zip(promoted).filter(|(_, promo)| **promo) {
            *value *= self.factor;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uplift_is_shrunk_toward_the_prior_by_how_little_was_seen() {
        // Promoted periods sell 20, the others 10: a doubling, seen twice.
        let history = [10.0, 20.0, 10.0, 20.0, 10.0, 10.0];
        let promoted = [false, true, false, true, false, false];
        let usable = [true; 6];
        let uplift = Uplift::estimate(&history, &promoted, &usable, Prior::default());
        assert_eq!(uplift.observed, Some(2.0));
        assert_eq!(uplift.promoted, 2);
        // Two of ten weights are the SKU's own: 2^(2/10).
        assert!((uplift.factor - 2f64.powf(0.2)).abs() < 1e-12);

        let confident = Uplift::estimate(&history, &promoted, &usable, Prior { factor: 1.0, weight: 0.0 });
        assert!((confident.factor - 2.0).abs() < 1e-12);
        let category = Uplift::estimate(&[5.0; 6], &[false; 6], &usable, Prior { factor: 1.5, weight: 8.0 });
        assert_eq!(category.factor, 1.5, "never promoted: the category's uplift");
    }

    #[test]
    fn stockout_periods_do_not_count_and_extremes_are_clamped() {
        let history = [0.0, 40.0, 0.0, 0.0];
        let promoted = [false, true, true, false];
        // The promoted period that sold nothing was out of stock.
        let usable = [true, true, false, true];
        let uplift = Uplift::estimate(&history, &promoted, &usable, Prior { factor: 1.0, weight: 0.0 });
        assert_eq!(uplift.observed, Some(MAX_FACTOR));
        assert_eq!(uplift.promoted, 1);
    }

    #[test]
    fn removing_then_applying_restores_the_promoted_periods() {
        let uplift = Uplift { factor: 2.0, promoted: 3, observed: Some(2.0) };
        let promoted = [false, true, false];
        let mut series = [4.0, 8.0, 4.0];
        uplift.remove(&mut series, &promoted);
        assert_eq!(series, [4.0, 4.0, 4.0]);
        uplift.apply(&mut series, &promoted);
        assert_eq!(series, [4.0, 8.0, 4.0]);
    }
}

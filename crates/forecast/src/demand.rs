//! A SKU's demand history as the caller knows it: quantities per period, the periods it was
//! out of stock, the periods it was on promotion; and turning forecasts back into units.
//!
//! Periods are whatever the caller counts in (days, weeks, months); only the seasonal period
//! passed alongside says how many make a cycle.

use crate::ForecastError;

/// Quantities sold per period, oldest first, with what was unusual about each period.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandHistory {
    quantities: Vec<f64>,
    stockout: Vec<bool>,
    promoted: Vec<bool>,
}

impl DemandHistory {
    /// Rejects negative or non-finite quantities, naming the period: returns are not negative
    /// demand, and the caller should net them elsewhere.
    pub fn new(quantities: Vec<f64>) -> Result<Self, ForecastError> {
        for (period, &quantity) in quantities.iter().enumerate() {
            if !quantity.is_finite() {
                return Err(ForecastError::NotFinite { period });
            }
            if quantity < 0.0 {
                return Err(ForecastError::Negative { period });
            }
        }
        let len = quantities.len();
        Ok(DemandHistory { quantities, stockout: vec![false; len], promoted: vec![false; len] })
    }

    /// Whole units, the usual case.
    pub fn from_units(units: &[u64]) -> Self {
        let quantities: Vec<f64> = units.iter().map(|&unit| unit as f64).collect();
        let len = quantities.len();
        DemandHistory { quantities, stockout: vec![false; len], promoted: vec![false; len] }
    }

    /// Marks periods the SKU was out of stock (for all or part of the period). Their sales
    /// say only that demand was at least that much, so they are imputed, not read as demand.
    pub fn with_stockouts(mut self, stockout: Vec<bool>) -> Result<Self, ForecastError> {
        self.check_len("stockouts", stockout.len())?;
        self.stockout = stockout;
        Ok(self)
    }

    /// Marks periods the SKU was on promotion.
    pub fn with_promotions(mut self, promoted: Vec<bool>) -> Result<Self, ForecastError> {
        self.check_len("promotions", promoted.len())?;
        self.promoted = promoted;
        Ok(self)
    }

    fn check_len(&self, what: &'static str, found: usize) -> Result<(), ForecastError> {
        if found == self.quantities.len() {
            Ok(())
        } else {
            Err(ForecastError::LengthMismatch { what, expected: self.quantities.len(), found })
        }
    }

    pub fn len(&self) -> usize {
        self.quantities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.quantities.is_empty()
    }

    pub fn quantities(&self) -> &[f64] {
        &self.quantities
    }

    pub fn stockouts(&self) -> &[bool] {
        &self.stockout
    }

    pub fn promotions(&self) -> &[bool] {
        &self.promoted
    }

    /// Replaces stockout periods of `series` (this history, promotions already removed) by
    /// the demand level at that point, or the sales seen if higher. Returns how many periods
    /// were imputed.
    ///
    /// The level is exponentially smoothed over in-stock periods only, started at their
    /// mean, so a stockout after a busy month is filled with more than one after a quiet
    /// one. Without a single in-stock period there is nothing to impute from and the series
    /// is left as it is.
    pub(crate) fn impute_stockouts(&self, series: &mut [f64]) -> usize {
        const ALPHA: f64 = 0.2;
        let in_stock: Vec<f64> = series.iter().zip(&self.stockout).filter(|(_, out)| !**out).map(|(value, _)| *value).collect();
        if in_stock.is_empty() {
            return 0;
        }
        let mut level = in_stock.iter().sum::<f64>() / in_stock.len() as f64;
        let mut imputed = 0;
        for (value, &out) in series.iter_mut().zip(&self.stockout) {
            if out {
                *value = value.max(level);
                imputed += 1;
            } else {
                level += ALPHA * (*value - level);
            }
        }
        imputed
    }
}

/// Whole units per period whose running total follows the forecast's, rounded.
///
/// Rounding each period on its own turns a slow mover's 0.3 a day into nothing, forever;
/// rounding the running total instead puts a unit every third day or so, and the units over
/// any stretch from the start add up to the forecast for it, rounded.
pub fn whole_units(forecast: &[f64]) -> Vec<u64> {
    let mut total = 0.0;
    let mut issued = 0u64;
    forecast
        .iter()
        .map(|&value| {
            total += value.max(0.0);
            let due = total.round() as u64;
            let units = due.saturating_sub(issued);
            issued += units;
            units
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_is_not_demand_and_masks_of_the_wrong_length() {
        assert_eq!(DemandHistory::new(vec![1.0, -1.0]), Err(ForecastError::Negative { period: 1 }));
        assert_eq!(DemandHistory::new(vec![f64::NAN]), Err(ForecastError::NotFinite { period: 0 }));
        let history = DemandHistory::from_units(&[1, 2, 3]);
        assert_eq!(history.quantities(), &[1.0, 2.0, 3.0]);
        assert_eq!(
            history.clone().with_stockouts(vec![false; 2]),
            Err(ForecastError::LengthMismatch { what: "stockouts", expected: 3, found: 2 })
        );
        assert!(history.with_promotions(vec![false; 3]).is_ok());
    }

    #[test]
    fn a_stockout_is_filled_with_the_level_not_read_as_no_demand() {
        let history = DemandHistory::from_units(&[10, 10, 0, 10, 2])
            .with_stockouts(vec![false, false, true, false, true])
            .unwrap();
        let mut series = history.quantities().to_vec();
        assert_eq!(history.impute_stockouts(&mut series), 2);
        assert_eq!(series, vec![10.0, 10.0, 10.0, 10.0, 10.0]);

        let all_out = DemandHistory::from_units(&[0, 1]).with_stockouts(vec![true, true]).unwrap();
        let mut series = all_out.quantities().to_vec();
        assert_eq!(all_out.impute_stockouts(&mut series), 0);
        assert_eq!(series, vec![0.0, 1.0]);
    }

    #[test]
    fn whole_units_follow_the_running_total() {
        assert_eq!(whole_units(&[0.3; 10]), vec![0, 1, 0, 0, 1, 0, 0, 0, 1, 0]);
        assert_eq!(whole_units(&[0.3; 10]).iter().sum::<u64>(), 3);
        assert_eq!(whole_units(&[2.6, 2.6, 2.6]), vec![3, 2, 3]);
        assert_eq!(whole_units(&[-1.0, 0.4]), vec![0, 0]);
    }
}

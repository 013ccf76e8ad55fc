//! One SKU from its raw history to an explained forecast: promotions taken out, stockouts
//! imputed, the best methods in back-test pooled, and planned promotions put back in.

use crate::ForecastError;
use crate::backtest::{Backtest, Choice, choose};
use crate::demand::DemandHistory;
use crate::promotions::{Prior, Uplift};

/// How a catalogue is forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Periods in a seasonal cycle: 7 for days in a week, 12 for months in a year; 1 for none.
    pub season: usize,
    /// Periods forecast.
    pub horizon: usize,
    pub backtest: Backtest,
    pub promotion_prior: Prior,
}

impl Settings {
    /// Daily demand with a weekly cycle.
    pub fn daily(horizon: usize) -> Self {
        Settings { season: 7, horizon, backtest: Backtest::daily(), promotion_prior: Prior::default() }
    }

    /// Weekly demand with a yearly cycle (seasonal methods need two years to fit it).
    pub fn weekly(horizon: usize) -> Self {
        Settings { season: 52, horizon, backtest: Backtest::weekly(), promotion_prior: Prior::default() }
    }

    /// Monthly demand with a yearly cycle.
    pub fn monthly(horizon: usize) -> Self {
        Settings { season: 12, horizon, backtest: Backtest::monthly(), promotion_prior: Prior::default() }
    }

    /// Quarterly demand with a yearly cycle.
    pub fn quarterly(horizon: usize) -> Self {
        Settings { season: 4, horizon, backtest: Backtest::quarterly(), promotion_prior: Prior::default() }
    }
}

/// A SKU's forecast and everything needed to explain it.
#[derive(Debug, Clone, PartialEq)]
pub struct SkuForecast {
    /// The methods pooled, their parameters, the back-test scores of every candidate, and
    /// the baseline forecast (without promotions).
    pub choice: Choice,
    pub uplift: Uplift,
    /// Stockout periods whose demand was imputed.
    pub imputed: usize,
    /// Expected demand per period: the baseline, lifted in promoted periods.
    pub forecast: Vec<f64>,
}

/// Forecasts one SKU. `upcoming_promotions` flags the forecast periods that will be promoted,
/// from the first; it may be shorter than the horizon, not longer.
pub fn forecast(history: &DemandHistory, upcoming_promotions: &[bool], settings: &Settings) -> Result<SkuForecast, ForecastError> {
    if upcoming_promotions.len() > settings.horizon {
        return Err(ForecastError::LengthMismatch {
            what: "upcoming promotions",
            expected: settings.horizon,
            found: upcoming_promotions.len(),
        });
    }
    let in_stock: Vec<bool> = history.stockouts().iter().map(|out| !out).collect();
    let uplift = if history.promotions().contains(&true) {
        Uplift::estimate(history.quantities(), history.promotions(), &in_stock, settings.promotion_prior)
    } else {
        Uplift { factor: settings.promotion_prior.factor, ..Uplift::NONE }
    };
    let mut series = history.quantities().to_vec();
    uplift.remove(&mut series, history.promotions());
    let imputed = history.impute_stockouts(&mut series);

    let choice = choose(&series, settings.season, settings.horizon, &settings.backtest);
    let mut forecast = choice.forecast.clone();
    uplift.apply(&mut forecast, upcoming_promotions);
    Ok(SkuForecast { choice, uplift, imputed, forecast })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotions_come_out_of_the_baseline_and_back_into_planned_periods() {
        // 10 a day, 30 on promotion days, every ninth day (out of step with the week, which
        // would otherwise look like a weekly pattern) for 180 days.
        let promoted: Vec<bool> = (0..180).map(|t| t % 9 == 3).collect();
        let units: Vec<u64> = promoted.iter().map(|&promo| if promo { 30 } else { 10 }).collect();
        let history = DemandHistory::from_units(&units).with_promotions(promoted).unwrap();
        let result = forecast(&history, &[false, true], &Settings::daily(3)).unwrap();
        assert_eq!(result.uplift.promoted, 20);
        assert_eq!(result.uplift.observed, Some(3.0));
        // Twenty promoted days against the prior's eight: 3^(20/28).
        assert!((result.uplift.factor - 3f64.powf(20.0 / 28.0)).abs() < 1e-9);
        let baseline = result.choice.forecast[0];
        // The shrunk uplift leaves a little of each promotion in the baseline.
        assert!((10.0..11.0).contains(&baseline), "{result:?}");
        assert_eq!(result.forecast[0], baseline);
        assert!((result.forecast[1] - result.choice.forecast[1] * result.uplift.factor).abs() < 1e-9);
    }

    #[test]
    fn stockouts_do_not_read_as_no_demand() {
        // A SKU selling 5 a day that was out of stock for the last ten days.
        let mut units = vec![5u64; 60];
        let mut stockout = vec![false; 60];
        for day in 50..60 {
            units[day] = 0;
            stockout[day] = true;
        }
        let history = DemandHistory::from_units(&units).with_stockouts(stockout).unwrap();
        let result = forecast(&history, &[], &Settings::daily(7)).unwrap();
        assert_eq!(result.imputed, 10);
        assert!(result.forecast.iter().all(|&value| (value - 5.0).abs() < 0.5), "{result:?}");

        let unmarked = forecast(&DemandHistory::from_units(&units), &[], &Settings::daily(7)).unwrap();
        assert!(unmarked.forecast[0] < 4.0, "read as demand, the stockout drags the forecast down");
    }

    #[test]
    fn more_planned_promotions_than_periods_is_an_error() {
        let history = DemandHistory::from_units(&[1, 2, 3]);
        assert_eq!(
            forecast(&history, &[true; 4], &Settings::monthly(3)),
            Err(ForecastError::LengthMismatch { what: "upcoming promotions", expected: 3, found: 4 })
        );
    }
}

//! The forecasting methods a SKU can be given, and the fitted result that explains each.
//!
//! Every method turns a cleaned history (stockouts imputed, promotions taken out) into a point
//! forecast of demand per period. Parameters are fitted on the history itself, by in-sample
//! one-step error, so a caller never tunes them.

mod aggregation;
mod decline;
mod intermittent;
mod seasonal;
mod smoothing;

use crate::classify::DemandClass;

/// A forecasting method, named the way it is shown next to each SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// Next season repeats the last one: the yardstick for seasonal SKUs.
    SeasonalNaive,
    /// Simple exponential smoothing, alpha fitted.
    Ses,
    /// Croston's method, alpha 0.1 on sizes and intervals: the classic for sporadic demand.
    Croston,
    /// Croston with the Syntetos–Boylan correction of its upward bias.
    CrostonSba,
    /// Teunter–Syntetos–Babai: smooths the probability of demand every period, so a SKU
    /// that stops selling fades out instead of keeping its last level.
    Tsb,
    /// Aggregate–disaggregate: smooth buckets as long as the mean gap between demands.
    Adida,
    /// The mean of ADIDA over every bucket length from one period to the mean gap.
    Imapa,
    /// Exponential smoothing with additive seasonality of the configured period; the level
    /// alone when the history holds fewer than two seasons.
    Ets,
    /// A log-linear Poisson fit of the demand rate since the first sale, never rising.
    Decline,
    /// Simple exponential smoothing with a drift of half the history's linear trend, on the
    /// history without its season when it has a real one.
    Theta,
}

impl Method {
    /// Every method, in the order reports list them.
    pub const ALL: [Method; 10] = [
        Method::SeasonalNaive,
        Method::Ses,
        Method::Croston,
        Method::CrostonSba,
        Method::Tsb,
        Method::Adida,
        Method::Imapa,
        Method::Ets,
        Method::Decline,
        Method::Theta,
    ];

    /// The snake_case name shown in reports and stored with a forecast.
    pub fn name(self) -> &'static str {
        match self {
            Method::SeasonalNaive => "seasonal_naive",
            Method::Ses => "ses",
            Method::Croston => "croston",
            Method::CrostonSba => "croston_sba",
            Method::Tsb => "tsb",
            Method::Adida => "adida",
            Method::Imapa => "imapa",
            Method::Ets => "ets",
            Method::Decline => "decline",
            Method::Theta => "theta",
        }
    }

    /// The method a stored name stands for.
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|method| method.name() == name)
    }

    /// Whether the method may compete for a SKU of this demand pattern.
    ///
    /// Seasonal methods need demand in most periods to tell a seasonal peak from a lucky
    /// month; on sparse demand they fit noise, and a short back-test cannot always catch it.
    /// Croston's methods model gaps between demands and degrade to a biased SES when there
    /// are none.
    pub fn suits(self, class: DemandClass) -> bool {
        let regular = matches!(class, DemandClass::Smooth | DemandClass::Erratic);
        match self {
            Method::SeasonalNaive | Method::Ets | Method::Theta => regular,
            Method::Croston | Method::CrostonSba => !regular,
            Method::Ses | Method::Tsb | Method::Adida | Method::Imapa | Method::Decline => true,
        }
    }

    /// Fits the method to `history` and forecasts `horizon` periods.
    ///
    /// `season` is the seasonal period in periods (7 for days in a week, 12 for months in
    /// a year). `None` when the history is too short for the method: empty for all of them,
    /// shorter than one season for seasonal naive, shorter than two periods for ETS (which
    /// leaves its season out below two whole seasons).
    pub fn fit(self, history: &[f64], season: usize, horizon: usize) -> Option<Fitted> {
        if history.is_empty() {
            return None;
        }
        match self {
            Method::SeasonalNaive => smoothing::seasonal_naive(history, season, horizon),
            Method::Ses => Some(smoothing::ses(history, horizon)),
            Method::Croston => Some(intermittent::croston(history, horizon, false)),
            Method::CrostonSba => Some(intermittent::croston(history, horizon, true)),
            Method::Tsb => Some(intermittent::tsb(history, horizon)),
            Method::Adida => Some(aggregation::adida(history, horizon)),
            Method::Imapa => Some(aggregation::imapa(history, horizon)),
            Method::Ets => smoothing::ets(history, season, horizon),
            Method::Decline => Some(decline::decline(history, horizon)),
            Method::Theta => smoothing::theta(history, season, horizon),
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A method fitted to one history: what it forecasts and the parameters that made it so.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub method: Method,
    /// Named parameters as fitted (`alpha`, `beta`, `gamma`, `level`, `aggregation` …), in
    /// the order the method uses them.
    pub params: Vec<(&'static str, f64)>,
    /// Expected demand per period, never negative.
    pub forecast: Vec<f64>,
}

impl Fitted {
    fn flat(method: Method, params: Vec<(&'static str, f64)>, level: f64, horizon: usize) -> Self {
        Fitted { method, params, forecast: vec![level.max(0.0); horizon] }
    }

    /// A named parameter's fitted value.
    pub fn param(&self, name: &str) -> Option<f64> {
        self.params.iter().find(|(key, _)| *key == name).map(|(_, value)| *value)
    }
}

/// Golden-section search for the minimum of a unimodal-enough `f` on `[low, high]`.
///
/// In-sample error as a function of a smoothing constant is smooth and nearly always
/// single-troughed, so twenty narrowing steps (to 1e-4 of the interval, finer than any
/// difference a forecast would show) beat a grid of the same cost.
fn golden_section(low: f64, high: f64, f: impl Fn(f64) -> f64) -> f64 {
    const RATIO: f64 = 0.618_033_988_749_894_8;
    let (mut left, mut right) = (low, high);
    let mut c = right - RATIO * (right - left);
    let mut d = left + RATIO * (right - left);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..20 {
        if fc <= fd {
            right = d;
            d = c;
            fd = fc;
            c = right - RATIO * (right - left);
            fc = f(c);
        } else {
            left = c;
            c = d;
            fc = fd;
            d = left + RATIO * (right - left);
            fd = f(d);
        }
    }
    (left + right) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn fit(method: Method, history: &[f64]) -> Fitted {
        method.fit(history, 4, 3).unwrap()
    }

    /// Demand of 6 every third period: 2 a period on average.
    fn every_third() -> Vec<f64> {
        (0..24).map(|t| if t % 3 == 2 { 6.0 } else { 0.0 }).collect()
    }

    #[test]
    fn a_constant_history_is_forecast_as_itself_by_every_level_method() {
        let history = vec![5.0; 24];
        for method in [Method::Ses, Method::Croston, Method::Tsb, Method::Adida, Method::Imapa, Method::Ets, Method::Decline] {
            let fitted = fit(method, &history);
            assert!(fitted.forecast.iter().all(|&value| close(value, 5.0)), "{method}: {:?}", fitted.forecast);
        }
        // The Syntetos–Boylan correction takes 5 % off by design.
        assert!(close(fit(Method::CrostonSba, &history).forecast[0], 4.75));
    }

    #[test]
    fn croston_and_adida_see_regular_intermittent_demand_exactly() {
        let history = every_third();
        let croston = fit(Method::Croston, &history);
        assert!(close(croston.forecast[0], 2.0), "{croston:?}");
        assert_eq!(croston.param("size"), Some(6.0));
        assert_eq!(croston.param("interval"), Some(3.0));
        assert!(close(fit(Method::CrostonSba, &history).forecast[0], 1.9));
        let adida = fit(Method::Adida, &history);
        assert_eq!(adida.param("aggregation"), Some(3.0));
        assert!(close(adida.forecast[0], 2.0));
        let imapa = fit(Method::Imapa, &history);
        assert_eq!(imapa.param("max_aggregation"), Some(3.0));
        assert!((imapa.forecast[0] - 2.0).abs() < 0.7, "{imapa:?}");
    }

    #[test]
    fn tsb_fades_a_sku_that_stopped_selling_and_croston_does_not() {
        let mut history = every_third();
        history.extend([0.0; 12]);
        let tsb = fit(Method::Tsb, &history).forecast[0];
        let croston = fit(Method::Croston, &history).forecast[0];
        assert!(tsb < 1.0 && croston > 1.5, "tsb {tsb}, croston {croston}");
    }

    #[test]
    fn seasonal_naive_repeats_the_last_season() {
        let fitted = Method::SeasonalNaive.fit(&[9.0, 1.0, 2.0, 3.0, 4.0], 4, 6).unwrap();
        assert_eq!(fitted.forecast, vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0]);
        assert!(Method::SeasonalNaive.fit(&[1.0, 2.0], 4, 6).is_none());
    }

    #[test]
    fn ets_learns_a_weekly_pattern() {
        let week = [2.0, 3.0, 3.0, 4.0, 6.0, 12.0, 10.0];
        let history: Vec<f64> = (0..8).flat_map(|_| week).collect();
        let fitted = Method::Ets.fit(&history, 7, 7).unwrap();
        for (forecast, actual) in fitted.forecast.iter().zip(week) {
            assert!((forecast - actual).abs() < 1e-6, "{:?}", fitted.forecast);
        }
        // Below two whole weeks no weekly pattern is fitted: the level alone, ETS(A,N,N).
        let short = Method::Ets.fit(&history[..13], 7, 7).unwrap();
        assert_eq!(short.param("season"), Some(1.0));
        let level = short.param("level").unwrap();
        assert!(short.forecast.iter().all(|&f| f == level) && (2.0..12.0).contains(&level), "{short:?}");
        assert!(Method::Ets.fit(&[5.0], 7, 7).is_none());
    }

    #[test]
    fn decline_follows_a_falling_rate_and_never_projects_a_rise() {
        let falling: Vec<f64> = (0..30).map(|t| 100.0 * 0.9f64.powi(t)).collect();
        let fitted = fit(Method::Decline, &falling);
        assert!((fitted.param("slope").unwrap() - 0.9f64.ln()).abs() < 1e-6, "{fitted:?}");
        assert!((fitted.forecast[0] - falling[29]).abs() < 1e-6);

        let rising: Vec<f64> = (0..10).map(f64::from).collect();
        let fitted = fit(Method::Decline, &rising);
        assert_eq!(fitted.param("slope"), Some(0.0));
        // The long-run rate from the first sale on: 45 units over 9 periods.
        assert!(close(fitted.forecast[0], 5.0));

        // One early sale and nothing since: the steepest decline, close to nothing.
        let mut once = vec![0.0; 20];
        once[2] = 4.0;
        assert!(fit(Method::Decline, &once).forecast[0] < 1e-6);
    }

    #[test]
    fn theta_follows_a_trend_at_half_its_slope_and_never_below_zero() {
        let rising: Vec<f64> = (0..30).map(|t| 10.0 + 2.0 * f64::from(t)).collect();
        let fitted = Method::Theta.fit(&rising, 12, 6).unwrap();
        assert!((fitted.param("drift").unwrap() - 1.0).abs() < 1e-9, "{fitted:?}");
        // From about the last value, one unit more each period: half the history's slope.
        assert!((68.0..70.0).contains(&fitted.forecast[0]), "{fitted:?}");
        for step in fitted.forecast.windows(2) {
            assert!((step[1] - step[0] - 1.0).abs() < 1e-9, "{fitted:?}");
        }

        let falling: Vec<f64> = (0..16).map(|t| 30.0 - 2.0 * f64::from(t)).collect();
        let fitted = Method::Theta.fit(&falling, 12, 12).unwrap();
        assert!(fitted.forecast.iter().all(|&f| f >= 0.0) && fitted.forecast[11] == 0.0, "{fitted:?}");
        assert!(Method::Theta.fit(&[1.0, 2.0], 12, 3).is_none());
    }

    #[test]
    fn theta_forecasts_a_seasonal_history_without_its_season_and_puts_it_back() {
        // Five years of months, growing by 1 a month, December twice an ordinary month.
        let history: Vec<f64> = (0..60).map(|t| (50.0 + f64::from(t)) * if t % 12 == 11 { 2.0 } else { 1.0 }).collect();
        let fitted = Method::Theta.fit(&history, 12, 12).unwrap();
        assert_eq!(fitted.param("season"), Some(12.0), "{fitted:?}");
        // The next December is about twice its November, and the year goes on rising.
        let (november, december) = (fitted.forecast[10], fitted.forecast[11]);
        assert!((1.8..2.2).contains(&(december / november)), "{fitted:?}");
        assert!(fitted.forecast[10] > fitted.forecast[0], "{fitted:?}");
        // A history without a season is forecast as it is.
        let line: Vec<f64> = (0..60).map(|t| 50.0 + f64::from(t % 7)).collect();
        assert_eq!(Method::Theta.fit(&line, 12, 3).unwrap().param("season"), None);
    }

    #[test]
    fn trend_and_season_compete_only_where_demand_is_regular() {
        for method in [Method::Theta, Method::Ets, Method::SeasonalNaive] {
            assert!(method.suits(DemandClass::Smooth) && method.suits(DemandClass::Erratic), "{method}");
            assert!(!method.suits(DemandClass::Intermittent) && !method.suits(DemandClass::Lumpy), "{method}");
        }
    }

    #[test]
    fn no_demand_and_no_history_forecast_nothing() {
        for method in Method::ALL {
            assert!(method.fit(&[], 4, 3).is_none());
            if let Some(fitted) = method.fit(&[0.0; 12], 4, 3) {
                assert_eq!(fitted.forecast, vec![0.0; 3], "{method}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for method in Method::ALL {
            assert_eq!(Method::from_name(method.name()), Some(method));
        }
        assert_eq!(Method::from_name("prophet"), None);
    }
}

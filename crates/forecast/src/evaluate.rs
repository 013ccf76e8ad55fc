//! Every method and the per-series choice scored on a hold-out: each series is fitted on all
//! but its last `horizon` periods and scored on those, as `ordo forecast evaluate` prints and
//! the README reports for each data set.

use crate::demand::DemandHistory;
use crate::methods::Method;
use crate::metrics::Scorecard;
use crate::sku::{Settings, forecast};

/// One method's (or the choice's) scores over every series with a scale.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodScore {
    pub method: &'static str,
    pub mase: Option<f64>,
    pub rmsse: Option<f64>,
    pub bias: Option<f64>,
}

/// The name Ordo's own forecast, each series' pool of its best methods in back-test, is
/// reported under (kept from when one method was picked per series).
pub const CHOICE: &str = "per-series choice";
/// The name the equal-weight combination is reported under.
pub const COMBINATION: &str = "combination of suited methods";

/// The mean, period by period, of every method suited to the history's demand pattern
/// (Croston's methods included) that can be fitted to it: no selection, no weights, so
/// nothing in it is tuned to a data set. Zeros for a history that never sold.
pub fn combination(history: &[f64], season: usize, horizon: usize) -> Vec<f64> {
    let Some(profile) = crate::classify(history) else { return vec![0.0; horizon] };
    let fits: Vec<Vec<f64>> =
        Method::ALL.iter().filter(|m| m.suits(profile.class)).filter_map(|m| m.fit(history, season, horizon)).map(|f| f.forecast).collect();
    if fits.is_empty() {
        return vec![0.0; horizon];
    }
    (0..horizon).map(|t| fits.iter().map(|f| f[t]).sum::<f64>() / fits.len() as f64).collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Series long enough to hold `horizon` periods out and fit on the rest.
    pub series: usize,
    /// Series too short for that.
    pub too_short: usize,
    /// Series scored (the others have no scale: no change in their history).
    pub scored: usize,
    pub horizon: usize,
    /// Each method, then the per-series choice ([`CHOICE`]) and the combination
    /// ([`COMBINATION`]).
    pub methods: Vec<MethodScore>,
}

/// Scores every method and the per-series choice of `settings` on the last `settings.horizon`
/// periods of each series. A method that cannot fit a series forecasts nothing for it.
pub fn evaluate(series: &[Vec<f64>], settings: &Settings) -> Evaluation {
    let horizon = settings.horizon;
    let splits: Vec<(&[f64], &[f64])> = series.iter().filter(|s| s.len() > horizon + 1).map(|s| s.split_at(s.len() - horizon)).collect();
    let card = |forecasts: &mut dyn Iterator<Item = Vec<f64>>| {
        let mut card = Scorecard::default();
        for ((train, test), forecast) in splits.iter().zip(forecasts) {
            card.add(train, test, &forecast);
        }
        card
    };
    let mut methods: Vec<MethodScore> = Method::ALL
        .iter()
        .map(|method| {
            let mut forecasts = splits.iter().map(|(train, _)| method.fit(train, settings.season, horizon).map_or_else(|| vec![0.0; horizon], |f| f.forecast));
            score(method.name(), &card(&mut forecasts))
        })
        .collect();
    let mut chosen = splits.iter().map(|(train, _)| {
        DemandHistory::new(train.to_vec()).ok().and_then(|history| forecast(&history, &[], settings).ok()).map_or_else(|| vec![0.0; horizon], |sku| sku.forecast)
    });
    let choice = card(&mut chosen);
    methods.push(score(CHOICE, &choice));
    let mut combined = splits.iter().map(|(train, _)| combination(train, settings.season, horizon));
    methods.push(score(COMBINATION, &card(&mut combined)));
    Evaluation { series: splits.len(), too_short: series.len() - splits.len(), scored: choice.scored, horizon, methods }
}

fn score(method: &'static str, card: &Scorecard) -> MethodScore {
    MethodScore { method, mase: card.mase(), rmsse: card.rmsse(), bias: card.bias() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_combination_is_the_mean_of_the_suited_methods() {
        // Sparse demand: seasonal naive and ETS do not suit it, Croston's methods do.
        let sparse: Vec<f64> = (0..36).map(|i| if i % 4 == 0 { 4.0 } else { 0.0 }).collect();
        let suited: Vec<Method> = Method::ALL.into_iter().filter(|m| m.suits(crate::classify(&sparse).unwrap().class)).collect();
        assert!(!suited.contains(&Method::Ets) && suited.contains(&Method::Croston));
        let mean = suited.iter().map(|m| m.fit(&sparse, 12, 3).unwrap().forecast[0]).sum::<f64>() / suited.len() as f64;
        assert!((combination(&sparse, 12, 3)[0] - mean).abs() < 1e-12);
        assert_eq!(combination(&[0.0; 10], 12, 3), vec![0.0; 3]);
    }

    #[test]
    fn every_method_and_the_choice_are_scored_and_short_series_set_aside() {
        let steady: Vec<f64> = (0..40).map(|i| f64::from(i % 3 + 2)).collect();
        let dying: Vec<f64> = (0..40).map(|i| if i < 20 { 5.0 } else { f64::from(u8::from(i % 4 == 0)) }).collect();
        let short = vec![1.0, 2.0];
        let e = evaluate(&[steady, dying, short], &Settings::monthly(6));
        assert_eq!((e.series, e.too_short, e.scored, e.horizon), (2, 1, 2, 6));
        assert_eq!(e.methods.len(), Method::ALL.len() + 2);
        assert_eq!(e.methods.iter().rev().take(2).map(|m| m.method).collect::<Vec<_>>(), [COMBINATION, CHOICE]);
        assert!(e.methods.iter().all(|m| m.rmsse.is_some_and(f64::is_finite)), "{e:?}");
    }
}

//! Forecasting each series by pooling: the methods that hold up best in a rolling-origin
//! back-test on its own history are averaged.
//!
//! Every candidate suited to the series' demand pattern is fitted on the history up to several
//! past origins and scored on what followed, by RMSSE. Picking the single lowest score trusts
//! a noisy ranking: on a few dozen periods of sparse demand the back-test winner is often the
//! luckiest candidate, not the best one. Averaging every candidate lets the poor ones in. The
//! pool (Kourentzes, Barrow and Petropoulos, 2019) averages the best [`Backtest::pool`] of the
//! ranking, so it keeps the ranking's signal and averages away its noise, with no incumbent
//! method and no margin to fit to one data set.

use crate::classify::{Profile, classify};
use crate::metrics::Scale;
use crate::{Fitted, Method};

/// How the back-test is run.
#[derive(Debug, Clone, PartialEq)]
pub struct Backtest {
    /// Methods that may be pooled; each competes only for series whose pattern it
    /// [suits](Method::suits). Croston's two methods are left out: they update only when a
    /// demand occurs, so a product that has stopped selling keeps its last rate for ever (on
    /// online retail by day their MASE is above 10); TSB, which is in, was made to mend that.
    /// Theta is in for months and quarters only: on a year or two of noisy days or weeks its
    /// straight trend follows noise.
    pub candidates: Vec<Method>,
    /// How many of the best in back-test are averaged: three, as in the pooling paper.
    pub pool: usize,
    /// Number of past origins.
    pub origins: usize,
    /// Periods between consecutive origins.
    pub step: usize,
    /// Periods scored after each origin.
    pub window: usize,
    /// Shortest history fitted at an origin; origins earlier than this are dropped.
    pub min_history: usize,
}

/// What a series too short (or too flat) to back-test gets: the log-linear rate since the
/// first sale, which never forecasts a rise from a few early sales.
pub const FALLBACK: Method = Method::Decline;

impl Backtest {
    /// Monthly demand: six origins two months apart, each scored on the next six months,
    /// so the last year is covered without leaning on a single month. Theta competes: over
    /// years of months a trend is real.
    pub fn monthly() -> Self {
        Backtest { origins: 6, step: 2, window: 6, min_history: 24, ..Backtest::base().with(Method::Theta) }
    }

    /// Quarterly demand: the monthly back-test in quarters, six origins a quarter apart, each
    /// scored on the next half year, with at least two years fitted. Theta competes.
    pub fn quarterly() -> Self {
        Backtest { origins: 6, step: 1, window: 2, min_history: 8, ..Backtest::base().with(Method::Theta) }
    }

    /// Daily demand with a weekly pattern: eight origins four weeks apart, each scored on the
    /// next four weeks, so the last 32 weeks are each scored once.
    pub fn daily() -> Self {
        Backtest { origins: 8, step: 28, window: 28, min_history: 28, ..Backtest::base() }
    }

    /// Weekly demand: six origins four weeks apart, each scored on the next four weeks, with
    /// at least half a year fitted.
    pub fn weekly() -> Self {
        Backtest { origins: 6, step: 4, window: 4, min_history: 26, ..Backtest::base() }
    }

    /// The fewest periods a history needs for one origin to be back-tested: anything shorter
    /// gets [`FALLBACK`].
    pub fn shortest_history(&self) -> usize {
        self.min_history.max(1) + self.window.max(1)
    }

    /// The same back-test with one more candidate.
    pub fn with(mut self, method: Method) -> Self {
        if !self.candidates.contains(&method) {
            self.candidates.push(method);
        }
        self
    }

    fn base() -> Self {
        Backtest {
            candidates: Method::ALL.into_iter().filter(|method| !matches!(method, Method::Croston | Method::CrostonSba | Method::Theta)).collect(),
            pool: 3,
            origins: 6,
            step: 2,
            window: 6,
            min_history: 24,
        }
    }
}

/// One candidate's back-test result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub method: Method,
    /// RMSSE over every origin's scored periods (scaled by the whole history's naive
    /// error); `None` when the method could not be fitted at some origin.
    pub rmsse: Option<f64>,
}

/// How the forecast was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The best candidates in back-test were averaged.
    Pooled,
    /// The history was too short or too flat to back-test; [`FALLBACK`] was used.
    Untested,
}

impl Reason {
    /// The word reports and the API show: `pooled` or `untested`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Pooled => "pooled",
            Reason::Untested => "untested",
        }
    }
}

/// The methods a series gets, why, and what they forecast together.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// `None` for a series that never sold.
    pub profile: Option<Profile>,
    /// The methods averaged, lowest back-test RMSSE first, each refitted on the whole
    /// history with its parameters and forecast; [`FALLBACK`] alone when untested.
    pub pooled: Vec<Fitted>,
    /// The pooled methods' mean forecast, period by period.
    pub forecast: Vec<f64>,
    pub reason: Reason,
    /// Every competing candidate's back-test score, in candidate order; empty when untested.
    pub scores: Vec<Score>,
    /// The pool's own back-test RMSSE: its members' back-test forecasts averaged and scored
    /// like theirs. It is a little optimistic, as the members were picked on the same periods.
    pub rmsse: Option<f64>,
}

impl Choice {
    /// The pooled methods, best first.
    pub fn methods(&self) -> impl Iterator<Item = Method> + '_ {
        self.pooled.iter().map(|fitted| fitted.method)
    }

    /// The pooled methods' names, best first, as shown next to a forecast: `tsb + imapa + ses`.
    pub fn name(&self) -> String {
        self.methods().map(Method::name).collect::<Vec<_>>().join(" + ")
    }

    /// A candidate's back-test RMSSE.
    pub fn score(&self, method: Method) -> Option<f64> {
        self.scores.iter().find(|score| score.method == method).and_then(|score| score.rmsse)
    }
}

/// Back-tests the candidates on a cleaned `history` and forecasts `horizon` periods with the
/// mean of the best.
pub fn choose(history: &[f64], season: usize, horizon: usize, backtest: &Backtest) -> Choice {
    let profile = classify(history);
    let candidates: Vec<Method> = match profile {
        Some(profile) => backtest.candidates.iter().copied().filter(|method| method.suits(profile.class)).collect(),
        None => Vec::new(),
    };
    let (scale, mut trials) = trial(history, season, &candidates, backtest).map_or((None, Vec::new()), |(scale, trials)| (Some(scale), trials));
    let scores = trials.iter().map(|trial| trial.score).collect();
    trials.retain(|trial| trial.score.rmsse.is_some_and(f64::is_finite));
    trials.sort_by(|a, b| a.score.rmsse.unwrap_or(f64::INFINITY).total_cmp(&b.score.rmsse.unwrap_or(f64::INFINITY)));
    let best: Vec<(Fitted, &Trial)> =
        trials.iter().filter_map(|trial| trial.score.method.fit(history, season, horizon).map(|fitted| (fitted, trial))).take(backtest.pool.max(1)).collect();
    if best.is_empty() {
        let fallback = FALLBACK
            .fit(history, season, horizon)
            .unwrap_or(Fitted { method: FALLBACK, params: Vec::new(), forecast: vec![0.0; horizon] });
        return Choice { profile, forecast: fallback.forecast.clone(), pooled: vec![fallback], reason: Reason::Untested, scores, rmsse: None };
    }
    let forecast = mean(best.iter().map(|(fitted, _)| fitted.forecast.as_slice()), horizon);
    let errors = mean(best.iter().map(|(_, trial)| trial.errors.as_slice()), best[0].1.errors.len());
    let rmsse = scale.map(|scale| (errors.iter().map(|e| e * e).sum::<f64>() / errors.len().max(1) as f64 / scale.squared).sqrt());
    Choice { profile, pooled: best.into_iter().map(|(fitted, _)| fitted).collect(), forecast, reason: Reason::Pooled, scores, rmsse }
}

/// The mean of equally long series, period by period.
fn mean<'a>(series: impl Iterator<Item = &'a [f64]> + Clone, length: usize) -> Vec<f64> {
    let count = series.clone().count().max(1) as f64;
    (0..length).map(|t| series.clone().map(|values| values.get(t).copied().unwrap_or(0.0)).sum::<f64>() / count).collect()
}

/// A candidate's back-test: its score and its error (forecast − actual) at every scored
/// period, in the same order for every candidate.
struct Trial {
    score: Score,
    errors: Vec<f64>,
}

/// Every candidate's back-test, with the history's scale; `None` when there is no scale or no
/// origin with enough history before it.
fn trial(history: &[f64], season: usize, candidates: &[Method], backtest: &Backtest) -> Option<(Scale, Vec<Trial>)> {
    let scale = Scale::naive(history)?;
    let window = backtest.window.max(1);
    let origins: Vec<usize> = (0..backtest.origins)
        .filter_map(|k| history.len().checked_sub(window + k * backtest.step.max(1)))
        .filter(|&origin| origin >= backtest.min_history.max(1))
        .collect();
    if origins.is_empty() {
        return None;
    }
    let trials = candidates
        .iter()
        .map(|&method| {
            let mut errors = Vec::with_capacity(origins.len() * window);
            for &origin in &origins {
                let Some(fitted) = method.fit(&history[..origin], season, window) else {
                    return Trial { score: Score { method, rmsse: None }, errors: Vec::new() };
                };
                let actual = &history[origin..origin + window];
                errors.extend(actual.iter().zip(&fitted.forecast).map(|(a, f)| f - a));
            }
            let squared = errors.iter().map(|e| e * e).sum::<f64>() / errors.len().max(1) as f64;
            Trial { score: Score { method, rmsse: Some((squared / scale.squared).sqrt()) }, errors }
        })
        .collect();
    Some((scale, trials))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A busy SKU with a strong weekly pattern, a little noise, and no trend.
    fn weekly(weeks: usize) -> Vec<f64> {
        let week = [20.0, 22.0, 21.0, 25.0, 40.0, 80.0, 70.0];
        (0..weeks * 7).map(|t| week[t % 7] + [0.0, 2.0, -1.0, 1.0, -2.0][t % 5]).collect()
    }

    #[test]
    fn the_forecast_is_the_mean_of_the_three_best_in_back_test() {
        let choice = choose(&weekly(20), 7, 14, &Backtest::daily());
        assert_eq!(choice.reason, Reason::Pooled);
        assert_eq!(choice.pooled.len(), 3);
        let mut ranked: Vec<(Method, f64)> = choice.scores.iter().filter_map(|s| s.rmsse.map(|r| (s.method, r))).collect();
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
        assert_eq!(choice.methods().collect::<Vec<_>>(), ranked.iter().take(3).map(|(m, _)| *m).collect::<Vec<_>>());
        // The weekly pattern's methods are pooled, and the pool keeps the pattern.
        assert!(choice.methods().any(|m| m == Method::Ets) && choice.methods().any(|m| m == Method::SeasonalNaive), "{choice:?}");
        assert!(choice.forecast[5] > 2.0 * choice.forecast[0], "Saturdays above Mondays, as in the history: {choice:?}");
        for t in 0..14 {
            let mean = choice.pooled.iter().map(|f| f.forecast[t]).sum::<f64>() / 3.0;
            assert!((choice.forecast[t] - mean).abs() < 1e-9);
        }
        assert_eq!(choice.name(), choice.methods().map(Method::name).collect::<Vec<_>>().join(" + "));
        // The pool's own back-test error is no worse than its members' on average.
        let members = choice.methods().map(|m| choice.score(m).unwrap()).sum::<f64>() / 3.0;
        assert!(choice.rmsse.unwrap() <= members + 1e-9, "{choice:?}");
    }

    #[test]
    fn sparse_demand_pools_only_methods_suited_to_it_and_never_croston() {
        let history: Vec<f64> = (0..40).map(|t| if t % 5 == 1 { 3.0 } else { 0.0 }).collect();
        let choice = choose(&history, 12, 12, &Backtest::monthly());
        assert_eq!(choice.profile.unwrap().class, crate::DemandClass::Intermittent);
        assert!(choice.scores.iter().all(|score| score.method.suits(crate::DemandClass::Intermittent)));
        assert!(choice.scores.iter().all(|score| !matches!(score.method, Method::Ets | Method::Croston | Method::CrostonSba)), "{choice:?}");
        assert_eq!(choice.reason, Reason::Pooled);
        // A SKU selling 3 every fifth month: the pool expects about 0.6 a month.
        assert!(choice.forecast.iter().all(|f| (0.3..0.9).contains(f)), "{choice:?}");
    }

    #[test]
    fn theta_competes_for_months_and_quarters_and_follows_their_trend() {
        for backtest in [Backtest::monthly(), Backtest::quarterly()] {
            assert!(backtest.candidates.contains(&Method::Theta));
        }
        // Over a year or two of days or weeks a straight trend is mostly noise.
        for backtest in [Backtest::daily(), Backtest::weekly()] {
            assert!(!backtest.candidates.contains(&Method::Theta));
        }
        // Five years of monthly sales growing by 2 a month, with a small wobble.
        let growing: Vec<f64> = (0..60).map(|t| 100.0 + 2.0 * f64::from(t) + [0.0, 3.0, -2.0, 1.0, -3.0][t as usize % 5]).collect();
        let choice = choose(&growing, 12, 6, &Backtest::monthly());
        assert!(choice.methods().any(|m| m == Method::Theta), "{choice:?}");
        assert!(choice.forecast[5] > choice.forecast[0], "the pool keeps rising: {choice:?}");
    }

    #[test]
    fn a_short_or_empty_history_is_untested_and_gets_the_fallback() {
        let monthly = Backtest::monthly();
        let steady: Vec<f64> = (0..monthly.shortest_history()).map(|t| f64::from(t as u8 % 3 + 1)).collect();
        assert_eq!(choose(&steady, 12, 3, &monthly).reason, Reason::Pooled);
        assert_eq!(choose(&steady[1..], 12, 3, &monthly).reason, Reason::Untested);
        let choice = choose(&[1.0, 0.0, 2.0], 12, 3, &Backtest::monthly());
        assert_eq!(choice.reason, Reason::Untested);
        assert!(choice.scores.is_empty());
        assert_eq!(choice.methods().collect::<Vec<_>>(), [FALLBACK]);
        assert_eq!(choice.forecast, FALLBACK.fit(&[1.0, 0.0, 2.0], 12, 3).unwrap().forecast);
        assert_eq!(choice.rmsse, None);
        let nothing = choose(&[0.0; 40], 12, 3, &Backtest::monthly());
        assert_eq!(nothing.profile, None);
        assert_eq!(nothing.forecast, vec![0.0; 3]);
        let empty = choose(&[], 12, 3, &Backtest::monthly());
        assert_eq!(empty.forecast, vec![0.0; 3]);
    }
}

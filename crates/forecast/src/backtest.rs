//! Choosing each SKU's method by a rolling-origin back-test on its own history.
//!
//! Every candidate suited to the SKU's demand pattern is fitted on the history up to several
//! past origins and scored on what followed, by RMSSE. The lowest score does not simply win:
//! on a few dozen periods of sparse demand the back-test winner is often the luckiest
//! candidate, not the best one, and picking it outright does worse than never choosing at all
//! (on car parts, RMSSE 0.559 against 0.544 for the incumbent alone). So an incumbent method
//! holds unless a challenger beats it by a margin and by more than chance would, judged
//! period by period. SKUs whose history clearly favours another method (a weekly pattern in a
//! busy SKU, a recent rise) still get it.

use crate::classify::{Profile, classify};
use crate::metrics::Scale;
use crate::{Fitted, Method};

/// How the back-test is run.
#[derive(Debug, Clone, PartialEq)]
pub struct Backtest {
    /// Methods that may compete; each competes only for SKUs whose pattern it
    /// [suits](Method::suits).
    pub candidates: Vec<Method>,
    /// The method a challenger must beat. The default, [`Method::Decline`], was the best
    /// single method in every demand class of the car-parts data.
    pub incumbent: Method,
    /// How much lower a challenger's RMSSE must be, as a fraction of the incumbent's.
    pub margin: f64,
    /// How many standard errors of the period-by-period difference in squared error the
    /// challenger's mean gain must exceed. Scored periods overlap when windows do, so the
    /// standard error is optimistic; 2 keeps a lucky month from counting.
    pub confidence: f64,
    /// Number of past origins.
    pub origins: usize,
    /// Periods between consecutive origins.
    pub step: usize,
    /// Periods scored after each origin.
    pub window: usize,
    /// Shortest history fitted at an origin; origins earlier than this are dropped.
    pub min_history: usize,
}

impl Backtest {
    /// Monthly demand: six origins two months apart, each scored on the next six months,
    /// so the last year is covered without leaning on a single month.
    pub fn monthly() -> Self {
        Backtest { origins: 6, step: 2, window: 6, min_history: 24, ..Backtest::base() }
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

    fn base() -> Self {
        Backtest {
            candidates: Method::ALL.to_vec(),
            incumbent: Method::Decline,
            margin: 0.05,
            confidence: 2.0,
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

/// Why the chosen method was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It beat the incumbent by the margin and beyond chance (or the incumbent could not be
    /// fitted and it had the lowest back-test RMSSE).
    Won,
    /// It is the incumbent and no challenger beat it clearly enough.
    Incumbent,
    /// The history was too short or too flat to back-test; the incumbent was used.
    Untested,
}

/// The method a SKU gets, why, and what it forecasts.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// `None` for a SKU that never sold.
    pub profile: Option<Profile>,
    /// The chosen method refitted on the whole history: its parameters and forecast.
    pub fitted: Fitted,
    pub reason: Reason,
    /// Every competing candidate's back-test score, in candidate order; empty when untested.
    pub scores: Vec<Score>,
}

impl Choice {
    pub fn method(&self) -> Method {
        self.fitted.method
    }

    /// The chosen method's back-test RMSSE.
    pub fn rmsse(&self) -> Option<f64> {
        self.score(self.fitted.method)
    }

    /// A candidate's back-test RMSSE.
    pub fn score(&self, method: Method) -> Option<f64> {
        self.scores.iter().find(|score| score.method == method).and_then(|score| score.rmsse)
    }
}

/// Back-tests the candidates on a cleaned `history` and forecasts `horizon` periods with the
/// chosen method.
pub fn choose(history: &[f64], season: usize, horizon: usize, backtest: &Backtest) -> Choice {
    let profile = classify(history);
    let candidates: Vec<Method> = match profile {
        Some(profile) => backtest.candidates.iter().copied().filter(|method| method.suits(profile.class)).collect(),
        None => Vec::new(),
    };
    let trials = score(history, season, &candidates, backtest);
    let (method, reason) = decide(&trials, backtest);
    let fitted = method
        .fit(history, season, horizon)
        .or_else(|| Method::Decline.fit(history, season, horizon))
        .unwrap_or(Fitted { method: Method::Decline, params: Vec::new(), forecast: vec![0.0; horizon] });
    let scores = trials.iter().map(|trial| trial.score).collect();
    Choice { profile, fitted, reason, scores }
}

/// A candidate's back-test: its score and its squared error at every scored period, in the
/// same order for every candidate.
struct Trial {
    score: Score,
    squared: Vec<f64>,
}

/// The incumbent stays unless a challenger's errors are lower by the margin and by more than
/// `confidence` standard errors of the period-by-period difference; of the challengers that
/// pass, the one with the surest gain wins. A weekly pattern in a busy SKU passes easily, a
/// lucky month in a sparse one does not.
fn decide(trials: &[Trial], backtest: &Backtest) -> (Method, Reason) {
    let scored: Vec<(&Trial, f64)> = trials.iter().filter_map(|trial| trial.score.rmsse.map(|rmsse| (trial, rmsse))).collect();
    let Some(&(incumbent, incumbent_rmsse)) = scored.iter().find(|(trial, _)| trial.score.method == backtest.incumbent) else {
        // The incumbent could not be scored: plain lowest RMSSE.
        let best = scored.iter().fold(None, |best: Option<(Method, f64)>, &(trial, rmsse)| match best {
            Some((_, lowest)) if lowest <= rmsse => best,
            _ => Some((trial.score.method, rmsse)),
        });
        return best.map_or((backtest.incumbent, Reason::Untested), |(method, _)| (method, Reason::Won));
    };
    let mut winner = (backtest.incumbent, Reason::Incumbent);
    let mut surest = backtest.confidence;
    for &(challenger, rmsse) in &scored {
        if challenger.score.method == backtest.incumbent || incumbent_rmsse <= rmsse * (1.0 + backtest.margin) {
            continue;
        }
        let gains: Vec<f64> = incumbent.squared.iter().zip(&challenger.squared).map(|(old, new)| old - new).collect();
        let n = gains.len() as f64;
        let mean = gains.iter().sum::<f64>() / n;
        let variance = gains.iter().map(|gain| (gain - mean) * (gain - mean)).sum::<f64>() / (n - 1.0).max(1.0);
        let sureness = if variance > 0.0 { mean / (variance / n).sqrt() } else if mean > 0.0 { f64::INFINITY } else { 0.0 };
        if sureness > surest {
            surest = sureness;
            winner = (challenger.score.method, Reason::Won);
        }
    }
    winner
}

fn score(history: &[f64], season: usize, candidates: &[Method], backtest: &Backtest) -> Vec<Trial> {
    let Some(scale) = Scale::naive(history) else {
        return Vec::new();
    };
    let window = backtest.window.max(1);
    let origins: Vec<usize> = (0..backtest.origins)
        .filter_map(|k| history.len().checked_sub(window + k * backtest.step.max(1)))
        .filter(|&origin| origin >= backtest.min_history.max(1))
        .collect();
    if origins.is_empty() {
        return Vec::new();
    }
    candidates
        .iter()
        .map(|&method| {
            let mut squared = Vec::with_capacity(origins.len() * window);
            for &origin in &origins {
                let Some(fitted) = method.fit(&history[..origin], season, window) else {
                    return Trial { score: Score { method, rmsse: None }, squared: Vec::new() };
                };
                let actual = &history[origin..origin + window];
                squared.extend(actual.iter().zip(&fitted.forecast).map(|(a, f)| (a - f) * (a - f)));
            }
            let mean = squared.iter().sum::<f64>() / squared.len().max(1) as f64;
            Trial { score: Score { method, rmsse: Some((mean / scale.squared).sqrt()) }, squared }
        })
        .collect()
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
    fn a_weekly_pattern_wins_over_the_flat_incumbent() {
        let choice = choose(&weekly(20), 7, 14, &Backtest::daily());
        assert!(matches!(choice.method(), Method::Ets | Method::SeasonalNaive), "{choice:?}");
        assert_eq!(choice.reason, Reason::Won);
        assert_eq!(choice.fitted.forecast.len(), 14);
        // Saturdays above Mondays, as in the history.
        assert!(choice.fitted.forecast[5] > 2.0 * choice.fitted.forecast[0]);
        let incumbent = choice.score(Method::Decline).unwrap();
        assert!(choice.rmsse().unwrap() < incumbent / (1.0 + Backtest::daily().margin));
    }

    #[test]
    fn sparse_demand_keeps_the_incumbent_unless_clearly_beaten() {
        let history: Vec<f64> = (0..40).map(|t| if t % 5 == 1 { 3.0 } else { 0.0 }).collect();
        let choice = choose(&history, 12, 12, &Backtest::monthly());
        assert_eq!(choice.profile.unwrap().class, crate::DemandClass::Intermittent);
        assert!(choice.scores.iter().all(|score| score.method.suits(crate::DemandClass::Intermittent)));
        assert!(choice.scores.iter().all(|score| score.method != Method::Ets));
        assert_eq!(choice.method(), Method::Decline, "{choice:?}");
        assert_eq!(choice.reason, Reason::Incumbent);
    }

    #[test]
    fn a_short_or_empty_history_is_untested() {
        let choice = choose(&[1.0, 0.0, 2.0], 12, 3, &Backtest::monthly());
        assert_eq!(choice.reason, Reason::Untested);
        assert!(choice.scores.is_empty());
        assert_eq!(choice.method(), Method::Decline);
        let nothing = choose(&[0.0; 40], 12, 3, &Backtest::monthly());
        assert_eq!(nothing.profile, None);
        assert_eq!(nothing.fitted.forecast, vec![0.0; 3]);
        let empty = choose(&[], 12, 3, &Backtest::monthly());
        assert_eq!(empty.fitted.forecast, vec![0.0; 3]);
    }
}

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

/// The methods Ordo's forecast is measured against: the best of them on a data set is the bar
/// the per-series choice has to clear.
pub const REFERENCES: [Method; 4] = [Method::Imapa, Method::Adida, Method::Tsb, Method::Ets];

/// The per-series choice against the best reference (lowest RMSSE) on the same series: is the
/// difference between them real, or could it be the luck of which series were held out?
///
/// Each series gives one paired difference, the choice's RMSSE minus the reference's; their
/// mean is the difference between the two catalogue figures, and its 95 % interval is the
/// normal one (mean ± 1.96 standard errors), which a few hundred series make fair. An
/// interval that holds zero means the two cannot be told apart on this data. The reference is
/// picked on the hold-out itself, which favours it.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub reference: &'static str,
    /// Mean of the choice's RMSSE minus the reference's: negative when the choice is better.
    pub difference: f64,
    /// The 95 % interval of that mean.
    pub low: f64,
    pub high: f64,
    /// Series on which the choice scored better, worse, or the same (within 1e-9).
    pub better: usize,
    pub worse: usize,
    pub level: usize,
}

/// What a [`Comparison`]'s interval says of the choice against the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The whole interval is below zero.
    Better,
    /// The whole interval is above zero.
    Worse,
    /// The interval holds zero: on this data the two cannot be told apart.
    NotToldApart,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NotToldApart => "not told apart",
        }
    }
}

impl Comparison {
    pub fn verdict(&self) -> Verdict {
        if self.high < 0.0 {
            Verdict::Better
        } else if self.low > 0.0 {
            Verdict::Worse
        } else {
            Verdict::NotToldApart
        }
    }

    /// `None` with fewer than two paired series: no spread, no interval.
    pub fn paired(reference: &'static str, choice: &[f64], other: &[f64]) -> Option<Comparison> {
        let differences: Vec<f64> = choice.iter().zip(other).map(|(c, r)| c - r).collect();
        let n = differences.len();
        if n < 2 {
            return None;
        }
        let mean = differences.iter().sum::<f64>() / n as f64;
        let variance = differences.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (n - 1) as f64;
        let margin = 1.96 * (variance / n as f64).sqrt();
        let count = |keep: fn(f64) -> bool| differences.iter().filter(|&&d| keep(d)).count();
        Some(Comparison {
            reference,
            difference: mean,
            low: mean - margin,
            high: mean + margin,
            better: count(|d| d < -1e-9),
            worse: count(|d| d > 1e-9),
            level: count(|d| d.abs() <= 1e-9),
        })
    }
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
    /// The choice against the best of [`REFERENCES`]; `None` when fewer than two series have
    /// a scale.
    pub against_best_reference: Option<Comparison>,
}

/// Scores every method and the per-series choice of `settings` on the last `settings.horizon`
/// periods of each series. A method that cannot fit a series forecasts nothing for it.
pub fn evaluate(series: &[Vec<f64>], settings: &Settings) -> Evaluation {
    let horizon = settings.horizon;
    let splits: Vec<(&[f64], &[f64])> = series.iter().filter(|s| s.len() > horizon + 1).map(|s| s.split_at(s.len() - horizon)).collect();
    // The scorecard and each scored series' RMSSE, in series order. Whether a series has a
    // scale depends on its history alone, so every method scores the same series.
    let card = |forecasts: &mut dyn Iterator<Item = Vec<f64>>| {
        let mut card = Scorecard::default();
        let mut each = Vec::new();
        for ((train, test), forecast) in splits.iter().zip(forecasts) {
            each.extend(card.add(train, test, &forecast).map(|accuracy| accuracy.rmsse));
        }
        (card, each)
    };
    let mut methods = Vec::new();
    let mut best_reference: Option<(&'static str, f64, Vec<f64>)> = None;
    for method in Method::ALL {
        let mut forecasts = splits.iter().map(|(train, _)| method.fit(train, settings.season, horizon).map_or_else(|| vec![0.0; horizon], |f| f.forecast));
        let (card, each) = card(&mut forecasts);
        methods.push(score(method.name(), &card));
        if let Some(rmsse) = card.rmsse().filter(|_| REFERENCES.contains(&method))
            && best_reference.as_ref().is_none_or(|(_, best, _)| rmsse < *best)
        {
            best_reference = Some((method.name(), rmsse, each));
        }
    }
    let mut chosen = splits.iter().map(|(train, _)| {
        DemandHistory::new(train.to_vec()).ok().and_then(|history| forecast(&history, &[], settings).ok()).map_or_else(|| vec![0.0; horizon], |sku| sku.forecast)
    });
    let (choice, chosen_each) = card(&mut chosen);
    methods.push(score(CHOICE, &choice));
    let mut combined = splits.iter().map(|(train, _)| combination(train, settings.season, horizon));
    methods.push(score(COMBINATION, &card(&mut combined).0));
    let against_best_reference = best_reference.and_then(|(name, _, each)| Comparison::paired(name, &chosen_each, &each));
    Evaluation { series: splits.len(), too_short: series.len() - splits.len(), scored: choice.scored, horizon, methods, against_best_reference }
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
        let against = e.against_best_reference.expect("two series scored");
        let best = e.methods.iter().filter(|m| REFERENCES.iter().any(|r| r.name() == m.method)).min_by(|a, b| a.rmsse.partial_cmp(&b.rmsse).unwrap()).unwrap();
        assert_eq!(against.reference, best.method);
        let choice = e.methods.iter().find(|m| m.method == CHOICE).unwrap();
        assert!((against.difference - (choice.rmsse.unwrap() - best.rmsse.unwrap())).abs() < 1e-12, "the mean paired difference is the difference of the means");
        assert_eq!(against.better + against.worse + against.level, 2);
    }

    #[test]
    fn a_paired_comparison_gives_the_mean_difference_and_its_interval() {
        // Differences -0.1, -0.2, 0, +0.1: mean -0.05, sample variance 0.05/3.
        let c = Comparison::paired("tsb", &[0.9, 0.8, 1.0, 1.1], &[1.0, 1.0, 1.0, 1.0]).unwrap();
        assert!((c.difference + 0.05).abs() < 1e-12);
        let margin = 1.96 * (0.05f64 / 3.0 / 4.0).sqrt();
        assert!((c.low - (-0.05 - margin)).abs() < 1e-12 && (c.high - (-0.05 + margin)).abs() < 1e-12);
        assert!(c.low < 0.0 && c.high > 0.0, "four series cannot tell these apart");
        assert_eq!(c.verdict(), Verdict::NotToldApart);
        assert_eq!((c.better, c.worse, c.level), (2, 1, 1));
        // The same gap on many series is told apart.
        let many = Comparison::paired("tsb", &[0.9; 400], &[1.0; 400]).unwrap();
        assert!(many.high < 0.0 && many.better == 400);
        assert_eq!(many.verdict(), Verdict::Better);
        assert_eq!(Comparison::paired("tsb", &[1.1; 400], &[1.0; 400]).unwrap().verdict(), Verdict::Worse);
        assert_eq!(Comparison::paired("tsb", &[0.9], &[1.0]), None);
    }
}

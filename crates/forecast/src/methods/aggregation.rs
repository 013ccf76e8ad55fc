//! Temporal aggregation: ADIDA and IMAPA. Summing demand into buckets about as long as the
//! typical gap between sales turns an intermittent series into a nearly smooth one, which
//! plain exponential smoothing handles well; the bucket forecast is then spread evenly back
//! over its periods.

use super::intermittent::sizes_and_intervals;
use super::smoothing::fitted_ses;
use super::{Fitted, Method};

/// Alpha bounds for the bucket series: buckets are few, so a high alpha would chase the last
/// one or two.
const ALPHA_LOW: f64 = 0.1;
const ALPHA_HIGH: f64 = 0.3;

/// The mean gap between demands rounded half to even, at least one; `None` without demand.
fn mean_gap(history: &[f64]) -> Option<usize> {
    let (_, intervals) = sizes_and_intervals(history);
    if intervals.is_empty() {
        return None;
    }
    let mean = intervals.iter().sum::<f64>() / intervals.len() as f64;
    Some((mean.round_ties_even() as usize).max(1))
}

/// Per-period rate forecast from buckets of `level` periods, the oldest incomplete bucket
/// dropped so the last bucket ends with the history. Returns the fitted alpha too.
fn bucket_rate(history: &[f64], level: usize) -> (f64, f64) {
    let skip = history.len() % level;
    let buckets: Vec<f64> = history[skip..].chunks_exact(level).map(|bucket| bucket.iter().sum()).collect();
    if buckets.is_empty() {
        return (ALPHA_LOW, 0.0);
    }
    let (alpha, sum) = fitted_ses(&buckets, ALPHA_LOW, ALPHA_HIGH);
    (alpha, sum / level as f64)
}

pub(super) fn adida(history: &[f64], horizon: usize) -> Fitted {
    let Some(level) = mean_gap(history) else {
        return Fitted::flat(Method::Adida, vec![("aggregation", 1.0)], 0.0, horizon);
    };
    let (alpha, rate) = bucket_rate(history, level);
    Fitted::flat(Method::Adida, vec![("aggregation", level as f64), ("alpha", alpha)], rate, horizon)
}

pub(super) fn imapa(history: &[f64], horizon: usize) -> Fitted {
    let Some(levels) = mean_gap(history) else {
        return Fitted::flat(Method::Imapa, vec![("max_aggregation", 1.0)], 0.0, horizon);
    };
    let rate = (1..=levels).map(|level| bucket_rate(history, level).1).sum::<f64>() / levels as f64;
    Fitted::flat(Method::Imapa, vec![("max_aggregation", levels as f64)], rate, horizon)
}

//! Methods for demand that skips periods: Croston (classic and with the Syntetos–Boylan
//! correction) and TSB. They smooth how much is sold when something sells apart from how
//! often it sells, which a plain level would blur into one small number that moves on every
//! zero.

use super::smoothing::ses_pass;
use super::{Fitted, Method};

/// Croston's smoothing constant, the classic 0.1 for both sizes and intervals: the method is
/// known for it, and fitting it on a handful of demands mostly fits noise.
const CROSTON_ALPHA: f64 = 0.1;

/// Sizes of the non-zero demands and the periods since the previous one (the first counted
/// from before the history began).
pub(super) fn sizes_and_intervals(history: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut sizes = Vec::new();
    let mut intervals = Vec::new();
    let mut previous = 0usize;
    for (index, &value) in history.iter().enumerate() {
        if value > 0.0 {
            sizes.push(value);
            intervals.push((index + 1 - previous) as f64);
            previous = index + 1;
        }
    }
    (sizes, intervals)
}

pub(super) fn croston(history: &[f64], horizon: usize, corrected: bool) -> Fitted {
    let method = if corrected { Method::CrostonSba } else { Method::Croston };
    let (sizes, intervals) = sizes_and_intervals(history);
    if sizes.is_empty() {
        return Fitted::flat(method, vec![("alpha", CROSTON_ALPHA)], 0.0, horizon);
    }
    let (size, _) = ses_pass(&sizes, CROSTON_ALPHA);
    let (interval, _) = ses_pass(&intervals, CROSTON_ALPHA);
    let mut rate = if interval > 0.0 { size / interval } else { size };
    if corrected {
        rate *= 1.0 - CROSTON_ALPHA / 2.0;
    }
    let params = vec![("alpha", CROSTON_ALPHA), ("size", size), ("interval", interval)];
    Fitted::flat(method, params, rate, horizon)
}

/// TSB: size smoothed on demand periods (alpha), probability of demand smoothed every
/// period (beta), both fitted by the in-sample one-step squared error on a grid; starts are
/// the mean size and the share of periods with demand.
///
/// The grid stays within 0.1–0.3: on a few dozen mostly-zero periods the in-sample optimum
/// is often an extreme constant that chases the last demand or ignores the last year.
pub(super) fn tsb(history: &[f64], horizon: usize) -> Fitted {
    const GRID: [f64; 5] = [0.1, 0.15, 0.2, 0.25, 0.3];
    let (sizes, _) = sizes_and_intervals(history);
    if sizes.is_empty() {
        return Fitted::flat(Method::Tsb, vec![("alpha", GRID[0]), ("beta", GRID[0])], 0.0, horizon);
    }
    let size = sizes.iter().sum::<f64>() / sizes.len() as f64;
    let probability = sizes.len() as f64 / history.len() as f64;

    let mut best = (f64::INFINITY, GRID[0], GRID[0], 0.0, 0.0);
    for alpha in GRID {
        for beta in GRID {
            let (sse, size, probability) = tsb_pass(history, size, probability, alpha, beta);
            if sse < best.0 {
                best = (sse, alpha, beta, size, probability);
            }
        }
    }
    let (_, alpha, beta, size, probability) = best;
    let params = vec![("alpha", alpha), ("beta", beta), ("size", size), ("probability", probability)];
    Fitted::flat(Method::Tsb, params, size * probability, horizon)
}

fn tsb_pass(history: &[f64], size: f64, probability: f64, alpha: f64, beta: f64) -> (f64, f64, f64) {
    let (mut size, mut probability) = (size, probability);
    let mut sse = 0.0;
    for &value in history {
        let error = value - size * probability;
        sse += error * error;
        if value > 0.0 {
            size += alpha * (value - size);
            probability += beta * (1.0 - probability);
        } else {
            probability -= beta * probability;
        }
    }
    (sse, size, probability)
}

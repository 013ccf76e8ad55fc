//! Declining demand: a SKU's rate of sale modelled as `rate(t) = r · e^(slope · t)` with
//! Poisson counts, fitted by maximum likelihood from its first sale on, slope at most zero.
//!
//! Spare parts and other long-tail SKUs mostly sell less each year as what they fit ages out
//! of use. Smoothing methods follow that decline a year late and so over-forecast the dying
//! part of a catalogue, which is most of it; a fitted trend sees the decline in the whole
//! history at once. A rising slope is not extrapolated: growth is noisier and dearer to get
//! wrong, and a rising SKU is forecast by its long-run rate, which the back-test then weighs
//! against the level methods that follow a rise. The forecast is the fitted rate at the last
//! period, held flat: the decline is recognised, not projected further into the horizon.

use super::{Fitted, Method};

/// Fastest decline considered: the rate falling to e⁻² (14 %) per period, the limit a SKU
/// with one early sale and nothing since would otherwise run to.
const STEEPEST: f64 = -2.0;

pub(super) fn decline(history: &[f64], horizon: usize) -> Fitted {
    let Some(first) = history.iter().position(|&value| value > 0.0) else {
        return Fitted::flat(Method::Decline, vec![("slope", 0.0), ("rate", 0.0)], 0.0, horizon);
    };
    let live = &history[first..];
    let slope = fitted_slope(live);
    let sold: f64 = live.iter().sum();
    // The last period's rate, from the fitted shape scaled to what was sold: terms grow
    // toward the past, so an overflow means an extreme decline and a rate of zero.
    let last = (live.len() - 1) as f64;
    let shape: f64 = (0..live.len()).map(|t| (-slope * (last - t as f64)).exp()).sum();
    let rate = sold / shape;
    Fitted::flat(Method::Decline, vec![("slope", slope), ("rate", rate)], rate, horizon)
}

/// The maximum-likelihood slope, capped at zero.
///
/// With the scale profiled out, the slope solves "the `e^(slope·t)`-weighted mean period
/// equals the demand-weighted mean period", whose left side rises with the slope; Newton's
/// method on it, kept inside a shrinking bracket, converges in a handful of steps.
fn fitted_slope(live: &[f64]) -> f64 {
    let sold: f64 = live.iter().sum();
    if live.len() < 2 || sold <= 0.0 {
        return 0.0;
    }
    let demand_mean = live.iter().enumerate().map(|(t, value)| t as f64 * value).sum::<f64>() / sold;
    // Weighted mean and variance of the period under weights e^(slope·t), t from 0, which
    // stay within (0, 1] for the slopes searched.
    let moments = |slope: f64| {
        let (mut weight, mut first, mut second) = (0.0, 0.0, 0.0);
        for t in 0..live.len() {
            let t = t as f64;
            let w = (slope * t).exp();
            weight += w;
            first += w * t;
            second += w * t * t;
        }
        let mean = first / weight;
        (mean - demand_mean, second / weight - mean * mean)
    };

    let (gap, _) = moments(0.0);
    if gap <= 0.0 {
        return 0.0;
    }
    let (mut low, mut high) = (STEEPEST, 0.0);
    if moments(low).0 >= 0.0 {
        return low;
    }
    let mut slope = 0.0;
    for _ in 0..60 {
        let (gap, variance) = moments(slope);
        if gap.abs() < 1e-10 {
            break;
        }
        if gap > 0.0 {
            high = slope;
        } else {
            low = slope;
        }
        let step = slope - gap / variance;
        slope = if step > low && step < high && variance > 0.0 { step } else { (low + high) / 2.0 };
        if high - low < 1e-12 {
            break;
        }
    }
    slope
}

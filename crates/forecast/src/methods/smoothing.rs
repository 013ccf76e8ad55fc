//! Level, trend and seasonal smoothing: seasonal naive, simple exponential smoothing, Theta
//! (SES with a drift), and ETS with additive seasonality. Theta and the seasonal methods suit
//! SKUs that sell most periods.

use super::{Fitted, Method, golden_section, seasonal};

pub(super) fn seasonal_naive(history: &[f64], season: usize, horizon: usize) -> Option<Fitted> {
    let season = season.max(1);
    let last = history.len().checked_sub(season)?;
    let forecast = (0..horizon).map(|step| history[last + step % season]).collect();
    Some(Fitted { method: Method::SeasonalNaive, params: vec![("season", season as f64)], forecast })
}

/// Runs simple exponential smoothing with the level started at the first observation.
/// Returns the next-period forecast and the sum of squared one-step errors.
pub(super) fn ses_pass(series: &[f64], alpha: f64) -> (f64, f64) {
    let Some((&first, rest)) = series.split_first() else {
        return (0.0, 0.0);
    };
    let mut level = first;
    let mut sse = 0.0;
    for &value in rest {
        let error = value - level;
        sse += error * error;
        level += alpha * error;
    }
    (level, sse)
}

/// The alpha in `[low, high]` with the least in-sample squared error, and its forecast.
pub(super) fn fitted_ses(series: &[f64], low: f64, high: f64) -> (f64, f64) {
    if series.len() < 2 {
        return (low, series.first().copied().unwrap_or(0.0));
    }
    let alpha = golden_section(low, high, |alpha| ses_pass(series, alpha).1);
    (alpha, ses_pass(series, alpha).0)
}

pub(super) fn ses(history: &[f64], horizon: usize) -> Fitted {
    let (alpha, level) = fitted_ses(history, 0.01, 0.99);
    Fitted::flat(Method::Ses, vec![("alpha", alpha), ("level", level)], level, horizon)
}

/// The Theta method as it won the M3 competition, in Hyndman and Billah's (2003) form: simple
/// exponential smoothing, alpha fitted, plus a drift of half the least-squares slope of the
/// whole history. A history with a real season of `season` periods (see [`seasonal`]) is
/// forecast without it and the season multiplied back. It follows a trend, which no other
/// method here does. Never below zero.
pub(super) fn theta(history: &[f64], season: usize, horizon: usize) -> Option<Fitted> {
    let n = history.len();
    if n < 3 {
        return None;
    }
    let Some(indices) = seasonal::indices(history, season) else {
        return Some(theta_line(history, horizon));
    };
    let adjusted: Vec<f64> = history.iter().enumerate().map(|(t, value)| value / seasonal::at(&indices, t)).collect();
    let mut fitted = theta_line(&adjusted, horizon);
    for (step, value) in fitted.forecast.iter_mut().enumerate() {
        *value *= seasonal::at(&indices, n + step);
    }
    fitted.params.push(("season", season as f64));
    Some(fitted)
}

/// Theta on a history taken as it is: SES plus half the least-squares slope.
fn theta_line(history: &[f64], horizon: usize) -> Fitted {
    let n = history.len();
    let mean_t = (n - 1) as f64 / 2.0;
    let mean_y = history.iter().sum::<f64>() / n as f64;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for (t, &value) in history.iter().enumerate() {
        covariance += (t as f64 - mean_t) * (value - mean_y);
        variance += (t as f64 - mean_t) * (t as f64 - mean_t);
    }
    let drift = covariance / variance / 2.0;
    let (alpha, level) = fitted_ses(history, 0.01, 0.99);
    let lead = (1.0 - (1.0 - alpha).powi(n as i32)) / alpha;
    let forecast = (0..horizon).map(|step| (level + drift * (step as f64 + lead)).max(0.0)).collect();
    Fitted { method: Method::Theta, params: vec![("alpha", alpha), ("level", level), ("drift", drift)], forecast }
}

/// Smoothing constants ETS chooses among, by in-sample squared one-step error.
const ALPHAS: [f64; 8] = [0.01, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.5];
const GAMMAS: [f64; 5] = [0.0, 0.02, 0.05, 0.1, 0.2];

/// ETS(A,N,A): level plus an additive seasonal profile, both smoothed; ETS(A,N,N), the level
/// alone, when the history holds fewer than two whole seasons, as automatic ETS does (a season
/// cannot be told from noise in one cycle).
///
/// The seasonal profile starts as the average deviation from each cycle's mean over every
/// whole cycle in the history, not the first cycle alone: for sparse demand one cycle is
/// mostly noise.
pub(super) fn ets(history: &[f64], season: usize, horizon: usize) -> Option<Fitted> {
    if history.len() < 2 {
        return None;
    }
    if season < 2 || history.len() < 2 * season {
        return Some(level_only(history, horizon));
    }
    let cycles = history.len() / season;
    let mut profile = vec![0.0; season];
    for cycle in history.chunks_exact(season).take(cycles) {
        let mean = cycle.iter().sum::<f64>() / season as f64;
        for (slot, value) in profile.iter_mut().zip(cycle) {
            *slot += (value - mean) / cycles as f64;
        }
    }
    let level = history[..season].iter().sum::<f64>() / season as f64;

    let mut best = (f64::INFINITY, ALPHAS[0], GAMMAS[0]);
    for alpha in ALPHAS {
        for gamma in GAMMAS {
            let (sse, _, _) = ets_pass(history, level, &profile, alpha, gamma);
            if sse < best.0 {
                best = (sse, alpha, gamma);
            }
        }
    }
    let (_, alpha, gamma) = best;
    let (_, level, profile) = ets_pass(history, level, &profile, alpha, gamma);
    let n = history.len();
    let forecast = (0..horizon)
        .map(|step| (level + profile[(n + step) % season]).max(0.0))
        .collect();
    Some(Fitted {
        method: Method::Ets,
        params: vec![("alpha", alpha), ("gamma", gamma), ("level", level), ("season", season as f64)],
        forecast,
    })
}

/// ETS(A,N,N): the smoothed level, with the alpha of the grid that has the least in-sample
/// squared one-step error.
fn level_only(history: &[f64], horizon: usize) -> Fitted {
    let mut best = (f64::INFINITY, ALPHAS[0], 0.0);
    for alpha in ALPHAS {
        let (level, sse) = ses_pass(history, alpha);
        if sse < best.0 {
            best = (sse, alpha, level);
        }
    }
    let (_, alpha, level) = best;
    Fitted::flat(Method::Ets, vec![("alpha", alpha), ("level", level), ("season", 1.0)], level, horizon)
}

fn ets_pass(history: &[f64], level: f64, profile: &[f64], alpha: f64, gamma: f64) -> (f64, f64, Vec<f64>) {
    let season = profile.len();
    let mut level = level;
    let mut profile = profile.to_vec();
    let mut sse = 0.0;
    for (t, &value) in history.iter().enumerate() {
        let slot = t % season;
        let error = value - (level + profile[slot]);
        sse += error * error;
        level += alpha * error;
        profile[slot] += gamma * error;
    }
    (sse, level, profile)
}

//! `ordo forecast evaluate`: every forecasting method and the per-series choice scored on the
//! last periods of each series of a file, as a table people read or as JSON.

use std::path::Path;
use std::time::Instant;

use ordo_forecast::{Period, evaluate, series_csv, tsf};
use serde::Serialize;

use crate::files::read_text;

/// The largest file read.
const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Where the histories come from.
pub enum Source<'a> {
    /// A Monash `.tsf` file; its `@frequency` says the period (monthly when it says none).
    Tsf(&'a Path),
    /// `series,date,quantity` rows summed into periods.
    Csv(&'a Path, Period),
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub file: String,
    pub period: &'static str,
    pub horizon: usize,
    /// Series long enough to score, those too short, and those scored (with a scale).
    pub series: usize,
    pub too_short: usize,
    pub scored: usize,
    pub methods: Vec<Row>,
    /// The per-series choice against the best reference, series by series.
    pub against_best_reference: Option<Against>,
    pub seconds: f64,
}

/// The per-series choice's RMSSE minus the best reference's, averaged over the scored series,
/// with its 95 % interval, what the interval says (better, worse, or not told apart) and how
/// many series each side won.
#[derive(Debug, Serialize)]
pub struct Against {
    pub reference: &'static str,
    pub rmsse_difference: f64,
    pub low: f64,
    pub high: f64,
    pub verdict: &'static str,
    pub better: usize,
    pub worse: usize,
    pub level: usize,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub method: &'static str,
    pub mase: Option<f64>,
    pub rmsse: Option<f64>,
    pub bias: Option<f64>,
}

/// Scores the methods and the choice on the last `horizon` periods of every series.
pub fn run(source: Source<'_>, horizon: Option<usize>) -> Result<Report, String> {
    let (path, period, series) = match source {
        Source::Tsf(path) => {
            let dataset = tsf::parse(&read_text(path, MAX_FILE_BYTES)?).map_err(|e| format!("{}: {e}", path.display()))?;
            let period = dataset.period().ok_or_else(|| {
                format!(
                    "{}: @frequency {}: Ordo forecasts daily, weekly, monthly and quarterly series",
                    path.display(),
                    dataset.frequency.as_deref().unwrap_or_default()
                )
            })?;
            let series = dataset
                .series
                .iter()
                .map(|named| named.complete().ok_or_else(|| format!("{}: series {} has missing values", path.display(), named.name)))
                .collect::<Result<Vec<_>, _>>()?;
            (path, period, series)
        }
        Source::Csv(path, period) => {
            let series = series_csv::parse(&read_text(path, MAX_FILE_BYTES)?, period).map_err(|e| format!("{}: {e}", path.display()))?;
            (path, period, series.into_iter().map(|(_, values)| values).collect())
        }
    };
    let horizon = horizon.unwrap_or_else(|| period.default_horizon());
    if !(1..=366).contains(&horizon) {
        return Err("--horizon must be 1 to 366 periods".to_owned());
    }
    let started = Instant::now();
    let evaluation = evaluate(&series, &period.settings(horizon));
    if evaluation.series == 0 {
        return Err(format!("{}: no series is longer than {} periods", path.display(), horizon + 1));
    }
    Ok(Report {
        file: path.display().to_string(),
        period: period.name(),
        horizon,
        series: evaluation.series,
        too_short: evaluation.too_short,
        scored: evaluation.scored,
        methods: evaluation.methods.into_iter().map(|m| Row { method: m.method, mase: m.mase, rmsse: m.rmsse, bias: m.bias }).collect(),
        against_best_reference: evaluation.against_best_reference.map(|c| Against {
            reference: c.reference,
            rmsse_difference: c.difference,
            low: c.low,
            high: c.high,
            verdict: c.verdict().name(),
            better: c.better,
            worse: c.worse,
            level: c.level,
        }),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The report as people read it.
pub fn print(r: &Report) {
    say!(
        "{}: {} series by {}, the last {} held out ({} scored, {} too short), in {:.1} s",
        r.file, r.series, r.period, r.horizon, r.scored, r.too_short, r.seconds
    );
    say!("  {:<36} {:>7} {:>7} {:>7}", "method", "MASE", "RMSSE", "bias");
    let figure = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
    for m in &r.methods {
        say!("  {:<36} {:>7} {:>7} {:>7}", m.method, figure(m.mase), figure(m.rmsse), m.bias.map_or_else(|| "-".to_owned(), |b| format!("{b:+.3}")));
    }
    if let Some(a) = &r.against_best_reference {
        say!(
            "  per-series choice against {}, series by series: RMSSE {:+.4} (95 % interval {:+.4} to {:+.4}), {}; better on {}, worse on {}, level on {} series",
            a.reference, a.rmsse_difference, a.low, a.high, a.verdict, a.better, a.worse, a.level
        );
    }
}

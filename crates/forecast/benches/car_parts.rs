//! Car parts (2,674 monthly series, CC BY 4.0): every method and the per-SKU pool scored on
//! the last 12 months, fitted on the 39 before, as the data's README describes.
//!
//! `cargo bench -p ordo-forecast --bench car_parts`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ordo_forecast::{DemandHistory, Method, Scorecard, Settings, forecast, tsf};

const HOLDOUT: usize = 12;
const SEASON: usize = 12;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/car-parts/car_parts_dataset_without_missing_values.tsf");
    let dataset = tsf::parse(&std::fs::read_to_string(path)?)?;
    let series = dataset
        .series
        .iter()
        .map(|named| named.complete().ok_or_else(|| format!("{} has missing values", named.name)))
        .collect::<Result<Vec<_>, _>>()?;
    let splits: Vec<(&[f64], &[f64])> = series.iter().map(|values| values.split_at(values.len() - HOLDOUT)).collect();

    println!("car parts: {} series, last {HOLDOUT} months held out", series.len());
    println!("{:<16} {:>6} {:>6} {:>7} {:>10}", "method", "MASE", "RMSSE", "bias", "time");
    let mut total = Duration::ZERO;
    for method in Method::ALL {
        let started = Instant::now();
        let forecasts: Vec<Vec<f64>> = splits
            .iter()
            .map(|(train, _)| method.fit(train, SEASON, HOLDOUT).map_or_else(|| vec![0.0; HOLDOUT], |fitted| fitted.forecast))
            .collect();
        let elapsed = started.elapsed();
        total += elapsed;
        row(method.name(), &splits, &forecasts, elapsed);
    }

    let settings = Settings::monthly(HOLDOUT);
    let started = Instant::now();
    let chosen = splits
        .iter()
        .map(|(train, _)| forecast(&DemandHistory::new(train.to_vec())?, &[], &settings))
        .collect::<Result<Vec<_>, _>>()?;
    let elapsed = started.elapsed();
    total += elapsed;
    let forecasts: Vec<Vec<f64>> = chosen.iter().map(|sku| sku.forecast.clone()).collect();
    row("per-SKU pool", &splits, &forecasts, elapsed);
    println!("total {:.0?} for every method and the pool, one thread", total);

    let mut pooled: BTreeMap<&str, usize> = BTreeMap::new();
    for sku in &chosen {
        for method in sku.choice.methods() {
            *pooled.entry(method.name()).or_default() += 1;
        }
    }
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    for sku in &chosen {
        *classes.entry(sku.choice.profile.map_or("no demand", |profile| profile.class.name())).or_default() += 1;
    }
    println!("pooled (SKUs each method is in the pool of): {pooled:?}");
    println!("classes: {classes:?}");

    daily_timing()?;
    Ok(())
}

/// How long the pool takes on daily histories, the application's case: 1,000 synthetic
/// SKUs with two years of days each, a weekly pattern, and demand from a few units a day down
/// to one every few weeks.
fn daily_timing() -> Result<(), Box<dyn std::error::Error>> {
    const SKUS: usize = 1_000;
    const DAYS: usize = 730;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let week = [0.8, 0.9, 0.9, 1.0, 1.1, 1.5, 0.8];
    let histories: Vec<Vec<f64>> = (0..SKUS)
        .map(|sku| {
            let rate = 5.0 * 0.99f64.powi(sku as i32 % 400);
            (0..DAYS)
                .map(|day| {
                    // Poisson by inversion: demand is counts.
                    let mean = rate * week[day % 7];
                    let (mut count, mut p, mut cumulative, draw) = (0.0, (-mean).exp(), (-mean).exp(), uniform());
                    while draw > cumulative && count < 100.0 {
                        count += 1.0;
                        p *= mean / count;
                        cumulative += p;
                    }
                    count
                })
                .collect()
        })
        .collect();
    let settings = Settings::daily(28);
    let started = Instant::now();
    let mut pooled: BTreeMap<&str, usize> = BTreeMap::new();
    for history in &histories {
        let sku = forecast(&DemandHistory::new(history.clone())?, &[], &settings)?;
        for method in sku.choice.methods() {
            *pooled.entry(method.name()).or_default() += 1;
        }
    }
    println!("daily: {SKUS} SKUs x {DAYS} days, 28-day horizon, in {:.2?}; pooled: {pooled:?}", started.elapsed());
    Ok(())
}

fn row(name: &str, splits: &[(&[f64], &[f64])], forecasts: &[Vec<f64>], elapsed: Duration) {
    let mut card = Scorecard::default();
    for ((train, test), forecast) in splits.iter().zip(forecasts) {
        card.add(train, test, forecast);
    }
    let figure = |value: Option<f64>| value.map_or("-".to_owned(), |value| format!("{value:.3}"));
    let bias = card.bias().map_or("-".to_owned(), |value| format!("{value:+.3}"));
    println!("{name:<16} {:>6} {:>6} {bias:>7} {:>10.1?}", figure(card.mase()), figure(card.rmsse()), elapsed);
}

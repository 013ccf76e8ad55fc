//! Scores candidate forecast rules on a development window: the `--drop` last periods of every
//! series are cut off first, so the window scored is the one before the hold-out that
//! `ordo forecast evaluate` reports. Rules are compared here, never on the hold-out.
//! `--untested-only` scores only the series too short to back-test, which Ordo forecasts with
//! its fallback: young products.
//!
//! cargo run --release -p ordo-forecast --example dev_windows -- (--tsf FILE | --csv FILE --period day|week|month|quarter) --horizon H --drop N [--rules-only | --variant NAME[,NAME…]] [--untested-only]

use ordo_forecast::backtest::{Backtest, Reason, choose};
use ordo_forecast::{Method, Period, Scorecard, classify, series_csv, tsf};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let read = |path: String| std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"));
    let (series, period) = if let Some(path) = value("--tsf") {
        let dataset = tsf::parse(&read(path)?).map_err(|e| e.to_string())?;
        (dataset.series.iter().map(|s| s.complete().ok_or("a series has missing values")).collect::<Result<Vec<_>, _>>()?, dataset.period().ok_or("a frequency Ordo does not forecast")?)
    } else {
        let period = value("--period").as_deref().and_then(Period::parse).ok_or("--period day|week|month|quarter")?;
        let text = read(value("--csv").ok_or("--tsf FILE or --csv FILE")?)?;
        (series_csv::parse(&text, period).map_err(|e| e.to_string())?.into_iter().map(|(_, v)| v).collect(), period)
    };
    let number = |flag: &str, default: usize| value(flag).map_or(Ok(default), |v| v.parse::<usize>().map_err(|e| format!("{flag}: {e}")));
    let horizon = number("--horizon", period.default_horizon())?;
    let drop = number("--drop", 0)?;
    let settings = period.settings(horizon);
    let rules = rules();
    let mut cards: Vec<Scorecard> = vec![Scorecard::default(); rules.len()];
    let mut variants = variants(&settings.backtest, horizon);
    if args.iter().any(|a| a == "--rules-only") {
        variants.clear();
    } else if let Some(only) = value("--variant") {
        variants.retain(|(name, _)| only.split(',').any(|part| name.contains(part)));
    }
    let mut variant_cards: Vec<Scorecard> = vec![Scorecard::default(); variants.len()];
    let untested_only = args.iter().any(|a| a == "--untested-only");
    let mut scored = 0;
    for full in &series {
        if full.len() <= drop + horizon + 1 {
            continue;
        }
        let (train, test) = full[..full.len() - drop].split_at(full.len() - drop - horizon);
        let ordo = choose(train, settings.season, horizon, &settings.backtest);
        if untested_only && ordo.reason != Reason::Untested {
            continue;
        }
        scored += 1;
        let every = Backtest { candidates: Method::ALL.to_vec(), ..settings.backtest.clone() };
        let every_scored = choose(train, settings.season, horizon, &every);
        let fits: Vec<(Method, Vec<f64>)> =
            Method::ALL.iter().map(|&m| (m, m.fit(train, settings.season, horizon).map_or_else(|| vec![0.0; horizon], |f| f.forecast))).collect();
        let suited: Vec<Method> = match classify(train) {
            Some(profile) => Method::ALL.iter().copied().filter(|m| m.suits(profile.class)).collect(),
            None => Vec::new(),
        };
        let mut ranked: Vec<(Method, f64)> =
            every_scored.scores.iter().filter_map(|s| s.rmsse.filter(|r| r.is_finite()).map(|r| (s.method, r))).collect();
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
        let members = ordo.pooled.iter().map(|f| f.forecast.as_slice()).collect();
        let seen = Seen { fits: &fits, suited: &suited, ranked: &ranked, ordo: &ordo.forecast, members, horizon };
        for ((_, rule), card) in rules.iter().zip(&mut cards) {
            card.add(train, test, &rule(&seen));
        }
        for ((_, backtest), card) in variants.iter().zip(&mut variant_cards) {
            card.add(train, test, &choose(train, settings.season, horizon, backtest).forecast);
        }
    }
    println!("drop {drop}, horizon {horizon}, {} series, {scored} scored", series.len());
    let names = rules.iter().map(|(name, _)| name).chain(variants.iter().map(|(name, _)| name));
    for (name, card) in names.zip(cards.iter().chain(&variant_cards)) {
        let figure = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |x| format!("{x:.4}"));
        println!("{name:<32} RMSSE {}  MASE {}  bias {}", figure(card.rmsse()), figure(card.mase()), figure(card.bias()));
    }
    Ok(())
}

struct Seen<'a> {
    fits: &'a [(Method, Vec<f64>)],
    suited: &'a [Method],
    ranked: &'a [(Method, f64)],
    /// Ordo's own forecast (the pool), which a rule with nothing to average falls back to.
    ordo: &'a [f64],
    /// The forecasts of the methods in Ordo's pool.
    members: Vec<&'a [f64]>,
    horizon: usize,
}

impl Seen<'_> {
    fn of(&self, method: Method) -> &[f64] {
        self.fits.iter().find(|(m, _)| *m == method).map_or(&[], |(_, f)| f)
    }

    fn mean(&self, methods: &[Method]) -> Vec<f64> {
        if methods.is_empty() {
            return self.ordo.to_vec();
        }
        (0..self.horizon).map(|t| methods.iter().map(|&m| self.of(m).get(t).copied().unwrap_or(0.0)).sum::<f64>() / methods.len() as f64).collect()
    }

    fn median(&self, methods: &[Method]) -> Vec<f64> {
        if methods.is_empty() {
            return self.ordo.to_vec();
        }
        (0..self.horizon)
            .map(|t| {
                median(methods.iter().map(|&m| self.of(m).get(t).copied().unwrap_or(0.0)).collect())
            })
            .collect()
    }

    fn pool(&self, size: usize, among: &dyn Fn(Method) -> bool) -> Vec<f64> {
        let best: Vec<Method> = self.ranked.iter().map(|(m, _)| *m).filter(|&m| among(m)).take(size).collect();
        self.mean(&best)
    }
}

/// Ordo's pool with its back-test run another way: scored over the whole horizon, with more
/// origins closer together, or with less history fitted at each; or with `theta` among the
/// candidates where the period leaves it out (days and weeks; for months and quarters this is
/// Ordo's pool itself).
fn variants(base: &Backtest, horizon: usize) -> Vec<(String, Backtest)> {
    let every_period = base.origins * base.step;
    vec![
        ("back-test window = horizon".to_owned(), Backtest { window: horizon, ..base.clone() }),
        ("back-test step / 2, origins × 2".to_owned(), Backtest { step: (base.step / 2).max(1), origins: base.origins * 2, ..base.clone() }),
        ("back-test every period".to_owned(), Backtest { step: 1, origins: every_period, ..base.clone() }),
        ("back-test every period, horizon".to_owned(), Backtest { step: 1, origins: every_period, window: horizon, ..base.clone() }),
        ("back-test min history / 2".to_owned(), Backtest { min_history: base.min_history / 2, ..base.clone() }),
        ("pool with theta".to_owned(), base.clone().with(Method::Theta)),
    ]
}

/// The middle value, or the mean of the middle two; zero for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 { 0.0 } else if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

type Rule = Box<dyn Fn(&Seen) -> Vec<f64>>;

fn rules() -> Vec<(String, Rule)> {
    use Method::*;
    let mut rules: Vec<(String, Rule)> = Method::ALL.iter().map(|&m| (m.name().to_owned(), Box::new(move |s: &Seen| s.of(m).to_vec()) as Rule)).collect();
    rules.push(("ordo (pool 3 no croston)".into(), Box::new(|s: &Seen| s.ordo.to_vec())));
    rules.push(("lowest back-test".into(), Box::new(|s: &Seen| s.pool(1, &|_| true))));
    for size in [2, 3, 4, 5] {
        rules.push((format!("pool {size}"), Box::new(move |s: &Seen| s.pool(size, &|_| true))));
    }
    let no_croston = |m: Method| !matches!(m, Croston | CrostonSba);
    for size in [2, 4] {
        rules.push((format!("pool {size} no croston"), Box::new(move |s: &Seen| s.pool(size, &no_croston))));
    }
    rules.push(("ordo's pool, median".into(), Box::new(|s: &Seen| {
        (0..s.horizon).map(|t| median(s.members.iter().map(|f| f.get(t).copied().unwrap_or(0.0)).collect())).collect()
    })));
    rules.push(("decline + pool 2 no croston".into(), Box::new(move |s: &Seen| {
        let mut best: Vec<Method> = s.ranked.iter().map(|(m, _)| *m).filter(|&m| no_croston(m) && m != Decline).take(2).collect();
        if best.is_empty() { return s.ordo.to_vec(); }
        best.push(Decline);
        s.mean(&best)
    })));
    rules.push(("inverse-mse no croston".into(), Box::new(move |s: &Seen| {
        let w: Vec<(Method, f64)> = s.ranked.iter().filter(|(m, _)| no_croston(*m)).map(|&(m, r)| (m, 1.0 / (r * r).max(1e-12))).collect();
        if w.is_empty() { return s.ordo.to_vec(); }
        let total: f64 = w.iter().map(|x| x.1).sum();
        (0..s.horizon).map(|t| w.iter().map(|&(m, x)| s.of(m).get(t).copied().unwrap_or(0.0) * x).sum::<f64>() / total).collect()
    })));
    rules.push(("mean suited".into(), Box::new(|s: &Seen| s.mean(s.suited))));
    rules.push(("median suited".into(), Box::new(|s: &Seen| s.median(s.suited))));
    rules.push(("mean decline ses".into(), Box::new(|s: &Seen| s.mean(&[Decline, Ses]))));
    rules.push(("mean decline tsb".into(), Box::new(|s: &Seen| s.mean(&[Decline, Tsb]))));
    rules.push(("mean decline imapa".into(), Box::new(|s: &Seen| s.mean(&[Decline, Imapa]))));
    rules.push(("mean decline imapa tsb".into(), Box::new(|s: &Seen| s.mean(&[Decline, Imapa, Tsb]))));
    rules.push(("mean decline adida imapa tsb".into(), Box::new(|s: &Seen| s.mean(&[Decline, Adida, Imapa, Tsb]))));
    rules.push(("mean imapa adida tsb".into(), Box::new(|s: &Seen| s.mean(&[Imapa, Adida, Tsb]))));
    rules.push(("median decl ses tsb adida imapa".into(), Box::new(|s: &Seen| s.median(&[Decline, Ses, Tsb, Adida, Imapa]))));
    rules
}

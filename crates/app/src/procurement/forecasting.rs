//! Each SKU's demand history and its forecast: the history read once per SKU, the forecasts
//! made off the async runtime, and their accuracy on days they had not seen.

use super::*;
use crate::Procurement;

/// Daily sales of one SKU over the history window, with the days it had no stock and the
/// days it was on promotion.
#[derive(Debug, Clone)]
pub(super) struct History {
    days: Vec<f64>,
    stockout: Vec<bool>,
    promoted: Vec<bool>,
}

impl History {
    pub(super) fn empty() -> History {
        let n = HISTORY_DAYS as usize;
        History { days: vec![0.0; n], stockout: vec![false; n], promoted: vec![false; n] }
    }
}

/// The days from `first` on, `count` of them, on which a promotion covers `sku`.
pub(super) fn promoted_days(promotions: &[ordo_storage::PromotionRecord], sku: &str, first: NaiveDate, count: usize) -> Vec<bool> {
    let mut days = vec![false; count];
    for p in promotions.iter().filter(|p| p.sku.as_deref().is_none_or(|s| s == sku)) {
        let Some((start, end)) = p.days() else { continue };
        for (i, day) in days.iter_mut().enumerate() {
            let date = first + Duration::days(i as i64);
            *day |= start <= date && date <= end;
        }
    }
    days
}

/// Per SKU (one, or every one when `sku` is none), sales and stockouts for each of the
/// `HISTORY_DAYS` days before `today`.
pub(super) async fn histories(tx: &mut Tx, today: NaiveDate, sku: Option<&str>) -> AppResult<BTreeMap<String, History>> {
    let first = today - Duration::days(HISTORY_DAYS);
    let index = |day: &str| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok().map(|d| (d - first).num_days()).filter(|i| (0..HISTORY_DAYS).contains(i));
    let start = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let mut out: BTreeMap<String, History> = BTreeMap::new();
    let blank = History::empty;
    // Ordo knows a SKU's stock from its first sale or movement here, whichever came first.
    let mut known_from: BTreeMap<String, i64> = BTreeMap::new();
    for ordo_storage::SkuDay { sku, day, units } in tx.daily_demand(start, sku).await? {
        if let Some(i) = index(&day) {
            known_from.entry(sku.clone()).or_insert(i);
            out.entry(sku).or_insert_with(blank).days[i as usize] += units as f64;
        }
    }
    // Sales imported from before Ordo: every one is of a day before the SKU's first sale here.
    for ordo_storage::SkuDay { sku, day, units } in tx.imported_demand(&first.to_string(), sku, None).await? {
        if let Some(i) = index(&day) {
            out.entry(sku).or_insert_with(blank).days[i as usize] += units as f64;
        }
    }
    // On hand at each day's end is the running sum of movements; a day ending with none is a
    // stockout day, and its sales do not show what customers wanted. Days before Ordo knew
    // the SKU (sales imported from before it) are not known to be stockouts.
    let mut on_hand: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for ordo_storage::SkuDay { sku, day, units: change } in tx.daily_stock_changes(sku).await? {
        let Ok(date) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") else { continue };
        let this = (date - first).num_days();
        let history = out.entry(sku.clone()).or_insert_with(blank);
        let known = known_from.get(&sku).map_or(this, |&sold| sold.min(this));
        let entry = on_hand.entry(sku).or_insert((0, known - 1));
        // Days between the last change and this one keep the level the last one left.
        for i in (entry.1 + 1).max(0)..this.min(HISTORY_DAYS) {
            history.stockout[i as usize] = entry.0 <= 0;
        }
        entry.0 += change;
        if (0..HISTORY_DAYS).contains(&this) {
            history.stockout[this as usize] = entry.0 <= 0;
        }
        entry.1 = this;
    }
    for (sku, history) in out.iter_mut() {
        // A SKU sold but never moved has had none in stock since it was first sold.
        let Some((level, last)) = on_hand.get(sku).copied().or_else(|| known_from.get(sku).map(|&sold| (0, sold - 1))) else { continue };
        for i in (last + 1).max(0)..HISTORY_DAYS {
            history.stockout[i as usize] = level <= 0;
        }
    }
    let promotions = tx.promotions().await?;
    if !promotions.is_empty() {
        for (sku, history) in out.iter_mut() {
            history.promoted = promoted_days(&promotions, sku, first, HISTORY_DAYS as usize);
        }
    }
    Ok(out)
}

/// The next `HORIZON_DAYS` days from `today` on which a promotion covers `sku`.
pub(super) async fn upcoming(tx: &mut Tx, sku: &str, today: NaiveDate) -> AppResult<Vec<bool>> {
    Ok(promoted_days(&tx.promotions().await?, sku, today, HORIZON_DAYS))
}

/// Forecasts many SKUs off the async runtime and on every core: a catalogue's forecasts take
/// seconds of CPU that must not hold up the server's requests.
pub(super) async fn forecast_many(work: Vec<(String, History, Vec<bool>)>) -> AppResult<BTreeMap<String, SkuForecastView>> {
    let joined = tokio::task::spawn_blocking(move || {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, work.len().max(1));
        let mut shares: Vec<Vec<(String, History, Vec<bool>)>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, item) in work.into_iter().enumerate() {
            shares[i % threads].push(item);
        }
        std::thread::scope(|scope| {
            let workers: Vec<_> = shares
                .into_iter()
                .map(|share| scope.spawn(move || share.iter().map(|(sku, h, up)| forecast_of(sku, h, up).map(|f| (sku.clone(), f))).collect::<AppResult<Vec<_>>>()))
                .collect();
            let mut all = BTreeMap::new();
            for worker in workers {
                let done = worker.join().map_err(|_| FieldError::new("forecast", "a forecasting thread stopped"))??;
                all.extend(done);
            }
            Ok::<_, AppError>(all)
        })
    })
    .await;
    joined.map_err(|e| AppError::Invalid(FieldError::new("forecast", format!("the forecasts could not run: {e}"))))?
}

/// The forecast of one SKU from its history, with the promoted days to come.
pub(super) fn forecast_of(sku: &str, history: &History, upcoming: &[bool]) -> AppResult<SkuForecastView> {
    // A stockout day with sales still happened: only empty stockout days are imputed.
    let stockout: Vec<bool> = history.stockout.iter().zip(&history.days).map(|(out, sold)| *out && *sold == 0.0).collect();
    // Days before the first sale are not history: the SKU was not on sale yet.
    let first = history.days.iter().position(|d| *d > 0.0).unwrap_or(history.days.len().saturating_sub(1));
    let days = history.days[first..].to_vec();
    let stockout = stockout[first..].to_vec();
    let promoted = history.promoted.get(first..).map_or_else(|| vec![false; days.len()], <[bool]>::to_vec);
    let demand = ordo_forecast::DemandHistory::new(days.clone())
        .and_then(|h| h.with_stockouts(stockout))
        .and_then(|h| h.with_promotions(promoted))
        .map_err(|e| FieldError::new("history", e.to_string()))?;
    let settings = ordo_forecast::Settings::daily(HORIZON_DAYS);
    let upcoming = if upcoming.len() == HORIZON_DAYS { upcoming.to_vec() } else { vec![false; HORIZON_DAYS] };
    let result = ordo_forecast::forecast(&demand, &upcoming, &settings).map_err(|e| FieldError::new("history", e.to_string()))?;
    let daily_demand = result.forecast.iter().sum::<f64>() / result.forecast.len().max(1) as f64;
    let scale = ordo_forecast::Scale::naive(&days).map_or(daily_demand.sqrt(), |s| s.squared.sqrt());
    let daily_error = result.choice.rmsse.map_or(scale, |r| r * scale);
    let profile = result.choice.profile;
    Ok(SkuForecastView {
        sku: sku.to_owned(),
        demand_class: profile.map(|p| p.class.name().to_owned()),
        adi: profile.map(|p| p.adi),
        cv2: profile.map(|p| p.cv2),
        method: result.choice.name(),
        pooled: result.choice.methods().map(|m| m.name().to_owned()).collect(),
        parameters: result
            .choice
            .pooled
            .iter()
            .flat_map(|fitted| fitted.params.iter().map(|(k, v)| (format!("{}.{k}", fitted.method.name()), *v)))
            .collect(),
        chosen_because: result.choice.reason.as_str().to_owned(),
        backtest_needs_days: settings.backtest.shortest_history(),
        backtest: result.choice.scores.iter().map(|s| (s.method.name().to_owned(), s.rmsse)).collect(),
        history_days: days.len(),
        imputed_days: result.imputed,
        recent: history.days.iter().rev().take(HORIZON_DAYS).rev().map(|d| *d as i64).collect(),
        forecast: result.forecast,
        daily_demand,
        daily_error,
    })
}

/// The forecast of one SKU from its daily sales (oldest first) and the days it had no stock:
/// what proposals are made from, for a benchmark or a caller with its own history.
pub fn forecast_history(sku: &str, days: Vec<f64>, stockout: Vec<bool>) -> AppResult<SkuForecastView> {
    if days.len() != stockout.len() {
        return Err(FieldError::new("stockout", "must have a day for each day of sales").into());
    }
    let promoted = vec![false; days.len()];
    forecast_of(sku, &History { days, stockout, promoted }, &[])
}

impl Procurement<'_> {
    /// One SKU's forecast from its sales over the last two years, stockout days imputed.
    pub async fn forecast_sku(self, sku: &str) -> AppResult<SkuForecastView> {
        let mut tx = self.db.read().await?;
        if tx.product(sku).await?.is_none() {
            return Err(AppError::NotFound { what: "product", key: sku.to_owned() });
        }
        let today = self.now().date_naive();
        let mut all = histories(&mut tx, today, Some(sku)).await?;
        let history = all.remove(sku).unwrap_or_else(History::empty);
        let upcoming = upcoming(&mut tx, sku, today).await?;
        forecast_of(sku, &history, &upcoming)
    }

    /// A SKU's sales by day over the last `days` days (on one channel, or all, with the sales
    /// imported from before Ordo), each day marked when it ended out of stock or was on
    /// promotion.
    pub async fn demand_history(self, sku: &str, channel: Option<&str>, days: i64) -> AppResult<Vec<DemandDay>> {
        let days = ordo_domain::field::bounded("days", days, 1, HISTORY_DAYS)?;
        let today = self.now().date_naive();
        let first = today - Duration::days(days);
        let mut tx = self.db.read().await?;
        if tx.product(sku).await?.is_none() {
            return Err(AppError::NotFound { what: "product", key: sku.to_owned() });
        }
        if let Some(code) = channel
            && tx.channel(code).await?.is_none()
        {
            return Err(FieldError::new("channel", format!("unknown channel {code:?}")).into());
        }
        let start = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let mut sold: BTreeMap<String, i64> = tx.sku_daily_demand(sku, channel, start).await?.into_iter().collect();
        // Sales imported from before Ordo: a channel's own, or all of them in the SKU's total.
        for imported in tx.imported_demand(&first.to_string(), Some(sku), channel).await? {
            *sold.entry(imported.day).or_default() += imported.units;
        }
        let all = histories(&mut tx, today, Some(sku)).await?;
        let history = all.get(sku);
        let offset = (HISTORY_DAYS - days) as usize;
        Ok((0..days as usize)
            .map(|i| {
                let date = first + Duration::days(i as i64);
                DemandDay {
                    day: date,
                    units: sold.get(&date.to_string()).copied().unwrap_or(0),
                    stockout: history.is_some_and(|h| h.stockout.get(offset + i).copied().unwrap_or(false)),
                    promoted: history.is_some_and(|h| h.promoted.get(offset + i).copied().unwrap_or(false)),
                }
            })
            .collect())
    }

    /// How good the forecasts are: each SKU with sales is forecast from its history without
    /// its last `holdout` days, and scored against them (MASE, RMSSE, bias), with the whole
    /// catalogue's averages.
    pub async fn forecast_accuracy(self, holdout: i64) -> AppResult<AccuracyReport> {
        let holdout = ordo_domain::field::bounded("holdout", holdout, 1, HORIZON_DAYS as i64)? as usize;
        let today = self.now().date_naive();
        let all = {
            let mut tx = self.db.read().await?;
            histories(&mut tx, today, None).await?
        };
        let cut = HISTORY_DAYS as usize - holdout;
        let work: Vec<(String, History, Vec<bool>)> = all
            .iter()
            .filter(|(_, h)| h.days[..cut].iter().any(|d| *d > 0.0))
            .map(|(sku, h)| {
                let past = History { days: h.days[..cut].to_vec(), stockout: h.stockout[..cut].to_vec(), promoted: h.promoted[..cut].to_vec() };
                let upcoming: Vec<bool> = h.promoted[cut..].iter().copied().chain(std::iter::repeat(false)).take(HORIZON_DAYS).collect();
                (sku.clone(), past, upcoming)
            })
            .collect();
        let forecasts = forecast_many(work).await?;
        let mut card = ordo_forecast::Scorecard::default();
        let mut skus = Vec::new();
        for (sku, f) in forecasts {
            let Some(history) = all.get(&sku) else { continue };
            let past = &history.days[..cut];
            let first = past.iter().position(|d| *d > 0.0).unwrap_or(0);
            if let Some(a) = card.add(&past[first..], &history.days[cut..], &f.forecast[..holdout]) {
                skus.push(SkuAccuracy { sku, method: f.method, mase: a.mase, rmsse: a.rmsse, bias: a.bias });
            }
        }
        Ok(AccuracyReport { holdout_days: holdout, scored: card.scored, mase: card.mase(), rmsse: card.rmsse(), bias: card.bias(), skus })
    }
}

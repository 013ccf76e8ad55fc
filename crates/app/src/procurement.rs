//! Procurement: what each supplier sells us, each SKU's demand history and forecast, the
//! policies that turn forecasts into proposals, and purchase orders from draft through
//! receipts (stock and inventory at cost) and the supplier's bill (payable, with any price
//! difference) to closed.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ordo_domain::audit::Change;
use ordo_domain::exception::ExceptionKind;
use ordo_domain::inventory::{MovementKind, MovementRequest};
use ordo_domain::ledger;
use ordo_domain::procurement::{self, approval_limit, BillStatus, PoStatus, Policy, Position, ProposalStatus, SupplyTerms};
use ordo_domain::{Currency, FieldError, Money};
use ordo_storage::{BillRecord, PoLineRecord, ProposalRecord, PurchaseOrderRecord, SupplierSku, Tx};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Ordo};

/// Days of sales history a forecast reads.
const HISTORY_DAYS: i64 = 730;
/// Days a forecast looks ahead.
const HORIZON_DAYS: usize = 56;
/// How far a receipt may go over what was ordered, in percent, before it is refused.
const OVER_RECEIPT_PERCENT: i64 = 5;
/// How far a bill's unit price may differ from the order's, in percent, before it is disputed.
const PRICE_TOLERANCE_PERCENT: i64 = 2;

/// A SKU's forecast as people read it: the method chosen and why, its back-test error, and the
/// demand it expects a day.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkuForecastView {
    pub sku: String,
    /// smooth, erratic, intermittent or lumpy; none without enough sales to tell.
    pub demand_class: Option<String>,
    pub adi: Option<f64>,
    pub cv2: Option<f64>,
    pub method: String,
    pub parameters: BTreeMap<String, f64>,
    /// won, incumbent or untested.
    pub chosen_because: String,
    /// Each candidate's back-test RMSSE (lower is better); none when it could not be tested.
    pub backtest: BTreeMap<String, Option<f64>>,
    /// Days of history read, and how many were stockout days whose sales were imputed.
    pub history_days: usize,
    pub imputed_days: usize,
    /// The last 56 days of sales, oldest first.
    pub recent: Vec<i64>,
    /// Expected units a day for the next 56 days (estimates, not whole units).
    pub forecast: Vec<f64>,
    pub daily_demand: f64,
    /// Expected error of a day's forecast, in units.
    pub daily_error: f64,
}

/// A day of a SKU's demand.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DemandDay {
    pub day: NaiveDate,
    pub units: i64,
    /// It ended with none in stock: its sales do not show what customers wanted.
    pub stockout: bool,
    pub promoted: bool,
}

/// One SKU's forecast scored against days it had not seen.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkuAccuracy {
    pub sku: String,
    pub method: String,
    pub mase: f64,
    pub rmsse: f64,
    /// Forecast over actual, less one; none when nothing sold.
    pub bias: Option<f64>,
}

/// The catalogue's forecast accuracy over a hold-out.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccuracyReport {
    pub holdout_days: usize,
    /// SKUs scored (those whose history varies enough to scale an error by).
    pub scored: usize,
    pub mase: Option<f64>,
    pub rmsse: Option<f64>,
    pub bias: Option<f64>,
    pub skus: Vec<SkuAccuracy>,
}

/// A proposal as the buyer sees it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProposalView {
    pub id: Uuid,
    pub sku: String,
    pub supplier: String,
    pub quantity: i64,
    pub status: ProposalStatus,
    pub purchase_order: Option<Uuid>,
    pub explanation: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A purchase order with its lines and bills.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PurchaseOrder {
    pub id: Uuid,
    pub number: String,
    pub supplier: String,
    pub location: String,
    pub currency: String,
    pub status: PoStatus,
    pub total: String,
    pub expected_at: DateTime<Utc>,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub lines: Vec<PoLine>,
    pub bills: Vec<Bill>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoLine {
    pub line: i64,
    pub sku: String,
    pub quantity: i64,
    pub unit_cost: String,
    pub received: i64,
    pub billed: i64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bill {
    pub id: Uuid,
    pub invoice: String,
    pub total: String,
    pub due_at: DateTime<Utc>,
    pub status: BillStatus,
}

/// What a supplier sells of a SKU, as buyers read it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SupplierPrice {
    pub supplier: String,
    pub sku: String,
    /// In the supplier's currency, a decimal string.
    pub unit_cost: String,
    pub currency: String,
    pub moq: i64,
    pub pack_size: i64,
    pub preferred: bool,
    pub lead_time_days: i64,
}

/// What is on order from one supplier and still to arrive.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Exposure {
    pub supplier: String,
    pub open_orders: i64,
    /// In the orders' currency, a decimal string.
    pub value: String,
    pub currency: String,
}

/// A purchase order as a buyer drafts it.
#[derive(Debug, Clone)]
pub struct NewPurchaseOrder {
    pub supplier: String,
    /// Where it is delivered; the first location by priority when none.
    pub location: Option<String>,
    pub lines: Vec<NewPoLine>,
}

#[derive(Debug, Clone)]
pub struct NewPoLine {
    pub sku: String,
    pub quantity: i64,
    /// In the supplier's currency; the supplier's price for the SKU when none.
    pub unit_cost: Option<String>,
}

/// A supplier's bill as it arrived.
#[derive(Debug, Clone)]
pub struct NewBill {
    pub invoice: String,
    /// (PO line, quantity, unit cost as a decimal string).
    pub lines: Vec<(i64, i64, String)>,
}

/// What a supplier sells us, as a buyer records it.
#[derive(Debug, Clone)]
pub struct NewSupplierSku {
    pub supplier: String,
    pub sku: String,
    pub unit_cost: String,
    pub moq: i64,
    pub pack_size: i64,
    pub preferred: bool,
}

/// Days such as "1.5" as tenths of a day: not negative, at most one decimal, at most a year.
fn tenths_of_a_day(text: &str) -> AppResult<i64> {
    let bad = || FieldError::new("lead_time_sd_days", "must be days with at most one decimal, such as 1.5, from 0 to 365");
    let (whole, tenth) = text.trim().split_once('.').unwrap_or((text.trim(), "0"));
    if whole.is_empty() || tenth.len() != 1 || !whole.bytes().chain(tenth.bytes()).all(|b| b.is_ascii_digit()) || whole.len() > 3 {
        return Err(bad().into());
    }
    let tenths = whole.parse::<i64>().map_err(|_| bad())? * 10 + tenth.parse::<i64>().map_err(|_| bad())?;
    if tenths > 3650 {
        return Err(bad().into());
    }
    Ok(tenths)
}

fn po_not_found(id: Uuid) -> AppError {
    AppError::NotFound { what: "purchase order", key: id.to_string() }
}


fn currency(code: &str) -> AppResult<Currency> {
    Ok(Currency::from_code(code).map_err(|e| FieldError::new("currency", e.to_string()))?)
}

/// Daily sales of one SKU over the history window, with the days it had no stock and the
/// days it was on promotion.
#[derive(Debug, Clone)]
struct History {
    days: Vec<f64>,
    stockout: Vec<bool>,
    promoted: Vec<bool>,
}

impl History {
    fn empty() -> History {
        let n = HISTORY_DAYS as usize;
        History { days: vec![0.0; n], stockout: vec![false; n], promoted: vec![false; n] }
    }
}

/// The days from `first` on, `count` of them, on which a promotion covers `sku`.
fn promoted_days(promotions: &[ordo_storage::PromotionRecord], sku: &str, first: NaiveDate, count: usize) -> Vec<bool> {
    let mut days = vec![false; count];
    for p in promotions.iter().filter(|p| p.sku.as_deref().is_none_or(|s| s == sku)) {
        let (Ok(start), Ok(end)) = (NaiveDate::parse_from_str(&p.starts_on, "%Y-%m-%d"), NaiveDate::parse_from_str(&p.ends_on, "%Y-%m-%d")) else {
            continue;
        };
        for (i, day) in days.iter_mut().enumerate() {
            let date = first + Duration::days(i as i64);
            *day |= start <= date && date <= end;
        }
    }
    days
}

/// Per SKU (one, or every one when `sku` is none), sales and stockouts for each of the
/// `HISTORY_DAYS` days before `today`.
async fn histories(tx: &mut Tx, today: NaiveDate, sku: Option<&str>) -> AppResult<BTreeMap<String, History>> {
    let first = today - Duration::days(HISTORY_DAYS);
    let index = |day: &str| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok().map(|d| (d - first).num_days()).filter(|i| (0..HISTORY_DAYS).contains(i));
    let start = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let mut out: BTreeMap<String, History> = BTreeMap::new();
    let blank = History::empty;
    for ordo_storage::SkuDay { sku, day, units } in tx.daily_demand(start, sku).await? {
        if let Some(i) = index(&day) {
            out.entry(sku).or_insert_with(blank).days[i as usize] += units as f64;
        }
    }
    // On hand at each day's end is the running sum of movements; a day ending with none is a
    // stockout day, and its sales do not show what customers wanted.
    let mut on_hand: BTreeMap<String, (i64, Option<i64>)> = BTreeMap::new();
    for ordo_storage::SkuDay { sku, day, units: change } in tx.daily_stock_changes(sku).await? {
        let Ok(date) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") else { continue };
        let entry = on_hand.entry(sku.clone()).or_insert((0, None));
        let history = out.entry(sku).or_insert_with(blank);
        // Days between the last change and this one keep the level the last one left.
        let from = entry.1.map_or(0, |i| i + 1).max(0);
        let this = (date - first).num_days();
        for i in from..this.min(HISTORY_DAYS) {
            history.stockout[i as usize] = entry.0 <= 0;
        }
        entry.0 += change;
        if (0..HISTORY_DAYS).contains(&this) {
            history.stockout[this as usize] = entry.0 <= 0;
        }
        entry.1 = Some(this);
    }
    for (sku, history) in out.iter_mut() {
        // A SKU that never moved has had none in stock all along.
        let (level, last) = on_hand.get(sku).copied().unwrap_or((0, None));
        for i in last.map_or(0, |i| i + 1).max(0)..HISTORY_DAYS {
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
async fn upcoming(tx: &mut Tx, sku: &str, today: NaiveDate) -> AppResult<Vec<bool>> {
    Ok(promoted_days(&tx.promotions().await?, sku, today, HORIZON_DAYS))
}

/// Forecasts many SKUs off the async runtime and on every core: a catalogue's forecasts take
/// seconds of CPU that must not hold up the server's requests.
async fn forecast_many(work: Vec<(String, History, Vec<bool>)>) -> AppResult<BTreeMap<String, SkuForecastView>> {
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
fn forecast_of(sku: &str, history: &History, upcoming: &[bool]) -> AppResult<SkuForecastView> {
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
    let daily_error = result.choice.rmsse().map_or(scale, |r| r * scale);
    let profile = result.choice.profile;
    Ok(SkuForecastView {
        sku: sku.to_owned(),
        demand_class: profile.map(|p| p.class.name().to_owned()),
        adi: profile.map(|p| p.adi),
        cv2: profile.map(|p| p.cv2),
        method: result.choice.method().name().to_owned(),
        parameters: result.choice.fitted.params.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        chosen_because: format!("{:?}", result.choice.reason).to_lowercase(),
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

impl Ordo {
    /// Sets a supplier's lead-time spread (days, such as "1.5") and payment terms.
    pub async fn set_supplier_terms(&self, supplier: &str, lead_time_sd_days: &str, payment_terms_days: i64, actor: &Actor) -> AppResult<()> {
        let tenths = tenths_of_a_day(lead_time_sd_days)?;
        let payment_terms_days = ordo_domain::field::bounded("payment_terms_days", payment_terms_days, 0, 365)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !tx.set_supplier_terms(supplier, tenths, payment_terms_days).await? {
            return Err(AppError::NotFound { what: "supplier", key: supplier.to_owned() });
        }
        let after = serde_json::json!({"lead_time_sd_days": lead_time_sd_days, "payment_terms_days": payment_terms_days});
        record(&mut tx, actor, now, &[Change::new("supplier.terms", format!("supplier:{supplier}")).after(after)]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records what a supplier sells of a SKU, its price (in the supplier's currency), minimum
    /// order and pack.
    pub async fn set_supplier_sku(&self, new: NewSupplierSku, actor: &Actor) -> AppResult<()> {
        let moq = ordo_domain::field::bounded("moq", new.moq, 0, 10_000_000)?;
        let pack_size = ordo_domain::field::bounded("pack_size", new.pack_size, 1, 100_000)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let Some(supplier) = tx.suppliers().await?.into_iter().find(|s| s.code == new.supplier) else {
            return Err(FieldError::new("supplier", format!("unknown supplier {:?}", new.supplier)).into());
        };
        if tx.product(&new.sku).await?.is_none() {
            return Err(FieldError::new("sku", format!("unknown SKU {:?}", new.sku)).into());
        }
        let cost = Money::parse_non_negative("unit_cost", &new.unit_cost, supplier.currency)?;
        let row = SupplierSku {
            supplier: new.supplier.clone(),
            sku: new.sku.clone(),
            unit_cost_minor: cost.minor(),
            moq,
            pack_size,
            preferred: new.preferred,
            currency: supplier.currency.code().to_owned(),
            lead_time_days: supplier.lead_time_days,
            lead_time_sd_tenths: 0,
        };
        tx.upsert_supplier_sku(&row).await?;
        let after = serde_json::json!({"unit_cost": cost.to_decimal_string(), "moq": moq, "pack_size": pack_size, "preferred": new.preferred});
        record(&mut tx, actor, now, &[Change::new("supplier_sku.set", format!("supplier_sku:{}/{}", new.supplier, new.sku)).after(after)]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Who sells `sku` (every SKU when none), the preferred first, at what price and terms.
    pub async fn supplier_skus(&self, sku: Option<&str>) -> AppResult<Vec<SupplierPrice>> {
        let rows = self.db.read().await?.supplier_skus(sku).await?;
        rows.into_iter()
            .map(|r| {
                Ok(SupplierPrice {
                    unit_cost: Money::from_minor(r.unit_cost_minor, currency(&r.currency)?).to_decimal_string(),
                    supplier: r.supplier,
                    sku: r.sku,
                    currency: r.currency,
                    moq: r.moq,
                    pack_size: r.pack_size,
                    preferred: r.preferred,
                    lead_time_days: r.lead_time_days,
                })
            })
            .collect()
    }

    /// The replenishment policy in force for each scope (`sku:CODE`, `class:A`).
    pub async fn replenishment_policies(&self) -> AppResult<Vec<(String, Policy)>> {
        let mut tx = self.db.read().await?;
        let mut out = Vec::new();
        for (scope, json) in tx.policies().await? {
            let policy: Policy = serde_json::from_value(json).map_err(|_| AppError::Storage(ordo_storage::StorageError::Corrupt("policy".into())))?;
            out.push((scope, policy));
        }
        Ok(out)
    }

    /// One SKU's forecast from its sales over the last two years, stockout days imputed.
    pub async fn forecast_sku(&self, sku: &str) -> AppResult<SkuForecastView> {
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

    /// Puts a promotion on the calendar: `sku` (every SKU when none) on `channel` (every
    /// channel when none) from `starts_on` to `ends_on`, both included.
    pub async fn create_promotion(
        &self,
        name: &str,
        channel: Option<&str>,
        sku: Option<&str>,
        starts_on: NaiveDate,
        ends_on: NaiveDate,
        actor: &Actor,
    ) -> AppResult<ordo_storage::PromotionRecord> {
        let name = ordo_domain::field::text("name", name)?;
        if ends_on < starts_on {
            return Err(FieldError::new("ends_on", "must not be before starts_on").into());
        }
        if (ends_on - starts_on).num_days() > 366 {
            return Err(FieldError::new("ends_on", "a promotion lasts at most a year").into());
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        if let Some(code) = channel
            && tx.channel(code).await?.is_none()
        {
            return Err(FieldError::new("channel", format!("unknown channel {code:?}")).into());
        }
        if let Some(code) = sku
            && tx.product(code).await?.is_none()
        {
            return Err(FieldError::new("sku", format!("unknown SKU {code:?}")).into());
        }
        let promotion = ordo_storage::PromotionRecord {
            id: Uuid::now_v7(),
            name,
            channel: channel.map(str::to_owned),
            sku: sku.map(str::to_owned),
            starts_on: starts_on.to_string(),
            ends_on: ends_on.to_string(),
            created_by: actor.to_string(),
            created_at: now,
        };
        tx.insert_promotion(&promotion).await?;
        let after = serde_json::json!({"name": promotion.name, "channel": promotion.channel, "sku": promotion.sku, "from": promotion.starts_on, "to": promotion.ends_on});
        record(&mut tx, actor, now, &[Change::new("promotion.create", format!("promotion:{}", promotion.id)).after(after)]).await?;
        tx.commit().await?;
        Ok(promotion)
    }

    pub async fn promotions(&self) -> AppResult<Vec<ordo_storage::PromotionRecord>> {
        Ok(self.db.read().await?.promotions().await?)
    }

    /// A SKU's sales by day over the last `days` days (on one channel, or all), each day marked
    /// when it ended out of stock or was on promotion.
    pub async fn demand_history(&self, sku: &str, channel: Option<&str>, days: i64) -> AppResult<Vec<DemandDay>> {
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
        let sold: BTreeMap<String, i64> = tx.sku_daily_demand(sku, channel, start).await?.into_iter().collect();
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
    pub async fn forecast_accuracy(&self, holdout: i64) -> AppResult<AccuracyReport> {
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

    /// The nightly run: proposes replenishment once per day (UTC) however many processes ask,
    /// from two in the morning on. `None` when it is too early or the day's run was made.
    pub async fn nightly_replenishment(&self, actor: &Actor) -> AppResult<Option<Vec<ProposalView>>> {
        let now = self.now();
        if now.time() < chrono::NaiveTime::from_hms_opt(2, 0, 0).unwrap_or_default() {
            return Ok(None);
        }
        let mut tx = self.db.write().await?;
        let claimed = tx.claim_meta("replenishment_proposed_on", &now.date_naive().to_string()).await?;
        tx.commit().await?;
        if !claimed {
            return Ok(None);
        }
        self.propose_replenishment(actor).await.map(Some)
    }

    /// Forecasts every SKU that has a supplier and a policy, and proposes what to buy: the
    /// open proposals are replaced by this run's. A SKU projected to run out before its next
    /// receipt becomes a `procurement` exception.
    pub async fn propose_replenishment(&self, actor: &Actor) -> AppResult<Vec<ProposalView>> {
        let now = self.now();
        let (histories, supply, positions, policies, classes, next_receipts, promotions) = {
            let mut tx = self.db.read().await?;
            let promotions = tx.promotions().await?;
            let next_receipts: BTreeMap<String, DateTime<Utc>> = tx.next_receipts().await?.into_iter().collect();
            let histories = histories(&mut tx, now.date_naive(), None).await?;
            let supply = tx.supplier_skus(None).await?;
            let positions = tx.positions().await?;
            let policies = tx.policies().await?;
            let classes: BTreeMap<String, String> =
                tx.products(&ordo_storage::ProductQuery { search: None, limit: 100_000, offset: 0 })
                    .await?
                    .products
                    .into_iter()
                    .map(|p| (p.sku, p.abc_class.as_str().to_owned()))
                    .collect();
            (histories, supply, positions, policies, classes, next_receipts, promotions)
        };
        let policies: BTreeMap<String, Policy> = policies.into_iter().filter_map(|(scope, json)| serde_json::from_value(json).ok().map(|p| (scope, p))).collect();
        let mut proposals = Vec::new();
        let mut short = Vec::new();
        let mut covered = Vec::new();
        let policy_of = |sku: &str| policies.get(&format!("sku:{sku}")).or_else(|| classes.get(sku).and_then(|c| policies.get(&format!("class:{c}"))));
        let mut histories = histories;
        let work: Vec<(String, History, Vec<bool>)> = positions
            .iter()
            .filter(|(sku, ..)| policy_of(sku).is_some() && supply.iter().any(|s| &s.sku == sku))
            .map(|(sku, ..)| {
                let upcoming = promoted_days(&promotions, sku, now.date_naive(), HORIZON_DAYS);
                (sku.clone(), histories.remove(sku).unwrap_or_else(History::empty), upcoming)
            })
            .collect();
        let mut forecasts = forecast_many(work).await?;
        for (sku, position) in positions {
            let Some(policy) = policy_of(&sku) else { continue };
            // The preferred supplier, else the cheapest.
            let Some(source) = supply.iter().find(|s| s.sku == sku) else { continue };
            let Some(forecast) = forecasts.remove(&sku) else { continue };
            let terms = SupplyTerms {
                lead_time_days: source.lead_time_days,
                lead_time_sd_days: source.lead_time_sd_tenths as f64 / 10.0,
                moq: source.moq,
                pack_size: source.pack_size,
            };
            let Position { on_hand, reserved, .. } = position;
            // Projected to run out before the next receipt: what is free now does not last
            // the days until the first open order is due.
            let available = on_hand - reserved;
            match next_receipts.get(&sku) {
                Some(due) if forecast.daily_demand > 0.0 => {
                    let days = (*due - now).num_hours().max(0) as f64 / 24.0;
                    if (available as f64) < forecast.daily_demand * days {
                        short.push((sku.clone(), available, forecast.daily_demand, *due));
                    } else {
                        covered.push(sku.clone());
                    }
                }
                _ => covered.push(sku.clone()),
            }
            let Some(explanation) = procurement::propose(policy, forecast.daily_demand, forecast.daily_error, terms, position) else { continue };
            let explained = serde_json::json!({
                "numbers": explanation,
                "method": forecast.method,
                "demand_class": forecast.demand_class,
                "lead_time_days": terms.lead_time_days,
                "policy": policy,
                "supplier_unit_cost": Money::from_minor(source.unit_cost_minor, currency(&source.currency)?).to_decimal_string(),
                "currency": source.currency,
            });
            proposals.push(ProposalRecord {
                id: Uuid::now_v7(),
                sku: sku.clone(),
                supplier: source.supplier.clone(),
                quantity: explanation.quantity,
                explanation: explained.to_string(),
                status: ProposalStatus::Proposed,
                po_id: None,
                created_at: now,
                decided_by: None,
                decided_at: None,
            });
        }
        let mut tx = self.db.write().await?;
        tx.withdraw_open_proposals().await?;
        for p in &proposals {
            tx.insert_proposal(p).await?;
        }
        let kind = ExceptionKind::Procurement;
        for (sku, available, daily, due) in &short {
            let details = serde_json::json!({
                "reason": "projected to run out before the next receipt",
                "available": available,
                "daily_demand": daily,
                "next_receipt": due,
            });
            tx.raise_exception(kind.as_str(), &format!("sku:{sku}"), kind.owner_role().as_str(), now + kind.sla(), &details, now).await?;
        }
        for sku in &covered {
            tx.resolve_exception(kind.as_str(), &format!("sku:{sku}"), "no longer projected to run out", now).await?;
        }
        let after = serde_json::json!({"proposals": proposals.len(), "projected_stockouts": short.len()});
        record(&mut tx, actor, now, &[Change::new("replenishment.propose", "replenishment").after(after)]).await?;
        tx.commit().await?;
        Ok(proposals.iter().map(proposal_view).collect())
    }

    pub async fn proposals(&self, status: Option<&str>) -> AppResult<Vec<ProposalView>> {
        if let Some(status) = status {
            ProposalStatus::parse("status", status)?;
        }
        Ok(self.db.read().await?.proposals(status).await?.iter().map(proposal_view).collect())
    }

    /// Approves proposals (at the quantity given for each, else the proposed one) into draft
    /// purchase orders, one per supplier; all or none.
    pub async fn approve_proposals(&self, decided: &[(Uuid, Option<i64>)], actor: &Actor) -> AppResult<Vec<PurchaseOrder>> {
        if decided.is_empty() || decided.len() > 1000 {
            return Err(FieldError::new("proposals", "name 1 to 1000 proposals").into());
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let open: BTreeMap<Uuid, ProposalRecord> = tx.proposals(Some("proposed")).await?.into_iter().map(|p| (p.id, p)).collect();
        let mut by_supplier: BTreeMap<String, Vec<(Uuid, String, i64)>> = BTreeMap::new();
        for (i, (id, quantity)) in decided.iter().enumerate() {
            if decided[..i].iter().any(|(earlier, _)| earlier == id) {
                return Err(FieldError::new(format!("proposals[{i}]"), format!("proposal {id} is named twice")).into());
            }
            let Some(p) = open.get(id) else {
                return Err(FieldError::new(format!("proposals[{i}]"), format!("proposal {id} is not open")).into());
            };
            let quantity = match quantity {
                Some(q) => ordo_domain::field::bounded(&format!("proposals[{i}].quantity"), *q, 1, 10_000_000)?,
                None => p.quantity,
            };
            by_supplier.entry(p.supplier.clone()).or_default().push((*id, p.sku.clone(), quantity));
        }
        let location = tx.locations().await?.into_iter().min_by_key(|l| l.priority).map(|l| l.code).unwrap_or_default();
        let mut made = Vec::new();
        for (supplier, lines) in by_supplier {
            let new = NewPurchaseOrder {
                supplier,
                location: Some(location.clone()),
                lines: lines.iter().map(|(_, sku, quantity)| NewPoLine { sku: sku.clone(), quantity: *quantity, unit_cost: None }).collect(),
            };
            let id = self.draft_purchase_order(&mut tx, new, actor, now).await?;
            for (proposal, _, quantity) in &lines {
                // Decided meanwhile by someone else: the whole approval rolls back.
                if !tx.decide_proposal(*proposal, "approved", Some(*quantity), Some(id), &actor.to_string(), now).await? {
                    return Err(AppError::InvalidTransition { current: "decided", message: format!("proposal {proposal} was decided meanwhile") });
                }
            }
            made.push(id);
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(made.len());
        for id in made {
            out.push(self.purchase_order(id).await?);
        }
        Ok(out)
    }

    pub async fn reject_proposal(&self, id: Uuid, actor: &Actor) -> AppResult<()> {
        self.reject_proposals(&[id], actor).await
    }

    /// Rejects open proposals, all or none.
    pub async fn reject_proposals(&self, ids: &[Uuid], actor: &Actor) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut changes = Vec::with_capacity(ids.len());
        for id in ids {
            if !tx.decide_proposal(*id, "rejected", None, None, &actor.to_string(), now).await? {
                return Err(AppError::InvalidTransition { current: "decided", message: format!("proposal {id} is not open") });
            }
            changes.push(Change::new("proposal.reject", format!("proposal:{id}")));
        }
        record(&mut tx, actor, now, &changes).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_purchase_order(&self, new: NewPurchaseOrder, actor: &Actor) -> AppResult<PurchaseOrder> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let id = self.draft_purchase_order(&mut tx, new, actor, now).await?;
        tx.commit().await?;
        self.purchase_order(id).await
    }

    async fn draft_purchase_order(&self, tx: &mut Tx, new: NewPurchaseOrder, actor: &Actor, now: DateTime<Utc>) -> AppResult<Uuid> {
        if new.lines.is_empty() || new.lines.len() > 500 {
            return Err(FieldError::new("lines", "must have 1 to 500 lines").into());
        }
        let Some(supplier) = tx.suppliers().await?.into_iter().find(|s| s.code == new.supplier) else {
            return Err(FieldError::new("supplier", format!("unknown supplier {:?}", new.supplier)).into());
        };
        let locations = tx.locations().await?;
        let location = match new.location {
            Some(code) if locations.iter().any(|l| l.code == code) => code,
            Some(code) => return Err(FieldError::new("location", format!("unknown location {code:?}")).into()),
            None => locations.iter().min_by_key(|l| l.priority).map(|l| l.code.clone()).ok_or_else(|| FieldError::new("location", "there is no location"))?,
        };
        let prices = tx.supplier_skus(None).await?;
        let mut lines = Vec::with_capacity(new.lines.len());
        let mut total = 0i64;
        for (i, l) in new.lines.iter().enumerate() {
            if tx.product(&l.sku).await?.is_none() {
                return Err(FieldError::new(format!("lines[{i}].sku"), format!("unknown SKU {:?}", l.sku)).into());
            }
            let quantity = ordo_domain::field::bounded(&format!("lines[{i}].quantity"), l.quantity, 1, 10_000_000)?;
            let cost = match &l.unit_cost {
                Some(text) => Money::parse_non_negative(&format!("lines[{i}].unit_cost"), text, supplier.currency)?.minor(),
                None => prices.iter().find(|p| p.supplier == supplier.code && p.sku == l.sku).map(|p| p.unit_cost_minor).ok_or_else(|| {
                    FieldError::new(format!("lines[{i}].unit_cost"), format!("{} has no price for {}: give one", supplier.code, l.sku))
                })?,
            };
            total = total.saturating_add(cost.saturating_mul(quantity));
            lines.push(PoLineRecord { line: i as i64 + 1, sku: l.sku.clone(), quantity, unit_cost_minor: cost, received: 0, billed: 0 });
        }
        let id = Uuid::now_v7();
        let po = PurchaseOrderRecord {
            id,
            number: tx.next_po_number().await?,
            supplier: supplier.code.clone(),
            location,
            currency: supplier.currency.code().to_owned(),
            status: PoStatus::Draft,
            total_minor: total,
            expected_at: now + Duration::days(supplier.lead_time_days),
            created_by: actor.to_string(),
            created_at: now,
            approved_by: None,
            approved_at: None,
            sent_at: None,
            closed_at: None,
        };
        tx.insert_purchase_order(&po, &lines).await?;
        let after = serde_json::json!({"number": po.number, "supplier": po.supplier, "total": Money::from_minor(total, supplier.currency).to_decimal_string()});
        record(tx, actor, now, &[Change::new("purchase_order.draft", format!("purchase_order:{id}")).after(after)]).await?;
        Ok(id)
    }

    pub async fn purchase_order(&self, id: Uuid) -> AppResult<PurchaseOrder> {
        let mut tx = self.db.read().await?;
        let (po, lines) = tx.purchase_order(id).await?.ok_or_else(|| po_not_found(id))?;
        let bills = tx.bills(id).await?;
        po_view(po, lines, bills)
    }

    /// The value on order, still to arrive, per supplier.
    pub async fn procurement_exposure(&self) -> AppResult<Vec<Exposure>> {
        let rows = self.db.read().await?.open_order_value().await?;
        rows.into_iter()
            .map(|row| {
                let value = Money::from_minor(row.value_minor, currency(&row.currency)?).to_decimal_string();
                Ok(Exposure { supplier: row.supplier, open_orders: row.open_orders, value, currency: row.currency })
            })
            .collect()
    }

    pub async fn purchase_orders(&self, status: Option<&str>) -> AppResult<Vec<PurchaseOrder>> {
        if let Some(status) = status {
            PoStatus::parse("status", status)?;
        }
        let mut tx = self.db.read().await?;
        let mut out = Vec::new();
        for po in tx.purchase_orders(status, 500).await? {
            let lines = tx.purchase_order(po.id).await?.map(|(_, l)| l).unwrap_or_default();
            let bills = tx.bills(po.id).await?;
            out.push(po_view(po, lines, bills)?);
        }
        Ok(out)
    }

    /// Approves, sends or cancels a purchase order. Approving needs a role whose approval
    /// limit covers the order's value in the base currency.
    pub async fn move_purchase_order(&self, id: Uuid, to: &str, actor: &Actor) -> AppResult<PurchaseOrder> {
        let next = PoStatus::parse("status", to)?;
        if !matches!(next, PoStatus::Approved | PoStatus::Sent | PoStatus::Cancelled | PoStatus::Closed) {
            return Err(FieldError::new("status", "may be approved, sent, cancelled or closed; receipts and bills move the rest").into());
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let (po, lines) = tx.purchase_order(id).await?.ok_or_else(|| po_not_found(id))?;
        let current = po.status;
        if !current.can_become(next) || (next == PoStatus::Cancelled && lines.iter().any(|l| l.received > 0)) {
            return Err(AppError::InvalidTransition {
                current: current.as_str(),
                message: format!("a purchase order that is {} cannot become {}", current.as_str(), next.as_str()),
            });
        }
        if next == PoStatus::Approved {
            let value = self.in_base(&mut tx, po.total_minor, &po.currency, now).await?;
            match approval_limit(actor.role) {
                Some(limit) if value <= limit => {}
                limit => {
                    let limit = limit.map_or_else(|| "none".to_owned(), |l| Money::from_minor(l, self.settings.base_currency).to_decimal_string());
                    return Err(AppError::Forbidden(format!(
                        "the order is worth {} {}; the {} role approves up to {limit}",
                        Money::from_minor(value, self.settings.base_currency).to_decimal_string(),
                        self.settings.base_currency,
                        actor.role
                    )));
                }
            }
        }
        if !tx.move_purchase_order(id, current.as_str(), next.as_str(), &actor.to_string(), now).await? {
            return Err(AppError::InvalidTransition { current: current.as_str(), message: "the order changed meanwhile".into() });
        }
        if matches!(next, PoStatus::Closed | PoStatus::Cancelled) {
            tx.resolve_exception(ExceptionKind::Procurement.as_str(), &format!("purchase_order:{id}"), next.as_str(), now).await?;
        }
        let change = Change::new(&format!("purchase_order.{}", next.as_str()), format!("purchase_order:{id}"))
            .before(serde_json::json!({"status": current.as_str()}))
            .after(serde_json::json!({"status": next.as_str()}));
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        self.purchase_order(id).await
    }

    /// `minor` of `code` in base currency minor units, at the rate in force.
    async fn in_base(&self, tx: &mut Tx, minor: i64, code: &str, now: DateTime<Utc>) -> AppResult<i64> {
        let base = self.settings.base_currency;
        if code == base.code() {
            return Ok(minor);
        }
        let Some(rate) = tx.exchange_rate(code, now).await? else {
            return Err(FieldError::new("currency", format!("no exchange rate from {code} to {base}: set one with PUT /api/v1/exchange-rates/{code}")).into());
        };
        let from = ordo_domain::Currency::parse("currency", code)?;
        ordo_domain::ledger::to_base(minor, from, base, rate)
            .map_err(|_| FieldError::new("currency", format!("in the base currency {base}, the amount is beyond {}", ordo_domain::Money::max(base))).into())
    }

    /// Goods arrived against a purchase order: they go into stock at its location at the
    /// order's price (in base currency), against goods received not invoiced, and fill what
    /// waits for them.
    pub async fn receive_purchase_order(&self, id: Uuid, received: &[(i64, i64)], actor: &Actor) -> AppResult<PurchaseOrder> {
        if received.is_empty() {
            return Err(FieldError::new("lines", "name at least one line received").into());
        }
        let now = self.now();
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        tx.lock_purchase_order(id).await?;
        let (po, lines) = tx.purchase_order(id).await?.ok_or_else(|| po_not_found(id))?;
        let current = po.status;
        if !matches!(current, PoStatus::Sent | PoStatus::PartiallyReceived) {
            return Err(AppError::InvalidTransition { current: current.as_str(), message: format!("goods are received against a sent order; this one is {}", current.as_str()) });
        }
        let mut arrived: Vec<(PoLineRecord, i64)> = Vec::new();
        for (i, (line, quantity)) in received.iter().enumerate() {
            if received[..i].iter().any(|(earlier, _)| earlier == line) {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("line {line} is named twice")).into());
            }
            let Some(l) = lines.iter().find(|l| l.line == *line) else {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("the order has no line {line}")).into());
            };
            let quantity = ordo_domain::field::bounded(&format!("lines[{i}].quantity"), *quantity, 1, 10_000_000)?;
            let allowed = l.quantity + l.quantity * OVER_RECEIPT_PERCENT / 100;
            if l.received + quantity > allowed {
                let message = format!("line {line} ordered {}, received {} so far; at most {} more ({OVER_RECEIPT_PERCENT}% over)", l.quantity, l.received, allowed - l.received);
                return Err(FieldError::new(format!("lines[{i}].quantity"), message).into());
            }
            arrived.push((l.clone(), quantity));
        }
        let base = self.settings.base_currency;
        for (line, quantity) in &arrived {
            let unit_cost = self.in_base(&mut tx, line.unit_cost_minor, &po.currency, now).await?;
            let movement = MovementRequest {
                sku: line.sku.clone(),
                location: po.location.clone(),
                quantity: *quantity,
                kind: MovementKind::Receipt,
                reason: format!("{} line {}", po.number, line.line),
            };
            tx.record_movement(&movement, &who, now).await?.ok_or_else(|| FieldError::new("lines", "the stock could not take the receipt"))?;
            let held = tx.valuation(&line.sku).await?;
            let (after, value) = held.purchase(*quantity, unit_cost).map_err(|e| FieldError::new("lines", e.to_string()))?;
            tx.set_valuation(&line.sku, after).await?;
            let entry = ledger::receipt(
                format!("purchase_order:{id}:{}", line.line),
                format!("{} {} × {} from {}", po.number, quantity, line.sku, po.supplier),
                Money::from_minor(value, base),
            )
            .map_err(FieldError::from)?;
            self.post(&mut tx, entry, &who, now).await?;
            tx.add_received(id, line.line, *quantity).await?;
        }
        let (_, after) = tx.purchase_order(id).await?.ok_or_else(|| po_not_found(id))?;
        let next = if after.iter().all(|l| l.received >= l.quantity) { PoStatus::Received } else { PoStatus::PartiallyReceived };
        if current != next && !tx.move_purchase_order(id, current.as_str(), next.as_str(), &who, now).await? {
            return Err(AppError::InvalidTransition { current: current.as_str(), message: "the order changed meanwhile".into() });
        }
        for (line, _) in &arrived {
            Self::fill_backorders(&mut tx, &line.sku, &po.location, actor, now).await?;
        }
        if next == PoStatus::Received {
            tx.resolve_exception(ExceptionKind::Procurement.as_str(), &format!("purchase_order:{id}"), "received", now).await?;
        }
        let after = serde_json::json!({"lines": arrived.iter().map(|(l, q)| serde_json::json!({"line": l.line, "quantity": q})).collect::<Vec<_>>(), "status": next.as_str()});
        record(&mut tx, actor, now, &[Change::new("purchase_order.receive", format!("purchase_order:{id}")).after(after)]).await?;
        tx.commit().await?;
        self.purchase_order(id).await
    }

    /// The supplier's bill for a purchase order: matched against what was received. Goods
    /// received not invoiced is cleared at the order's price, the payable is what the bill
    /// says, and the difference is purchase price variance. A quantity beyond what was
    /// received, or a price off by more than the tolerance, disputes the bill: a `procurement`
    /// exception with the evidence.
    pub async fn bill_purchase_order(&self, id: Uuid, new: NewBill, actor: &Actor) -> AppResult<PurchaseOrder> {
        let invoice = ordo_domain::field::text("invoice", &new.invoice)?;
        if new.lines.is_empty() {
            return Err(FieldError::new("lines", "a bill has at least one line").into());
        }
        let now = self.now();
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        tx.lock_purchase_order(id).await?;
        let (po, lines) = tx.purchase_order(id).await?.ok_or_else(|| po_not_found(id))?;
        let current = po.status;
        if !current.can_become(PoStatus::Billed) {
            return Err(AppError::InvalidTransition { current: current.as_str(), message: format!("a purchase order that is {} cannot be billed", current.as_str()) });
        }
        let code = currency(&po.currency)?;
        let mut problems = Vec::new();
        let mut billed = Vec::with_capacity(new.lines.len());
        let (mut total, mut at_order_price) = (0i64, 0i64);
        for (i, (line, quantity, cost)) in new.lines.iter().enumerate() {
            if new.lines[..i].iter().any(|(earlier, ..)| earlier == line) {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("line {line} is named twice")).into());
            }
            let Some(l) = lines.iter().find(|l| l.line == *line) else {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("the order has no line {line}")).into());
            };
            let quantity = ordo_domain::field::bounded(&format!("lines[{i}].quantity"), *quantity, 0, 10_000_000)?;
            let cost = Money::parse_non_negative(&format!("lines[{i}].unit_cost"), cost, code)?.minor();
            if l.billed + quantity > l.received {
                problems.push(format!("line {line}: billed {} but {} received", l.billed + quantity, l.received));
            }
            let off = (cost - l.unit_cost_minor).abs();
            if off * 100 > l.unit_cost_minor * PRICE_TOLERANCE_PERCENT {
                problems.push(format!(
                    "line {line}: billed at {} but ordered at {}",
                    Money::from_minor(cost, code).to_decimal_string(),
                    Money::from_minor(l.unit_cost_minor, code).to_decimal_string()
                ));
            }
            total = total.saturating_add(cost.saturating_mul(quantity));
            at_order_price = at_order_price.saturating_add(l.unit_cost_minor.saturating_mul(quantity));
            billed.push((*line, quantity, cost));
        }
        let payment_days = tx.supplier_payment_days(&po.supplier).await?.unwrap_or(30);
        let bill = BillRecord {
            id: Uuid::now_v7(),
            po_id: id,
            supplier: po.supplier.clone(),
            invoice: invoice.clone(),
            currency: po.currency.clone(),
            total_minor: total,
            due_at: now + Duration::days(payment_days),
            status: if problems.is_empty() { BillStatus::Matched } else { BillStatus::Disputed },
            created_by: who.clone(),
            created_at: now,
        };
        tx.insert_bill(&bill, &billed).await.map_err(|e| match e {
            e if e.is_duplicate() => AppError::Duplicate(FieldError::new("invoice", format!("{} already sent invoice {invoice}", po.supplier))),
            e => e.into(),
        })?;
        for (line, quantity, _) in &billed {
            tx.add_billed(id, *line, *quantity).await?;
        }
        // In base currency: goods received not invoiced at the order's price, the payable at
        // the bill's, the difference to purchase price variance.
        let cleared = self.in_base(&mut tx, at_order_price, &po.currency, now).await?;
        let owed = self.in_base(&mut tx, total, &po.currency, now).await?;
        let entry = ledger::supplier_bill(
            format!("bill:{}", bill.id),
            format!("{} invoice {invoice} from {}", po.number, po.supplier),
            Money::from_minor(cleared, self.settings.base_currency),
            Money::from_minor(owed, self.settings.base_currency),
        )
        .map_err(FieldError::from)?;
        self.post(&mut tx, entry, &who, now).await?;
        if !tx.move_purchase_order(id, current.as_str(), PoStatus::Billed.as_str(), &who, now).await? {
            return Err(AppError::InvalidTransition { current: current.as_str(), message: "the order changed meanwhile".into() });
        }
        if !problems.is_empty() {
            let kind = ExceptionKind::Procurement;
            let details = serde_json::json!({"reason": "the bill does not match the receipts", "invoice": invoice, "problems": problems});
            tx.raise_exception(kind.as_str(), &format!("bill:{}", bill.id), ordo_domain::access::Role::Finance.as_str(), now + kind.sla(), &details, now).await?;
        }
        let after = serde_json::json!({"invoice": invoice, "total": Money::from_minor(total, code).to_decimal_string(), "status": bill.status});
        record(&mut tx, actor, now, &[Change::new("purchase_order.bill", format!("purchase_order:{id}")).after(after)]).await?;
        tx.commit().await?;
        self.purchase_order(id).await
    }

    /// Raises a `procurement` exception for each sent order past its expected date.
    pub async fn watch_purchase_orders(&self) -> AppResult<u64> {
        let now = self.now();
        let kind = ExceptionKind::Procurement;
        let mut tx = self.db.write().await?;
        let mut raised = 0;
        for po in tx.overdue_purchase_orders(now).await? {
            let details = serde_json::json!({"reason": "past its expected date", "number": po.number, "supplier": po.supplier, "expected_at": po.expected_at});
            if tx.raise_exception(kind.as_str(), &format!("purchase_order:{}", po.id), kind.owner_role().as_str(), now + kind.sla(), &details, now).await? {
                raised += 1;
            }
        }
        tx.commit().await?;
        Ok(raised)
    }
}

fn proposal_view(p: &ProposalRecord) -> ProposalView {
    ProposalView {
        id: p.id,
        sku: p.sku.clone(),
        supplier: p.supplier.clone(),
        quantity: p.quantity,
        status: p.status,
        purchase_order: p.po_id,
        explanation: serde_json::from_str(&p.explanation).unwrap_or(serde_json::Value::Null),
        created_at: p.created_at,
    }
}

fn po_view(po: PurchaseOrderRecord, lines: Vec<PoLineRecord>, bills: Vec<BillRecord>) -> AppResult<PurchaseOrder> {
    let code = currency(&po.currency)?;
    let money = |minor: i64| Money::from_minor(minor, code).to_decimal_string();
    Ok(PurchaseOrder {
        id: po.id,
        number: po.number,
        supplier: po.supplier,
        location: po.location,
        currency: po.currency.clone(),
        status: po.status,
        total: money(po.total_minor),
        expected_at: po.expected_at,
        created_by: po.created_by,
        approved_by: po.approved_by,
        sent_at: po.sent_at,
        lines: lines
            .into_iter()
            .map(|l| PoLine { line: l.line, sku: l.sku, quantity: l.quantity, unit_cost: money(l.unit_cost_minor), received: l.received, billed: l.billed })
            .collect(),
        bills: bills.into_iter().map(|b| Bill { id: b.id, invoice: b.invoice, total: money(b.total_minor), due_at: b.due_at, status: b.status }).collect(),
    })
}

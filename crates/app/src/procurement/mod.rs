//! Procurement: what each supplier sells us, each SKU's demand history and forecast, the
//! policies that turn forecasts into proposals, and purchase orders from draft through
//! receipts (stock and inventory at cost) and the supplier's bill (payable, with any price
//! difference) to closed.

mod bills;
mod forecasting;
mod proposals;
mod purchase_orders;
mod receipts;
mod sales_history;
mod suppliers;

pub use forecasting::forecast_history;

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
    /// The methods whose forecasts are averaged, joined: `tsb + imapa + ses`.
    pub method: String,
    /// The same methods, best in back-test first.
    pub pooled: Vec<String>,
    /// Each pooled method's fitted parameters, named `method.parameter`.
    pub parameters: BTreeMap<String, f64>,
    /// pooled (the three best in back-test averaged) or untested (too little history to
    /// back-test: the declining rate since the first sale).
    pub chosen_because: String,
    /// Days of history from the first sale a back-test needs; fewer are untested.
    pub backtest_needs_days: usize,
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

/// How reliably a supplier delivers and when its bills are due.
#[derive(Debug, Clone, Serialize)]
pub struct SupplierTerms {
    pub supplier: String,
    /// How far deliveries stray from the lead time, in days ("1.5").
    pub lead_time_sd_days: String,
    pub payment_terms_days: i64,
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

/// A purchase order with its lines, held until the transaction ends, when it may become
/// `next`; otherwise refused, `refusal` saying why from its status.
async fn po_to_move(tx: &mut Tx, id: Uuid, next: PoStatus, refusal: impl FnOnce(PoStatus) -> String) -> AppResult<(PurchaseOrderRecord, Vec<PoLineRecord>)> {
    tx.lock_purchase_order(id).await?;
    let (po, lines) = tx.purchase_order(id).await?.ok_or_else(|| po_not_found(id))?;
    if !po.status.can_become(next) {
        return Err(AppError::InvalidTransition { current: po.status.as_str(), message: refusal(po.status) });
    }
    Ok((po, lines))
}


fn currency(code: &str) -> AppResult<Currency> {
    Ok(Currency::from_code(code).map_err(|e| FieldError::new("currency", e.to_string()))?)
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

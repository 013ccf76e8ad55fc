//! The demo's buying desk: each night replenishment is proposed from the forecasts and the
//! class policies, approved into purchase orders and sent; suppliers deliver on their lead
//! time (one runs late, which raises exceptions); finance bills what arrived, one bill in seven
//! dearer than ordered. At the end, a week of forecasts is scored against what sold.

use chrono::{DateTime, Duration, Utc};
use ordo_domain::procurement::Policy;
use ordo_storage::{SupplierSku, Tx};
use uuid::Uuid;

use ordo_app::{Actor, AppResult, NewBill, Ordo};

/// The supplier that delivers four days late.
const LATE_SUPPLIER: &str = "oak-and-reed";

/// What the buying desk did, and how good the forecasts were.
#[derive(Debug, Clone, Default)]
pub struct BuyingSummary {
    pub proposals: u64,
    pub purchase_orders: u64,
    /// Purchase orders received in full.
    pub received: u64,
    pub billed: u64,
    pub disputed: u64,
    /// Forecast accuracy over the last week, on the A SKUs: (SKUs scored, MASE, RMSSE, bias).
    pub accuracy: Option<(usize, f64, f64, f64)>,
}

/// The supplier of a SKU, by its category.
pub(crate) fn supplier_of(sku: &str) -> &'static str {
    match sku.get(..3) {
        Some("CUS" | "THR" | "RUN" | "TWL" | "MAT") => "nordic-textiles",
        Some("LMP" | "CLK" | "MIR") => "lumen-lighting",
        Some("VAS" | "BWL" | "PLN" | "CND" | "CST") => "terra-ceramics",
        _ => "oak-and-reed",
    }
}

/// Prices, terms and policies: each SKU from its category's supplier at its cost, in packs of
/// six (a dozen for A items' minimum), and a policy per ABC class.
pub(crate) async fn setup(tx: &mut Tx, products: &[ordo_domain::master::Product], base: ordo_domain::Currency, now: DateTime<Utc>) -> AppResult<()> {
    for (supplier, sd_tenths) in [("nordic-textiles", 20), ("lumen-lighting", 10), ("terra-ceramics", 25), ("oak-and-reed", 15)] {
        tx.set_supplier_terms(supplier, sd_tenths, 30).await?;
    }
    // Rates for the suppliers' currencies, so their orders can be valued in the base one.
    for code in ["EUR", "USD"] {
        if code != base.code() {
            let rate = match (code, base.code()) {
                ("EUR", "USD") => 1_085_000,
                ("USD", "EUR") => 921_659,
                _ => 1_000_000,
            };
            tx.set_exchange_rate(code, now - Duration::days(3650), rate).await?;
        }
    }
    let suppliers = tx.suppliers().await?;
    for product in products {
        let supplier = supplier_of(&product.sku);
        let currency = suppliers.iter().find(|s| s.code == supplier).map_or(base, |s| s.currency);
        // The product's cost is in base currency; the supplier quotes in its own.
        let cost = match (currency.code(), base.code()) {
            (c, b) if c == b => product.unit_cost.minor(),
            ("EUR", "USD") => product.unit_cost.minor() * 1000 / 1085,
            _ => product.unit_cost.minor() * 1085 / 1000,
        };
        let row = SupplierSku {
            supplier: supplier.to_owned(),
            sku: product.sku.clone(),
            unit_cost_minor: cost,
            moq: if product.abc_class == ordo_domain::master::AbcClass::A { 12 } else { 0 },
            pack_size: 6,
            preferred: true,
            currency: currency.code().to_owned(),
            lead_time_days: 0,
            lead_time_sd_tenths: 0,
        };
        tx.upsert_supplier_sku(&row).await?;
    }
    let policies = [
        ("class:A", Policy::ReorderPoint { service_level: 0.95, cover_days: 14 }),
        ("class:B", Policy::ReorderPoint { service_level: 0.9, cover_days: 21 }),
        ("class:C", Policy::MinMax { min: 2, max: 12 }),
    ];
    for (scope, policy) in policies {
        tx.set_policy(scope, &serde_json::to_value(policy).unwrap_or_default(), "demo", now).await?;
    }
    Ok(())
}

pub(crate) struct BuyingDesk {
    buyer: Actor,
    manager: Actor,
    floor: Actor,
    finance: Actor,
    /// Purchase orders received, and when their bill is due to arrive.
    to_bill: Vec<(DateTime<Utc>, Uuid)>,
    bills: u64,
    /// Forecasts taken a week before the end: (SKU, the 56 days before, the next 7 days).
    snapshot: Vec<(String, Vec<f64>, Vec<f64>)>,
    pub(crate) summary: BuyingSummary,
}

impl BuyingDesk {
    pub(crate) fn new() -> BuyingDesk {
        let actor = Actor::system_as;
        BuyingDesk {
            buyer: actor("demo-procurement", ordo_domain::access::Role::Procurement),
            manager: actor("demo-ops", ordo_domain::access::Role::Ops),
            floor: actor("demo-warehouse", ordo_domain::access::Role::Warehouse),
            finance: actor("demo-finance", ordo_domain::access::Role::Finance),
            to_bill: Vec::new(),
            bills: 0,
            snapshot: Vec::new(),
            summary: BuyingSummary::default(),
        }
    }

    /// The nightly run: propose, approve everything into purchase orders, approve each within
    /// the buyer's limit (the manager above it) and send.
    pub(crate) async fn night(&mut self, ordo: &Ordo) -> AppResult<()> {
        let proposals = ordo.procurement().propose_replenishment(&self.buyer).await?;
        self.summary.proposals += proposals.len() as u64;
        if proposals.is_empty() {
            return Ok(());
        }
        let decided: Vec<(Uuid, Option<i64>)> = proposals.iter().map(|p| (p.id, None)).collect();
        for po in ordo.procurement().approve_proposals(&decided, &self.buyer).await? {
            match ordo.procurement().move_purchase_order(po.id, "approved", &self.buyer).await {
                Ok(_) => {}
                // Over the buyer's limit: the manager approves.
                Err(ordo_app::AppError::Forbidden(_)) => {
                    ordo.procurement().move_purchase_order(po.id, "approved", &self.manager).await?;
                }
                Err(e) => return Err(e),
            }
            ordo.procurement().move_purchase_order(po.id, "sent", &self.buyer).await?;
            self.summary.purchase_orders += 1;
        }
        Ok(())
    }

    /// Suppliers deliver what is due (the late one four days after its date); bills arrive
    /// two days after the goods.
    pub(crate) async fn morning(&mut self, ordo: &Ordo) -> AppResult<()> {
        let now = ordo.now();
        for status in ["sent", "partially_received"] {
            for po in ordo.procurement().purchase_orders(Some(status)).await? {
                let due = if po.supplier == LATE_SUPPLIER { po.expected_at + Duration::days(4) } else { po.expected_at };
                if due > now {
                    continue;
                }
                let lines: Vec<(i64, i64)> = po.lines.iter().filter(|l| l.received < l.quantity).map(|l| (l.line, l.quantity - l.received)).collect();
                if lines.is_empty() {
                    continue;
                }
                ordo.procurement().receive_purchase_order(po.id, &lines, &self.floor).await?;
                self.summary.received += 1;
                self.to_bill.push((now + Duration::days(2), po.id));
            }
        }
        let (due, later): (Vec<_>, Vec<_>) = self.to_bill.drain(..).partition(|(at, _)| *at <= now);
        self.to_bill = later;
        for (_, id) in due {
            let po = ordo.procurement().purchase_order(id).await?;
            self.bills += 1;
            // One bill in seven comes in dearer than ordered.
            let dearer = self.bills.is_multiple_of(7);
            let currency = ordo_domain::Currency::from_code(&po.currency).map_err(|e| ordo_domain::FieldError::new("currency", e.to_string()))?;
            let mut lines = Vec::with_capacity(po.lines.len());
            for l in &po.lines {
                let cost = ordo_domain::Money::parse_non_negative("unit_cost", &l.unit_cost, currency)?;
                let cost = if dearer { dearer_by_three_percent(cost) } else { cost };
                lines.push((l.line, l.received, cost.to_decimal_string()));
            }
            let billed = ordo.procurement().bill_purchase_order(id, NewBill { invoice: format!("INV-{}-{}", po.supplier, po.number), lines }, &self.finance).await?;
            self.summary.billed += 1;
            if billed.bills.iter().any(|b| b.status == ordo_domain::procurement::BillStatus::Disputed) {
                self.summary.disputed += 1;
            } else {
                ordo.procurement().move_purchase_order(id, "closed", &self.buyer).await?;
            }
        }
        Ok(())
    }

    /// Keeps the A SKUs' forecasts of the coming week, to score at the end.
    pub(crate) async fn take_snapshot(&mut self, ordo: &Ordo, a_skus: &[String]) -> AppResult<()> {
        for sku in a_skus {
            let f = ordo.procurement().forecast_sku(sku).await?;
            let history: Vec<f64> = f.recent.iter().map(|d| *d as f64).collect();
            self.snapshot.push((sku.clone(), history, f.forecast.iter().take(7).copied().collect()));
        }
        Ok(())
    }

    /// Scores the snapshot's forecasts against the week that followed.
    pub(crate) async fn score(&mut self, ordo: &Ordo) -> AppResult<()> {
        let mut card = ordo_forecast::Scorecard::default();
        for (sku, history, forecast) in &self.snapshot {
            let f = ordo.procurement().forecast_sku(sku).await?;
            let actual: Vec<f64> = f.recent.iter().rev().take(7).rev().map(|d| *d as f64).collect();
            card.add(history, &actual, forecast);
        }
        if let (Some(mase), Some(rmsse), Some(bias)) = (card.mase(), card.rmsse(), card.bias()) {
            self.summary.accuracy = Some((card.scored, mase, rmsse, bias));
        }
        Ok(())
    }
}

/// A price 3% dearer, at least one minor unit more.
fn dearer_by_three_percent(price: ordo_domain::Money) -> ordo_domain::Money {
    let minor = price.minor();
    ordo_domain::Money::from_minor(minor + (minor * 3 / 100).max(1), price.currency())
}

//! The demo's marketplaces settle once a week: each sends the V2 settlement report a real one
//! would for the orders it shipped since the last, with its commission, a fulfilment fee per
//! unit, the refunds of its period (Ordo's, and the odd one of its own) with the commission
//! given back less a fee, and a reserve held back and
//! released the week after. Its first report carries a few planted discrepancies (an order
//! paid short, an order Ordo never had, a commission far above the rate) for finance to find.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use ordo_domain::settlement::{write_amazon_v2, V2Row};
use ordo_domain::Money;
use uuid::Uuid;

use super::Seed;
use crate::Shop;
use ordo_app::{Actor, AppResult, SettlementImport};

/// The marketplaces that settle, and the commission each charges in basis points.
pub(crate) const MARKETPLACES: [(&str, i64); 2] = [("amazon", 1_500), ("wayfair", 1_800)];

/// What the settlements so far have left behind: which orders are settled, and each
/// marketplace's reserve still held.
#[derive(Debug, Default)]
pub(crate) struct Settling {
    settled: BTreeSet<Uuid>,
    reserves: BTreeMap<String, i64>,
    reports: u64,
}

impl Shop {
    /// `channel` settles what it shipped since its last settlement, deposited on `deposit`;
    /// the import, and whether it carries the planted 40 % commission.
    pub(crate) async fn demo_settlement(
        &self,
        seed: &mut Seed,
        settling: &mut Settling,
        (channel, commission_bp): (&str, i64),
        deposit: NaiveDate,
        finance: &Actor,
    ) -> AppResult<Option<(SettlementImport, bool)>> {
        let mut shipped = Vec::new();
        for status in ["shipped", "delivered"] {
            let mut offset = 0;
            loop {
                let (page, _) = self.orders().list(Some(channel), Some(status), None, 500, offset).await?;
                offset += 500;
                let done = page.len() < 500;
                shipped.extend(page.into_iter().map(|o| o.id).filter(|id| !settling.settled.contains(id)));
                if done {
                    break;
                }
            }
        }
        if shipped.is_empty() {
            return Ok(None);
        }
        let first = !settling.reserves.contains_key(channel);
        let currency = self.settings().base_currency;
        let mut rows: Vec<V2Row> = Vec::new();
        let mut sales = 0i64;
        // What Ordo refunded before the report's period ended, the marketplace gives back in it.
        let period_over = (deposit - chrono::Duration::days(1)).and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default();
        let mut orders = Vec::with_capacity(shipped.len());
        for id in &shipped {
            orders.push(self.orders().order(*id).await?);
        }
        // The planted commission goes into the first report only when the report has more
        // commissions than the fee test needs to judge one by: otherwise no scan could find it.
        let lines = orders.iter().flat_map(|o| &o.lines).filter(|l| l.part_of.is_none()).count();
        let plants_fee = first && lines > ordo_domain::anomaly::fees::MIN_HISTORY;
        for (n, (id, order)) in shipped.iter().zip(orders).enumerate() {
            let refunds = self.returns().refunds_of(*id).await?;
            settling.settled.insert(*id);
            let mut shipping = order.shipping_price.minor();
            let short = first && n == 0;
            let greedy = plants_fee && n == 1;
            for line in order.lines.iter().filter(|l| l.part_of.is_none()) {
                let sku = line.channel_sku.clone().unwrap_or_else(|| line.sku.clone());
                let principal = line.unit_price.minor() * line.quantity;
                let row = |transaction, amount_type, description, amount| V2Row {
                    transaction,
                    order_id: order.external_id.clone(),
                    amount_type,
                    description,
                    item_code: line.item_id.clone().unwrap_or_default(),
                    sku: sku.clone(),
                    amount: Money::from_minor(amount, currency),
                };
                rows.push(row("Order", "ItemPrice", "Principal", principal - if short { 100 } else { 0 }));
                rows.push(row("Order", "ItemPrice", "Tax", line.tax.minor()));
                if line.discount.minor() > 0 {
                    rows.push(row("Order", "Promotion", "Principal", -line.discount.minor()));
                }
                if shipping > 0 {
                    rows.push(row("Order", "ItemPrice", "Shipping", shipping));
                    shipping = 0;
                }
                let rate = if greedy { 4_000 } else { commission_bp };
                rows.push(row("Order", "ItemFees", "Commission", -principal * rate / 10_000));
                rows.push(row("Order", "ItemFees", "FBAPerUnitFulfillmentFee", -50 * line.quantity));
                sales += principal;
                // About one order in fifty is refunded in part after delivery: the buyer gets
                // a unit's price back. What Ordo refunded itself comes back the same way. The
                // marketplace gives back its commission on it, less a fee.
                let odd_refund = seed.between(1, 50) == 1;
                let refunded_by_ordo: i64 = refunds
                    .iter()
                    .filter(|r| r.created_at < period_over)
                    .flat_map(|r| &r.lines)
                    .filter(|l| l.line == line.line)
                    .map(|l| l.quantity)
                    .sum();
                let units = if refunded_by_ordo > 0 { refunded_by_ordo } else { i64::from(odd_refund) };
                if units > 0 {
                    let refunded = line.unit_price.minor() * units;
                    let commission = refunded * commission_bp / 10_000;
                    rows.push(row("Refund", "ItemPrice", "Principal", -refunded));
                    rows.push(row("Refund", "ItemFees", "Commission", commission));
                    rows.push(row("Refund", "ItemFees", "RefundCommission", -(commission / 5).min(500)));
                }
            }
        }
        let account = |transaction, order_id: String, amount_type, description, sku: &str, amount| V2Row {
            transaction,
            order_id,
            amount_type,
            description,
            item_code: String::new(),
            sku: sku.to_owned(),
            amount: Money::from_minor(amount, currency),
        };
        if first {
            rows.push(account("Order", format!("{channel}-UNKNOWN-1"), "ItemPrice", "Principal", "DEMO-STRAY", 1_999));
        }
        let previous = settling.reserves.get(channel).copied().unwrap_or(0);
        if previous > 0 {
            rows.push(account("other-transaction", String::new(), "other-transaction", "Previous Reserve Amount Balance", "", previous));
        }
        let reserve = sales * 300 / 10_000;
        rows.push(account("other-transaction", String::new(), "other-transaction", "Current Reserve Amount", "", -reserve));
        rows.push(account("other-transaction", String::new(), "other-transaction", "Storage Fee", "", -seed.between(500, 2_500)));
        settling.reserves.insert(channel.to_owned(), reserve);
        settling.reports += 1;

        let id = format!("{}", 20_000 + settling.reports);
        let period = (deposit - chrono::Duration::days(9), deposit - chrono::Duration::days(2));
        let report = write_amazon_v2(&id, period, deposit, currency, &rows);
        Ok(Some((self.settlements().import_settlement(channel, &report, finance).await?, plants_fee)))
    }
}

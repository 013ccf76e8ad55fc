//! The demo's marketplaces settle once a week: each sends the V2 settlement report a real one
//! would for the orders it shipped since the last, with its commission, a fulfilment fee per
//! unit, the odd refund that gives part of the commission back, and a reserve held back and
//! released the week after. Its first report carries a few planted discrepancies (an order
//! paid short, an order Ordo never had, a commission far above the rate) for finance to find.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use ordo_domain::settlement::AMAZON_V2_COLUMNS;
use uuid::Uuid;

use super::Seed;
use crate::{Actor, AppResult, Ordo, SettlementImport};

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

/// One row of a report: transaction type, order id, amount type, description, SKU, amount.
type Row = (&'static str, String, &'static str, &'static str, String, i64);

impl Ordo {
    /// `channel` settles what it shipped since its last settlement, deposited on `deposit`.
    pub(crate) async fn demo_settlement(
        &self,
        seed: &mut Seed,
        settling: &mut Settling,
        (channel, commission_bp): (&str, i64),
        deposit: NaiveDate,
        finance: &Actor,
    ) -> AppResult<Option<SettlementImport>> {
        let mut shipped = Vec::new();
        for status in ["shipped", "delivered"] {
            let mut offset = 0;
            loop {
                let (page, _) = self.orders(Some(channel), Some(status), None, 500, offset).await?;
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
        let mut rows: Vec<Row> = Vec::new();
        let mut sales = 0i64;
        for (n, id) in shipped.iter().enumerate() {
            let order = self.order(*id).await?;
            settling.settled.insert(*id);
            let mut shipping = order.shipping_price.minor();
            let short = first && n == 0;
            let greedy = first && n == 1;
            for line in order.lines.iter().filter(|l| l.part_of.is_none()) {
                let sku = line.channel_sku.clone().unwrap_or_else(|| line.sku.clone());
                let principal = line.unit_price.minor() * line.quantity;
                let row = |amount_type, description, amount| ("Order", order.external_id.clone(), amount_type, description, sku.clone(), amount);
                rows.push(row("ItemPrice", "Principal", principal - if short { 100 } else { 0 }));
                rows.push(row("ItemPrice", "Tax", line.tax.minor()));
                if line.discount.minor() > 0 {
                    rows.push(row("Promotion", "Principal", -line.discount.minor()));
                }
                if shipping > 0 {
                    rows.push(row("ItemPrice", "Shipping", shipping));
                    shipping = 0;
                }
                let rate = if greedy { 4_000 } else { commission_bp };
                rows.push(row("ItemFees", "Commission", -principal * rate / 10_000));
                rows.push(row("ItemFees", "FBAPerUnitFulfillmentFee", -50 * line.quantity));
                sales += principal;
                // About one order in fifty is refunded in part after delivery: the buyer gets
                // a unit's price back, the marketplace gives back its commission less a fee.
                if seed.between(1, 50) == 1 {
                    let refunded = line.unit_price.minor();
                    let commission = refunded * commission_bp / 10_000;
                    let refund = |amount_type, description, amount| ("Refund", order.external_id.clone(), amount_type, description, sku.clone(), amount);
                    rows.push(refund("ItemPrice", "Principal", -refunded));
                    rows.push(refund("ItemFees", "Commission", commission));
                    rows.push(refund("ItemFees", "RefundCommission", -(commission / 5).min(500)));
                }
            }
        }
        if first {
            rows.push(("Order", format!("{channel}-UNKNOWN-1"), "ItemPrice", "Principal", "DEMO-STRAY".into(), 1_999));
        }
        let account = |description, amount| ("other-transaction", String::new(), "other-transaction", description, String::new(), amount);
        let previous = settling.reserves.get(channel).copied().unwrap_or(0);
        if previous > 0 {
            rows.push(account("Previous Reserve Amount Balance", previous));
        }
        let reserve = sales * 300 / 10_000;
        rows.push(account("Current Reserve Amount", -reserve));
        rows.push(account("Storage Fee", -seed.between(500, 2_500)));
        settling.reserves.insert(channel.to_owned(), reserve);
        settling.reports += 1;

        let id = format!("{}", 20_000 + settling.reports);
        let report = v2_report(&id, self.settings.base_currency.code(), deposit, &rows);
        Ok(Some(self.import_settlement(channel, &report, finance).await?))
    }
}

/// The V2 flat file of settlement `id` with `rows`, as a US marketplace writes it.
fn v2_report(id: &str, currency: &str, deposit: NaiveDate, rows: &[Row]) -> String {
    let decimal = |minor: i64| format!("{}{}.{:02}", if minor < 0 { "-" } else { "" }, minor.abs() / 100, minor.abs() % 100);
    let total: i64 = rows.iter().map(|r| r.5).sum();
    let start = deposit - chrono::Duration::days(9);
    let mut text = AMAZON_V2_COLUMNS.join("\t");
    text.push_str(&format!("\n{id}\t{start}\t{}\t{deposit}\t{}\t{currency}{}\n", deposit - chrono::Duration::days(2), decimal(total), "\t".repeat(17)));
    for (transaction, order, amount_type, description, sku, amount) in rows {
        text.push_str(&format!(
            "{id}\t\t\t\t\t\t{transaction}\t{order}\t\t\t\tAmazon.com\t{amount_type}\t{description}\t{}\tMFN\t{deposit}\t{deposit} 08:00:00 UTC\t\t\t\t{sku}\t1\n",
            decimal(*amount)
        ));
    }
    text
}

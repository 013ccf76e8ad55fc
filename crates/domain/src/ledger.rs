//! The ledger: a chart of accounts, balanced journal entries, and the posting rules that turn
//! operational events into entries. Every rule is here, in one place, and `docs/ledger.md`
//! shows them as one table.

use serde::Serialize;

use crate::money::{Currency, Money, Total};
use crate::FieldError;

/// What an account holds, which decides on which side it grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Asset,
    Liability,
    Equity,
    Revenue,
    Expense,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Asset => "asset",
            AccountKind::Liability => "liability",
            AccountKind::Equity => "equity",
            AccountKind::Revenue => "revenue",
            AccountKind::Expense => "expense",
        }
    }

    pub fn parse(text: &str) -> Option<AccountKind> {
        [AccountKind::Asset, AccountKind::Liability, AccountKind::Equity, AccountKind::Revenue, AccountKind::Expense]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// The default chart of an online retailer: (code, name, kind). Each channel gets its own
/// receivable under [`receivable`].
pub const DEFAULT_CHART: &[(&str, &str, AccountKind)] = &[
    (BANK, "Bank", AccountKind::Asset),
    (INVENTORY, "Inventory", AccountKind::Asset),
    (MARKETPLACE_RESERVE, "Reserve held by marketplaces", AccountKind::Asset),
    (SUPPLIER_CLAIMS, "Claims on suppliers", AccountKind::Asset),
    (PAYABLE, "Accounts payable", AccountKind::Liability),
    (GOODS_RECEIVED_NOT_INVOICED, "Goods received not invoiced", AccountKind::Liability),
    (TAX_PAYABLE, "Sales tax payable", AccountKind::Liability),
    (EQUITY, "Owner's equity", AccountKind::Equity),
    (SALES, "Sales", AccountKind::Revenue),
    (SHIPPING_INCOME, "Shipping income", AccountKind::Revenue),
    (SALES_RETURNS, "Sales returns", AccountKind::Revenue),
    (COST_OF_GOODS_SOLD, "Cost of goods sold", AccountKind::Expense),
    (MARKETPLACE_FEES, "Marketplace fees", AccountKind::Expense),
    (PAYMENT_FEES, "Payment fees", AccountKind::Expense),
    (SHIPPING_COST, "Shipping cost", AccountKind::Expense),
    (INVENTORY_WRITE_OFFS, "Inventory write-offs and gains", AccountKind::Expense),
    (PURCHASE_PRICE_VARIANCE, "Purchase price variance", AccountKind::Expense),
];

pub const BANK: &str = "1000";
pub const INVENTORY: &str = "1200";
pub const MARKETPLACE_RESERVE: &str = "1300";
pub const SUPPLIER_CLAIMS: &str = "1400";
pub const PAYABLE: &str = "2000";
pub const GOODS_RECEIVED_NOT_INVOICED: &str = "2100";
pub const TAX_PAYABLE: &str = "2200";
pub const EQUITY: &str = "3000";
pub const SALES: &str = "4000";
pub const SHIPPING_INCOME: &str = "4100";
pub const SALES_RETURNS: &str = "4200";
pub const COST_OF_GOODS_SOLD: &str = "5000";
pub const MARKETPLACE_FEES: &str = "5100";
pub const PAYMENT_FEES: &str = "5200";
pub const SHIPPING_COST: &str = "5300";
pub const INVENTORY_WRITE_OFFS: &str = "5400";
pub const PURCHASE_PRICE_VARIANCE: &str = "5500";

/// The receivable account of a channel: what it owes us for orders shipped.
pub fn receivable(channel: &str) -> String {
    format!("1100-{channel}")
}

/// One line of an entry: an amount on one side of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: String,
    /// Minor units; exactly one of debit and credit is above zero.
    pub debit: i64,
    pub credit: i64,
    /// The SKU the amount belongs to, where it belongs to one (sales, their cost, their fees
    /// and refunds): profitability by SKU reads it.
    pub sku: Option<String>,
    /// The segment of the customer whose order the amount belongs to.
    pub segment: Option<String>,
}

/// A journal entry before it is written: balanced, in one currency, about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The operational event that caused it, such as `shipment:0191…`.
    pub source: String,
    pub memo: String,
    pub currency: Currency,
    pub lines: Vec<Posting>,
    /// The sales channel the entry belongs to, where it belongs to one: profitability is read
    /// by it.
    pub channel: Option<String>,
}

/// Why an entry cannot be posted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("debits {debit} and credits {credit} differ")]
    Unbalanced { debit: i64, credit: i64 },
    #[error("line {0} must carry an amount on exactly one side, above zero")]
    OneSided(usize),
    #[error("an amount is too large")]
    Overflow,
}

impl From<EntryError> for FieldError {
    fn from(e: EntryError) -> FieldError {
        FieldError::new("lines", e.to_string())
    }
}

impl Entry {
    /// An entry of `lines`, dropping zero lines; refused unless debits equal credits.
    pub fn balanced(source: String, memo: String, currency: Currency, lines: Vec<Posting>) -> Result<Entry, EntryError> {
        let lines: Vec<Posting> = lines.into_iter().filter(|l| l.debit != 0 || l.credit != 0).collect();
        let (mut debit, mut credit) = (0i64, 0i64);
        for (i, line) in lines.iter().enumerate() {
            if line.debit < 0 || line.credit < 0 || (line.debit > 0) == (line.credit > 0) {
                return Err(EntryError::OneSided(i));
            }
            debit = debit.checked_add(line.debit).ok_or(EntryError::Overflow)?;
            credit = credit.checked_add(line.credit).ok_or(EntryError::Overflow)?;
        }
        if debit != credit {
            return Err(EntryError::Unbalanced { debit, credit });
        }
        Ok(Entry { source, memo, currency, lines, channel: None })
    }

    /// The same entry, belonging to `channel`.
    pub fn for_channel(self, channel: &str) -> Entry {
        Entry { channel: Some(channel.to_owned()), ..self }
    }

    /// Whether there is anything to post.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

fn debit(account: &str, amount: i64) -> Posting {
    Posting { account: account.to_owned(), debit: amount, credit: 0, sku: None, segment: None }
}

fn credit(account: &str, amount: i64) -> Posting {
    Posting { account: account.to_owned(), debit: 0, credit: amount, sku: None, segment: None }
}

/// A posting of `amount` that may be negative: `debit_to` grows by it, `credit_to` shrinks.
fn transfer(debit_to: &str, credit_to: &str, amount: i64) -> Vec<Posting> {
    if amount >= 0 {
        vec![debit(debit_to, amount), credit(credit_to, amount)]
    } else {
        vec![debit(credit_to, -amount), credit(debit_to, -amount)]
    }
}

/// A SKU's stock at moving-average cost: its units on hand or in transit, and what they are
/// worth in base currency minor units. A purchase moves the average; every other movement
/// moves units at it, so the inventory account always equals the sum of the valuations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Valuation {
    pub units: i64,
    pub value: i64,
}

impl Valuation {
    /// `units` bought at `unit_cost`: the valuation after, and the value they add.
    pub fn purchase(self, units: i64, unit_cost: i64) -> Result<(Valuation, i64), EntryError> {
        let added = units.checked_mul(unit_cost).ok_or(EntryError::Overflow)?;
        self.add(units, added)
    }

    /// `units` found (a count, an adjustment): they come in at the average, or at `fallback`
    /// per unit when none is held.
    pub fn found(self, units: i64, fallback: i64) -> Result<(Valuation, i64), EntryError> {
        let added = match self.units {
            0 => units.checked_mul(fallback).ok_or(EntryError::Overflow)?,
            held => i64::try_from(i128::from(self.value) * i128::from(units) / i128::from(held)).map_err(|_| EntryError::Overflow)?,
        };
        self.add(units, added)
    }

    /// `units` leave (shipped, lost): the valuation after, and the value they take, their share
    /// of what is held; the last unit takes what is left, so nothing lingers.
    pub fn issue(self, units: i64) -> (Valuation, i64) {
        let units = units.min(self.units);
        let taken = if units == self.units { self.value } else { (i128::from(self.value) * i128::from(units) / i128::from(self.units)) as i64 };
        (Valuation { units: self.units - units, value: self.value - taken }, taken)
    }

    fn add(self, units: i64, value: i64) -> Result<(Valuation, i64), EntryError> {
        let units_after = self.units.checked_add(units).ok_or(EntryError::Overflow)?;
        let value_after = self.value.checked_add(value).ok_or(EntryError::Overflow)?;
        Ok((Valuation { units: units_after, value: value_after }, value))
    }
}

/// Goods received: inventory at cost against goods received not invoiced (the supplier's
/// bill clears it later).
pub fn receipt(source: String, memo: String, value: Money) -> Result<Entry, EntryError> {
    Entry::balanced(source, memo, value.currency(), transfer(INVENTORY, GOODS_RECEIVED_NOT_INVOICED, value.minor()))
}

/// Stock the business opened with, at cost, against the owner's equity.
pub fn opening_stock(source: String, memo: String, value: Money) -> Result<Entry, EntryError> {
    Entry::balanced(source, memo, value.currency(), transfer(INVENTORY, EQUITY, value.minor()))
}

/// The share of `total` that `after` of `quantity` units carry, less what `before` carried:
/// shipping a line in parts books its amount in parts that add up to it exactly.
pub fn share(total: i64, quantity: i64, before: i64, after: i64) -> i64 {
    if quantity <= 0 {
        return 0;
    }
    let part = |units: i64| (i128::from(total) * i128::from(units.min(quantity)) / i128::from(quantity)) as i64;
    part(after) - part(before)
}

/// Stock found or lost at a count or adjustment, at cost: a gain or a write-off.
pub fn stock_correction(source: String, memo: String, value: Money) -> Result<Entry, EntryError> {
    Entry::balanced(source, memo, value.currency(), transfer(INVENTORY, INVENTORY_WRITE_OFFS, value.minor()))
}

/// What one shipment sold, in the order's currency, and what its goods cost, in base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentValue {
    pub channel: String,
    /// Line prices less discounts of the units shipped.
    pub net: Money,
    /// The same, per SKU: they add up to `net`.
    pub net_by_sku: Vec<(String, i64)>,
    /// The segment of the customer who bought.
    pub segment: Option<String>,
    pub tax: Money,
    /// The order's shipping charge, on its first shipment.
    pub shipping: Money,
}

/// A shipment: revenue, tax and shipping income against the channel's receivable. Revenue is
/// recognised when goods leave.
pub fn shipment_revenue(source: String, memo: String, sold: &ShipmentValue) -> Result<Entry, EntryError> {
    let owed = sold
        .net
        .minor()
        .checked_add(sold.tax.minor())
        .and_then(|v| v.checked_add(sold.shipping.minor()))
        .ok_or(EntryError::Overflow)?;
    let mut lines = vec![debit(&receivable(&sold.channel), owed)];
    lines.extend(sold.net_by_sku.iter().map(|(sku, net)| Posting {
        sku: Some(sku.clone()),
        segment: sold.segment.clone(),
        ..transfer_side(SALES, *net, false)
    }));
    lines.push(credit(TAX_PAYABLE, sold.tax.minor()));
    lines.push(credit(SHIPPING_INCOME, sold.shipping.minor()));
    Ok(Entry::balanced(source, memo, sold.net.currency(), lines)?.for_channel(&sold.channel))
}

/// A shipment's goods at cost leave inventory for cost of goods sold, per SKU, bought by a
/// customer of `segment`.
pub fn shipment_cost(
    source: String,
    memo: String,
    cost: Money,
    cost_by_sku: &[(String, i64)],
    segment: Option<&str>,
) -> Result<Entry, EntryError> {
    let mut lines: Vec<Posting> = cost_by_sku
        .iter()
        .map(|(sku, value)| Posting {
            sku: Some(sku.clone()),
            segment: segment.map(str::to_owned),
            ..transfer_side(COST_OF_GOODS_SOLD, *value, true)
        })
        .collect();
    lines.push(transfer_side(INVENTORY, cost.minor(), false));
    Entry::balanced(source, memo, cost.currency(), lines)
}

/// What one refund pays back, in the order's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundValue {
    pub channel: String,
    /// Net prices refunded, per SKU.
    pub net_by_sku: Vec<(String, i64)>,
    pub segment: Option<String>,
    pub tax: Money,
    pub shipping: Money,
}

/// A refund: sales returns, the tax and the shipping income given back, against the channel's
/// receivable (the channel pays the customer and nets it from what it owes us).
pub fn refund(source: String, memo: String, refunded: &RefundValue) -> Result<Entry, EntryError> {
    let currency = refunded.tax.currency();
    let net: i64 = refunded.net_by_sku.iter().map(|(_, n)| n).sum();
    let owed = net
        .checked_add(refunded.tax.minor())
        .and_then(|v| v.checked_add(refunded.shipping.minor()))
        .ok_or(EntryError::Overflow)?;
    let mut lines: Vec<Posting> = refunded
        .net_by_sku
        .iter()
        .map(|(sku, net)| Posting { sku: Some(sku.clone()), segment: refunded.segment.clone(), ..transfer_side(SALES_RETURNS, *net, true) })
        .collect();
    lines.push(debit(TAX_PAYABLE, refunded.tax.minor()));
    lines.push(debit(SHIPPING_INCOME, refunded.shipping.minor()));
    lines.push(credit(&receivable(&refunded.channel), owed));
    Ok(Entry::balanced(source, memo, currency, lines)?.for_channel(&refunded.channel))
}

/// Returned units restocked: back into inventory at the average cost, out of cost of goods sold.
pub fn return_restock(source: String, memo: String, sku: &str, value: Money) -> Result<Entry, EntryError> {
    let lines = vec![debit(INVENTORY, value.minor()), Posting { sku: Some(sku.to_owned()), ..credit(COST_OF_GOODS_SOLD, value.minor()) }];
    Entry::balanced(source, memo, value.currency(), lines)
}

/// Returned units that cannot be sold: their cost moves from cost of goods sold to write-offs.
pub fn return_write_off(source: String, memo: String, sku: &str, value: Money) -> Result<Entry, EntryError> {
    let sku = Some(sku.to_owned());
    let lines = vec![Posting { sku: sku.clone(), ..debit(INVENTORY_WRITE_OFFS, value.minor()) }, Posting { sku, ..credit(COST_OF_GOODS_SOLD, value.minor()) }];
    Entry::balanced(source, memo, value.currency(), lines)
}

/// Returned units the supplier is liable for: their cost becomes a claim on the supplier.
pub fn supplier_claim(source: String, memo: String, sku: &str, value: Money) -> Result<Entry, EntryError> {
    let lines = vec![debit(SUPPLIER_CLAIMS, value.minor()), Posting { sku: Some(sku.to_owned()), ..credit(COST_OF_GOODS_SOLD, value.minor()) }];
    Entry::balanced(source, memo, value.currency(), lines)
}

/// A claim settled: credited by the supplier (less owed to them) or refused (written off).
pub fn claim_settled(source: String, memo: String, credited: bool, value: Money) -> Result<Entry, EntryError> {
    let to = if credited { PAYABLE } else { INVENTORY_WRITE_OFFS };
    Entry::balanced(source, memo, value.currency(), transfer(to, SUPPLIER_CLAIMS, value.minor()))
}

/// A supplier's bill: goods received not invoiced cleared at the order's price, the payable at
/// the bill's, and the difference (dearer or cheaper than ordered) as purchase price variance.
pub fn supplier_bill(source: String, memo: String, cleared: Money, owed: Money) -> Result<Entry, EntryError> {
    let mut lines = vec![debit(GOODS_RECEIVED_NOT_INVOICED, cleared.minor()), credit(PAYABLE, owed.minor())];
    let variance = owed.minor() - cleared.minor();
    if variance != 0 {
        lines.push(transfer_side(PURCHASE_PRICE_VARIANCE, variance, true));
    }
    Entry::balanced(source, memo, owed.currency(), lines)
}

/// `amount` on `account`: on the side given when it is positive, on the other when negative.
pub fn transfer_side(account: &str, amount: i64, debit_side: bool) -> Posting {
    if (amount >= 0) == debit_side { debit(account, amount.abs()) } else { credit(account, amount.abs()) }
}

/// The largest exchange rate Ordo takes: one unit buys at most 1,000,000 units of the base.
pub const MAX_RATE_MICROS: i64 = 1_000_000_000_000;

/// Parses an exchange rate such as "1.085" (units of the base currency one unit buys) into
/// millionths; above zero, at most six decimals, at most 1,000,000.
pub fn parse_rate(field: &str, value: &str) -> Result<i64, FieldError> {
    let bad = || FieldError::new(field, "must be a decimal number above zero and at most 1000000, with at most six decimals, such as 1.085");
    let (whole, fraction) = value.trim().split_once('.').unwrap_or((value.trim(), ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 6 {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let fraction: i64 = if fraction.is_empty() { 0 } else { fraction.parse::<i64>().map_err(|_| bad())? * 10i64.pow(6 - fraction.len() as u32) };
    let micros = whole.checked_mul(1_000_000).and_then(|w| w.checked_add(fraction)).ok_or_else(bad)?;
    if micros <= 0 || micros > MAX_RATE_MICROS {
        return Err(bad());
    }
    Ok(micros)
}

/// `minor` units of `from` in minor units of `base` at `rate_micros` base units per unit,
/// rounded half away from zero; refused when the result is beyond what one amount may be.
pub fn to_base(minor: i64, from: Currency, base: Currency, rate_micros: i64) -> Result<i64, EntryError> {
    let scale = |currency: Currency| 10i128.pow(currency.decimals());
    let numerator = i128::from(minor) * i128::from(rate_micros) * scale(base);
    let denominator = 1_000_000 * scale(from);
    let rounded = (numerator.abs() + denominator / 2) / denominator * numerator.signum();
    i64::try_from(rounded).ok().filter(|m| m.unsigned_abs() <= Money::MAX_MINOR.unsigned_abs()).ok_or(EntryError::Overflow)
}

/// Each line of `entry` as (debit, credit) in minor units of `base`, at `rate_micros` base
/// units per unit of the entry's currency, rounded to the nearest minor unit. Rounding can
/// leave the converted sides a minor unit or so apart; the largest line of the lighter side
/// takes the difference, so the entry balances in base currency too. Refused when an amount
/// in base currency would be beyond the bound on one amount.
pub fn base_amounts(entry: &Entry, base: Currency, rate_micros: i64) -> Result<Vec<(i64, i64)>, EntryError> {
    let convert = |minor: i64| to_base(minor, entry.currency, base, rate_micros);
    let mut lines = Vec::with_capacity(entry.lines.len());
    for line in &entry.lines {
        lines.push((convert(line.debit)?, convert(line.credit)?));
    }
    let sum = |side: fn(&(i64, i64)) -> i64| lines.iter().map(|l| i128::from(side(l))).sum::<i128>();
    let gap = i64::try_from(sum(|l| l.0) - sum(|l| l.1)).map_err(|_| EntryError::Overflow)?;
    if gap != 0 {
        // Debits heavier: the largest credit grows; credits heavier: the largest debit grows.
        let side = |l: &(i64, i64)| if gap > 0 { l.1 } else { l.0 };
        if let Some(largest) = (0..lines.len()).max_by_key(|i| side(&lines[*i])) {
            let grown = if gap > 0 { &mut lines[largest].1 } else { &mut lines[largest].0 };
            *grown = grown.checked_add(gap.abs()).ok_or(EntryError::Overflow)?;
        }
    }
    Ok(lines)
}

/// One account's totals in the trial balance, in base currency minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBalance {
    pub code: String,
    pub name: String,
    /// Every debit posted to it: its turnover on that side.
    pub debit: Total,
    pub credit: Total,
}

impl AccountBalance {
    /// The balance as a trial balance lists it: (debit, credit), one of them zero. An account
    /// whose debits exceed its credits has a debit balance of the difference, and so on.
    pub fn balance_sides(&self) -> (Total, Total) {
        let net = self.debit - self.credit;
        if net >= 0 { (net, 0) } else { (0, -net) }
    }
}

/// One account's base-currency totals over a period, with what kind of account it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTotal {
    pub code: String,
    pub name: String,
    pub kind: AccountKind,
    pub debit: Total,
    pub credit: Total,
}

/// One account's base-currency totals over a period for one channel, SKU or segment (`key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedTotal {
    pub key: String,
    pub account: String,
    pub debit: Total,
    pub credit: Total,
}

/// A line of an account's ledger, in base currency minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedLine {
    pub posted_at: chrono::DateTime<chrono::Utc>,
    pub source: String,
    pub memo: String,
    pub debit: i64,
    pub credit: i64,
}

/// A channel's or a SKU's contribution over a period, in base currency minor units: what it
/// sold, less what was refunded, what the goods cost and what selling them cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Margin {
    /// The channel or the SKU.
    pub key: String,
    /// Sales and shipping income.
    pub revenue: Total,
    pub refunds: Total,
    pub cost_of_goods: Total,
    /// Marketplace and payment fees.
    pub fees: Total,
    pub shipping_cost: Total,
}

impl Margin {
    pub fn contribution(&self) -> Total {
        self.revenue - self.refunds - self.cost_of_goods - self.fees - self.shipping_cost
    }

    /// Contribution as basis points of revenue; none without revenue. Clamped to ±10^15 %, far
    /// beyond any margin a business has.
    pub fn margin_bp(&self) -> Option<i64> {
        (self.revenue != 0).then(|| (self.contribution().saturating_mul(10_000) / self.revenue).clamp(-(10i128.pow(17)), 10i128.pow(17)) as i64)
    }
}

/// Basis points as a percentage with two decimals: 1234 is "12.34", -5 is "-0.05".
pub fn percent(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", bp.unsigned_abs() / 100, bp.unsigned_abs() % 100)
}

/// Basis points as people read a percentage: 1234 is "12.34 %".
pub fn percentage(bp: i64) -> String {
    format!("{} %", percent(bp))
}

/// Contribution by channel or SKU from account totals per key; lines that belong to none are
/// left out. Keys in name order.
pub fn margins(totals: &[KeyedTotal]) -> Vec<Margin> {
    let mut by_key: std::collections::BTreeMap<&str, Margin> = std::collections::BTreeMap::new();
    for KeyedTotal { key, account, debit, credit } in totals {
        let margin = by_key.entry(key).or_insert_with(|| Margin { key: key.clone(), ..Margin::default() });
        let (earned, spent) = (credit - debit, debit - credit);
        match account.as_str() {
            SALES | SHIPPING_INCOME => margin.revenue += earned,
            SALES_RETURNS => margin.refunds += spent,
            COST_OF_GOODS_SOLD => margin.cost_of_goods += spent,
            MARKETPLACE_FEES | PAYMENT_FEES => margin.fees += spent,
            SHIPPING_COST => margin.shipping_cost += spent,
            _ => {}
        }
    }
    by_key.into_values().collect()
}

/// Profit and loss over a period, in base currency minor units: each revenue account's net
/// credit and each expense account's net debit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfitAndLoss {
    /// (code, name, amount).
    pub revenue: Vec<(String, String, Total)>,
    pub expenses: Vec<(String, String, Total)>,
}

impl ProfitAndLoss {
    /// From each account's totals over the period.
    pub fn from_totals(totals: &[AccountTotal]) -> ProfitAndLoss {
        let mut report = ProfitAndLoss::default();
        for AccountTotal { code, name, kind, debit, credit } in totals {
            match kind {
                AccountKind::Revenue => report.revenue.push((code.clone(), name.clone(), credit - debit)),
                AccountKind::Expense => report.expenses.push((code.clone(), name.clone(), debit - credit)),
                _ => {}
            }
        }
        report
    }

    pub fn total_revenue(&self) -> Total {
        self.revenue.iter().map(|r| r.2).sum()
    }

    pub fn total_expenses(&self) -> Total {
        self.expenses.iter().map(|e| e.2).sum()
    }

    pub fn net_income(&self) -> Total {
        self.total_revenue() - self.total_expenses()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_balance_lists_each_accounts_balance_on_its_side() {
        let account = |debit: Total, credit: Total| AccountBalance { code: "1000".into(), name: "Bank".into(), debit, credit };
        assert_eq!(account(500, 200).balance_sides(), (300, 0));
        assert_eq!(account(200, 500).balance_sides(), (0, 300));
        assert_eq!(account(70, 70).balance_sides(), (0, 0));
    }

    #[test]
    fn purchases_move_the_average_and_issues_take_their_share() {
        let held = Valuation::default();
        let (held, added) = held.purchase(10, 400).unwrap();
        assert_eq!((held, added), (Valuation { units: 10, value: 4_000 }, 4_000));
        let (held, _) = held.purchase(5, 700).unwrap();
        assert_eq!(held, Valuation { units: 15, value: 7_500 }, "average 5.00");
        let (held, taken) = held.issue(4);
        assert_eq!((held, taken), (Valuation { units: 11, value: 5_500 }, 2_000));
        let (held, found) = held.found(1, 999).unwrap();
        assert_eq!((held.units, found), (12, 500), "found at the average, not the fallback");
        let (held, taken) = held.issue(12);
        assert_eq!((held, taken), (Valuation::default(), 6_000), "the last unit takes what is left");
        assert_eq!(held.found(2, 350).unwrap().1, 700, "nothing held: the fallback");
        let (odd, _) = Valuation::default().purchase(3, 100).unwrap().0.purchase(0, 0).unwrap();
        let (after, taken) = Valuation { value: 1_000, ..odd }.issue(1);
        assert_eq!((after.value + taken, taken), (1_000, 333), "shares round down and nothing is lost");
    }

    #[test]
    fn a_channels_contribution_is_what_it_sold_less_what_selling_there_cost() {
        let row = |account: &str, debit: Total, credit: Total| KeyedTotal { key: "amazon".to_owned(), account: account.to_owned(), debit, credit };
        let totals = [row(SALES, 0, 10_000), row(SHIPPING_INCOME, 0, 500), row(SALES_RETURNS, 1_000, 0), row(COST_OF_GOODS_SOLD, 4_000, 0),
            row(MARKETPLACE_FEES, 1_575, 0), row(MARKETPLACE_FEES, 0, 75), row("1100-amazon", 10_500, 0)];
        let margins = margins(&totals);
        assert_eq!(margins.len(), 1);
        assert_eq!((margins[0].revenue, margins[0].refunds, margins[0].cost_of_goods, margins[0].fees), (10_500, 1_000, 4_000, 1_500));
        assert_eq!(margins[0].contribution(), 4_000);
        assert_eq!(margins[0].margin_bp(), Some(3_809));
        assert_eq!((percent(3_809), percent(-5), percent(0)), ("38.09".to_owned(), "-0.05".to_owned(), "0.00".to_owned()));
    }

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::USD)
    }

    #[test]
    fn an_entry_balances_or_is_refused() {
        let lines = vec![debit(INVENTORY, 500), credit(GOODS_RECEIVED_NOT_INVOICED, 400)];
        assert_eq!(
            Entry::balanced("x".into(), "m".into(), Currency::USD, lines).unwrap_err(),
            EntryError::Unbalanced { debit: 500, credit: 400 }
        );
        let both = vec![Posting { account: BANK.into(), debit: 5, credit: 5, sku: None, segment: None }];
        assert_eq!(Entry::balanced("x".into(), "m".into(), Currency::USD, both).unwrap_err(), EntryError::OneSided(0));
        let negative = vec![Posting { account: BANK.into(), debit: -5, credit: 0, sku: None, segment: None }, credit(EQUITY, -5)];
        assert!(Entry::balanced("x".into(), "m".into(), Currency::USD, negative).is_err());
    }

    #[test]
    fn a_shipment_owes_revenue_tax_and_shipping_and_moves_cost() {
        let by_sku = vec![("MUG".to_owned(), 1500), ("VASE".to_owned(), 500)];
        let sold = ShipmentValue { channel: "web".into(), net: usd(2000), net_by_sku: by_sku, segment: None, tax: usd(380), shipping: usd(490) };
        let revenue = shipment_revenue("shipment:1".into(), "m".into(), &sold).unwrap();
        assert_eq!(revenue.lines[0], debit("1100-web", 2870));
        assert_eq!(revenue.lines.iter().map(|l| l.credit).sum::<i64>(), 2870);
        assert_eq!(revenue.lines[1], Posting { sku: Some("MUG".into()), ..credit(SALES, 1500) }, "sales per SKU");
        let cost = shipment_cost("shipment:1".into(), "m".into(), usd(840), &[("MUG".into(), 840)], None).unwrap();
        assert_eq!(cost.lines, vec![Posting { sku: Some("MUG".into()), ..debit(COST_OF_GOODS_SOLD, 840) }, credit(INVENTORY, 840)]);
        assert!(shipment_cost("s".into(), "m".into(), usd(840), &[("MUG".into(), 800)], None).is_err(), "per SKU adds up to the whole");
        // A shipment with no shipping charge and no tax leaves those lines out.
        let plain = ShipmentValue { channel: "web".into(), net: usd(100), net_by_sku: vec![("MUG".into(), 100)], segment: None, tax: usd(0), shipping: usd(0) };
        assert_eq!(shipment_revenue("s".into(), "m".into(), &plain).unwrap().lines.len(), 2);
    }

    #[test]
    fn entries_in_another_currency_balance_in_base_too() {
        assert_eq!(parse_rate("rate", "1.085").unwrap(), 1_085_000);
        for bad in ["0", "-1", "1.0000001", "abc", "", "1000000.000001"] {
            assert!(parse_rate("rate", bad).is_err(), "{bad}");
        }
        // Three equal thirds of 1.00 EUR at 1.085: each rounds to 0.36 USD, the total 1.09.
        let lines = vec![debit("1100-web", 100), credit(SALES, 33), credit(SALES, 33), credit(TAX_PAYABLE, 34)];
        let eur = Currency::from_code("EUR").unwrap();
        let entry = Entry::balanced("s".into(), "m".into(), eur, lines).unwrap();
        let base = base_amounts(&entry, Currency::USD, 1_085_000).unwrap();
        assert_eq!(base.iter().map(|l| l.0).sum::<i64>(), base.iter().map(|l| l.1).sum::<i64>());
        assert_eq!(base[0], (109, 0));
        // Yen have no decimals: 1,000 JPY at 0.0067 is 6.70 USD.
        let jpy = Currency::from_code("JPY").unwrap();
        let entry = Entry::balanced("s".into(), "m".into(), jpy, vec![debit(BANK, 1000), credit(SALES, 1000)]).unwrap();
        assert_eq!(base_amounts(&entry, Currency::USD, 6_700).unwrap(), [(670, 0), (0, 670)]);
        // An amount near the bound at a high rate would leave the bound in base currency.
        let big = Entry::balanced("s".into(), "m".into(), eur, vec![debit(BANK, Money::MAX_MINOR), credit(SALES, Money::MAX_MINOR)]).unwrap();
        assert_eq!(base_amounts(&big, Currency::USD, 2_000_000), Err(EntryError::Overflow));
        assert_eq!(to_base(-100, eur, Currency::USD, 1_085_000), Ok(-109), "rounded half away from zero");
    }

    #[test]
    fn a_line_shipped_in_parts_books_exactly_its_amount() {
        let parts = [share(1000, 3, 0, 1), share(1000, 3, 1, 2), share(1000, 3, 2, 3)];
        assert_eq!(parts, [333, 333, 334]);
        assert_eq!(parts.iter().sum::<i64>(), 1000);
        assert_eq!(share(1000, 3, 3, 4), 0, "never more than the line");
    }

    #[test]
    fn a_lost_unit_is_written_off_and_a_found_one_is_a_gain() {
        let lost = stock_correction("m:1".into(), "count".into(), usd(-300)).unwrap();
        assert_eq!(lost.lines, vec![debit(INVENTORY_WRITE_OFFS, 300), credit(INVENTORY, 300)]);
        let found = stock_correction("m:2".into(), "count".into(), usd(300)).unwrap();
        assert_eq!(found.lines, vec![debit(INVENTORY, 300), credit(INVENTORY_WRITE_OFFS, 300)]);
        assert!(receipt("m:3".into(), "r".into(), usd(0)).unwrap().is_empty());
    }
}

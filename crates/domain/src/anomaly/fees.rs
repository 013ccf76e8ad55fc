//! Settlement fee anomalies, decided: a fee charged on an order line far above what the
//! channel charged for that fee before (for that SKU when it has history enough, else for
//! any), any fee charged on an order that was cancelled, and a fee the channel gives back on
//! refunds kept on a line refunded in full before the settlement's period ended. Each fee type is judged in the
//! way it is steady across the channel: a commission as a rate of the line's price, a
//! fulfilment fee as an amount per unit ([`first_is_steadier`]); the yardstick is the median
//! and spread of the fee's history ([`robust_high`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::order::OrderStatus;

use super::{first_is_steadier, median_spread, robust_high, Outlier};

/// The fewest earlier fees of the type that can judge one.
pub const MIN_HISTORY: usize = 10;

/// One settlement line of an order, with what the order and its line say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledLine {
    pub settlement: Uuid,
    pub channel: String,
    pub deposit_date: NaiveDate,
    pub seq: i64,
    /// The day the settlement was imported: a late import is judged when it arrives.
    pub imported: NaiveDate,
    /// The last day the settlement's period covers, when it says.
    pub period_end: Option<NaiveDate>,
    /// The settlement line's kind: `sale`, `refund`, `marketplace_fee`, `payment_fee`, ….
    pub kind: String,
    /// `Transaction/AmountType/Description` for Amazon's reports; the part before the first
    /// `/` names the transaction the line belongs to.
    pub description: String,
    /// Signed from the seller's side: a fee charged is negative.
    pub amount_minor: i64,
    pub order_id: Uuid,
    pub order_status: OrderStatus,
    pub sku: Option<String>,
    /// The order line the settlement line matched, and its units.
    pub line: Option<i64>,
    pub quantity: Option<i64>,
}

/// Units of an order line Ordo refunded, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRefund {
    pub order: Uuid,
    pub line: i64,
    pub at: DateTime<Utc>,
    pub quantity: i64,
}

impl SettledLine {
    /// When refunds stop counting for this settlement: those made before it the channel could
    /// have put in it. The day after its period's last, else its deposit day.
    fn refunds_due_by(&self) -> DateTime<Utc> {
        let day = self.period_end.and_then(|last| last.succ_opt()).unwrap_or(self.deposit_date);
        day.and_time(chrono::NaiveTime::MIN).and_utc()
    }
}

/// One fee charged on an order line of a settlement, beside the price it was charged on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fee {
    pub settlement: Uuid,
    pub channel: String,
    pub deposit: NaiveDate,
    pub imported: NaiveDate,
    pub order: Uuid,
    pub order_status: OrderStatus,
    pub sku: Option<String>,
    /// The fee line's description: fees of one type share it.
    pub fee_type: String,
    /// Minor units, positive.
    pub charged: i64,
    /// The price the fee was charged on (0 when the settlement does not say), and the units.
    pub principal: i64,
    pub units: Option<i64>,
    /// A sale's fee on a line Ordo refunded in full before the settlement's period ended, of
    /// a type the channel gives back on refunds (it has in these settlements), with nothing
    /// of that type given back for the line in this settlement.
    pub kept_on_refund: bool,
}

impl Fee {
    /// The fee as basis points of its line's price.
    pub fn rate_bp(&self) -> Option<i64> {
        (self.principal > 0).then(|| self.charged * 10_000 / self.principal)
    }

    /// The fee per unit, in minor units.
    pub fn per_unit(&self) -> Option<i64> {
        self.units.filter(|u| *u > 0).map(|u| self.charged / u)
    }
}

/// The fees of the settlement lines: charges (negative amounts) of a fee kind, each beside
/// the price it was charged on: the order line's price for a sale's fee, the amount given
/// back for a refund's (lines of one transaction share the first part of their description,
/// `Order/…` or `Refund/…`).
pub fn fees_of(lines: &[SettledLine], refunds: &[LineRefund]) -> Vec<Fee> {
    let mut groups: BTreeMap<(Uuid, Uuid, Option<&str>, &str), Vec<&SettledLine>> = BTreeMap::new();
    for line in lines {
        groups.entry((line.settlement, line.order_id, line.sku.as_deref(), transaction(line))).or_default().push(line);
    }
    // Fee types each channel gives back on refunds, and what each settlement gave back for a
    // line: `Refund/ItemFees/Commission` credited gives back `…/ItemFees/Commission`.
    let credits = || lines.iter().filter(|l| transaction(l) == "Refund" && l.kind == "marketplace_fee" && l.amount_minor > 0);
    let given_back: BTreeSet<(&str, &str)> = credits().map(|l| (l.channel.as_str(), fee_name(l))).collect();
    let credited: BTreeSet<(Uuid, Uuid, Option<&str>, &str)> = credits().map(|l| (l.settlement, l.order_id, l.sku.as_deref(), fee_name(l))).collect();
    let mut fees = Vec::new();
    for ((settlement, order, sku, transaction), group) in &groups {
        let prices: Vec<&SettledLine> = group.iter().copied().filter(|l| l.kind == "sale" || l.kind == "refund").collect();
        let principal_lines: Vec<&SettledLine> = prices.iter().copied().filter(|l| l.description.contains("Principal")).collect();
        let counted = if principal_lines.is_empty() { prices } else { principal_lines };
        let principal = counted.iter().map(|l| l.amount_minor.abs()).sum();
        let units = group.iter().filter_map(|l| l.quantity).max();
        // Units of the group's order line refunded before the settlement could say so.
        let refunded: i64 = group
            .iter()
            .find_map(|l| l.line.map(|n| (n, l.refunds_due_by())))
            .map_or(0, |(n, due_by)| refunds.iter().filter(|r| r.order == *order && r.line == n && r.at < due_by).map(|r| r.quantity).sum());
        let refunded_in_full = *transaction == "Order" && units.is_some_and(|u| u > 0 && refunded >= u);
        for line in group.iter().filter(|l| (l.kind == "marketplace_fee" || l.kind == "payment_fee") && l.amount_minor < 0) {
            let name = fee_name(line);
            let kept_on_refund = refunded_in_full
                && given_back.contains(&(line.channel.as_str(), name))
                && !credited.contains(&(*settlement, *order, *sku, name));
            fees.push(Fee {
                settlement: line.settlement,
                channel: line.channel.clone(),
                deposit: line.deposit_date,
                imported: line.imported,
                order: line.order_id,
                order_status: line.order_status,
                sku: line.sku.clone(),
                fee_type: line.description.clone(),
                charged: -line.amount_minor,
                principal,
                units,
                kept_on_refund,
            });
        }
    }
    fees
}

/// The transaction a settlement line belongs to: the part of its description before the
/// first `/` (`Order`, `Refund`).
fn transaction(line: &SettledLine) -> &str {
    line.description.split('/').next().unwrap_or_default()
}

/// A fee's name without its transaction: `ItemFees/Commission` for both the charge and its
/// credit.
fn fee_name(line: &SettledLine) -> &str {
    line.description.split_once('/').map_or(line.description.as_str(), |(_, name)| name)
}

/// Why a fee is an anomaly.
#[derive(Debug, Clone, PartialEq)]
pub enum FeeVerdict {
    /// Charged on an order that was cancelled: never due.
    OnCancelledOrder,
    /// Kept on a line refunded in full, where the channel gives this fee back on refunds.
    KeptOnRefund,
    /// Far above its history: how far, the history in the same measure, and whether the
    /// measure is a rate of the line (else an amount per unit).
    FarAbove { outlier: Outlier, history: Vec<i64>, as_rate: bool },
}

impl FeeVerdict {
    /// How far above, the history and whether as a rate; none for a fee on a cancelled order.
    pub fn far_above(&self) -> Option<(&Outlier, &[i64], bool)> {
        match self {
            FeeVerdict::FarAbove { outlier, history, as_rate } => Some((outlier, history, *as_rate)),
            FeeVerdict::OnCancelledOrder | FeeVerdict::KeptOnRefund => None,
        }
    }
}

/// Judges one fee against `history` (the channel's earlier fees of its type, itself left out):
/// in the measure that is steadier across all of them (a fee's nature does not change with
/// the SKU), against that SKU's own fees where it has [`MIN_HISTORY`]; none when it is usual
/// or there is too little to judge it by.
pub fn judge_fee(fee: &Fee, history: &[&Fee]) -> Option<FeeVerdict> {
    if fee.order_status == OrderStatus::Cancelled {
        return Some(FeeVerdict::OnCancelledOrder);
    }
    if fee.kept_on_refund {
        return Some(FeeVerdict::KeptOnRefund);
    }
    let all_rates: Vec<i64> = history.iter().filter_map(|h| h.rate_bp()).collect();
    let all_per_unit: Vec<i64> = history.iter().filter_map(|h| h.per_unit()).collect();
    let as_rate = match (fee.rate_bp(), fee.per_unit()) {
        (Some(_), Some(_)) => first_is_steadier(&all_rates, &all_per_unit),
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => return None,
    };
    let same_sku: Vec<&Fee> = history.iter().copied().filter(|h| h.sku.is_some() && h.sku == fee.sku).collect();
    let history: Vec<&Fee> = if same_sku.len() >= MIN_HISTORY { same_sku } else { history.to_vec() };
    let measure = |f: &Fee| if as_rate { f.rate_bp() } else { f.per_unit() };
    let values: Vec<i64> = history.iter().filter_map(|h| measure(h)).collect();
    let (centre, _) = median_spread(&values)?;
    let outlier = robust_high(&values, measure(fee)?, centre / 4, MIN_HISTORY)?;
    Some(FeeVerdict::FarAbove { outlier, history: values, as_rate })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(order: u128, kind: &str, description: &str, amount: i64, quantity: i64) -> SettledLine {
        SettledLine {
            settlement: Uuid::from_u128(1),
            channel: "amazon".into(),
            deposit_date: NaiveDate::from_ymd_opt(2026, 11, 12).unwrap_or_default(),
            imported: NaiveDate::from_ymd_opt(2026, 11, 12).unwrap_or_default(),
            period_end: NaiveDate::from_ymd_opt(2026, 11, 10),
            seq: 0,
            kind: kind.into(),
            description: description.into(),
            amount_minor: amount,
            order_id: Uuid::from_u128(order),
            order_status: OrderStatus::Shipped,
            sku: Some(format!("SKU-{}", order % 3)),
            line: Some(1),
            quantity: Some(quantity),
        }
    }

    /// Orders of 1 to 3 units at 10.00 to 30.00 a unit, each charged a 15 % commission and
    /// 0.50 a unit to fulfil.
    fn usual(orders: u128) -> Vec<SettledLine> {
        (1..=orders)
            .flat_map(|n| {
                let units = (n % 3 + 1) as i64;
                let principal = units * (1_000 + (n % 3) as i64 * 1_000);
                [
                    line(n, "sale", "Order/ItemPrice/Principal", principal, units),
                    line(n, "sale", "Order/ItemPrice/Tax", principal / 5, units),
                    line(n, "marketplace_fee", "Order/ItemFees/Commission", -principal * 15 / 100, units),
                    line(n, "marketplace_fee", "Order/ItemFees/FBAPerUnitFulfillmentFee", -50 * units, units),
                ]
            })
            .collect()
    }

    fn judge_all(fees: &[Fee]) -> Vec<(u128, String, Option<FeeVerdict>)> {
        fees.iter()
            .map(|fee| {
                let history: Vec<&Fee> = fees.iter().filter(|h| h.fee_type == fee.fee_type && !std::ptr::eq(*h, fee)).collect();
                (fee.order.as_u128(), fee.fee_type.clone(), judge_fee(fee, &history))
            })
            .collect()
    }

    #[test]
    fn each_fee_stands_beside_the_price_of_its_own_transaction() {
        let mut lines = usual(1);
        lines.push(line(1, "refund", "Refund/ItemPrice/Principal", -1_000, 2));
        lines.push(line(1, "marketplace_fee", "Refund/ItemFees/RefundCommission", -30, 2));
        let fees = fees_of(&lines, &[]);
        let refund = fees.iter().find(|f| f.fee_type.starts_with("Refund/")).unwrap();
        assert_eq!((refund.principal, refund.rate_bp()), (1_000, Some(300)), "against the amount given back, not the sale");
        let commission = fees.iter().find(|f| f.fee_type.ends_with("Commission") && f.fee_type.starts_with("Order/")).unwrap();
        assert_eq!((commission.principal, commission.charged, commission.per_unit()), (4_000, 600, Some(300)), "the tax is not the price");
    }

    #[test]
    fn a_commission_far_above_its_rate_is_found_and_nothing_else() {
        let mut lines = usual(30);
        if let Some(greedy) = lines.iter_mut().find(|l| l.order_id == Uuid::from_u128(7) && l.description.ends_with("Commission")) {
            greedy.amount_minor *= 3;
        }
        let found: Vec<_> = judge_all(&fees_of(&lines, &[])).into_iter().filter(|(.., v)| v.is_some()).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        let (order, fee_type, verdict) = &found[0];
        assert_eq!((*order, fee_type.as_str()), (7, "Order/ItemFees/Commission"));
        let Some(FeeVerdict::FarAbove { outlier, as_rate, .. }) = verdict else { panic!("{verdict:?}") };
        assert!(*as_rate, "a commission is judged as a rate");
        assert_eq!((outlier.value, outlier.median), (4_500, 1_500));
    }

    #[test]
    fn a_fulfilment_fee_is_judged_per_unit_so_a_cheap_line_does_not_alarm() {
        // A line at a tenth of the usual price: the same 0.50 a unit is a far higher rate.
        let mut lines = usual(30);
        lines.push(line(99, "sale", "Order/ItemPrice/Principal", 100, 1));
        lines.push(line(99, "marketplace_fee", "Order/ItemFees/FBAPerUnitFulfillmentFee", -50, 1));
        let found: Vec<_> = judge_all(&fees_of(&lines, &[])).into_iter().filter(|(.., v)| v.is_some()).collect();
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn any_fee_on_a_cancelled_order_is_found_and_too_little_history_judges_nothing() {
        let mut lines = usual(3);
        for l in lines.iter_mut().filter(|l| l.order_id == Uuid::from_u128(2)) {
            l.order_status = OrderStatus::Cancelled;
        }
        let judged = judge_all(&fees_of(&lines, &[]));
        let found: Vec<(u128, Option<FeeVerdict>)> = judged.into_iter().filter(|(.., v)| v.is_some()).map(|(o, _, v)| (o, v)).collect();
        assert_eq!(found, [(2, Some(FeeVerdict::OnCancelledOrder)), (2, Some(FeeVerdict::OnCancelledOrder))], "three orders are too few to judge the rest");
    }

    #[test]
    fn a_commission_kept_on_a_line_refunded_in_full_is_found_where_the_channel_gives_it_back() {
        let mut lines = usual(30);
        // Order 4 was refunded in part and the channel gave its commission back: that shows
        // the channel gives commissions back on refunds. It never gives fulfilment fees back.
        lines.push(line(4, "refund", "Refund/ItemPrice/Principal", -1_000, 2));
        lines.push(line(4, "marketplace_fee", "Refund/ItemFees/Commission", 150, 2));
        // Orders 5 and 6 were refunded in full before the period ended (order 7 only after
        // it); 6's settlement gave the commission back, 5's kept it.
        let units = |order: u128| lines.iter().find(|l| l.order_id.as_u128() == order).and_then(|l| l.quantity).unwrap_or(0);
        let refund = |order: u128, quantity: i64, day: u32| LineRefund {
            order: Uuid::from_u128(order),
            line: 1,
            at: NaiveDate::from_ymd_opt(2026, 11, day).unwrap_or_default().and_time(chrono::NaiveTime::MIN).and_utc(),
            quantity,
        };
        let (five, six, seven) = (units(5), units(6), units(7));
        let refunds = [refund(5, five, 9), refund(6, six, 10), refund(7, seven, 11)];
        lines.push(line(6, "refund", "Refund/ItemPrice/Principal", -3_000, 1));
        lines.push(line(6, "marketplace_fee", "Refund/ItemFees/Commission", 450, 1));
        let found: Vec<(u128, String, Option<FeeVerdict>)> = judge_all(&fees_of(&lines, &refunds)).into_iter().filter(|(.., v)| v.is_some()).collect();
        assert_eq!(found, [(5, "Order/ItemFees/Commission".to_owned(), Some(FeeVerdict::KeptOnRefund))]);

        // A line refunded in part is not refunded in full; nor is any line where the channel
        // never gave the fee back.
        let mut partly = usual(30);
        partly.extend([line(4, "marketplace_fee", "Refund/ItemFees/Commission", 150, 2)]);
        assert!(judge_all(&fees_of(&partly, &[refund(5, five - 1, 9)])).iter().all(|(.., v)| v.is_none()));
        let never = usual(30);
        assert!(judge_all(&fees_of(&never, &[refund(5, five, 9)])).iter().all(|(.., v)| v.is_none()), "no refund ever gave a fee back");
    }
}

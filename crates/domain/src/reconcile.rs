//! Settlement reconciliation's decisions: which of our orders and lines each line of a
//! marketplace's report settles, and what does not agree (lines naming orders we do not have,
//! orders paid more or less than their total, fees outside the channel's expected range,
//! lines of a kind Ordo does not know). Pure: the caller reads the orders the report names.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use crate::ledger::percent;
use crate::settlement::{LineKind, Settlement, SettlementLine};
use crate::Money;

/// What reconciliation accepts without a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementPolicy {
    /// How far what a settlement pays for an order may differ from the order's total, in
    /// minor units, before it is an exception.
    pub amount_tolerance_minor: i64,
    /// The fee rate a channel is expected to charge, as (lowest, highest) in basis points of
    /// what the order sold for; a channel without its own range gets `default_fee_rate_bp`.
    pub default_fee_rate_bp: (i64, i64),
    pub fee_rate_bp: BTreeMap<String, (i64, i64)>,
}

impl Default for SettlementPolicy {
    fn default() -> Self {
        Self { amount_tolerance_minor: 5, default_fee_rate_bp: (0, 2_500), fee_rate_bp: BTreeMap::new() }
    }
}

/// One of our orders a settlement names, as reconciliation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledOrder {
    pub id: Uuid,
    pub total_minor: i64,
    /// The customer's segment; consumer when Ordo does not know the customer.
    pub segment: String,
    pub lines: Vec<SettledLine>,
}

/// A line of an order a settlement names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledLine {
    pub line: i64,
    pub sku: String,
    /// The channel's SKU, when a listing mapped it.
    pub channel_sku: Option<String>,
    /// The channel's own id of the line (Amazon's order-item-code).
    pub item_id: Option<String>,
}

/// Which of our orders, and which of its lines if any, a settlement line settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineMatch {
    pub order: Uuid,
    pub line: Option<i64>,
}

/// The order and line a settlement line settles: the order by the channel's id, the line by
/// the channel's id of the line or else by the SKU it names (ours or its listing's). Lines
/// without an order are the account's own (fees, reserves) and match nothing.
pub fn match_line(line: &SettlementLine, orders: &HashMap<String, SettledOrder>) -> Option<LineMatch> {
    let order = orders.get(line.order_ref.as_deref()?)?;
    let by_item = line.item_ref.as_deref().and_then(|item| order.lines.iter().find(|l| l.item_id.as_deref() == Some(item)));
    let by_sku = || line.sku.as_deref().and_then(|sku| order.lines.iter().find(|l| l.sku == sku || l.channel_sku.as_deref() == Some(sku)));
    Some(LineMatch { order: order.id, line: by_item.or_else(by_sku).map(|l| l.line) })
}

/// A disagreement for finance: the exception's subject and its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub subject: String,
    pub details: serde_json::Value,
}

/// What does not agree in `report` of `channel` (stored as settlement `id`), its lines matched
/// as `matches` (one per line) against `orders`, under `policy`.
pub fn reconcile(
    channel: &str,
    report: &Settlement,
    orders: &HashMap<String, SettledOrder>,
    matches: &[Option<LineMatch>],
    policy: &SettlementPolicy,
    id: Uuid,
) -> Vec<Finding> {
    let subject = |what: &str| format!("settlement:{channel}:{}:{what}", report.id);
    let money = |minor: i64| Money::from_minor(minor, report.currency).to_decimal_string();
    let mut findings = Vec::new();

    // Per order referred to: its rows, what it was paid for sales and what it was charged.
    #[derive(Default)]
    struct PerOrder {
        rows: Vec<usize>,
        sales: i64,
        fees: i64,
        matched: bool,
    }
    let mut per_order: BTreeMap<&str, PerOrder> = BTreeMap::new();
    for (line, matched) in report.lines.iter().zip(matches) {
        if line.kind == LineKind::Unclassified {
            findings.push(Finding {
                subject: subject(&format!("row:{}", line.row)),
                details: serde_json::json!({"settlement": id, "reason": "a line of a kind Ordo does not know, booked as a marketplace fee",
                    "row": line.row, "description": line.description, "amount": money(line.amount.minor())}),
            });
        }
        let Some(order_ref) = line.order_ref.as_deref() else { continue };
        let entry = per_order.entry(order_ref).or_default();
        entry.rows.push(line.row);
        entry.matched = matched.is_some();
        match line.kind {
            LineKind::Sale => entry.sales += line.amount.minor(),
            kind if kind.is_fee() => entry.fees -= line.amount.minor(),
            _ => {}
        }
    }
    let (low, high) = policy.fee_rate_bp.get(channel).copied().unwrap_or(policy.default_fee_rate_bp);
    for (order_ref, seen) in per_order {
        let Some(order) = orders.get(order_ref).filter(|_| seen.matched) else {
            findings.push(Finding {
                subject: subject(&format!("order:{order_ref}")),
                details: serde_json::json!({"settlement": id, "reason": "no order of this channel has this id",
                    "order_ref": order_ref, "rows": seen.rows}),
            });
            continue;
        };
        if seen.sales != 0 && (seen.sales - order.total_minor).abs() > policy.amount_tolerance_minor {
            findings.push(Finding {
                subject: subject(&format!("amount:{order_ref}")),
                details: serde_json::json!({"settlement": id, "reason": "paid a different amount than the order's total",
                    "order": order.id, "order_ref": order_ref, "expected": money(order.total_minor), "settled": money(seen.sales),
                    "difference": money(seen.sales - order.total_minor), "rows": seen.rows}),
            });
        }
        if seen.sales > 0 {
            let rate_bp = i128::from(seen.fees) * 10_000 / i128::from(seen.sales);
            if rate_bp < i128::from(low) || rate_bp > i128::from(high) {
                findings.push(Finding {
                    subject: subject(&format!("fee:{order_ref}")),
                    details: serde_json::json!({"settlement": id, "reason": "fees outside the channel's expected range",
                        "order": order.id, "order_ref": order_ref, "fees": money(seen.fees), "sales": money(seen.sales),
                        "rate_percent": percent(rate_bp as i64), "expected_percent": [percent(low), percent(high)],
                        "rows": seen.rows}),
                });
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use proptest::prelude::*;

    use super::*;
    use crate::settlement::Format;
    use crate::Currency;

    fn line(row: usize, kind: LineKind, order_ref: Option<&str>, item_ref: Option<&str>, sku: Option<&str>, minor: i64) -> SettlementLine {
        SettlementLine {
            row,
            kind,
            order_ref: order_ref.map(str::to_owned),
            item_ref: item_ref.map(str::to_owned),
            sku: sku.map(str::to_owned),
            quantity: Some(1),
            description: "Order/ItemPrice/Principal".into(),
            amount: Money::from_minor(minor, Currency::USD),
        }
    }

    fn orders(id: Uuid) -> HashMap<String, SettledOrder> {
        let lines = vec![
            SettledLine { line: 1, sku: "MUG-1".into(), channel_sku: Some("W-MUG".into()), item_id: Some("555".into()) },
            SettledLine { line: 2, sku: "MUG-1".into(), channel_sku: None, item_id: Some("556".into()) },
        ];
        HashMap::from([("302-1".to_owned(), SettledOrder { id, total_minor: 1980, segment: "consumer".into(), lines })])
    }

    fn report(lines: Vec<SettlementLine>) -> Settlement {
        let total = Money::from_minor(lines.iter().map(|l| l.amount.minor()).sum(), Currency::USD);
        let deposit_date = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        Settlement { format: Format::AmazonV2, id: "S-1".into(), currency: Currency::USD, period: None, deposit_date, total, lines }
    }

    fn reasons(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.details["reason"].as_str().unwrap()).collect()
    }

    #[test]
    fn a_line_is_matched_by_the_channels_item_id_before_its_sku() {
        let id = Uuid::now_v7();
        let orders = orders(id);
        let sale = |item: Option<&str>, sku: Option<&str>| line(3, LineKind::Sale, Some("302-1"), item, sku, 990);
        assert_eq!(match_line(&sale(Some("556"), Some("MUG-1")), &orders), Some(LineMatch { order: id, line: Some(2) }), "the item id decides");
        assert_eq!(match_line(&sale(None, Some("W-MUG")), &orders), Some(LineMatch { order: id, line: Some(1) }), "else the listing's SKU");
        assert_eq!(match_line(&sale(Some("999"), Some("LAMP")), &orders), Some(LineMatch { order: id, line: None }), "the order, but no line");
        assert_eq!(match_line(&line(3, LineKind::Sale, Some("999-9"), None, None, 990), &orders), None);
    }

    #[test]
    fn what_does_not_agree_is_found_with_its_evidence() {
        let id = Uuid::now_v7();
        let orders = orders(id);
        let report = report(vec![
            line(2, LineKind::Sale, Some("302-1"), Some("555"), None, 2000),
            line(3, LineKind::MarketplaceFee, Some("302-1"), None, None, -600),
            line(4, LineKind::Sale, Some("999-9"), None, None, 500),
            line(5, LineKind::Unclassified, None, None, None, -10),
        ]);
        let matches: Vec<Option<LineMatch>> = report.lines.iter().map(|l| match_line(l, &orders)).collect();
        let found = reconcile("amz", &report, &orders, &matches, &SettlementPolicy::default(), Uuid::nil());
        assert_eq!(
            reasons(&found),
            [
                "a line of a kind Ordo does not know, booked as a marketplace fee",
                "paid a different amount than the order's total",
                "fees outside the channel's expected range",
                "no order of this channel has this id",
            ]
        );
        assert_eq!(found[1].subject, "settlement:amz:S-1:amount:302-1");
        assert_eq!((found[1].details["expected"].as_str(), found[1].details["difference"].as_str()), (Some("19.80"), Some("0.20")));
        assert_eq!(found[2].details["rate_percent"], "30.00");
    }

    proptest! {
        /// An order paid its total within the tolerance, with fees inside the range, raises
        /// nothing; one paid more than the tolerance off always does.
        #[test]
        fn only_what_is_off_is_found(off in -50i64..50, fee_bp in 0i64..2_500) {
            let id = Uuid::now_v7();
            let orders = orders(id);
            let paid = 1980 + off;
            let fee = paid * fee_bp / 10_000;
            let report = report(vec![
                line(2, LineKind::Sale, Some("302-1"), Some("555"), None, paid),
                line(3, LineKind::MarketplaceFee, Some("302-1"), None, None, -fee),
            ]);
            let matches: Vec<Option<LineMatch>> = report.lines.iter().map(|l| match_line(l, &orders)).collect();
            let policy = SettlementPolicy::default();
            let found = reconcile("amz", &report, &orders, &matches, &policy, Uuid::nil());
            let amount_off = found.iter().any(|f| f.subject.contains(":amount:"));
            prop_assert_eq!(amount_off, off.abs() > policy.amount_tolerance_minor);
            prop_assert!(!found.iter().any(|f| f.subject.contains(":fee:")), "{:?}", found);
        }
    }
}

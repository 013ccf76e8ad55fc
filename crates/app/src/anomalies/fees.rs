//! Settlement fee anomalies: a fee charged on an order line far above what the channel charged
//! for that fee before (for that SKU when it has history enough, else for any), and a fee
//! charged on an order that was cancelled. Each fee is judged in the way it is steady: a
//! commission as a rate of the line's price, a fulfilment fee as an amount per unit (see
//! [`first_is_steadier`]); the yardstick is the median and spread of the fee's history
//! ([`robust_high`]). One exception per settlement names every line found in it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ordo_domain::anomaly::{first_is_steadier, robust_high, Outlier};
use ordo_domain::exception::ExceptionKind;
use ordo_domain::money::total_decimal;
use ordo_domain::Currency;
use ordo_storage::{SettledLine, Tx};
use uuid::Uuid;

use super::{percent, Finding, Raising, Window};
use crate::AppResult;

/// Days of earlier settlements a fee is judged against.
const HISTORY_DAYS: i64 = 180;
/// The fewest earlier fees of the type that can judge one.
const MIN_HISTORY: usize = 10;

const TEST: &str = "each fee against the channel's earlier fees of that type (that SKU's where it has 10 or more), as a rate of the line or per unit, whichever is steadier: more than 4 spreads and a quarter above the median; and any fee on a cancelled order";

/// One fee charged on an order line of a settlement.
#[derive(Debug, Clone)]
struct Fee {
    settlement: Uuid,
    channel: String,
    deposit: NaiveDate,
    order: Uuid,
    order_status: String,
    sku: Option<String>,
    fee_type: String,
    charged: i64,
    /// The line's price and units, when the settlement says.
    principal: i64,
    units: Option<i64>,
}

impl Fee {
    fn rate_bp(&self) -> Option<i64> {
        (self.principal > 0).then(|| self.charged * 10_000 / self.principal)
    }

    fn per_unit(&self) -> Option<i64> {
        self.units.filter(|u| *u > 0).map(|u| self.charged / u)
    }
}

/// The fees of the settlement lines: charges (negative amounts) of a fee kind, each beside
/// the price it was charged on: the order line's price for a sale's fee, the amount given
/// back for a refund's (lines of one transaction share the first part of their description,
/// `Order/…` or `Refund/…`).
fn fees_of(lines: &[SettledLine]) -> Vec<Fee> {
    let mut groups: BTreeMap<(Uuid, Uuid, Option<&str>, &str), Vec<&SettledLine>> = BTreeMap::new();
    for line in lines {
        let transaction = line.description.split('/').next().unwrap_or_default();
        groups.entry((line.settlement, line.order_id, line.sku.as_deref(), transaction)).or_default().push(line);
    }
    let mut fees = Vec::new();
    for group in groups.values() {
        let prices: Vec<&&SettledLine> = group.iter().filter(|l| l.kind == "sale" || l.kind == "refund").collect();
        let principal_lines: Vec<&&&SettledLine> = prices.iter().filter(|l| l.description.contains("Principal")).collect();
        let counted = if principal_lines.is_empty() { prices } else { principal_lines.into_iter().copied().collect() };
        let principal = counted.iter().map(|l| l.amount_minor.abs()).sum();
        let units = group.iter().filter_map(|l| l.quantity).max();
        for line in group.iter().filter(|l| (l.kind == "marketplace_fee" || l.kind == "payment_fee") && l.amount_minor < 0) {
            fees.push(Fee {
                settlement: line.settlement,
                channel: line.channel.clone(),
                deposit: line.deposit_date,
                order: line.order_id,
                order_status: line.order_status.clone(),
                sku: line.sku.clone(),
                fee_type: line.description.clone(),
                charged: -line.amount_minor,
                principal,
                units,
            });
        }
    }
    fees
}

/// A fee found, and why.
struct Found<'a> {
    fee: &'a Fee,
    why: String,
    /// How far out, and the history it was judged on in the same measure: none for a fee
    /// on a cancelled order.
    outlier: Option<(Outlier, Vec<i64>)>,
    /// Judged as a rate of the line (else per unit).
    rate: bool,
}

/// A fee as read: a rate, or an amount per unit.
fn show(value: i64, currency: Currency, rate: bool) -> String {
    if rate {
        percent(value)
    } else {
        format!("{} a unit", total_decimal(i128::from(value), currency))
    }
}

/// Judges one fee against `history` (the channel's earlier fees of its type, itself left out):
/// in the measure that is steadier across all of them (a fee's nature does not change with
/// the SKU), against that SKU's own fees where it has enough.
fn judge_fee<'a>(fee: &'a Fee, history: &[&Fee], currency: Currency) -> Option<Found<'a>> {
    if fee.order_status == "cancelled" {
        let why = format!("{} charged on a cancelled order", total_decimal(i128::from(fee.charged), currency));
        return Some(Found { fee, why, outlier: None, rate: false });
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
    let (value, rate) = (measure(fee)?, as_rate);
    let (centre, _) = ordo_domain::anomaly::median_spread(&values)?;
    let outlier = robust_high(&values, value, centre / 4, MIN_HISTORY)?;
    let why = format!(
        "{} where the usual is {} (median of {}; above {} is an anomaly)",
        show(value, currency, rate),
        show(outlier.median, currency, rate),
        outlier.history,
        show(outlier.threshold, currency, rate)
    );
    Some(Found { fee, why, outlier: Some((outlier, values)), rate })
}

pub(super) async fn judge(tx: &mut Tx, raising: &Raising, window: Window, currency: Currency) -> AppResult<(usize, Vec<Finding>)> {
    let kind = ExceptionKind::FeeAnomaly;
    let since: DateTime<Utc> = super::day_start(window.first - Duration::days(HISTORY_DAYS));
    let fees = fees_of(&tx.settled_order_lines(since).await?);
    let mut of_type: BTreeMap<(&str, &str), Vec<&Fee>> = BTreeMap::new();
    for fee in &fees {
        of_type.entry((fee.channel.as_str(), fee.fee_type.as_str())).or_default().push(fee);
    }
    let mut judged = 0;
    let mut by_settlement: BTreeMap<Uuid, Vec<Found>> = BTreeMap::new();
    for fee in fees.iter().filter(|f| window.judges(f.deposit)) {
        judged += 1;
        let history: Vec<&Fee> = of_type[&(fee.channel.as_str(), fee.fee_type.as_str())]
            .iter()
            .copied()
            .filter(|h| h.deposit <= fee.deposit && !std::ptr::eq(*h, fee))
            .collect();
        if let Some(found) = judge_fee(fee, &history, currency) {
            by_settlement.entry(fee.settlement).or_default().push(found);
        }
    }
    let mut findings = Vec::new();
    for (settlement, found) in by_settlement {
        let first = found[0].fee;
        let cancelled = found.iter().filter(|f| f.outlier.is_none()).count();
        let furthest = found.iter().filter_map(|f| f.outlier.as_ref()).map(|(o, _)| (o.value - o.median) * 100 / o.median.max(1)).max();
        // The chart: the fee type's last 40 fees before the first one found, and it, marked.
        let chart: Vec<serde_json::Value> = found
            .iter()
            .find_map(|f| f.outlier.as_ref().map(|(o, history)| (f, o, history)))
            .map(|(f, o, history)| {
                let earlier = history.iter().skip(history.len().saturating_sub(40));
                let mut points: Vec<serde_json::Value> = earlier.map(|v| serde_json::json!({"value": v, "shown": show(*v, currency, f.rate)})).collect();
                points.push(serde_json::json!({"value": o.value, "shown": f.why, "marked": true}));
                points
            })
            .unwrap_or_default();
        let finding = Finding {
            kind: kind.as_str(),
            subject: format!("settlement:{settlement}"),
            day: first.deposit,
            test: TEST,
            observed: format!(
                "{} fee lines far above the usual and {cancelled} on cancelled orders in {}'s settlement deposited {}; first: {} on {}",
                found.len() - cancelled,
                first.channel,
                first.deposit,
                first.fee_type,
                found[0].why
            ),
            baseline: format!("the {} earlier fees of each type {} charged in the {HISTORY_DAYS} days before", of_type.iter().filter(|((c, _), _)| *c == first.channel).map(|(_, f)| f.len()).sum::<usize>(), first.channel),
            strength: furthest.map_or_else(|| "a fee on a cancelled order is never due".to_owned(), |pct| format!("up to {pct} % above the median")),
            raised: false,
        };
        let details = serde_json::json!({
            "channel": first.channel,
            "settlement": settlement,
            "measure": "the fee found (orange) beside the fees of its type before it",
            "series": chart,
            "lines": found.iter().take(10).map(|f| serde_json::json!({
                "order": f.fee.order, "sku": f.fee.sku, "fee": f.fee.fee_type, "charged": total_decimal(i128::from(f.fee.charged), currency), "found": f.why,
            })).collect::<Vec<_>>(),
        });
        findings.push(raising.raise(tx, kind, finding, details).await?);
    }
    Ok((judged, findings))
}

//! Settlement fee anomalies ([`ordo_domain::anomaly::fees`] decides): one exception per
//! settlement names every fee line found in it, with the fee type's history drawn and the
//! first one found marked.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use ordo_domain::anomaly::fees::{fees_of, judge_fee, Fee, FeeVerdict};
use ordo_domain::exception::ExceptionKind;
use ordo_domain::money::total_decimal;
use ordo_domain::Currency;
use ordo_domain::ledger::percentage;
use ordo_storage::Tx;
use uuid::Uuid;

use super::{Finding, Raising, Window};
use crate::AppResult;

/// Days of earlier settlements a fee is judged against.
const HISTORY_DAYS: i64 = 180;

const TEST: &str = "each fee against the channel's earlier fees of that type (that SKU's where it has 10 or more), as a rate of the line or per unit, whichever is steadier: more than 4 spreads and a quarter above the median; any fee on a cancelled order; and a fee the channel gives back on refunds kept on a line refunded in full before the settlement's period ended";

/// A fee found, why in words, and its verdict.
struct Found<'a> {
    fee: &'a Fee,
    why: String,
    verdict: FeeVerdict,
}

/// A fee as read: a rate, or an amount per unit.
fn show(value: i64, currency: Currency, rate: bool) -> String {
    if rate {
        percentage(value)
    } else {
        format!("{} a unit", total_decimal(i128::from(value), currency))
    }
}

fn why(fee: &Fee, verdict: &FeeVerdict, currency: Currency) -> String {
    match verdict {
        FeeVerdict::OnCancelledOrder => format!("{} charged on a cancelled order", total_decimal(i128::from(fee.charged), currency)),
        FeeVerdict::KeptOnRefund => format!(
            "{} kept on a line refunded in full before the settlement's period ended, where {} gives this fee back on refunds",
            total_decimal(i128::from(fee.charged), currency),
            fee.channel
        ),
        FeeVerdict::FarAbove { outlier, as_rate, .. } => format!(
            "{} where the usual is {} (median of {}; above {} is an anomaly)",
            show(outlier.value, currency, *as_rate),
            show(outlier.median, currency, *as_rate),
            outlier.history,
            show(outlier.threshold, currency, *as_rate)
        ),
    }
}

pub(super) async fn judge(tx: &mut Tx, raising: &Raising, window: Window, currency: Currency) -> AppResult<(usize, Vec<Finding>)> {
    let kind = ExceptionKind::FeeAnomaly;
    let since: DateTime<Utc> = super::day_start(window.first - Duration::days(HISTORY_DAYS));
    let fees = fees_of(&tx.settled_order_lines(since).await?, &tx.settled_line_refunds(since).await?);
    let mut of_type: BTreeMap<(&str, &str), Vec<&Fee>> = BTreeMap::new();
    for fee in &fees {
        of_type.entry((fee.channel.as_str(), fee.fee_type.as_str())).or_default().push(fee);
    }
    let mut judged = 0;
    let mut by_settlement: BTreeMap<Uuid, Vec<Found>> = BTreeMap::new();
    // A settlement is judged for the days of its deposit and of its import, so one imported
    // late is judged when it arrives (never twice: a finding is raised once per day).
    for fee in fees.iter().filter(|f| window.judges(f.deposit) || window.judges(f.imported)) {
        judged += 1;
        let of_its_type = of_type.get(&(fee.channel.as_str(), fee.fee_type.as_str())).map_or(&[][..], Vec::as_slice);
        let history: Vec<&Fee> = of_its_type.iter().copied().filter(|h| h.deposit <= fee.deposit && !std::ptr::eq(*h, fee)).collect();
        if let Some(verdict) = judge_fee(fee, &history) {
            let why = why(fee, &verdict, currency);
            by_settlement.entry(fee.settlement).or_default().push(Found { fee, why, verdict });
        }
    }
    let mut findings = Vec::new();
    for (settlement, found) in by_settlement {
        let first = found[0].fee;
        let cancelled = found.iter().filter(|f| f.verdict == FeeVerdict::OnCancelledOrder).count();
        let kept = found.iter().filter(|f| f.verdict == FeeVerdict::KeptOnRefund).count();
        let furthest = found.iter().filter_map(|f| f.verdict.far_above()).map(|(o, ..)| (o.value - o.median) * 100 / o.median.max(1)).max();
        // The chart: the fee type's last 40 fees before the first one found, and it, marked.
        let chart: Vec<serde_json::Value> = found
            .iter()
            .find_map(|f| f.verdict.far_above().map(|(o, history, as_rate)| (f, o, history, as_rate)))
            .map(|(f, o, history, as_rate)| {
                let earlier = history.iter().skip(history.len().saturating_sub(40));
                let mut points: Vec<serde_json::Value> = earlier.map(|v| serde_json::json!({"value": v, "shown": show(*v, currency, as_rate)})).collect();
                points.push(serde_json::json!({"value": o.value, "shown": f.why, "marked": true}));
                points
            })
            .unwrap_or_else(|| {
                // None far above: the first fee found, as a rate of its line, beside the
                // rates of its type before it.
                let f = &found[0];
                let of_its_type = of_type.get(&(f.fee.channel.as_str(), f.fee.fee_type.as_str())).map_or(&[][..], Vec::as_slice);
                let rates: Vec<i64> = of_its_type.iter().filter(|h| h.deposit <= f.fee.deposit && !std::ptr::eq(**h, f.fee)).filter_map(|h| h.rate_bp()).collect();
                let mut points: Vec<serde_json::Value> =
                    rates.iter().skip(rates.len().saturating_sub(40)).map(|v| serde_json::json!({"value": v, "shown": show(*v, currency, true)})).collect();
                points.push(serde_json::json!({"value": f.fee.rate_bp().unwrap_or(0), "shown": f.why, "marked": true}));
                points
            });
        let finding = Finding {
            kind: kind.as_str(),
            subject: format!("settlement:{settlement}"),
            day: first.deposit,
            test: TEST,
            observed: format!(
                "{} fee lines far above the usual, {cancelled} on cancelled orders and {kept} kept on refunded lines in {}'s settlement deposited {}; first: {} on {}",
                found.len() - cancelled - kept,
                first.channel,
                first.deposit,
                first.fee_type,
                found[0].why
            ),
            baseline: format!(
                "{}'s fees of each type in the settlements imported since {HISTORY_DAYS} days before the days judged ({} in all), each fee against those deposited before it",
                first.channel,
                of_type.iter().filter(|((c, _), _)| *c == first.channel).map(|(_, f)| f.len()).sum::<usize>()
            ),
            strength: furthest.map_or_else(|| "a fee on a cancelled order, or kept on a refunded line, is never due".to_owned(), |pct| format!("up to {pct} % above the median")),
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
        findings.push(raising.raise(kind, finding, details));
    }
    Ok((judged, findings))
}

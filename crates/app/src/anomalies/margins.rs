//! Margin deterioration: a week whose contribution margin, by channel and by SKU, is far
//! below its own weekly history. The margin judged is before refunds (price less cost of
//! goods, fees and shipping): refunds come in lumps a few weeks of history cannot show as
//! usual, and what causes them is judged by the return spike test. What is judged is the
//! margin's distance from the whole business's margin that week: weeks (Monday to Sunday) take the weekday pattern out, a
//! margin is a share of revenue so a busy season does not move it, and what moves every
//! channel and SKU at once (a sale on the calendar, a settlement's fees landing in one week)
//! is the business's season, not one subject's problem. The yardstick is the median of the
//! eight weeks before and their median absolute deviation (see [`margin_drop`]), so one odd
//! week in the history does not move it either; and a drop must cost at least a tenth of a
//! per cent of the business's revenue that week to be worth a person's time.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use ordo_domain::anomaly::{margin_drop, Outlier};
use ordo_domain::exception::ExceptionKind;
use ordo_domain::ledger::{margins, percentage, Margin};
use ordo_domain::money::total_decimal;
use ordo_domain::Currency;
use ordo_storage::Tx;

use super::{day_start, point, Finding, Raising, Window};
use crate::AppResult;

/// Weeks of history a week is judged against.
const HISTORY_WEEKS: i64 = 8;

/// A channel's or SKU's margin week by week; none in a week without its entries.
type Weekly = Vec<(NaiveDate, Option<Margin>)>;

const TEST: &str = "weekly contribution margin before refunds, less the whole business's that week, against the median of the 8 weeks before: more than 4 spreads (scaled median absolute deviation) and 20 points below, costing at least 0.1 % of the week's revenue";

fn before_refunds(margin: &Margin) -> Margin {
    Margin { refunds: 0, ..margin.clone() }
}

/// Basis points as signed percentage points: "-12.50".
fn points_of(bp: i64) -> String {
    let sign = if bp > 0 { "+" } else { "" };
    format!("{sign}{}", ordo_domain::ledger::percent(bp))
}

fn monday(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

pub(super) async fn judge(tx: &mut Tx, raising: &Raising, window: Window, currency: Currency) -> AppResult<(usize, Vec<Finding>)> {
    // Weeks that ended within the days judged: their Sunday is a judged day.
    let judged_weeks: Vec<NaiveDate> = (0..)
        .map(|n| monday(window.today) - Duration::weeks(n + 1))
        .take_while(|w| *w + Duration::days(6) >= window.first)
        .collect();
    let Some(earliest) = judged_weeks.last().copied() else { return Ok((0, Vec::new())) };
    // Each channel's and SKU's margin week by week, none in a week it had no entries.
    let mut weeks: Vec<NaiveDate> = Vec::new();
    let mut week = earliest - Duration::weeks(HISTORY_WEEKS);
    while week < monday(window.today) {
        weeks.push(week);
        week += Duration::weeks(1);
    }
    let mut series_of: BTreeMap<(&str, String), Weekly> = BTreeMap::new();
    let mut business: Vec<Margin> = Vec::new();
    for (i, week) in weeks.iter().enumerate() {
        let (from, to) = (day_start(*week), day_start(*week + Duration::weeks(1)));
        let channels = margins(&tx.channel_account_totals(from, to).await?);
        business.push(channels.iter().fold(Margin { key: "business".into(), ..Margin::default() }, |sum, m| Margin {
            revenue: sum.revenue + m.revenue,
            refunds: sum.refunds + m.refunds,
            cost_of_goods: sum.cost_of_goods + m.cost_of_goods,
            fees: sum.fees + m.fees,
            shipping_cost: sum.shipping_cost + m.shipping_cost,
            ..sum
        }));
        let by_channel = channels.into_iter().map(|m| ("channel", m));
        let by_sku = margins(&tx.sku_account_totals(from, to).await?).into_iter().map(|m| ("sku", m));
        for (prefix, margin) in by_channel.chain(by_sku) {
            let series = series_of.entry((prefix, margin.key.clone())).or_insert_with(|| weeks.iter().map(|w| (*w, None)).collect());
            series[i].1 = Some(margin);
        }
    }
    // A week's margin before refunds as points from the business's that week.
    let relative = |i: usize, m: &Margin| Some(before_refunds(m).margin_bp()? - before_refunds(&business[i]).margin_bp()?);
    let (mut judged, mut findings) = (0, Vec::new());
    for ((prefix, key), series) in &series_of {
        let points: Vec<(NaiveDate, Option<i64>)> = series.iter().enumerate().map(|(i, (w, m))| (*w, m.as_ref().and_then(|m| relative(i, m)))).collect();
        for (i, (week, margin)) in series.iter().enumerate() {
            let Some(margin) = margin.as_ref().filter(|_| judged_weeks.contains(week)) else { continue };
            let Some(value) = points[i].1 else { continue };
            judged += 1;
            let before = i.saturating_sub(HISTORY_WEEKS as usize)..i;
            let history_points: Vec<i64> = points[before].iter().filter_map(|(_, v)| *v).collect();
            // A thin week is judged too: what it can lose is small, and the cost rule keeps it
            // from a person unless it matters.
            let Some(drop) = margin_drop(&history_points, value, margin.revenue, business[i].revenue) else { continue };
            let found = (*prefix, key.as_str(), *week);
            findings.push(finding(raising, found, (margin, &business[i]), &drop, &points, currency));
        }
    }
    Ok((judged, findings))
}

/// The finding of a margin drop, with its evidence, kept to be raised.
fn finding(
    raising: &Raising,
    (prefix, key, week): (&str, &str, NaiveDate),
    (margin, business): (&Margin, &Margin),
    drop: &Outlier,
    points: &[(NaiveDate, Option<i64>)],
    currency: Currency,
) -> Finding {
    let kind = ExceptionKind::MarginDrop;
    let money = |total| format!("{} {currency}", total_decimal(total, currency));
    let finding = Finding {
        kind: kind.as_str(),
        subject: format!("{prefix}:{key}"),
        day: week,
        test: TEST,
        observed: format!(
            "{} margin before refunds in the week from {week} ({} contribution on {} revenue), {} points from the business's {}",
            percentage(before_refunds(margin).margin_bp().unwrap_or(0)),
            money(before_refunds(margin).contribution()),
            money(margin.revenue),
            points_of(drop.value),
            percentage(before_refunds(business).margin_bp().unwrap_or(0))
        ),
        baseline: format!(
            "{} points from the business's, the median of {} weeks before (spread {} points); below {} is an anomaly",
            points_of(drop.median),
            drop.history,
            points_of(drop.spread),
            points_of(drop.threshold)
        ),
        strength: if drop.spread > 0 { format!("{:.2} spreads below the median", -drop.robust_z) } else { "the weeks before never varied".to_owned() },
        raised: false,
    };
    let details = serde_json::json!({
        prefix: key,
        "week": format!("{week} to {}", week + Duration::days(6)),
        "revenue": money(margin.revenue),
        "refunds": money(margin.refunds),
        "cost_of_goods": money(margin.cost_of_goods),
        "fees": money(margin.fees),
        "shipping_cost": money(margin.shipping_cost),
        "contribution_after_refunds": money(margin.contribution()),
        "business_margin_before_refunds": percentage(before_refunds(business).margin_bp().unwrap_or(0)),
        "measure": "contribution margin less the whole business's, in points, week by week",
        "series": points.iter().filter_map(|(w, v)| Some(point(*w, (*v)?, format!("week from {w}: {} points from the business's", points_of((*v)?))))).collect::<Vec<_>>(),
    });
    raising.raise(kind, finding, details)
}

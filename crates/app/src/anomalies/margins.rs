//! Margin deterioration: a week whose contribution margin before refunds (price less cost of
//! goods, fees and shipping), by channel and by SKU, is far below its own weekly history.
//!
//! - Refunds come in lumps a few weeks of history cannot show as usual, and what causes them
//!   is judged by the return spike test.
//! - A SKU's fees are accrued to its week's sales, at the share of revenue each channel's fees
//!   came to over the weeks read. A settlement books fees weeks after the parcels left: booked,
//!   a SKU's light week that takes the settlement of its busy week would lose its whole margin
//!   on paper, and a week of wholesale orders (no marketplace fees, a lower price) would look
//!   worse than it is. A SKU's own fees are judged line by line by the fee test, against that
//!   SKU's and fee type's history. A channel's week holds enough sales that its settlements'
//!   timing moves it by a few points, so a channel's fees are taken as booked.
//!
//! What is judged is the margin's distance from the whole business's margin that week,
//! measured alike: weeks (Monday to Sunday) take the weekday pattern out, a margin is a share
//! of revenue so a busy season does not move it, and what moves every channel and SKU at
//! once (a sale on the calendar, a settlement's fees landing in one week) is the business's
//! season, not one subject's problem. The yardstick is the median of the eight weeks before
//! and their median absolute deviation (see [`margin_drop`]), so one odd week in the history
//! does not move it either; and a drop must cost at least a tenth of a per cent of the
//! business's revenue that week to be worth a person's time.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use ordo_domain::anomaly::{accrued_fees, margin_drop, Outlier};
use ordo_domain::exception::ExceptionKind;
use ordo_domain::ledger::{margins, percentage, KeyedTotal, Margin};
use ordo_domain::money::{total_decimal, Total};
use ordo_domain::Currency;
use ordo_storage::Tx;

use super::{day_start, point, Finding, Raising, Window};
use crate::AppResult;

/// Weeks of history a week is judged against.
const HISTORY_WEEKS: i64 = 8;

/// A channel's or SKU's margin week by week; none in a week without its entries.
type Weekly = Vec<(NaiveDate, Option<Margin>)>;

const TEST: &str = "weekly contribution margin, less the whole business's that week measured alike, against the median of the 8 weeks before: more than 4 spreads (scaled median absolute deviation) and 20 points below, costing at least 0.1 % of the week's revenue";

/// Revenue by channel: (channel, revenue) of one week's sales.
type Sales = Vec<(String, Total)>;

/// The measure a channel's (`"channel"`) or SKU's (`"sku"`) week is judged on, in words.
fn measure(prefix: &str) -> &'static str {
    if prefix == "sku" { "margin before refunds, fees accrued to the week's sales" } else { "margin before refunds" }
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
    // Each week's revenue by channel, the business's and each SKU's, that fees are accrued to.
    let (mut channel_sales, mut sku_sales): (Vec<Sales>, Vec<BTreeMap<String, Sales>>) = (Vec::new(), Vec::new());
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
        channel_sales.push(channels.iter().map(|m| (m.key.clone(), m.revenue)).collect());
        // Read apart from the SKU's own totals below, which also hold lines of no channel
        // (a return's restock credits its cost of goods): only revenue is taken from here.
        let mut by_channel: BTreeMap<String, Vec<KeyedTotal>> = BTreeMap::new();
        for (channel, total) in tx.sku_channel_account_totals(from, to).await? {
            by_channel.entry(channel).or_default().push(total);
        }
        let mut sales: BTreeMap<String, Sales> = BTreeMap::new();
        for (channel, totals) in by_channel {
            for margin in margins(&totals) {
                sales.entry(margin.key).or_default().push((channel.clone(), margin.revenue));
            }
        }
        sku_sales.push(sales);
        let by_channel = channels.into_iter().map(|m| ("channel", m));
        let by_sku = margins(&tx.sku_account_totals(from, to).await?).into_iter().map(|m| ("sku", m));
        for (prefix, margin) in by_channel.chain(by_sku) {
            let series = series_of.entry((prefix, margin.key.clone())).or_insert_with(|| weeks.iter().map(|w| (*w, None)).collect());
            series[i].1 = Some(margin);
        }
    }
    // Each channel's fees against its revenue over the weeks read: the rates fees accrue at.
    let rates: BTreeMap<String, (Total, Total)> = series_of
        .iter()
        .filter(|((prefix, _), _)| *prefix == "channel")
        .map(|((_, key), series)| (key.clone(), series.iter().filter_map(|(_, m)| m.as_ref()).fold((0, 0), |(f, r), m| (f + m.fees, r + m.revenue))))
        .collect();
    // What a week is judged on: before refunds, a SKU's fees (and the business's it is set
    // against) accrued to the week's sales.
    let as_judged = |prefix: &str, sales: Option<&Sales>, margin: &Margin| {
        let fees = if prefix == "sku" { accrued_fees(sales.map_or(&[][..], Vec::as_slice), &rates) } else { margin.fees };
        Margin { refunds: 0, fees, ..margin.clone() }
    };
    let (mut weeks_judged, mut findings) = (0, Vec::new());
    for ((prefix, key), series) in &series_of {
        let judged: Vec<Option<(Margin, Margin)>> = series
            .iter()
            .enumerate()
            .map(|(i, (_, m))| {
                let m = m.as_ref()?;
                Some((as_judged(prefix, sku_sales[i].get(key), m), as_judged(prefix, Some(&channel_sales[i]), &business[i])))
            })
            .collect();
        // A week's margin as judged, in points from the business's that week measured alike.
        let points: Vec<(NaiveDate, Option<i64>)> = series
            .iter()
            .zip(&judged)
            .map(|((w, _), j)| (*w, j.as_ref().and_then(|(m, b)| Some(m.margin_bp()? - b.margin_bp()?))))
            .collect();
        for (i, (week, margin)) in series.iter().enumerate() {
            let Some(margin) = margin.as_ref().filter(|_| judged_weeks.contains(week)) else { continue };
            let (Some(value), Some(judged)) = (points[i].1, judged[i].as_ref()) else { continue };
            weeks_judged += 1;
            let before = i.saturating_sub(HISTORY_WEEKS as usize)..i;
            let history_points: Vec<i64> = points[before].iter().filter_map(|(_, v)| *v).collect();
            // A thin week is judged too: what it can lose is small, and the cost rule keeps it
            // from a person unless it matters.
            let Some(drop) = margin_drop(&history_points, value, margin.revenue, business[i].revenue) else { continue };
            let found = (*prefix, key.as_str(), *week);
            findings.push(finding(raising, found, (margin, judged), &drop, &points, currency));
        }
    }
    Ok((weeks_judged, findings))
}

/// The finding of a margin drop, with its evidence, kept to be raised: the week's `margin`
/// as booked, and (`judged`) its and the business's as judged.
fn finding(
    raising: &Raising,
    (prefix, key, week): (&str, &str, NaiveDate),
    (margin, (judged_margin, judged_business)): (&Margin, &(Margin, Margin)),
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
            "{} {} in the week from {week} ({} contribution on {} revenue), {} points from the business's {}",
            percentage(judged_margin.margin_bp().unwrap_or(0)),
            measure(prefix),
            money(judged_margin.contribution()),
            money(margin.revenue),
            points_of(drop.value),
            percentage(judged_business.margin_bp().unwrap_or(0))
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
        "fees_judged": money(judged_margin.fees),
        "shipping_cost": money(margin.shipping_cost),
        "contribution_after_refunds": money(margin.contribution()),
        "business_margin": percentage(judged_business.margin_bp().unwrap_or(0)),
        "measure": format!("{} less the whole business's measured alike, in points, week by week", measure(prefix)),
        "series": points.iter().filter_map(|(w, v)| Some(point(*w, (*v)?, format!("week from {w}: {} points from the business's", points_of((*v)?))))).collect::<Vec<_>>(),
    });
    raising.raise(kind, finding, details)
}

//! Return spikes: a day on which one SKU was sent back for one reason far more than usual, a
//! sign of a quality problem or a misleading listing. The rate is units asked back for the
//! reason per unit of the SKU shipped in the 30 days before (the units that could come back),
//! against the 28 days before (the exact binomial test of [`rate_spike`]); the evidence names
//! the reason mix of that day and of the weeks before, and the returns behind it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use ordo_domain::anomaly::{baseline, rate_spike, RateDay, BASELINE_DAYS, MIN_EVENTS};
use ordo_domain::exception::ExceptionKind;
use ordo_domain::ledger::percentage;
use ordo_storage::Tx;

use super::cancellations::{series, strength};
use super::{day_start, Finding, Raising, Window, EVIDENCE_RECORDS};
use crate::AppResult;

/// Days of shipments whose units could come back on a day.
const EXPOSURE_DAYS: i64 = 30;

const TEST: &str = "units returned for the reason per unit shipped in the 30 days before, against the 28 days before: chance of as many at the usual rate (exact binomial), below 1 in 1,000";

/// Reasons and units, most first: "damaged 6, wrong size 1".
fn mix(units: &BTreeMap<&str, i64>) -> String {
    let mut reasons: Vec<(&str, i64)> = units.iter().map(|(r, u)| (*r, *u)).collect();
    reasons.sort_by_key(|(reason, n)| (-n, *reason));
    let named: Vec<String> = reasons.iter().map(|(reason, n)| format!("{} {n}", reason.replace('_', " "))).collect();
    if named.is_empty() { "none".to_owned() } else { named.join(", ") }
}

pub(super) async fn judge(tx: &mut Tx, raising: &Raising, window: Window) -> AppResult<(usize, Vec<Finding>)> {
    let kind = ExceptionKind::ReturnSpike;
    let first_day = window.first - Duration::days(BASELINE_DAYS);
    let returned = tx.daily_returned_units(day_start(first_day)).await?;
    // Only a SKU and reason with enough units on a judged day can be a finding.
    let candidates: BTreeSet<(&str, &str)> =
        returned.iter().filter(|(_, _, day, units)| window.judges(*day) && *units >= MIN_EVENTS).map(|(sku, reason, ..)| (sku.as_str(), reason.as_str())).collect();
    let judged = returned.iter().filter(|(_, _, day, _)| window.judges(*day)).count();
    if candidates.is_empty() {
        return Ok((judged, Vec::new()));
    }
    let mut shipped: BTreeMap<(String, NaiveDate), i64> = BTreeMap::new();
    for (sku, day, units) in tx.daily_shipped_units(day_start(first_day - Duration::days(EXPOSURE_DAYS))).await? {
        shipped.insert((sku, day), units);
    }
    let exposure = |sku: &str, day: NaiveDate| -> i64 {
        shipped.range((sku.to_owned(), day - Duration::days(EXPOSURE_DAYS))..(sku.to_owned(), day)).map(|(_, units)| units).sum()
    };
    let mut by_day: BTreeMap<(&str, &str, NaiveDate), i64> = BTreeMap::new();
    for (sku, reason, day, units) in &returned {
        *by_day.entry((sku.as_str(), reason.as_str(), *day)).or_default() += units;
    }
    let units_on = |sku: &str, reason: &str, day: NaiveDate| -> i64 { by_day.get(&(sku, reason, day)).copied().unwrap_or(0) };
    let mut findings = Vec::new();
    for (sku, reason) in &candidates {
        let days: Vec<RateDay> = first_day
            .iter_days()
            .take_while(|d| *d < window.today)
            .map(|d| RateDay { day: d, events: units_on(sku, reason, d), trials: exposure(sku, d) })
            .collect();
        for day in days.iter().filter(|d| window.judges(d.day) && d.events >= MIN_EVENTS) {
            let history = baseline(&days, day.day);
            let Some(spike) = rate_spike(&history, day) else { continue };
            let since = day.day - Duration::days(BASELINE_DAYS);
            let mut that_day: BTreeMap<&str, i64> = BTreeMap::new();
            let mut before: BTreeMap<&str, i64> = BTreeMap::new();
            for (_, r, d, units) in returned.iter().filter(|(s, ..)| s == sku) {
                if *d == day.day {
                    *that_day.entry(r.as_str()).or_default() += units;
                } else if *d >= since && *d < day.day {
                    *before.entry(r.as_str()).or_default() += units;
                }
            }
            let finding = Finding {
                kind: kind.as_str(),
                subject: format!("sku:{sku}"),
                day: spike.day,
                test: TEST,
                observed: format!(
                    "{} units asked back as {} against {} shipped in the 30 days before ({}); that day's reasons: {}",
                    spike.events,
                    reason.replace('_', " "),
                    spike.trials,
                    percentage(spike.rate_per_10k),
                    mix(&that_day)
                ),
                baseline: format!(
                    "{} units as {} per {} exposed over the 28 days before ({}); their reasons: {}",
                    spike.baseline_events,
                    reason.replace('_', " "),
                    spike.baseline_trials,
                    percentage(spike.baseline_per_10k),
                    mix(&before)
                ),
                strength: strength(&spike),
                raised: false,
            };
            // Raised before: its evidence is not gathered again.
            if raising.already(kind, &finding.subject, finding.day) {
                findings.push(finding);
                continue;
            }
            let start = day_start(spike.day);
            let returns = tx.returns_for(sku, reason, start, start + Duration::days(1), EVIDENCE_RECORDS).await?;
            let details = serde_json::json!({
                "sku": sku,
                "reason": reason,
                "reasons_that_day": mix(&that_day),
                "reasons_before": mix(&before),
                "measure": "units returned for the reason per 100 shipped in the 30 days before",
                "series": series(&history, day, "units shipped came back"),
                "returns": returns.iter().map(|id| serde_json::json!({"return": id})).collect::<Vec<_>>(),
            });
            findings.push(raising.raise(kind, finding, details));
        }
    }
    Ok((judged, findings))
}

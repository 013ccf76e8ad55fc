//! Stock variance: a day on which counts and adjustments at a location removed far more units
//! than its own history explains. The rate is units written off per unit that left the
//! location (shipped or written off), against the 28 days before (the exact binomial test of
//! [`rate_spike`]), so a busy day's write-offs are judged against its throughput; the
//! evidence names the SKUs and the counts behind it.

use std::collections::BTreeMap;

use chrono::Duration;
use ordo_domain::anomaly::{baseline, rate_spike, RateDay, BASELINE_DAYS};
use ordo_domain::exception::ExceptionKind;
use ordo_domain::ledger::percentage;
use ordo_storage::Tx;

use super::cancellations::{series, strength};
use super::{day_start, Finding, Raising, Window, EVIDENCE_RECORDS};
use crate::AppResult;

const TEST: &str = "units written off per unit that left the location, against the 28 days before: chance of as many at the usual rate (exact binomial), below 1 in 1,000";

pub(super) async fn judge(tx: &mut Tx, raising: &Raising, window: Window) -> AppResult<(usize, Vec<Finding>)> {
    let kind = ExceptionKind::StockVariance;
    let from = day_start(window.first - Duration::days(BASELINE_DAYS));
    let mut series_of: BTreeMap<String, Vec<RateDay>> = BTreeMap::new();
    for day in tx.daily_write_offs(from).await? {
        series_of.entry(day.location).or_default().push(RateDay { day: day.day, events: day.written_off, trials: day.shipped + day.written_off });
    }
    let (mut judged, mut findings) = (0, Vec::new());
    for (location, days) in series_of {
        for day in days.iter().filter(|d| window.judges(d.day)) {
            judged += 1;
            let history = baseline(&days, day.day);
            let Some(spike) = rate_spike(&history, day) else { continue };
            let start = day_start(spike.day);
            let movements = tx.write_offs(&location, start, start + Duration::days(1), EVIDENCE_RECORDS).await?;
            let mut by_sku: BTreeMap<&str, i64> = BTreeMap::new();
            for m in &movements {
                *by_sku.entry(m.sku.as_str()).or_default() += m.units;
            }
            let mut skus: Vec<(&str, i64)> = by_sku.into_iter().collect();
            skus.sort_by_key(|(sku, units)| (-units, *sku));
            let named: Vec<String> = skus.iter().map(|(sku, units)| format!("{sku} {units}")).collect();
            let finding = Finding {
                kind: kind.as_str(),
                subject: format!("location:{location}"),
                day: spike.day,
                test: TEST,
                observed: format!(
                    "{} units written off against {} shipped ({} of the units that left; most: {})",
                    spike.events,
                    spike.trials - spike.events,
                    percentage(spike.rate_per_10k),
                    named.first().map_or("none", String::as_str)
                ),
                baseline: format!("{} written off of {} units that left ({})", spike.baseline_events, spike.baseline_trials, percentage(spike.baseline_per_10k)),
                strength: strength(&spike),
                raised: false,
            };
            let details = serde_json::json!({
                "location": location,
                "sku": skus.first().map(|(sku, _)| *sku),
                "units_by_sku": named.join(", "),
                "measure": "units written off per 100 that left the location",
                "series": series(&history, day, "units that left written off"),
                "movements": movements.iter().map(|m| serde_json::json!({
                    "sku": m.sku, "kind": m.kind, "units": m.units, "reason": m.reason, "by": m.actor, "at": m.at.to_rfc3339(),
                })).collect::<Vec<_>>(),
            });
            findings.push(raising.raise(kind, finding, details));
        }
    }
    Ok((judged, findings))
}

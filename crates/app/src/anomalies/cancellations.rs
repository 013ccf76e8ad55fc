//! Cancellation spikes: a day whose share of orders cancelled, by channel and by SKU, stands
//! out against the 28 days before it (an exact binomial test, [`rate_spike`]).

use std::collections::BTreeMap;

use chrono::Duration;
use ordo_domain::anomaly::{baseline, rate_spike, RateDay, RateSpike, BASELINE_DAYS};
use ordo_domain::exception::ExceptionKind;
use ordo_domain::ledger::percentage;
use ordo_storage::{CancellationsBy, Tx};

use super::{day_start, point, Finding, Raising, Window, EVIDENCE_RECORDS};
use crate::AppResult;

const TEST: &str = "cancellation rate against the 28 days before: chance of as many at the usual rate (exact binomial), below 1 in 1,000";

/// The chance and the deviations of a rate spike, in words.
pub(super) fn strength(spike: &RateSpike) -> String {
    format!("chance {:.1e} at the usual rate, z {:.2}", spike.p_value, spike.z)
}

/// The days judged, each drawn as its rate.
pub(super) fn series(history: &[RateDay], day: &RateDay, what: &str) -> Vec<serde_json::Value> {
    history
        .iter()
        .chain(std::iter::once(day))
        .map(|d| {
            let per_10k = if d.trials > 0 { d.events * 10_000 / d.trials } else { 0 };
            point(d.day, per_10k, format!("{} of {} {what} ({})", d.events, d.trials, percentage(per_10k)))
        })
        .collect()
}

pub(super) async fn judge(tx: &mut Tx, raising: &Raising, window: Window) -> AppResult<(usize, Vec<Finding>)> {
    let kind = ExceptionKind::CancellationSpike;
    let from = day_start(window.first - Duration::days(BASELINE_DAYS));
    let (mut judged, mut findings) = (0, Vec::new());
    for (by, prefix) in [(CancellationsBy::Channel, "channel"), (CancellationsBy::Sku, "sku")] {
        let mut series_of: BTreeMap<String, Vec<RateDay>> = BTreeMap::new();
        for (key, day, cancelled, placed) in tx.daily_cancellations(by, from).await? {
            series_of.entry(key).or_default().push(RateDay { day, events: cancelled, trials: placed });
        }
        for (key, days) in series_of {
            for day in days.iter().filter(|d| window.judges(d.day)) {
                judged += 1;
                let history = baseline(&days, day.day);
                let Some(spike) = rate_spike(&history, day) else { continue };
                let finding = Finding {
                    kind: kind.as_str(),
                    subject: format!("{prefix}:{key}"),
                    day: spike.day,
                    test: TEST,
                    observed: format!("{} of {} orders cancelled ({})", spike.events, spike.trials, percentage(spike.rate_per_10k)),
                    baseline: format!("{} of {} orders ({})", spike.baseline_events, spike.baseline_trials, percentage(spike.baseline_per_10k)),
                    strength: strength(&spike),
                    raised: false,
                };
                let finding = if raising.already(kind, &finding.subject, finding.day) {
                    finding
                } else {
                    let start = day_start(spike.day);
                    let orders = tx.cancelled_orders(by, &key, start, start + Duration::days(1), EVIDENCE_RECORDS).await?;
                    let details = serde_json::json!({
                        prefix: key,
                        "measure": "orders cancelled per 100 placed",
                        "series": series(&history, day, "orders"),
                        "cancelled_orders": orders.iter().map(|id| serde_json::json!({"order": id})).collect::<Vec<_>>(),
                    });
                    raising.raise(kind, finding, details)
                };
                findings.push(finding);
            }
        }
    }
    Ok((judged, findings))
}

//! Anomalies in the business's own history, each an exception for its owner with the evidence
//! behind it: so far, days whose cancellation rate (by channel, by SKU) stands out against the
//! 28 days before ([`ordo_domain::anomaly`]).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ordo_domain::anomaly::{rate_spike, RateDay, RateSpike};
use ordo_domain::exception::{ExceptionKind, Resolution};
use ordo_domain::FieldError;
use ordo_storage::{CancellationsBy, ExceptionQuery};
use serde::Serialize;

use crate::{AppResult, Anomalies};

/// Days of history each judged day is compared with.
pub const BASELINE_DAYS: i64 = 28;
/// The most days back a scan judges (each against the 28 before it).
pub const MAX_JUDGED_DAYS: i64 = 90;
/// Cancelled orders named in a finding's evidence.
const EVIDENCE_ORDERS: i64 = 10;

/// One anomaly found: what it is about and its figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `channel:web` or `sku:MUG-1`.
    pub subject: String,
    pub test: &'static str,
    pub spike: RateSpike,
    /// Whether this scan raised it (false: one for that day was raised before).
    pub raised: bool,
}

/// What a scan looked at and found, and how earlier findings were judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scan {
    /// Channel-days and SKU-days judged.
    pub judged: usize,
    pub findings: Vec<Finding>,
    /// Findings of this kind resolved so far, and how many of them as "not a problem": the
    /// share tells whether the threshold is right.
    pub resolved: i64,
    pub not_a_problem: i64,
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default()
}

impl Anomalies<'_> {
    /// Judges each of the last `days` complete days (UTC) by channel and by SKU, and raises a
    /// `cancellation_spike` exception for each new finding. A day already raised for is not
    /// raised again, open or resolved.
    pub async fn scan(self, days: i64) -> AppResult<Scan> {
        if !(1..=MAX_JUDGED_DAYS).contains(&days) {
            return Err(FieldError::new("days", format!("must be 1 to {MAX_JUDGED_DAYS}")).into());
        }
        let now = self.now();
        let today = now.date_naive();
        let first_judged = today - Duration::days(days);
        let from = day_start(first_judged - Duration::days(BASELINE_DAYS));
        let kind = ExceptionKind::CancellationSpike;
        let mut tx = self.db.write().await?;
        let earlier = tx
            .exceptions(&ExceptionQuery { kind: Some(kind.as_str().to_owned()), limit: 100_000, ..Default::default() })
            .await?
            .0;
        let already = |subject: &str, day: NaiveDate| {
            earlier.iter().any(|e| e.subject == subject && e.details.get("day").and_then(|d| d.as_str()) == Some(day.to_string().as_str()))
        };
        let mut judged = 0;
        let mut findings = Vec::new();
        for (by, prefix) in [(CancellationsBy::Channel, "channel"), (CancellationsBy::Sku, "sku")] {
            let mut series: std::collections::BTreeMap<String, Vec<RateDay>> = std::collections::BTreeMap::new();
            for (key, day, cancelled, placed) in tx.daily_cancellations(by, from).await? {
                series.entry(key).or_default().push(RateDay { day, events: cancelled, trials: placed });
            }
            for (key, days_of) in series {
                for judged_day in days_of.iter().filter(|d| d.day >= first_judged && d.day < today) {
                    judged += 1;
                    let window = judged_day.day - Duration::days(BASELINE_DAYS);
                    let history: Vec<RateDay> = days_of.iter().filter(|d| d.day >= window && d.day < judged_day.day).copied().collect();
                    let Some(spike) = rate_spike(&history, judged_day) else { continue };
                    let subject = format!("{prefix}:{key}");
                    let mut raised = false;
                    if !already(&subject, spike.day) {
                        let start = day_start(spike.day);
                        let orders = tx.cancelled_orders(by, &key, start, start + Duration::days(1), EVIDENCE_ORDERS).await?;
                        let details = serde_json::json!({
                            prefix: key,
                            "day": spike.day.to_string(),
                            "test": "cancellation rate against the 28 days before: chance of as many at the usual rate (exact binomial), below 1 in 1,000",
                            "p_value": format!("{:.1e}", spike.p_value),
                            "observed": format!("{} of {} orders cancelled ({}.{:02} %)", spike.events, spike.trials, spike.rate_per_10k / 100, spike.rate_per_10k % 100),
                            "baseline": format!("{} of {} orders ({}.{:02} %)", spike.baseline_events, spike.baseline_trials, spike.baseline_per_10k / 100, spike.baseline_per_10k % 100),
                            "z": spike.z,
                            "series": history.iter().chain(std::iter::once(judged_day)).map(|d| serde_json::json!({"day": d.day.to_string(), "cancelled": d.events, "placed": d.trials})).collect::<Vec<_>>(),
                            "cancelled_orders": orders.iter().map(|id| serde_json::json!({"order": id})).collect::<Vec<_>>(),
                        });
                        // One open finding per subject: a second day waits until the first is resolved.
                        raised = tx.raise_exception(kind.as_str(), &subject, kind.owner_role().as_str(), now + kind.sla(), &details, now).await?;
                    }
                    findings.push(Finding { subject, test: "cancellation_rate", spike, raised });
                }
            }
        }
        tx.commit().await?;
        let resolved: Vec<_> = earlier.iter().filter(|e| e.resolution_code.is_some()).collect();
        let not_a_problem = resolved.iter().filter(|e| e.resolution_code.as_deref() == Some(Resolution::NotAnIssue.as_str())).count();
        Ok(Scan { judged, findings, resolved: resolved.len() as i64, not_a_problem: not_a_problem as i64 })
    }
}

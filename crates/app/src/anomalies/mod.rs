//! Anomalies in the business's own history, each an exception for its owner with the evidence
//! behind it: what was seen, what it was judged against, the test and how strong, the records
//! behind it, and the series it was judged on (drawn on the exception's page). Five kinds:
//!
//! - [`cancellations`]: a day's cancellation rate by channel and by SKU;
//! - [`write_offs`]: a day's units written off by counts and adjustments at a location;
//! - [`margins`]: a week's contribution margin by channel and by SKU;
//! - [`fees`]: settlement fees against the channel's own history, and fees on cancelled orders;
//! - [`returns`]: a day's returns of a SKU for one reason.
//!
//! The decisions are [`ordo_domain::anomaly`]'s; this module gathers the figures and raises.
//! A finding is raised once: not again for the same subject and day, and while one is open
//! for a subject, no second one.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ordo_domain::exception::{ExceptionKind, Resolution};
use ordo_domain::FieldError;
use ordo_storage::Tx;
use serde::Serialize;

use crate::{AppResult, Anomalies};

mod cancellations;
mod fees;
mod margins;
mod returns;
mod write_offs;

/// The most days back a scan judges (each against the 28 before it, [`ordo_domain::anomaly::BASELINE_DAYS`]).
pub const MAX_JUDGED_DAYS: i64 = 90;
/// Records named in a finding's evidence.
const EVIDENCE_RECORDS: i64 = 10;

/// The kinds of anomaly, in the order a scan looks for them.
pub const KINDS: [ExceptionKind; 5] =
    [ExceptionKind::CancellationSpike, ExceptionKind::StockVariance, ExceptionKind::MarginDrop, ExceptionKind::FeeAnomaly, ExceptionKind::ReturnSpike];

/// One anomaly found: its kind, what it is about, and its figures in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The exception kind: `cancellation_spike`, `stock_variance`, ….
    pub kind: &'static str,
    /// `channel:web`, `sku:MUG-1`, `location:central`, `settlement:…`.
    pub subject: String,
    /// The day judged: a week's Monday for margins, a settlement's deposit day for fees.
    pub day: NaiveDate,
    pub test: &'static str,
    pub observed: String,
    pub baseline: String,
    /// How far out: the chance at the usual rate, or spreads from the median.
    pub strength: String,
    /// Whether this scan raised it (false: one for that day was raised before, or one for
    /// the subject is still open).
    pub raised: bool,
}

/// What a scan did for one kind: how much it judged and found, and how earlier findings of
/// the kind were judged by people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindScan {
    pub kind: &'static str,
    /// Days, weeks or settlement lines judged.
    pub judged: usize,
    pub found: usize,
    /// Findings of this kind resolved so far, and how many of them as "not a problem": the
    /// share tells whether the threshold is right.
    pub resolved: i64,
    pub not_a_problem: i64,
}

/// What a scan looked at and found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scan {
    pub kinds: Vec<KindScan>,
    pub findings: Vec<Finding>,
}

/// The days a scan judges, and what it compares them with.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// The first day judged; days up to yesterday are.
    first: NaiveDate,
    today: NaiveDate,
}

impl Window {
    fn judges(&self, day: NaiveDate) -> bool {
        day >= self.first && day < self.today
    }
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default()
}

/// One point of the series a finding was judged on, as the exception page draws it: the
/// value (a rate per 10,000 or a margin in basis points) and how it reads.
fn point(day: NaiveDate, value: i64, shown: String) -> serde_json::Value {
    serde_json::json!({"day": day.to_string(), "value": value, "shown": shown})
}

/// Raises findings as exceptions, once each: what was raised since the window began, and how
/// earlier findings were resolved, are read once. Findings are judged while only reading;
/// the new ones are raised together afterwards, in one short write.
struct Raising {
    /// Kind, subject and finding day of what was raised already.
    earlier: HashSet<(&'static str, String, String)>,
    /// Per kind: resolved, and resolved as not a problem.
    outcomes: HashMap<&'static str, (i64, i64)>,
    now: DateTime<Utc>,
    /// New findings to raise: kind, subject, day and details.
    pending: std::sync::Mutex<Vec<(ExceptionKind, String, NaiveDate, serde_json::Value)>>,
}

impl Raising {
    /// A finding is about a day of the window and raised on or after it, so what was raised
    /// since the window began is all that can repeat one.
    async fn read(tx: &mut Tx, window: Window, now: DateTime<Utc>) -> AppResult<Raising> {
        let mut earlier = HashSet::new();
        let mut outcomes = HashMap::new();
        for kind in KINDS {
            for (subject, day) in tx.anomalies_raised_since(kind.as_str(), day_start(window.first)).await? {
                if let Some(day) = day {
                    earlier.insert((kind.as_str(), subject, day));
                }
            }
            outcomes.insert(kind.as_str(), tx.resolutions(kind.as_str(), Resolution::NotAnIssue.as_str()).await?);
        }
        Ok(Raising { earlier, outcomes, now, pending: Default::default() })
    }

    fn already(&self, kind: ExceptionKind, subject: &str, day: NaiveDate) -> bool {
        self.earlier.contains(&(kind.as_str(), subject.to_owned(), day.to_string()))
    }

    /// Keeps `finding` with `details` (its figures are added) to be raised, unless it was
    /// raised before; the finding, as found.
    fn raise(&self, kind: ExceptionKind, finding: Finding, details: serde_json::Value) -> Finding {
        if self.already(kind, &finding.subject, finding.day) {
            return finding;
        }
        let mut details = details;
        if let Some(map) = details.as_object_mut() {
            map.insert("day".into(), finding.day.to_string().into());
            map.insert("test".into(), finding.test.into());
            map.insert("observed".into(), finding.observed.clone().into());
            map.insert("baseline".into(), finding.baseline.clone().into());
            map.insert("strength".into(), finding.strength.clone().into());
        }
        if let Ok(mut pending) = self.pending.lock() {
            pending.push((kind, finding.subject.clone(), finding.day, details));
        }
        finding
    }

    /// Raises what was kept, in `tx`, marking each finding raised; one open finding per
    /// subject: a second day waits until the first is resolved.
    async fn raise_pending(self, tx: &mut Tx, findings: &mut [Finding]) -> AppResult<()> {
        let pending = self.pending.into_inner().unwrap_or_default();
        for (kind, subject, day, details) in pending {
            let due = self.now + kind.sla();
            let raised = tx.raise_exception(kind.as_str(), &subject, kind.owner_role().as_str(), due, &details, self.now).await?;
            if let Some(finding) = findings.iter_mut().find(|f| f.kind == kind.as_str() && f.subject == subject && f.day == day) {
                finding.raised = raised;
            }
        }
        Ok(())
    }

    /// Findings of `kind` resolved so far, and how many of them were not a problem.
    fn outcomes(&self, kind: ExceptionKind) -> (i64, i64) {
        self.outcomes.get(kind.as_str()).copied().unwrap_or_default()
    }
}

impl Anomalies<'_> {
    /// Judges each of the last `days` complete days (UTC) for every kind of anomaly (weeks
    /// that ended in them, for margins; settlements deposited on them, for fees) and raises
    /// an exception for each new finding.
    pub async fn scan(self, days: i64) -> AppResult<Scan> {
        if !(1..=MAX_JUDGED_DAYS).contains(&days) {
            return Err(FieldError::new("days", format!("must be 1 to {MAX_JUDGED_DAYS}")).into());
        }
        let now = self.now();
        let today = now.date_naive();
        let window = Window { first: today - Duration::days(days), today };
        let currency = self.settings.base_currency;
        // Judged while only reading, so intake is not held up by the scan; raised after.
        let mut tx = self.db.read().await?;
        let raising = Raising::read(&mut tx, window, now).await?;
        let mut scan = Scan { kinds: Vec::new(), findings: Vec::new() };
        for kind in KINDS {
            let (judged, found) = match kind {
                ExceptionKind::CancellationSpike => cancellations::judge(&mut tx, &raising, window).await?,
                ExceptionKind::StockVariance => write_offs::judge(&mut tx, &raising, window).await?,
                ExceptionKind::MarginDrop => margins::judge(&mut tx, &raising, window, currency).await?,
                ExceptionKind::FeeAnomaly => fees::judge(&mut tx, &raising, window, currency).await?,
                ExceptionKind::ReturnSpike => returns::judge(&mut tx, &raising, window).await?,
                _ => continue,
            };
            let (resolved, not_a_problem) = raising.outcomes(kind);
            scan.kinds.push(KindScan { kind: kind.as_str(), judged, found: found.len(), resolved, not_a_problem });
            scan.findings.extend(found);
        }
        drop(tx);
        let mut tx = self.db.write().await?;
        raising.raise_pending(&mut tx, &mut scan.findings).await?;
        tx.commit().await?;
        Ok(scan)
    }
}

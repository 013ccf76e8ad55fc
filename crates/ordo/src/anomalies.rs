//! `ordo anomalies evaluate`: the rate test of the anomaly scan (cancellations, write-offs,
//! returns) run on every day of a file of daily counts, so a business can see how often it
//! would be called on its own history before it trusts the scan, as a table or as JSON.
//!
//! The file has the columns `subject,date,events,trials`, a row per subject and day: what is
//! judged (`channel:web`, `sku:MUG-1`), the day (`YYYY-MM-DD`), the events that day (orders
//! cancelled) and the trials (orders placed). A day without a row had no trials. Each day is
//! judged against the days before it, exactly as the scan judges one
//! ([`ordo_app::domain::anomaly::rate_spike`] over [`ordo_app::domain::anomaly::baseline`]).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use ordo_app::domain::anomaly::{baseline, can_alarm, rate_spike, RateDay, RateSpike, BASELINE_DAYS, MIN_BASELINE_TRIALS, MIN_EVENTS, MIN_TRIALS, P_THRESHOLD};
use serde::Serialize;

/// The largest file read.
const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Findings printed in the table (JSON has them all).
const PRINTED: usize = 25;

#[derive(Debug, Serialize)]
pub struct Report {
    pub file: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub subjects: usize,
    /// Subject-days with a row.
    pub days: usize,
    /// Subject-days with enough events, trials and baseline that the test could alarm.
    pub testable: usize,
    pub findings: Vec<Found>,
    /// Findings by the subject's kind (the text before its `:`).
    pub by_kind: BTreeMap<String, Kind>,
    /// Findings per week of the file's span.
    pub per_week: f64,
    pub test: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Kind {
    pub subjects: usize,
    pub days: usize,
    pub testable: usize,
    pub findings: usize,
    /// Subjects with at least one finding.
    pub subjects_found: usize,
}

#[derive(Debug, Serialize)]
pub struct Found {
    pub subject: String,
    #[serde(flatten)]
    pub spike: RateSpike,
}

fn refuse(line: u64, field: &str, message: &str) -> String {
    format!("line {line}: {field} {message}")
}

/// Each subject's days, in day order.
pub fn read(text: &str) -> Result<BTreeMap<String, Vec<RateDay>>, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| e.to_string())?.clone();
    let [subject_at, date_at, events_at, trials_at] = crate::files::columns(&header, ["subject", "date", "events", "trials"])?;
    let mut counts: BTreeMap<String, BTreeMap<NaiveDate, (i64, i64)>> = BTreeMap::new();
    for row in reader.records() {
        let row = row.map_err(|e| e.to_string())?;
        let line = row.position().map_or(0, csv::Position::line);
        let subject = row.get(subject_at).unwrap_or_default().trim();
        if subject.is_empty() || subject.len() > 200 {
            return Err(refuse(line, "subject", "must be 1 to 200 characters"));
        }
        let date = NaiveDate::parse_from_str(row.get(date_at).unwrap_or_default().trim(), "%Y-%m-%d").map_err(|_| refuse(line, "date", "must be a date such as 2011-03-31"))?;
        let count = |at: usize, field: &str| -> Result<i64, String> {
            let n: i64 = row.get(at).unwrap_or_default().trim().parse().map_err(|_| refuse(line, field, "must be a whole number"))?;
            if (0..=1_000_000_000).contains(&n) { Ok(n) } else { Err(refuse(line, field, "must be 0 to a billion")) }
        };
        let (events, trials) = (count(events_at, "events")?, count(trials_at, "trials")?);
        let day = counts.entry(subject.to_owned()).or_default().entry(date).or_default();
        *day = (day.0 + events, day.1 + trials);
    }
    Ok(counts
        .into_iter()
        .map(|(subject, days)| (subject, days.into_iter().map(|(day, (events, trials))| RateDay { day, events, trials }).collect()))
        .collect())
}

/// Judges every subject-day of `text`; `file` names it in the report.
pub fn judge(text: &str, file: &str) -> Result<Report, String> {
    let series = read(text)?;
    let all_days = series.values().flatten().map(|d| d.day);
    let (Some(first_day), Some(last_day)) = (all_days.clone().min(), all_days.max()) else { return Err("the file has no rows".to_owned()) };
    let (mut days, mut testable, mut findings) = (0, 0, Vec::new());
    let mut by_kind: BTreeMap<String, Kind> = BTreeMap::new();
    for (subject, subject_days) in &series {
        let kind = by_kind.entry(subject.split_once(':').map_or("", |(k, _)| k).to_owned()).or_default();
        kind.subjects += 1;
        let before = findings.len();
        for day in subject_days {
            let history = baseline(subject_days, day.day);
            (days, kind.days) = (days + 1, kind.days + 1);
            if can_alarm(&history, day) {
                (testable, kind.testable) = (testable + 1, kind.testable + 1);
            }
            if let Some(spike) = rate_spike(&history, day) {
                findings.push(Found { subject: subject.clone(), spike });
            }
        }
        kind.findings += findings.len() - before;
        kind.subjects_found += usize::from(findings.len() > before);
    }
    let weeks = ((last_day - first_day).num_days() + 1) as f64 / 7.0;
    Ok(Report {
        file: file.to_owned(),
        first_day,
        last_day,
        subjects: series.len(),
        days,
        testable,
        per_week: findings.len() as f64 / weeks,
        findings,
        by_kind,
        test: format!(
            "the day's rate against the {BASELINE_DAYS} days before: exact binomial chance below {P_THRESHOLD}, with at least {MIN_TRIALS} trials and {MIN_EVENTS} events on the day and {MIN_BASELINE_TRIALS} trials before"
        ),
    })
}

/// Judges every subject-day of the file at `csv`.
pub fn run(csv: &Path) -> Result<Report, String> {
    let text = crate::files::read_text(csv, MAX_FILE_BYTES)?;
    judge(&text, &csv.display().to_string()).map_err(|e| format!("{}: {e}", csv.display()))
}

pub fn print(report: &Report) {
    say!(
        "{}: {} subjects, {} subject-days from {} to {}; {} could alarm; {} findings, {:.2} a week",
        report.file,
        report.subjects,
        report.days,
        report.first_day,
        report.last_day,
        report.testable,
        report.findings.len(),
        report.per_week
    );
    say!("test: {}", report.test);
    say!("{:<12} {:>9} {:>12} {:>12} {:>9} {:>15}", "subject", "subjects", "days", "could alarm", "findings", "subjects found");
    for (kind, k) in &report.by_kind {
        say!("{:<12} {:>9} {:>12} {:>12} {:>9} {:>15}", kind, k.subjects, k.days, k.testable, k.findings, k.subjects_found);
    }
    let mut strongest: Vec<&Found> = report.findings.iter().collect();
    strongest.sort_by(|a, b| a.spike.p_value.total_cmp(&b.spike.p_value).then(a.spike.day.cmp(&b.spike.day)));
    if !strongest.is_empty() {
        say!("the {} strongest:", strongest.len().min(PRINTED));
    }
    for f in strongest.iter().take(PRINTED) {
        let s = &f.spike;
        say!(
            "  {} {}: {} of {} against {} of {} before; chance {:.1e}",
            s.day, f.subject, s.events, s.trials, s.baseline_events, s.baseline_trials, s.p_value
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_day_is_judged_against_the_days_before_it_as_the_scan_judges() {
        // Four weeks of 2 cancelled in 50 on the web, then a day of 15 in 50; the shop abroad
        // is quiet and never has the trials to alarm.
        let mut text = "subject,date,events,trials\n".to_owned();
        let start = NaiveDate::from_ymd_opt(2011, 3, 1).unwrap_or_default();
        for n in 0..28 {
            let day = start + chrono::Duration::days(n);
            text.push_str(&format!("channel:web,{day},2,50\nchannel:abroad,{day},1,3\n"));
        }
        text.push_str("channel:web,2011-03-29,15,50\nchannel:abroad,2011-03-29,3,3\n");
        let report = judge(&text, "t.csv").unwrap();
        assert_eq!((report.subjects, report.days), (2, 58));
        assert_eq!(report.findings.len(), 1);
        let found = &report.findings[0];
        assert_eq!((found.subject.as_str(), found.spike.day, found.spike.baseline_trials), ("channel:web", start + chrono::Duration::days(28), 28 * 50));
        assert_eq!(report.by_kind["channel"].findings, 1);
        // The web's first days alarm on nothing: they have no baseline yet.
        assert!(report.testable < 29);
    }

    #[test]
    fn a_wrong_row_is_named_by_line_and_field() {
        let bad = |row: &str| judge(&format!("subject,date,events,trials\n{row}\n"), "t.csv").unwrap_err();
        assert_eq!(bad("sku:A,2011-03-32,1,2"), "line 2: date must be a date such as 2011-03-31");
        assert_eq!(bad("sku:A,2011-03-31,-1,2"), "line 2: events must be 0 to a billion");
        assert_eq!(bad("sku:A,2011-03-31,1,two"), "line 2: trials must be a whole number");
        assert_eq!(bad(",2011-03-31,1,2"), "line 2: subject must be 1 to 200 characters");
        assert_eq!(judge("subject,date,events\n", "t.csv").unwrap_err(), "the file has no column trials");
        assert_eq!(judge("subject,date,events,trials\n", "t.csv").unwrap_err(), "the file has no rows");
    }

    proptest::proptest! {
        #[test]
        fn any_file_of_good_rows_is_judged_and_findings_are_days_that_could_alarm(
            text in "subject,date,events,trials\n([a-z]{1,2}:[A-C],2011-0[1-3]-(0[1-9]|1[0-9]|2[0-8]),[0-9]{1,2},[0-9]{1,3}\n){1,80}"
        ) {
            let report = judge(&text, "t.csv").map_err(proptest::test_runner::TestCaseError::fail)?;
            proptest::prop_assert!(report.days < text.lines().count(), "a day per row at most, beside the header");
            proptest::prop_assert!(report.findings.len() <= report.testable && report.testable <= report.days);
            proptest::prop_assert!(report.findings.iter().all(|f| f.spike.events >= MIN_EVENTS && f.spike.trials >= MIN_TRIALS));
        }

        #[test]
        fn any_text_is_judged_or_refused_without_panicking(text in "subject,date,events,trials\n\\PC{0,300}") {
            let _ = judge(&text, "t.csv");
        }
    }
}

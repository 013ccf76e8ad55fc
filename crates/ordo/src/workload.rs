//! `ordo workload evaluate`: the warehouse workload forecast scored on a file of order lines,
//! every day forecast from the days before it, as a table people read or as JSON.
//!
//! The file has the columns `order,time,units`, a row per order line: the order it belongs
//! to, when the order was placed (local time in the zone given, `YYYY-MM-DD HH:MM[:SS]`, or
//! RFC 3339 with its offset) and the units on the line. An order is one parcel, in the hour of
//! its first row; each row is a line to pick.
//!
//! `--calendar FILE` gives the location's working calendar, the JSON the calendar route takes;
//! its closed dates are forecast as the closed dates of the year before them went.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use ordo_app::domain::calendar::{Calendar, NewCalendar};
use ordo_app::domain::workload::{evaluate, Evaluation, Inflow, Work};
use serde::Serialize;

/// The largest file read.
const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Debug, Serialize)]
pub struct Report {
    pub file: String,
    pub time_zone: String,
    /// Closed dates in the calendar given.
    pub closed_dates: usize,
    pub orders: usize,
    pub lines: usize,
    pub evaluation: Evaluation,
}

/// Why a row could not be read: its line and field.
fn refuse(line: u64, field: &str, message: &str) -> String {
    format!("line {line}: {field} {message}")
}

fn placed_at(text: &str, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")).ok()?;
    // A time the clocks skipped is read as the hour after; one they repeated, as the first.
    zone.from_local_datetime(&local).earliest().or_else(|| zone.from_local_datetime(&(local + Duration::hours(1))).earliest()).map(|t| t.with_timezone(&Utc))
}

/// Each hour's parcels, lines and units from the rows of `text`, and how many orders and
/// lines there were.
pub fn inflow(text: &str, zone: chrono_tz::Tz) -> Result<(Vec<Inflow>, usize, usize), String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| e.to_string())?.clone();
    let [order_at, time_at, units_at] = crate::files::columns(&header, ["order", "time", "units"])?;
    let mut first_hour: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut hours: BTreeMap<DateTime<Utc>, Work> = BTreeMap::new();
    let mut lines = 0;
    for row in reader.records() {
        let row = row.map_err(|e| e.to_string())?;
        let line = row.position().map_or(0, csv::Position::line);
        let order = row.get(order_at).unwrap_or_default().trim();
        if order.is_empty() || order.len() > 200 {
            return Err(refuse(line, "order", "must be 1 to 200 characters"));
        }
        let time = row.get(time_at).unwrap_or_default().trim();
        let at = placed_at(time, zone).ok_or_else(|| refuse(line, "time", "must be a time such as 2011-03-31 09:15 or 2011-03-31T09:15:00Z"))?;
        let units: i64 = row.get(units_at).unwrap_or_default().trim().parse().map_err(|_| refuse(line, "units", "must be a whole number"))?;
        if !(1..=1_000_000_000).contains(&units) {
            return Err(refuse(line, "units", "must be 1 to a billion"));
        }
        let hour = at.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(at);
        let work = hours.entry(hour).or_default();
        work.lines += 1;
        work.units += units;
        lines += 1;
        let first = first_hour.entry(order.to_owned()).or_insert(hour);
        *first = (*first).min(hour);
    }
    for hour in first_hour.values() {
        hours.entry(*hour).or_default().parcels += 1;
    }
    Ok((hours.into_iter().map(|(hour, work)| Inflow { hour, work }).collect(), first_hour.len(), lines))
}

/// The largest calendar file read.
const MAX_CALENDAR_BYTES: u64 = 1024 * 1024;

/// A working calendar from a JSON file, checked as the API checks it.
fn calendar(path: &Path) -> Result<Calendar, String> {
    let text = crate::files::read_text(path, MAX_CALENDAR_BYTES)?;
    let new: NewCalendar = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    new.validate().map_err(|e| format!("{}: {e}", path.display()))
}

/// Scores the workload forecast on every day of the file that has the weeks before it, with
/// the location's calendar if one is given.
pub fn run(csv: &Path, zone: &str, calendar_file: Option<&Path>) -> Result<Report, String> {
    let zone: chrono_tz::Tz = zone.parse().map_err(|_| format!("--zone: {zone} is not a time zone such as Europe/London"))?;
    let calendar = calendar_file.map(calendar).transpose()?.unwrap_or_default();
    let text = crate::files::read_text(csv, MAX_FILE_BYTES)?;
    let (inflow, orders, lines) = inflow(&text, zone).map_err(|e| format!("{}: {e}", csv.display()))?;
    let evaluation = evaluate(&inflow, zone, &calendar, &|_| false);
    if evaluation.days == 0 {
        return Err(format!("{}: fewer days than the forecast needs before it can be scored (nine weeks and a day)", csv.display()));
    }
    let closed_dates = calendar.closed_dates.len();
    Ok(Report { file: csv.display().to_string(), time_zone: zone.name().to_owned(), closed_dates, orders, lines, evaluation })
}

fn percent(bp: Option<i64>) -> String {
    bp.map_or_else(|| "-".to_owned(), |bp| format!("{:+.1} %", bp as f64 / 100.0))
}

fn error(bp: Option<i64>) -> String {
    bp.map_or_else(|| "-".to_owned(), |bp| format!("{:.1} %", bp as f64 / 100.0))
}

pub fn print(report: &Report) {
    let e = &report.evaluation;
    say!(
        "{}: {} orders, {} lines; {} days scored, {} to {} ({}, {} closed dates), each forecast from the days before it",
        report.file,
        report.orders,
        report.lines,
        e.days,
        e.first_day.map(|d| d.to_string()).unwrap_or_default(),
        e.last_day.map(|d| d.to_string()).unwrap_or_default(),
        report.time_zone,
        report.closed_dates
    );
    say!("{:<38} {:>4} {:>10} {:>9} {:>9} {:>9} {:>9}", "forecast", "per", "days ahead", "parcels", "lines", "units", "bias");
    for s in &e.scores {
        say!(
            "{:<38} {:>4} {:>10} {:>9} {:>9} {:>9} {:>9}",
            s.forecast,
            s.per,
            s.days_ahead,
            error(s.wape_bp.parcels),
            error(s.wape_bp.lines),
            error(s.wape_bp.units),
            percent(s.bias_bp.lines)
        );
    }
    say!("(weighted absolute percentage error of each; bias of lines)");
    say!("{:<8} {:>4} {:>9} {:>9} {:>22}", "month", "days", "lines", "ordo", "same weekday last week");
    for m in &e.months {
        say!("{:<8} {:>4} {:>9} {:>9} {:>22}", m.month, m.days, m.lines, error(m.wape_bp), error(m.same_weekday_wape_bp));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_hours_with_one_parcel_per_order() {
        let text = "order,time,units\nA,2011-03-27 00:30,2\nA,2011-03-27 01:30,1\nB,2011-03-27T02:10:00Z,5\nC,2011-03-28 09:59:59,1\n";
        let (hours, orders, lines) = inflow(text, chrono_tz::Europe::London).unwrap();
        assert_eq!((orders, lines), (3, 4));
        // 01:30 did not happen in London that night: the clocks went to 02:00 (01:00 UTC).
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        assert_eq!(
            hours,
            [
                Inflow { hour: at("2011-03-27T00:00:00Z"), work: Work { parcels: 1, lines: 1, units: 2 } },
                Inflow { hour: at("2011-03-27T01:00:00Z"), work: Work { parcels: 0, lines: 1, units: 1 } },
                Inflow { hour: at("2011-03-27T02:00:00Z"), work: Work { parcels: 1, lines: 1, units: 5 } },
                Inflow { hour: at("2011-03-28T08:00:00Z"), work: Work { parcels: 1, lines: 1, units: 1 } },
            ]
        );
    }

    #[test]
    fn a_wrong_row_is_named_by_line_and_field() {
        let bad = |row: &str| inflow(&format!("order,time,units\n{row}\n"), chrono_tz::UTC).unwrap_err();
        assert_eq!(bad("A,31/03/2011,1"), "line 2: time must be a time such as 2011-03-31 09:15 or 2011-03-31T09:15:00Z");
        assert_eq!(bad("A,2011-03-31 10:00,0"), "line 2: units must be 1 to a billion");
        assert_eq!(bad("A,2011-03-31 10:00,1.5"), "line 2: units must be a whole number");
        assert_eq!(bad(",2011-03-31 10:00,1"), "line 2: order must be 1 to 200 characters");
        assert_eq!(inflow("order,time\n", chrono_tz::UTC).unwrap_err(), "the file has no column units");
    }

    proptest::proptest! {
        #[test]
        fn any_file_of_good_rows_is_read_whole(
            text in "order,time,units\n([A-Z0-9]{1,4},20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8]) [01][0-9]:[0-5][0-9],[1-9][0-9]{0,5}\n){0,30}"
        ) {
            let rows = text.lines().count() - 1;
            let (hours, orders, lines) = inflow(&text, chrono_tz::Europe::London).map_err(proptest::test_runner::TestCaseError::fail)?;
            proptest::prop_assert_eq!(lines, rows);
            proptest::prop_assert_eq!(hours.iter().map(|h| h.work.lines).sum::<i64>(), rows as i64);
            proptest::prop_assert_eq!(hours.iter().map(|h| h.work.parcels).sum::<i64>(), orders as i64);
            proptest::prop_assert!(hours.iter().all(|h| h.work.units >= h.work.lines));
        }

        #[test]
        fn any_text_is_read_or_refused_without_panicking(text in "order,time,units\n\\PC{0,300}") {
            let _ = inflow(&text, chrono_tz::Europe::London);
        }
    }
}

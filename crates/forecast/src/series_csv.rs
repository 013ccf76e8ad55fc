//! Demand histories from CSV text with the columns `series,date,quantity`: one row per sale
//! (or per day's total) of a series, such as a SKU. Rows are summed into days, weeks (from
//! Monday), calendar months or calendar quarters; each series runs from its first period to
//! the last period of the file, periods without rows being zero. A period whose returns
//! outweigh its sales counts as no demand.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use crate::sku::Settings;

/// How long a period of demand is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
    Quarter,
}

impl Period {
    pub fn parse(text: &str) -> Option<Period> {
        match text {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            "quarter" => Some(Period::Quarter),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
        }
    }

    /// How far ahead replenishment usually looks: four weeks of days, eight weeks, a year of
    /// months, two years of quarters.
    pub fn default_horizon(self) -> usize {
        match self {
            Period::Day => 28,
            Period::Week => 8,
            Period::Month => 12,
            Period::Quarter => 8,
        }
    }

    /// The forecast settings for demand in these periods.
    pub fn settings(self, horizon: usize) -> Settings {
        match self {
            Period::Day => Settings::daily(horizon),
            Period::Week => Settings::weekly(horizon),
            Period::Month => Settings::monthly(horizon),
            Period::Quarter => Settings::quarterly(horizon),
        }
    }

    /// The period's number: consecutive periods have consecutive numbers.
    fn index(self, date: NaiveDate) -> i64 {
        let day = i64::from(date.num_days_from_ce());
        match self {
            Period::Day => day,
            // Day 1 of the common era was a Monday.
            Period::Week => (day - 1).div_euclid(7),
            Period::Month => i64::from(date.year()) * 12 + i64::from(date.month0()),
            Period::Quarter => i64::from(date.year()) * 4 + i64::from(date.month0() / 3),
        }
    }
}

/// Why the CSV text could not be read; nothing is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesCsvError {
    #[error("the file has no column {0}")]
    MissingColumn(&'static str),
    #[error("line {line}: {field} {message}")]
    Row { line: u64, field: &'static str, message: String },
    #[error("{0}")]
    Unreadable(String),
}

/// The most periods one series may span (a century of days).
const MAX_PERIODS: i64 = 36_600;

/// Each series' demand per period, by series name.
pub fn parse(text: &str, period: Period) -> Result<Vec<(String, Vec<f64>)>, SeriesCsvError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| SeriesCsvError::Unreadable(e.to_string()))?.clone();
    let column = |name: &'static str| header.iter().position(|h| h.trim() == name).ok_or(SeriesCsvError::MissingColumn(name));
    let (series_at, date_at, quantity_at) = (column("series")?, column("date")?, column("quantity")?);
    let mut sums: BTreeMap<String, BTreeMap<i64, i64>> = BTreeMap::new();
    let mut last = i64::MIN;
    for row in reader.records() {
        let row = row.map_err(|e| SeriesCsvError::Unreadable(e.to_string()))?;
        let line = row.position().map_or(0, csv::Position::line);
        let refuse = |field: &'static str, message: &str| SeriesCsvError::Row { line, field, message: message.to_owned() };
        let name = row.get(series_at).unwrap_or_default().trim();
        if name.is_empty() || name.len() > 200 {
            return Err(refuse("series", "must be 1 to 200 characters"));
        }
        let date = row.get(date_at).unwrap_or_default().trim();
        let date = date.get(..10).and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()).ok_or_else(|| refuse("date", "must be a date such as 2011-03-31"))?;
        let quantity: i64 = row.get(quantity_at).unwrap_or_default().trim().parse().map_err(|_| refuse("quantity", "must be a whole number"))?;
        if quantity.abs() > 1_000_000_000 {
            return Err(refuse("quantity", "must be within a billion units"));
        }
        let at = period.index(date);
        last = last.max(at);
        *sums.entry(name.to_owned()).or_default().entry(at).or_default() += quantity;
    }
    sums.into_iter()
        .map(|(name, periods)| {
            let first = periods.keys().next().copied().unwrap_or(last);
            if last - first >= MAX_PERIODS {
                return Err(SeriesCsvError::Row { line: 0, field: "date", message: format!("series {name} spans more than {MAX_PERIODS} periods") });
            }
            let values = (first..=last).map(|at| periods.get(&at).map_or(0.0, |units| (*units).max(0) as f64)).collect();
            Ok((name, values))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_summed_into_periods_from_each_series_first_to_the_files_last() {
        let text = "series,date,quantity\nMUG,2024-01-01,3\nMUG,2024-01-03,2\nMUG,2024-01-03,-1\nVASE,2024-01-02T10:00:00,4\nMUG,2024-01-02,-9\n";
        let days = parse(text, Period::Day).unwrap();
        assert_eq!(days, [("MUG".to_owned(), vec![3.0, 0.0, 1.0]), ("VASE".to_owned(), vec![4.0, 0.0])]);
        // 2024-01-01 was a Monday: one week; January is one month.
        assert_eq!(parse(text, Period::Week).unwrap()[0].1, [0.0f64.max(3.0 + 2.0 - 1.0 - 9.0)]);
        let months = parse("series,date,quantity\nA,2023-12-31,1\nA,2024-02-01,2\n", Period::Month).unwrap();
        assert_eq!(months[0].1, [1.0, 0.0, 2.0]);
        let weeks = parse("series,date,quantity\nA,2024-01-07,1\nA,2024-01-08,2\n", Period::Week).unwrap();
        assert_eq!(weeks[0].1, [1.0, 2.0], "Sunday ends a week, Monday starts the next");
        let quarters = parse("series,date,quantity\nA,2023-12-31,1\nA,2024-03-31,2\nA,2024-04-01,4\nA,2024-11-30,8\n", Period::Quarter).unwrap();
        assert_eq!(quarters[0].1, [1.0, 2.0, 4.0, 0.0, 8.0], "quarters start in January, April, July and October");
    }

    #[test]
    fn a_wrong_row_is_named() {
        assert_eq!(parse("sku,date,quantity\n", Period::Day), Err(SeriesCsvError::MissingColumn("series")));
        let bad = |row: &str| parse(&format!("series,date,quantity\n{row}\n"), Period::Day).unwrap_err();
        assert!(matches!(bad("A,31/03/2011,1"), SeriesCsvError::Row { line: 2, field: "date", .. }));
        assert!(matches!(bad("A,2011-03-31,1.5"), SeriesCsvError::Row { field: "quantity", .. }));
        assert!(matches!(bad(",2011-03-31,1"), SeriesCsvError::Row { field: "series", .. }));
        assert_eq!(Period::parse("fortnight"), None);
    }
}

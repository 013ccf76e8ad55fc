//! The anomalies the demo plants, one of each kind, for the scan to find on the last day;
//! every other day is left as the business usually trades, so nothing else should be found.
//!
//! - cancellations: three days before the end, three in five web-shop customers cancel;
//! - stock variance: four days before the end, a count at the central warehouse finds 25
//!   units of one SKU missing;
//! - returns: five days before the end, eight customers send one SKU back as not as described;
//! - margin: in the last whole week, one A SKU sells at 40 % of its price everywhere;
//! - fees: each marketplace's first settlement, when it settles more lines than the fee test
//!   needs to judge one by, charges one line a 40 % commission.

use chrono::{Datelike, Duration, NaiveDate};

/// One anomaly planted: the kind of exception it should raise, its subject and day (a week's
/// Monday for margins, the deposit day for fees), in words what was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planted {
    pub kind: &'static str,
    pub subject: String,
    pub day: NaiveDate,
    pub what: String,
}

/// When each planted anomaly happens: only where the days traded leave history enough
/// before it to judge it against.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// The channel and day whose customers cancel far more than usual (7 days or more).
    pub(crate) cancellations: Option<(&'static str, NaiveDate)>,
    /// The day a count finds units missing at the central warehouse (7 days or more).
    pub(crate) count: Option<NaiveDate>,
    /// The day customers send one SKU back for one reason (14 days or more).
    pub(crate) returns: Option<NaiveDate>,
    /// The SKU sold at a loss and the Monday of its week (28 days or more).
    pub(crate) price_cut: Option<(String, NaiveDate)>,
}

/// Units the planted count finds missing, customers who send the planted SKU back, and the
/// share of its price the planted SKU sells at (per cent).
pub(crate) const MISSING_UNITS: i64 = 25;
pub(crate) const COMPLAINTS: usize = 8;
pub(crate) const CUT_PRICE_PERCENT: i64 = 40;
/// The reason the planted returns give.
pub(crate) const COMPLAINT: &str = "not_as_described";

impl Plan {
    pub(crate) fn for_days(first_day: NaiveDate, days: u32, a_sku: Option<&str>) -> Plan {
        let days = i64::from(days);
        let back = |n: i64| first_day + Duration::days(days - n);
        let last = back(1);
        let monday = last - Duration::days(i64::from(last.weekday().num_days_from_monday())) - Duration::weeks(1);
        Plan {
            cancellations: (days >= 7).then(|| ("web", back(3))),
            count: (days >= 7).then(|| back(4)),
            returns: (days >= 14).then(|| back(5)),
            price_cut: a_sku.filter(|_| days >= 28).map(|sku| (sku.to_owned(), monday)),
        }
    }

    /// Whether `sku` sells at its cut price on `day`.
    pub(crate) fn cut(&self, sku: &str, day: NaiveDate) -> bool {
        self.price_cut.as_ref().is_some_and(|(cut, monday)| cut == sku && day >= *monday && day < *monday + Duration::weeks(1))
    }
}

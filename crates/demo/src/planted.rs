//! The anomalies the demo plants, one of each kind, for the scan to find on the last day;
//! every other day is left as the business usually trades, so nothing else should be found.
//!
//! - cancellations: three days before the end, three in five web-shop customers cancel;
//! - stock variance: four days before the end, a count at the central warehouse finds 25
//!   units of one SKU missing;
//! - returns: five days before the end, eight customers send one SKU back as not as described;
//! - margin: one A SKU sells at 40 % of its price everywhere, from the Sunday before the last
//!   whole week to the end of it, so the parcels that leave that week, Sunday's orders the
//!   3PL ships on Monday among them, go at the cut price;
//! - fees: each marketplace's first settlement, when it settles more lines than the fee test
//!   needs to judge one by, charges one line a 40 % commission.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use ordo_domain::inventory::StockLevel;

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
    /// The SKU sold at a loss and the week it is found in (28 days or more).
    pub(crate) price_cut: Option<PriceCut>,
}

/// A price mistake: the week whose margin it spoils, and the SKU, chosen on its first day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PriceCut {
    pub(crate) sku: Option<String>,
    /// The Sunday before the week: the 3PL ships Sunday's orders on Monday. (The central
    /// warehouse ships most of them on Sunday, which the week before takes.)
    pub(crate) from: NaiveDate,
    pub(crate) monday: NaiveDate,
}

/// Units the planted count finds missing, customers who send the planted SKU back, and the
/// share of its price the planted SKU sells at (per cent).
pub(crate) const MISSING_UNITS: i64 = 25;
pub(crate) const COMPLAINTS: usize = 8;
pub(crate) const CUT_PRICE_PERCENT: i64 = 40;
/// The fewest units available, across locations, of the SKU the price cut is planted on.
pub(crate) const CUT_STOCK: i64 = 20;
/// The reason the planted returns give.
pub(crate) const COMPLAINT: &str = "not_as_described";

impl Plan {
    pub(crate) fn for_days(first_day: NaiveDate, days: u32) -> Plan {
        let days = i64::from(days);
        let back = |n: i64| first_day + Duration::days(days - n);
        let last = back(1);
        let monday = last - Duration::days(i64::from(last.weekday().num_days_from_monday())) - Duration::weeks(1);
        Plan {
            cancellations: (days >= 7).then(|| ("web", back(3))),
            count: (days >= 7).then(|| back(4)),
            returns: (days >= 14).then(|| back(5)),
            price_cut: (days >= 28).then(|| PriceCut { sku: None, from: monday - Duration::days(1), monday }),
        }
    }

    /// On the price cut's first day, chooses its SKU and returns it with the week it spoils:
    /// of the A SKUs listed on the most channels with [`CUT_STOCK`] units available or more
    /// (so the week's orders ship that week, not a backorder of full-price ones), the one
    /// whose sales brought the most `revenue` so far, where a price mistake costs most.
    pub(crate) fn choose_price_cut(
        &mut self,
        day: NaiveDate,
        a_skus: &BTreeMap<String, usize>,
        levels: &[StockLevel],
        revenue: &BTreeMap<String, i128>,
    ) -> Option<(String, NaiveDate)> {
        let cut = self.price_cut.as_mut().filter(|cut| cut.from == day && cut.sku.is_none())?;
        let mut available: BTreeMap<&str, i64> = BTreeMap::new();
        for level in levels.iter().filter(|l| a_skus.contains_key(&l.sku)) {
            *available.entry(&level.sku).or_default() += level.available;
        }
        let widest = a_skus.values().copied().max()?;
        let (sku, _) = a_skus
            .iter()
            .filter(|(sku, channels)| **channels == widest && available.get(sku.as_str()).is_some_and(|units| *units >= CUT_STOCK))
            .max_by_key(|(sku, _)| (revenue.get(sku.as_str()).copied().unwrap_or(0), std::cmp::Reverse(sku.as_str())))?;
        cut.sku = Some(sku.clone());
        Some((sku.clone(), cut.monday))
    }

    /// Whether `sku` sells at its cut price on `day`.
    pub(crate) fn cut(&self, sku: &str, day: NaiveDate) -> bool {
        self.price_cut.as_ref().is_some_and(|cut| cut.sku.as_deref() == Some(sku) && day >= cut.from && day < cut.monday + Duration::weeks(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap_or_default()
    }

    fn level(sku: &str, location: &str, available: i64) -> StockLevel {
        StockLevel { sku: sku.into(), location: location.into(), on_hand: available, reserved: 0, available }
    }

    #[test]
    fn the_price_cut_spoils_the_last_whole_week_and_the_sunday_before_it_whatever_the_weekday() {
        for first in 1..=7 {
            let first_day = date("2026-11-01") + Duration::days(first);
            let plan = Plan::for_days(first_day, 30);
            let cut = plan.price_cut.clone().unwrap_or_else(|| panic!("30 days plant a price cut"));
            let last = first_day + Duration::days(29);
            assert_eq!(cut.monday.weekday(), chrono::Weekday::Mon);
            assert_eq!(cut.from, cut.monday - Duration::days(1), "from the Sunday before");
            // The scan on the last day judges the weeks that ended before the last day's week.
            let lasts_monday = last - Duration::days(i64::from(last.weekday().num_days_from_monday()));
            assert_eq!(cut.monday, lasts_monday - Duration::weeks(1), "the last week the scan judges");
            assert!(cut.monday - first_day >= Duration::weeks(2), "with two whole weeks of history before it at least");
        }
        assert!(Plan::for_days(date("2026-11-01"), 27).price_cut.is_none());
    }

    #[test]
    fn the_cut_goes_to_the_widest_listed_a_sku_in_stock_that_sold_most_on_its_first_day_only() {
        let mut plan = Plan::for_days(date("2026-11-02"), 30);
        let from = plan.price_cut.as_ref().map(|c| c.from).unwrap_or_default();
        let a_skus = BTreeMap::from([("LAMP".to_owned(), 4), ("MUG".to_owned(), 4), ("RUG".to_owned(), 2), ("VASE".to_owned(), 4)]);
        let levels = [level("LAMP", "central", 90), level("MUG", "central", 12), level("MUG", "overflow", 8), level("RUG", "central", 90), level("VASE", "central", 19)];
        let revenue = BTreeMap::from([("LAMP".to_owned(), 10_000), ("MUG".to_owned(), 20_000), ("RUG".to_owned(), 90_000), ("VASE".to_owned(), 90_000)]);
        assert_eq!(plan.choose_price_cut(from - Duration::days(1), &a_skus, &levels, &revenue), None, "not before its first day");
        let (sku, monday) = plan.choose_price_cut(from, &a_skus, &levels, &revenue).unwrap_or_default();
        assert_eq!(sku, "MUG", "RUG is listed on fewer channels, VASE has 19 units, LAMP sold less");
        assert_eq!(monday, from + Duration::days(1));
        assert_eq!(plan.choose_price_cut(from, &a_skus, &levels, &revenue), None, "chosen once");
        assert!(plan.cut("MUG", from) && plan.cut("MUG", monday + Duration::days(6)));
        assert!(!plan.cut("MUG", from - Duration::days(1)) && !plan.cut("MUG", monday + Duration::days(7)) && !plan.cut("LAMP", monday));
    }
}

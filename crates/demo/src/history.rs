//! The sales the business's old system kept, brought along when it moved to Ordo: half a year
//! of days before the demo opens, drawn from the same channels, order sizes and A/B/C mix as
//! the days it trades, and imported as a migrating business would (`sku,date,quantity,channel`),
//! so its forecasts are back-tested from the first day instead of weeks later, and each
//! channel's demand chart shows its own.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use ordo_domain::master::{AbcClass, Listing};

use ordo_app::{AppResult, Ordo};

use super::trading::{line_quantity, pick_listings, DAILY_ORDERS};
use super::Seed;

/// Days of the old system's sales brought along.
pub(crate) const DAYS: i64 = 180;

/// What was brought along: days, and units sold over them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OldSales {
    pub days: i64,
    pub units: i64,
}

/// Each listed SKU's units sold on each channel on each of the `DAYS` days before `opening`, as
/// CSV.
fn old_sales_csv(opening: NaiveDate, listings: &BTreeMap<String, Vec<Listing>>, class: &BTreeMap<String, AbcClass>) -> (String, i64) {
    let mut seed = Seed(2025);
    let mut sold: BTreeMap<(NaiveDate, &str, &str), i64> = BTreeMap::new();
    for back in (1..=DAYS).rev() {
        let day = opening - Duration::days(back);
        for (channel, base) in DAILY_ORDERS {
            let Some(catalogue) = listings.get(channel).filter(|l| !l.is_empty()) else { continue };
            for _ in 0..seed.between(base * 3 / 4, base * 5 / 4) {
                for listing in pick_listings(&mut seed, channel, catalogue, class) {
                    *sold.entry((day, listing.sku.as_str(), channel)).or_default() += line_quantity(&mut seed, channel);
                }
            }
        }
    }
    let mut csv = String::from("sku,date,quantity,channel\n");
    for ((day, sku, channel), units) in &sold {
        csv.push_str(&format!("{sku},{day},{units},{channel}\n"));
    }
    (csv, sold.values().sum())
}

/// Imports the old system's sales before the demo's first day of trading.
pub(crate) async fn bring_old_sales(
    ordo: &Ordo,
    opening: NaiveDate,
    listings: &BTreeMap<String, Vec<Listing>>,
    class: &BTreeMap<String, AbcClass>,
) -> AppResult<OldSales> {
    let (csv, units) = old_sales_csv(opening, listings, class);
    let buyer = super::trading::actor("demo-procurement");
    let report = ordo.procurement().import_sales_history(csv.as_bytes(), Default::default(), &buyer).await?;
    if let Some(error) = report.errors.first() {
        return Err(ordo_domain::FieldError::new("sales history", error.to_string()).into());
    }
    Ok(OldSales { days: DAYS, units })
}

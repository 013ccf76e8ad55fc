//! Sales from before Ordo, imported so a migrating business's forecasts start with the history
//! they need to be fitted and back-tested, instead of waiting weeks for Ordo's own.
//!
//! A CSV file of `sku,date,quantity` rows, and optionally `channel`: one per sale, or per
//! day's total (rows of one SKU, day and channel are summed; a negative quantity is a return,
//! and a day whose returns outweigh its sales counts as no demand). A row naming its channel
//! shows in that channel's demand as well as the SKU's; one without counts in the SKU's only.
//! Every day must be before the SKU's first sale in Ordo, so nothing is counted twice, and a
//! SKU's day imported again replaces what was imported for it before, on every channel. As
//! with master data, a file with a bad row imports nothing unless bad rows are skipped; then
//! the good rows go in, in one transaction, audited once.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use ordo_domain::audit::Change;
use ordo_domain::FieldError;
use ordo_storage::ImportedDay;
use serde::Deserialize;

use crate::Procurement;
use crate::import::{ImportOptions, ImportReport, RowError};
use crate::{Actor, AppResult};

/// The most units one row may say: more is a typing error, not a sale.
const MAX_ROW_UNITS: i64 = 1_000_000;

#[derive(Debug, Deserialize)]
struct Row {
    sku: String,
    date: String,
    quantity: String,
    /// Absent, or an empty cell: no channel named.
    #[serde(default)]
    channel: Option<String>,
}

/// A checked row: its SKU, day, units and channel, if it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sale {
    sku: String,
    day: NaiveDate,
    units: i64,
    channel: Option<String>,
}

fn check(row: Row, today: NaiveDate) -> Result<Sale, FieldError> {
    let sku = row.sku.trim();
    if sku.is_empty() {
        return Err(FieldError::new("sku", "must not be empty"));
    }
    let day = NaiveDate::parse_from_str(row.date.trim(), "%Y-%m-%d").map_err(|_| FieldError::new("date", "must be a date as YYYY-MM-DD"))?;
    if day >= today {
        return Err(FieldError::new("date", format!("must be before today ({today}): history is of days that are over")));
    }
    let units: i64 = row.quantity.trim().parse().map_err(|_| FieldError::new("quantity", "must be a whole number of units"))?;
    if units.abs() > MAX_ROW_UNITS {
        return Err(FieldError::new("quantity", format!("must be between -{MAX_ROW_UNITS} and {MAX_ROW_UNITS}")));
    }
    Ok(Sale { sku: sku.to_owned(), day, units, channel: row.channel.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) })
}

/// The SKUs (or channels) a file names, each kept once: a file of millions of rows names a
/// few thousand.
#[derive(Debug, Default)]
struct Names {
    names: Vec<String>,
    numbers: HashMap<String, u32>,
}

impl Names {
    fn number(&mut self, name: String) -> u32 {
        if let Some(&n) = self.numbers.get(&name) {
            return n;
        }
        let n = self.names.len() as u32;
        self.names.push(name.clone());
        self.numbers.insert(name, n);
        n
    }
}

/// A checked row as kept until the file is read: its line, SKU by number, day, units and
/// channel by number.
#[derive(Debug, Clone, Copy)]
struct Line {
    line: u64,
    sku: u32,
    day: NaiveDate,
    units: i64,
    channel: Option<u32>,
}

/// A SKU by number, a day, and a channel by number (or none).
type SkuDayChannel = (u32, NaiveDate, Option<u32>);

/// The rows' units summed per SKU, day and channel; a day whose returns outweigh its sales is
/// zero.
fn daily_totals(lines: &[Line]) -> BTreeMap<SkuDayChannel, i64> {
    let mut totals: BTreeMap<SkuDayChannel, i64> = BTreeMap::new();
    for line in lines {
        *totals.entry((line.sku, line.day, line.channel)).or_default() += line.units;
    }
    totals.values_mut().for_each(|units| *units = (*units).max(0));
    totals
}

impl Procurement<'_> {
    /// Imports daily sales from before Ordo (see the module documentation).
    pub async fn import_sales_history(&self, data: &[u8], options: ImportOptions, actor: &Actor) -> AppResult<ImportReport> {
        let today = self.now().date_naive();
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(data);
        let headers = reader.headers().map_err(|e| FieldError::new("header", e.to_string()))?.clone();
        const COLUMNS: [&str; 3] = ["sku", "date", "quantity"];
        const HAVE: &str = "sales history files have: sku, date, quantity, and channel if they name it";
        if let Some(unknown) = headers.iter().find(|h| !COLUMNS.contains(h) && *h != "channel") {
            return Err(FieldError::new("header", format!("unknown column {unknown:?}; {HAVE}")).into());
        }
        if let Some(missing) = COLUMNS.iter().find(|c| !headers.iter().any(|h| h == **c)) {
            return Err(FieldError::new("header", format!("missing column {missing:?}; {HAVE}")).into());
        }
        let mut errors = Vec::new();
        let mut skus = Names::default();
        let mut channels = Names::default();
        let mut lines: Vec<Line> = Vec::new();
        let mut rows = 0u64;
        for record in reader.records() {
            rows += 1;
            let record = match record {
                Ok(record) => record,
                Err(e) => {
                    errors.push(RowError { line: e.position().map_or(0, |p| p.line()), field: None, message: e.to_string() });
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line());
            match record.deserialize::<Row>(Some(&headers)).map_err(|e| FieldError::new("row", e.to_string())).and_then(|row| check(row, today)) {
                Ok(sale) => {
                    let channel = sale.channel.map(|code| channels.number(code));
                    lines.push(Line { line, sku: skus.number(sale.sku), day: sale.day, units: sale.units, channel });
                }
                Err(e) => errors.push(RowError { line, field: Some(e.field), message: e.message }),
            }
        }

        let mut tx = self.db.write().await?;
        let mut known = vec![false; skus.names.len()];
        for sku in tx.known_skus(&skus.names).await? {
            if let Some(&n) = skus.numbers.get(&sku) {
                known[n as usize] = true;
            }
        }
        // A business has a handful of channels: read once, however many codes a file names.
        let codes: HashSet<String> = tx.channels().await?.into_iter().map(|c| c.code).collect();
        let channel_known: Vec<bool> = channels.names.iter().map(|code| codes.contains(code)).collect();
        let products: Vec<String> = skus.names.iter().zip(&known).filter(|(_, k)| **k).map(|(sku, _)| sku.clone()).collect();
        let mut first_sale: Vec<Option<NaiveDate>> = vec![None; skus.names.len()];
        for (sku, day) in tx.first_sale_days(&products).await? {
            if let (Some(&n), Ok(day)) = (skus.numbers.get(&sku), NaiveDate::parse_from_str(&day, "%Y-%m-%d")) {
                first_sale[n as usize] = Some(day);
            }
        }
        lines.retain(|l| {
            let sku = &skus.names[l.sku as usize];
            if !known[l.sku as usize] {
                errors.push(RowError { line: l.line, field: Some("sku".into()), message: format!("no product has SKU {sku:?}") });
                return false;
            }
            if let Some(n) = l.channel.filter(|n| !channel_known[*n as usize]) {
                let message = format!("no channel has code {:?}", channels.names[n as usize]);
                errors.push(RowError { line: l.line, field: Some("channel".into()), message });
                return false;
            }
            match first_sale[l.sku as usize].filter(|first| l.day >= *first) {
                Some(first) => {
                    let message = format!("must be before {first}, when {sku} first sold in Ordo: Ordo counts its own sales from then");
                    errors.push(RowError { line: l.line, field: Some("date".into()), message });
                    false
                }
                None => true,
            }
        });
        errors.sort_by_key(|e| e.line);
        // Nothing to write (a refused file, or no good row): nothing changes and nothing is audited.
        if lines.is_empty() || (!errors.is_empty() && !options.skip_invalid) {
            return Ok(ImportReport { rows, imported: 0, errors });
        }
        let totals = daily_totals(&lines);
        // Every SKU's day in the file is forgotten first, on every channel, then written anew:
        // a day imported again is replaced, even where its channels differ. The totals are in
        // SKU and day order, so a SKU's day on several channels comes once.
        let mut sku_days: Vec<(u32, NaiveDate)> = totals.keys().map(|&(sku, day, _)| (sku, day)).collect();
        sku_days.dedup();
        for chunk in sku_days.chunks(1000) {
            let days: Vec<(String, String)> = chunk.iter().map(|&(sku, day)| (skus.names[sku as usize].clone(), day.to_string())).collect();
            tx.forget_sales_history(&days).await?;
        }
        let daily: Vec<(&SkuDayChannel, &i64)> = totals.iter().collect();
        for chunk in daily.chunks(1000) {
            let days: Vec<ImportedDay> = chunk
                .iter()
                .map(|&(&(sku, day, channel), &units)| ImportedDay {
                    sku: skus.names[sku as usize].clone(),
                    day: day.to_string(),
                    channel: channel.map(|n| channels.names[n as usize].clone()),
                    units,
                })
                .collect();
            tx.put_sales_history(&days).await?;
        }
        let mut sold: Vec<u32> = sku_days.iter().map(|(sku, _)| *sku).collect();
        sold.dedup();
        let named: BTreeSet<u32> = totals.keys().filter_map(|(_, _, channel)| *channel).collect();
        let summary = serde_json::json!({
            "rows": lines.len(),
            "skus": sold.len(),
            "days": sku_days.len(),
            "channels": named.iter().map(|n| &channels.names[*n as usize]).collect::<Vec<_>>(),
            "from": sku_days.iter().map(|(_, day)| *day).min(),
            "to": sku_days.iter().map(|(_, day)| *day).max(),
        });
        let change = Change::new("sales_history.import", "sales_history").after(&summary);
        crate::audit::record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(ImportReport { rows, imported: lines.len() as u64, errors })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(sku: &str, date: &str, quantity: &str) -> Row {
        Row { sku: sku.into(), date: date.into(), quantity: quantity.into(), channel: None }
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_row_is_checked_field_by_field() {
        let today = day("2026-03-01");
        assert_eq!(check(row(" MUG-1 ", "2026-02-28", "3"), today).unwrap(), Sale { sku: "MUG-1".into(), day: day("2026-02-28"), units: 3, channel: None });
        let on = |channel: &str| check(Row { channel: Some(channel.into()), ..row("MUG-1", "2026-02-28", "3") }, today).unwrap().channel;
        assert_eq!((on(" web "), on(" ")), (Some("web".to_owned()), None), "a blank channel names none");
        assert_eq!(check(row("", "2026-02-28", "3"), today).unwrap_err().field, "sku");
        assert_eq!(check(row("MUG-1", "28.02.2026", "3"), today).unwrap_err().field, "date");
        assert_eq!(check(row("MUG-1", "2026-03-01", "3"), today).unwrap_err().field, "date", "today is not over");
        assert_eq!(check(row("MUG-1", "2026-02-28", "2.5"), today).unwrap_err().field, "quantity");
        assert_eq!(check(row("MUG-1", "2026-02-28", "1000001"), today).unwrap_err().field, "quantity");
        assert_eq!(check(row("MUG-1", "2026-02-28", "-2"), today).unwrap().units, -2, "a return");
    }

    proptest::proptest! {
        #[test]
        fn any_row_is_taken_or_refused_naming_its_field(sku in ".{0,12}", date in "(20[0-9]{2}-[01][0-9]-[0-3][0-9]|.{0,12})", quantity in "(-?[0-9]{1,8}|.{0,8})") {
            let today = day("2026-03-01");
            match check(row(&sku, &date, &quantity), today) {
                Ok(sale) => {
                    proptest::prop_assert!(!sale.sku.is_empty() && sale.sku == sale.sku.trim());
                    proptest::prop_assert!(sale.day < today && sale.units.abs() <= MAX_ROW_UNITS);
                }
                Err(e) => proptest::prop_assert!(["sku", "date", "quantity"].contains(&e.field.as_str()) && !e.message.is_empty()),
            }
        }
    }

    #[test]
    fn rows_of_one_day_are_summed_and_returns_never_make_demand_negative() {
        let mut skus = Names::default();
        let mut line = |sku: &str, date: &str, units, channel| Line { line: 0, sku: skus.number(sku.to_owned()), day: day(date), units, channel };
        let lines = [
            line("A", "2026-01-02", 3, None),
            line("A", "2026-01-02", 2, None),
            line("A", "2026-01-02", 4, Some(0)),
            line("A", "2026-01-03", -4, None),
            line("A", "2026-01-03", 1, None),
            line("B", "2026-01-02", 1, None),
        ];
        let got: Vec<_> = daily_totals(&lines).into_iter().collect();
        let a_day = (0, day("2026-01-02"));
        assert_eq!(got, [((a_day.0, a_day.1, None), 5), ((a_day.0, a_day.1, Some(0)), 4), ((0, day("2026-01-03"), None), 0), ((1, day("2026-01-02"), None), 1)]);
        assert_eq!(skus.names, ["A", "B"], "each SKU kept once");
    }
}

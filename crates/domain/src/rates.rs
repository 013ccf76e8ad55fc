//! Exchange rates from the European Central Bank's reference-rate XML (`eurofxref-daily.xml`,
//! or the 90-day and historical files with one `<Cube time=…>` a day): each rate says how many
//! units of a currency one euro buys. Ordo keeps, per currency, how many units of its base
//! currency one unit buys, so the ECB's rates are turned into cross rates through the euro.

use chrono::{DateTime, NaiveDate, Utc};

use crate::ledger::MAX_RATE_MICROS;
use crate::money::Currency;
use crate::FieldError;

/// One day's rates as the ECB published them: (currency code, units per euro as decimal text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcbDay {
    pub date: NaiveDate,
    pub rates: Vec<(String, String)>,
}

/// A rate Ordo can keep: `micros` units of the base currency for one unit of `currency`, from
/// `valid_from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseRate {
    pub currency: Currency,
    pub valid_from: DateTime<Utc>,
    pub micros: i64,
}

/// The value of `name='…'` (or `name="…"`) inside one tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().last();
        let after = &rest[at + name.len()..];
        rest = after;
        if before.is_some_and(|c| !c.is_whitespace()) {
            continue;
        }
        let Some(after) = after.trim_start().strip_prefix('=') else { continue };
        let after = after.trim_start();
        let quote = after.chars().next().filter(|q| *q == '\'' || *q == '"')?;
        let value = &after[1..];
        return value.find(quote).map(|end| &value[..end]);
    }
    None
}

/// Reads the ECB's XML: every `<Cube time=…>` with the `<Cube currency=… rate=…/>` inside it.
pub fn parse_ecb(xml: &str) -> Result<Vec<EcbDay>, FieldError> {
    let mut days: Vec<EcbDay> = Vec::new();
    for (i, piece) in xml.split("<Cube").enumerate().skip(1) {
        let tag = piece.split('>').next().unwrap_or_default();
        if let Some(time) = attribute(tag, "time") {
            let date = NaiveDate::parse_from_str(time.trim(), "%Y-%m-%d")
                .map_err(|_| FieldError::new(format!("Cube[{i}].time"), format!("{time:?} is not a date such as 2026-12-04")))?;
            days.push(EcbDay { date, rates: Vec::new() });
        } else if let (Some(currency), Some(rate)) = (attribute(tag, "currency"), attribute(tag, "rate")) {
            let day = days.last_mut().ok_or_else(|| FieldError::new(format!("Cube[{i}]"), "a rate comes before any day (<Cube time=…>)"))?;
            day.rates.push((currency.trim().to_owned(), rate.trim().to_owned()));
        }
    }
    if days.iter().all(|d| d.rates.is_empty()) {
        return Err(FieldError::new("file", "holds no ECB reference rates (<Cube time=…><Cube currency=… rate=…/>)"));
    }
    Ok(days)
}

/// A positive decimal as (digits, decimals): "1.0856" is (10856, 4).
fn decimal(field: &str, text: &str) -> Result<(i128, u32), FieldError> {
    let bad = || FieldError::new(field, format!("{text:?} is not a rate such as 1.0856"));
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || fraction.len() > 12 || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) || whole.len() > 12 {
        return Err(bad());
    }
    let digits: i128 = format!("{whole}{fraction}").parse().map_err(|_| bad())?;
    if digits == 0 {
        return Err(bad());
    }
    Ok((digits, fraction.len() as u32))
}

/// Each day's rates as Ordo keeps them for `base`: one unit of each currency in base units,
/// valid from the day's start (UTC). Currencies Ordo does not know, and rates beyond what Ordo
/// keeps, are left out and named in the second list.
pub fn base_rates(days: &[EcbDay], base: Currency) -> Result<(Vec<BaseRate>, Vec<String>), FieldError> {
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for day in days {
        let valid_from = day.date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).ok_or_else(|| FieldError::new("time", "is not a day"))?;
        // Units of base per euro: 1 when the base is the euro.
        let per_euro = if base.code() == "EUR" {
            (1, 0)
        } else {
            let (_, text) = day.rates.iter().find(|(code, _)| code == base.code()).ok_or_else(|| {
                FieldError::new("currency", format!("the ECB file of {} has no rate for the base currency {base}", day.date))
            })?;
            decimal(&format!("{}.{}", day.date, base), text)?
        };
        let mut currencies: Vec<(String, (i128, u32))> = Vec::with_capacity(day.rates.len() + 1);
        currencies.push(("EUR".to_owned(), (1, 0)));
        for (code, text) in &day.rates {
            currencies.push((code.clone(), decimal(&format!("{}.{code}", day.date), text)?));
        }
        for (code, (digits, scale)) in currencies {
            if code == base.code() {
                continue;
            }
            let Ok(currency) = Currency::from_code(&code) else {
                skipped.push(format!("{code}: not a currency Ordo keeps"));
                continue;
            };
            // base per unit = (base per euro) / (units per euro), in millionths, rounded.
            let numerator = per_euro.0 * 10i128.pow(scale) * 1_000_000;
            let denominator = digits * 10i128.pow(per_euro.1);
            let micros = (numerator + denominator / 2) / denominator;
            match i64::try_from(micros) {
                Ok(micros) if (1..=MAX_RATE_MICROS).contains(&micros) => kept.push(BaseRate { currency, valid_from, micros }),
                _ => skipped.push(format!("{code} on {}: the rate is beyond what Ordo keeps (six decimals, at most 1000000)", day.date)),
            }
        }
    }
    Ok((kept, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAILY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender>
		<gesmes:name>European Central Bank</gesmes:name>
	</gesmes:Sender>
	<Cube>
		<Cube time='2026-12-04'>
			<Cube currency='USD' rate='1.0856'/>
			<Cube currency='JPY' rate='162.35'/>
			<Cube currency='GBP' rate='0.8552'/>
			<Cube currency='XDR' rate='0.81'/>
		</Cube>
	</Cube>
</gesmes:Envelope>"#;

    #[test]
    fn the_daily_file_reads_as_cross_rates_for_any_base() {
        let days = parse_ecb(DAILY).unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].rates.len(), 4);
        let eur = Currency::EUR;
        let (rates, skipped) = base_rates(&days, eur).unwrap();
        let micros = |code: &str| rates.iter().find(|r| r.currency.code() == code).map(|r| r.micros);
        assert_eq!(micros("USD"), Some(921_150), "one dollar is 1/1.0856 euro");
        assert_eq!(micros("JPY"), Some(6_160));
        assert_eq!(skipped, vec!["XDR: not a currency Ordo keeps".to_owned()]);
        let (rates, _) = base_rates(&days, Currency::USD).unwrap();
        let micros = |code: &str| rates.iter().find(|r| r.currency.code() == code).map(|r| r.micros);
        assert_eq!(micros("EUR"), Some(1_085_600), "one euro buys 1.0856 dollars");
        assert_eq!(micros("GBP"), Some(1_269_411), "1.0856 / 0.8552");
        assert_eq!(rates[0].valid_from.to_rfc3339(), "2026-12-04T00:00:00+00:00");
        assert!(base_rates(&days, Currency::from_code("CHF").unwrap()).is_err(), "the base must be in the file");
    }

    #[test]
    fn bad_files_name_what_is_wrong() {
        assert_eq!(parse_ecb("<html>nothing</html>").unwrap_err().field, "file");
        assert!(parse_ecb("<Cube currency='USD' rate='1.1'/>").is_err(), "a rate before any day");
        let bad = DAILY.replace("1.0856", "1,0856");
        assert!(base_rates(&parse_ecb(&bad).unwrap(), Currency::EUR).unwrap_err().field.ends_with(".USD"));
        assert!(parse_ecb(&DAILY.replace("2026-12-04", "04.12.2026")).unwrap_err().field.contains("time"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn any_text_never_panics(text in ".{0,300}") {
                if let Ok(days) = parse_ecb(&text) {
                    let _ = base_rates(&days, Currency::EUR);
                }
            }

            #[test]
            fn mutated_files_never_panic(cut in 0usize..700, insert in "[<>'\"=/ a-zA-Z0-9.]{0,8}") {
                let mut text = super::DAILY.to_owned();
                let at = (0..=cut.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                text.insert_str(at, &insert);
                if let Ok(days) = parse_ecb(&text) {
                    let _ = base_rates(&days, Currency::USD);
                }
            }
        }
    }
}

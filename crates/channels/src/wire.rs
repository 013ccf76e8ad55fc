//! The shapes channels put values in, read exactly: money and ids as the literal text the
//! channel sent (a string or a JSON number, never through `f64`), booleans that arrive as
//! `"true"`, and timestamps with, or without, an offset.

use chrono::{DateTime, NaiveDateTime, Utc};
use ordo_domain::{Currency, FieldError, Money};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A JSON string's content, or a JSON number's literal text.
fn literal<'de, D: Deserializer<'de>>(deserializer: D, what: &str) -> Result<String, D::Error> {
    let raw: Box<RawValue> = Deserialize::deserialize(deserializer)?;
    let text = raw.get().trim();
    if text.starts_with('"') {
        let s: String = serde_json::from_str(text).map_err(D::Error::custom)?;
        Ok(s.trim().to_owned())
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        Ok(text.to_owned())
    } else {
        Err(D::Error::custom(format!("must be {what} as a string or a number")))
    }
}

/// An amount of money exactly as the channel wrote it: `"199.00"`, `3`, `"0.9"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount(pub String);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        literal(deserializer, "an amount").map(Amount)
    }
}

impl Amount {
    /// The amount in `currency`, refusing exponents and more decimals than the currency has
    /// (trailing zeros past them are dropped: `"10.000"` is 10.00 in EUR).
    pub fn money(&self, field: &str, currency: Currency) -> Result<Money, FieldError> {
        money(field, &self.0, currency)
    }
}

/// `text` in `currency`, as [`Amount::money`] reads it.
pub fn money(field: &str, text: &str, currency: Currency) -> Result<Money, FieldError> {
    let mut text = text.trim();
    if text.is_empty() {
        return Ok(Money::zero(currency));
    }
    if let Some((_, fraction)) = text.split_once('.') {
        let keep = fraction.trim_end_matches('0').len().max(currency.decimals() as usize);
        let cut = fraction.len() - keep.min(fraction.len());
        text = &text[..text.len() - cut];
        text = text.strip_suffix('.').unwrap_or(text);
    }
    Money::parse_decimal(text, currency).map_err(|e| FieldError::new(field, e.to_string()))
}

/// An id as a string: Shopify's order ids pass 2^53, so a JSON number is kept as its digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = literal(deserializer, "an id")?;
        if text.contains(['.', 'e', 'E']) {
            return Err(D::Error::custom("must be a whole number or a string"));
        }
        Ok(Id(text))
    }
}

impl Id {
    /// No id at all: WooCommerce's `variation_id` 0, an empty string.
    pub fn is_none(&self) -> bool {
        self.0.is_empty() || self.0 == "0"
    }
}

/// A boolean, also when sent as `"true"` or `"false"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Bool(bool),
            Text(String),
        }
        match Either::deserialize(deserializer)? {
            Either::Bool(b) => Ok(Flag(b)),
            Either::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Flag(true)),
                "false" | "0" | "no" | "" => Ok(Flag(false)),
                _ => Err(D::Error::custom("must be true or false")),
            },
        }
    }
}

/// A quantity: a whole number, also when sent as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(pub i64);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = literal(deserializer, "a quantity")?;
        text.parse().map(Quantity).map_err(|_| D::Error::custom("must be a whole number"))
    }
}

/// A time with an offset (`2008-01-10T11:00:00-05:00`, `…Z`), or without one, which is then
/// read as UTC: WooCommerce's `*_gmt` fields carry no `Z`.
pub fn utc(field: &str, text: &str) -> Result<DateTime<Utc>, FieldError> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
        .map(|t| t.and_utc())
        .map_err(|_| FieldError::new(field, format!("{text:?} is not a time such as 2026-03-22T16:28:02Z")))
}

/// Reads `body` as `T`, naming the field that does not fit (`line_items[2].price`).
pub fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, FieldError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde_json's own wording ends with the position; the field says where.
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        // A missing field is named itself, not the object it is missing from.
        let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
        let field = match (missing, path.as_str()) {
            (Some(name), ".") => name.to_owned(),
            (Some(name), parent) => format!("{parent}.{name}"),
            (None, ".") => "body".to_owned(),
            (None, _) => path,
        };
        FieldError::new(field, message)
    })
}

/// A text that must be there and not blank.
pub fn required(field: &str, value: Option<&str>) -> Result<String, FieldError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(FieldError::new(field, "is missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Sample {
        amount: Amount,
        id: Id,
        flag: Flag,
    }

    #[test]
    fn amounts_and_ids_keep_the_text_the_channel_sent() {
        let s: Sample = serde_json::from_str(r#"{"amount": 12.1, "id": 820982911946154508, "flag": "true"}"#).unwrap();
        assert_eq!(s.amount.0, "12.1");
        assert_eq!(s.id.0, "820982911946154508", "above 2^53, not rounded through f64");
        assert!(s.flag.0);
        let s: Sample = serde_json::from_str(r#"{"amount": "199.00", "id": "gid", "flag": false}"#).unwrap();
        assert_eq!(s.amount.money("a", Currency::USD).unwrap().minor(), 19_900);
        assert!(serde_json::from_str::<Sample>(r#"{"amount": true, "id": 1, "flag": false}"#).is_err());
        assert!(serde_json::from_str::<Sample>(r#"{"amount": 1, "id": 1.5, "flag": false}"#).is_err());
    }

    #[test]
    fn money_reads_whole_numbers_short_and_long_fractions_and_refuses_exponents() {
        let eur = Currency::EUR;
        assert_eq!(money("m", "3", eur).unwrap().minor(), 300);
        assert_eq!(money("m", "0.9", eur).unwrap().minor(), 90);
        assert_eq!(money("m", "10.000", eur).unwrap().minor(), 1000);
        assert_eq!(money("m", "20", Currency::from_code("VND").unwrap()).unwrap().minor(), 20);
        assert_eq!(money("m", "1.005", eur).unwrap_err().field, "m");
        assert!(money("m", "1e3", eur).is_err());
        assert!(money("m", "99999999999999999999", eur).is_err());
    }

    #[test]
    fn times_without_an_offset_are_utc() {
        let t = utc("t", "2017-03-22T16:28:02").unwrap();
        assert_eq!(t.to_rfc3339(), "2017-03-22T16:28:02+00:00");
        let t = utc("t", "2008-01-10T11:00:00-05:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2008-01-10T16:00:00+00:00");
        assert_eq!(utc("t", "2015-08-04T19:09:02.768Z").unwrap().timestamp_subsec_millis(), 768);
        assert_eq!(utc("date_created_gmt", "yesterday").unwrap_err().field, "date_created_gmt");
    }

    #[test]
    fn parse_errors_name_the_field() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            lines: Vec<Sample>,
        }
        let e = parse::<Outer>(br#"{"lines": [{"amount": "1", "id": 1, "flag": "maybe"}]}"#).unwrap_err();
        assert_eq!(e.field, "lines[0].flag");
        assert_eq!(parse::<Outer>(b"not json").unwrap_err().field, "body");
        assert_eq!(parse::<Outer>(b"{}").unwrap_err().field, "lines");
        assert_eq!(parse::<Outer>(br#"{"lines": [{"amount": "1", "flag": true}]}"#).unwrap_err().field, "lines[0].id");
    }
}

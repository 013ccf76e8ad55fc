//! Money: integer minor units with the ISO 4217 currency inside. No floating point, ever.
//!
//! Amounts cross the boundary as decimal strings ("19.99"); [`Money::parse_decimal`] rejects a
//! value with more decimals than its currency has, or beyond [`Money::MAX_MINOR`], and
//! [`Money::allocate`] splits a total into parts that always sum back to it.
//!
//! The bounds keep every sum Ordo makes far from `i64`'s limit: one amount (a price, a cost,
//! a fee, a line, a whole order) is at most [`Money::MAX_MINOR`] minor units, a unit price at
//! most [`Money::MAX_UNIT_PRICE_MINOR`]. Reports that add up many amounts do so in `i128`
//! ([`Total`]), which no sequence of bounded amounts can overflow.

use std::fmt;

use crate::FieldError;

/// ISO 4217 currencies Ordo knows, with their number of decimals. A code that is not here is
/// rejected rather than guessed at.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2), ("ARS", 2), ("AUD", 2), ("BGN", 2), ("BHD", 3), ("BRL", 2), ("CAD", 2),
    ("CHF", 2), ("CLP", 0), ("CNY", 2), ("COP", 2), ("CZK", 2), ("DKK", 2), ("EGP", 2),
    ("EUR", 2), ("GBP", 2), ("HKD", 2), ("HUF", 2), ("IDR", 2), ("ILS", 2), ("INR", 2),
    ("ISK", 0), ("JOD", 3), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("MXN", 2), ("MYR", 2),
    ("NOK", 2), ("NZD", 2), ("OMR", 3), ("PHP", 2), ("PLN", 2), ("RON", 2), ("SAR", 2),
    ("SEK", 2), ("SGD", 2), ("THB", 2), ("TND", 3), ("TRY", 2), ("TWD", 2), ("UAH", 2),
    ("USD", 2), ("VND", 0), ("ZAR", 2),
];

/// An ISO 4217 currency code that Ordo knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    decimals: u32,
}

impl Currency {
    pub const USD: Currency = Currency { code: "USD", decimals: 2 };
    pub const EUR: Currency = Currency { code: "EUR", decimals: 2 };

    /// Looks up a currency by its three-letter code.
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, decimals)| Currency { code, decimals })
            .ok_or_else(|| MoneyError::UnknownCurrency(code.chars().take(8).collect()))
    }

    /// Like [`Currency::from_code`], naming `field` in the error.
    pub fn parse(field: &str, code: &str) -> Result<Currency, FieldError> {
        Self::from_code(code).map_err(|e| FieldError::new(field, e.to_string()))
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    /// How many digits follow the decimal point: 2 for EUR, 0 for JPY, 3 for KWD.
    pub fn decimals(self) -> u32 {
        self.decimals
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency {0:?}; use an ISO 4217 code such as \"EUR\"")]
    UnknownCurrency(String),
    #[error("must be a decimal string such as \"19.99\"")]
    NotDecimal,
    #[error("has more than {0} decimals for its currency")]
    TooManyDecimals(u32),
    #[error("is too large")]
    Overflow,
    #[error("is beyond the largest amount Ordo accepts, {0}")]
    OutOfBounds(String),
    #[error("must not be negative")]
    Negative,
    #[error("currencies differ: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// An amount of money: minor units (cents) and the currency they count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// The largest amount, in minor units, that one price, cost, fee, line or order may carry:
    /// 10^13, so 100,000,000,000.00 in a currency with two decimals.
    pub const MAX_MINOR: i64 = 10_000_000_000_000;
    /// The largest unit price, in minor units: 10^11, so 1,000,000,000.00 with two decimals.
    pub const MAX_UNIT_PRICE_MINOR: i64 = 100_000_000_000;

    /// The bound as money in `currency`, for messages.
    pub fn max(currency: Currency) -> Money {
        Money { minor: Self::MAX_MINOR, currency }
    }

    /// Refuses an amount whose size is beyond `bound` minor units, naming the bound.
    pub fn within(self, bound: i64) -> Result<Money, MoneyError> {
        if self.minor.unsigned_abs() > bound.unsigned_abs() {
            return Err(MoneyError::OutOfBounds(Money { minor: bound, ..self }.to_string()));
        }
        Ok(self)
    }

    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Reads a decimal string such as "19.99", "-3.5" or "100" in `currency`, at most
    /// [`Money::MAX_MINOR`] either way.
    pub fn parse_decimal(value: &str, currency: Currency) -> Result<Money, MoneyError> {
        let (negative, digits) = match value.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let (whole, fraction) = match digits.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (digits, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(MoneyError::NotDecimal);
        }
        let fraction = fraction.unwrap_or("");
        let decimals = currency.decimals();
        if fraction.len() > decimals as usize {
            return Err(MoneyError::TooManyDecimals(decimals));
        }
        let scale = 10i64.pow(decimals);
        let whole: i64 = whole.parse().map_err(|_| MoneyError::Overflow)?;
        let mut frac: i64 = if fraction.is_empty() { 0 } else { fraction.parse().map_err(|_| MoneyError::Overflow)? };
        frac *= 10i64.pow(decimals - fraction.len() as u32);
        let minor = whole.checked_mul(scale).and_then(|w| w.checked_add(frac)).ok_or(MoneyError::Overflow)?;
        Money { minor: if negative { -minor } else { minor }, currency }.within(Self::MAX_MINOR)
    }

    /// Reads a decimal string for `field` that must not be negative (a price, a cost).
    pub fn parse_non_negative(field: &str, value: &str, currency: Currency) -> Result<Money, FieldError> {
        let money = Self::parse_decimal(value, currency).map_err(|e| FieldError::new(field, e.to_string()))?;
        if money.minor < 0 {
            return Err(FieldError::new(field, MoneyError::Negative.to_string()));
        }
        Ok(money)
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_negative(self) -> bool {
        self.minor < 0
    }

    /// The amount as a decimal string with exactly the currency's decimals: "19.90".
    pub fn to_decimal_string(self) -> String {
        let decimals = self.currency.decimals();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if decimals == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10u64.pow(decimals);
        format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = decimals as usize)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_add(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_sub(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// The amount times an integer quantity.
    pub fn checked_times(self, quantity: i64) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_mul(quantity).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// The amount multiplied by `numerator / denominator`, rounded half away from zero.
    /// Markups, rates and shares go through here so no float is ever involved.
    pub fn scaled(self, numerator: i64, denominator: i64) -> Result<Money, MoneyError> {
        if denominator == 0 {
            return Err(MoneyError::Overflow);
        }
        let product = i128::from(self.minor) * i128::from(numerator);
        let denominator = i128::from(denominator);
        let half = denominator.abs() / 2;
        let rounded = if (product < 0) == (denominator < 0) {
            (product.abs() + half) / denominator.abs()
        } else {
            -((product.abs() + half) / denominator.abs())
        };
        let minor = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// Splits the amount into parts proportional to `weights` (largest remainder method), so
    /// the parts always sum to the whole: 10.00 over three equal weights is 3.34 + 3.33 + 3.33.
    /// All-zero or empty weights give no parts.
    pub fn allocate(self, weights: &[u64]) -> Vec<Money> {
        let total_weight: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        if total_weight == 0 {
            return Vec::new();
        }
        let magnitude = u128::from(self.minor.unsigned_abs());
        let mut parts: Vec<u128> = weights.iter().map(|&w| magnitude * u128::from(w) / total_weight).collect();
        let mut remainders: Vec<(usize, u128)> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| (i, magnitude * u128::from(w) % total_weight))
            .collect();
        // Hand out the minor units lost to truncation, biggest remainder first, ties to the earlier part.
        remainders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let left = magnitude - parts.iter().sum::<u128>();
        for &(index, _) in remainders.iter().take(left as usize) {
            parts[index] += 1;
        }
        let sign = if self.minor < 0 { -1 } else { 1 };
        parts
            .into_iter()
            // Each part is at most the whole, which came from an i64.
            .map(|p| Money { minor: sign * i64::try_from(p).unwrap_or(i64::MAX), currency: self.currency })
            .collect()
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        Ok(())
    }
}

/// A sum of many amounts in minor units, as reports make them: wide enough that no sequence of
/// bounded amounts overflows it.
pub type Total = i128;

/// A total as a decimal string with the currency's decimals: 1999 in EUR is "19.99".
pub fn total_decimal(total: Total, currency: Currency) -> String {
    let decimals = currency.decimals();
    let sign = if total < 0 { "-" } else { "" };
    let abs = total.unsigned_abs();
    if decimals == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10u128.pow(decimals);
    format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = decimals as usize)
}

/// Serialises money as its decimal string, for `#[serde(serialize_with)]`; the document
/// carries the currency once, beside it.
pub fn serde_decimal<S: serde::Serializer>(money: &Money, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&money.to_decimal_string())
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(s: &str) -> Money {
        Money::parse_decimal(s, Currency::EUR).unwrap()
    }

    #[test]
    fn parses_and_prints_decimal_strings() {
        assert_eq!(eur("19.99").minor(), 1999);
        assert_eq!(eur("19.9").minor(), 1990);
        assert_eq!(eur("19").minor(), 1900);
        assert_eq!(eur("-0.05").minor(), -5);
        assert_eq!(eur("19.9").to_decimal_string(), "19.90");
        assert_eq!(Money::from_minor(-5, Currency::EUR).to_decimal_string(), "-0.05");
        let yen = Currency::from_code("JPY").unwrap();
        assert_eq!(Money::parse_decimal("1500", yen).unwrap().to_decimal_string(), "1500");
        let dinar = Currency::from_code("KWD").unwrap();
        assert_eq!(Money::parse_decimal("1.234", dinar).unwrap().minor(), 1234);
    }

    #[test]
    fn rejects_what_is_not_plain_decimal_money() {
        assert_eq!(Money::parse_decimal("1.999", Currency::EUR), Err(MoneyError::TooManyDecimals(2)));
        assert_eq!(Money::parse_decimal("5.0", Currency::from_code("JPY").unwrap()), Err(MoneyError::TooManyDecimals(0)));
        for bad in ["", "-", ".5", "5.", "1e3", "1,50", " 1", "+1", "0x10", "1.2.3", "NaN"] {
            assert_eq!(Money::parse_decimal(bad, Currency::EUR), Err(MoneyError::NotDecimal), "{bad:?}");
        }
        assert_eq!(Money::parse_decimal("99999999999999999999", Currency::EUR), Err(MoneyError::Overflow));
        assert_eq!(Money::parse_decimal("92233720368547758.07", Currency::EUR), Err(MoneyError::OutOfBounds("100000000000.00 EUR".into())));
        assert_eq!(eur("100000000000.00").minor(), Money::MAX_MINOR, "the bound itself is accepted");
        assert!(Money::parse_decimal("-100000000000.01", Currency::EUR).is_err());
        assert_eq!(Money::parse_non_negative("unit_cost", "-1", Currency::EUR).unwrap_err().field, "unit_cost");
        assert!(Currency::from_code("XXX").is_err());
        assert!(Currency::from_code("eur").is_err());
    }

    #[test]
    fn arithmetic_keeps_currencies_apart() {
        let usd = Money::from_minor(100, Currency::USD);
        assert!(matches!(eur("1").checked_add(usd), Err(MoneyError::CurrencyMismatch(..))));
        assert_eq!(eur("1.10").checked_add(eur("2.25")).unwrap(), eur("3.35"));
        assert_eq!(eur("2.50").checked_times(3).unwrap(), eur("7.50"));
        assert_eq!(Money::from_minor(i64::MAX, Currency::EUR).checked_times(2), Err(MoneyError::Overflow));
    }

    #[test]
    fn scaling_rounds_half_away_from_zero() {
        assert_eq!(eur("10.00").scaled(1, 3).unwrap(), eur("3.33"));
        assert_eq!(eur("0.05").scaled(1, 2).unwrap(), eur("0.03"));
        assert_eq!(eur("-0.05").scaled(1, 2).unwrap(), eur("-0.03"));
        assert_eq!(eur("12.00").scaled(225, 100).unwrap(), eur("27.00"));
    }

    #[test]
    fn allocation_sums_back_to_the_whole() {
        let parts = eur("10.00").allocate(&[1, 1, 1]);
        assert_eq!(parts.iter().map(|m| m.minor()).collect::<Vec<_>>(), vec![334, 333, 333]);
        let parts = eur("-0.05").allocate(&[1, 1]);
        assert_eq!(parts.iter().map(|m| m.minor()).sum::<i64>(), -5);
        assert!(eur("1").allocate(&[0, 0]).is_empty());
        for (total, weights) in [(1_i64, vec![3_u64, 3, 3]), (99_999, vec![7, 0, 13, 1]), (i64::MAX, vec![1, 2])] {
            let parts = Money::from_minor(total, Currency::EUR).allocate(&weights);
            assert_eq!(parts.iter().map(|m| i128::from(m.minor())).sum::<i128>(), i128::from(total));
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn currency() -> impl Strategy<Value = Currency> {
            prop::sample::select(CURRENCIES.iter().map(|(code, _)| *code).collect::<Vec<_>>())
                .prop_map(|code| Currency::from_code(code).unwrap())
        }

        proptest! {
            #[test]
            fn printing_then_parsing_gives_the_same_amount(minor in -Money::MAX_MINOR..=Money::MAX_MINOR, currency in currency()) {
                let money = Money::from_minor(minor, currency);
                prop_assert_eq!(Money::parse_decimal(&money.to_decimal_string(), currency), Ok(money));
            }

            #[test]
            fn parsing_any_text_never_panics(text in ".{0,40}", currency in currency()) {
                let _ = Money::parse_decimal(&text, currency);
            }

            #[test]
            fn well_formed_decimals_parse_to_their_exact_value(
                negative in any::<bool>(), whole in "[0-9]{1,20}", fraction in prop::option::of("[0-9]{0,4}"),
            ) {
                let text = format!("{}{whole}{}", if negative { "-" } else { "" }, fraction.as_ref().map(|f| format!(".{f}")).unwrap_or_default());
                let parsed = Money::parse_decimal(&text, Currency::EUR);
                let fraction = fraction.unwrap_or_default();
                // The exact value in cents, computed independently in 128 bits.
                let exact = whole.parse::<i128>().unwrap() * 100
                    + format!("{fraction:0<2}")[..2].parse::<i128>().unwrap();
                let exact = if negative { -exact } else { exact };
                match parsed {
                    Ok(money) => prop_assert_eq!(i128::from(money.minor()), exact),
                    Err(MoneyError::TooManyDecimals(2)) => prop_assert!(fraction.len() > 2),
                    Err(MoneyError::NotDecimal) => prop_assert!(fraction.is_empty() && text.ends_with('.')),
                    Err(MoneyError::Overflow) => prop_assert!(exact.abs() > i128::from(i64::MAX) - 1),
                    Err(MoneyError::OutOfBounds(_)) => prop_assert!(exact.abs() > i128::from(Money::MAX_MINOR)),
                    Err(other) => prop_assert!(false, "unexpected {other:?}"),
                }
            }

            #[test]
            fn allocation_always_sums_to_the_whole(minor in any::<i64>().prop_filter("", |m| *m != i64::MIN), weights in prop::collection::vec(0u64..1_000_000, 0..12)) {
                let parts = Money::from_minor(minor, Currency::EUR).allocate(&weights);
                if weights.iter().all(|w| *w == 0) {
                    prop_assert!(parts.is_empty());
                } else {
                    prop_assert_eq!(parts.len(), weights.len());
                    prop_assert_eq!(parts.iter().map(|p| i128::from(p.minor())).sum::<i128>(), i128::from(minor));
                    for (part, weight) in parts.iter().zip(&weights) {
                        if *weight == 0 { prop_assert_eq!(part.minor(), 0); }
                    }
                }
            }
        }
    }
}

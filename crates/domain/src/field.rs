//! Field-level validation: every rejected input names the field it came from.

use std::fmt;

/// A value from outside that was rejected, with the field it came from and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// The longest text Ordo accepts for a name, an address line or a reason.
pub const MAX_TEXT_LEN: usize = 200;
/// The longest code (SKU, channel code, location code, …).
pub const MAX_CODE_LEN: usize = 64;

/// A business identifier such as a SKU or a channel code: 1 to 64 characters of letters,
/// digits, `-`, `_` and `.`, so it is safe in URLs, CSV files and log lines.
pub fn code(field: &str, value: &str) -> Result<String, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.len() > MAX_CODE_LEN {
        return Err(FieldError::new(field, format!("must be at most {MAX_CODE_LEN} characters")));
    }
    if let Some(bad) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(FieldError::new(
            field,
            format!("may only hold letters, digits, '-', '_' and '.', not {bad:?}"),
        ));
    }
    Ok(value.to_owned())
}

/// Free text a person typed (a name, a reason): trimmed, not empty, no control characters.
pub fn text(field: &str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.chars().count() > MAX_TEXT_LEN {
        return Err(FieldError::new(field, format!("must be at most {MAX_TEXT_LEN} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// An id such as `0190e4d2-…`.
pub fn uuid(field: &str, value: &str) -> Result<uuid::Uuid, FieldError> {
    value.trim().parse().map_err(|_| FieldError::new(field, "must be an id such as 0190e4d2-6c1a-7b3e-9f00-3a5c7d2e1b44"))
}

/// An integer that must lie within `min..=max`.
pub fn bounded(field: &str, value: i64, min: i64, max: i64) -> Result<i64, FieldError> {
    if value < min || value > max {
        return Err(FieldError::new(field, format!("must be between {min} and {max}")));
    }
    Ok(value)
}

/// A plausible e-mail address: one `@`, something on both sides, a dot in the domain.
/// Deliverability is the mail server's business; this only keeps obvious garbage out.
pub fn email(field: &str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    let valid = value.len() <= MAX_TEXT_LEN
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if !valid {
        return Err(FieldError::new(field, "must be an e-mail address like name@example.com"));
    }
    Ok(value.to_ascii_lowercase())
}

/// A percentage as a decimal string with at most two decimals ("19", "7.5", "0.25"), in
/// basis points (hundredths of a percent), between 0 and 100 %.
pub fn percent_basis_points(field: &str, value: &str) -> Result<i64, FieldError> {
    let hundredths = crate::Money::parse_decimal(value, crate::Currency::USD)
        .map_err(|_| FieldError::new(field, "must be a percentage such as \"19\" or \"7.25\", at most two decimals"))?;
    bounded(field, hundredths.minor(), 0, 10_000)
}

/// ISO 3166-1 alpha-2: the 249 codes assigned, and XK (Kosovo), which carriers and channels use.
const COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD", "BE",
    "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD",
    "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM",
    "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU",
    "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN",
    "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME",
    "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM",
    "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI",
    "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK",
    "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA", "ZM", "ZW",
];

/// An ISO 3166-1 alpha-2 country code, in capitals; `XX`, `ZZ` and other unassigned codes are
/// refused.
pub fn country(field: &str, value: &str) -> Result<String, FieldError> {
    let code = value.trim().to_ascii_uppercase();
    if COUNTRIES.binary_search(&code.as_str()).is_err() {
        return Err(FieldError::new(field, "must be an ISO 3166 two-letter country code such as DE"));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_url_safe_and_bounded() {
        assert_eq!(code("sku", "MUG-01.blue_2").unwrap(), "MUG-01.blue_2");
        assert_eq!(code("sku", "").unwrap_err().field, "sku");
        assert!(code("sku", "a b").is_err());
        assert!(code("sku", "ü").is_err());
        assert!(code("sku", &"x".repeat(65)).is_err());
    }

    #[test]
    fn text_is_trimmed_and_checked() {
        assert_eq!(text("name", "  Mug ").unwrap(), "Mug");
        assert!(text("name", "   ").is_err());
        assert!(text("name", "a\u{0}b").is_err());
        assert!(text("name", &"é".repeat(201)).is_err());
    }

    #[test]
    fn percentages_become_basis_points() {
        assert_eq!(percent_basis_points("rate", "19").unwrap(), 1900);
        assert_eq!(percent_basis_points("rate", "7.25").unwrap(), 725);
        assert_eq!(percent_basis_points("rate", "100.01").unwrap_err().field, "rate");
        assert!(percent_basis_points("rate", "7.125").is_err());
        assert!(percent_basis_points("rate", "-1").is_err());
    }

    #[test]
    fn emails_are_plausible() {
        assert_eq!(email("email", "Ann@Example.com").unwrap(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@x.com", "ann@x", "a b@x.com", "a@b@c.com", "a@.com"] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_assigned_country_codes_pass() {
        assert_eq!(COUNTRIES.len(), 250);
        assert!(COUNTRIES.windows(2).all(|w| w[0] < w[1]), "sorted, for the binary search");
        assert_eq!(country("country", " de ").unwrap(), "DE");
        for good in ["US", "GB", "XK", "AX", "SS"] {
            assert!(country("country", good).is_ok(), "{good}");
        }
        for bad in ["XX", "ZZ", "UK", "EU", "D", "DEU", "", "1A"] {
            assert_eq!(country("ship_to.country", bad).unwrap_err().field, "ship_to.country", "{bad}");
        }
    }
}

/// Where a page of a list ends, for the next page to start after: the time and id of its last
/// row, as `MICROSECONDS-UUID`. Opaque to callers; a cursor that does not read is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    pub at: chrono::DateTime<chrono::Utc>,
    pub id: uuid::Uuid,
}

impl PageCursor {
    pub fn encode(&self) -> String {
        format!("{}-{}", self.at.timestamp_micros(), self.id.simple())
    }

    pub fn parse(field: &str, text: &str) -> Result<PageCursor, FieldError> {
        let bad = || FieldError::new(field, "is not a cursor this list gave out");
        let (micros, id) = text.trim().split_once('-').ok_or_else(bad)?;
        let at = micros.parse::<i64>().ok().and_then(chrono::DateTime::from_timestamp_micros).ok_or_else(bad)?;
        let id = uuid::Uuid::try_parse(id).map_err(|_| bad())?;
        Ok(PageCursor { at, id })
    }
}

#[cfg(test)]
mod cursor_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_cursor_reads_back_as_it_was_written(micros in 0i64..4_102_444_800_000_000, id in any::<u128>()) {
            let cursor = PageCursor { at: chrono::DateTime::from_timestamp_micros(micros).unwrap(), id: uuid::Uuid::from_u128(id) };
            prop_assert_eq!(PageCursor::parse("cursor", &cursor.encode()), Ok(cursor));
        }

        #[test]
        fn any_text_is_a_cursor_or_refused_naming_the_field(text in ".{0,60}") {
            if let Err(error) = PageCursor::parse("cursor", &text) {
                prop_assert_eq!(error.field, "cursor");
            }
        }
    }
}

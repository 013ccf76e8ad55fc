//! Master data: the channels Ordo sells on, the locations it ships from, the products it
//! sells, how each channel names and prices them, the customers and the suppliers.
//!
//! Each kind comes in two shapes: `New…`, exactly what a caller may send (unknown fields are
//! refused), and the validated record that the rest of Ordo works with.

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::calendar::{Calendar, NewCalendar, Schedule};
use crate::field::{self, FieldError};
use crate::money::{Currency, Money};

/// Where orders come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Web,
    Marketplace,
    Social,
    B2b,
}

/// What kind of place stock sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    Warehouse,
    #[serde(rename = "3pl")]
    ThirdPartyLogistics,
    Store,
}

/// ABC class: A are the few SKUs that make most of the revenue, C the long tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AbcClass {
    A,
    B,
    C,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CustomerSegment {
    Consumer,
    Business,
    Vip,
}

macro_rules! text_enum {
    ($t:ty { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
            pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
                match value {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(FieldError::new(field, concat!("must be one of: ", $($text, " "),+).trim_end())),
                }
            }
        }
    };
}
text_enum!(ChannelKind { Web => "web", Marketplace => "marketplace", Social => "social", B2b => "b2b" });
text_enum!(LocationKind { Warehouse => "warehouse", ThirdPartyLogistics => "3pl", Store => "store" });
text_enum!(AbcClass { A => "A", B => "B", C => "C" });
text_enum!(CustomerSegment { Consumer => "consumer", Business => "business", Vip => "vip" });

const MAX_SLA_HOURS: i64 = 24 * 60;

/// A sales channel: the web shop, a marketplace, a social shop or the B2B portal.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Channel {
    pub code: String,
    pub name: String,
    pub kind: ChannelKind,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "EUR"))]
    pub currency: Currency,
    /// Hours from order placement by which the channel expects the parcel to ship.
    pub ship_by_sla_hours: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    pub code: String,
    pub name: String,
    pub kind: ChannelKind,
    /// ISO 4217 code of the currency orders on this channel are in.
    pub currency: String,
    /// Defaults to 48.
    #[serde(default)]
    pub ship_by_sla_hours: Option<i64>,
}

impl NewChannel {
    pub fn validate(self) -> Result<Channel, FieldError> {
        Ok(Channel {
            code: field::code("code", &self.code)?,
            name: field::text("name", &self.name)?,
            kind: self.kind,
            currency: Currency::parse("currency", &self.currency)?,
            ship_by_sla_hours: field::bounded("ship_by_sla_hours", self.ship_by_sla_hours.unwrap_or(48), 1, MAX_SLA_HOURS)?,
        })
    }
}

/// A place stock is kept and shipped from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Location {
    pub code: String,
    pub name: String,
    pub kind: LocationKind,
    /// Lower numbers are preferred when routing.
    pub priority: i64,
    /// IANA time zone; cut-off times and SLA clocks run in it.
    pub time_zone: String,
    /// Local time after which an order ships the next working day, as `HH:MM`.
    pub cutoff_time: String,
    /// The channel that keeps this stock and ships from it itself (Amazon FBA), if any: Ordo
    /// routes none of its orders here, only that channel's fulfilled-by-channel orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// The weekdays and dates it does not work; empty when it works every day.
    pub calendar: Calendar,
}

impl Location {
    /// Its time zone, cut-off and calendar, as ship-by dates, waves and the workload use them.
    pub fn schedule(&self) -> Schedule {
        Schedule::from_saved(&self.time_zone, &self.cutoff_time, self.calendar.clone())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewLocation {
    pub code: String,
    pub name: String,
    pub kind: LocationKind,
    pub priority: i64,
    /// Defaults to `UTC`.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Defaults to `16:00`.
    #[serde(default)]
    pub cutoff_time: Option<String>,
    /// The code of the channel that keeps this stock and ships from it itself (Amazon FBA).
    #[serde(default)]
    pub managed_by: Option<String>,
    /// Defaults to working every day.
    #[serde(default)]
    pub calendar: Option<NewCalendar>,
}

impl NewLocation {
    pub fn validate(self) -> Result<Location, FieldError> {
        let time_zone = self.time_zone.unwrap_or_else(|| "UTC".to_owned());
        if time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(FieldError::new("time_zone", "must be an IANA time zone such as Europe/Berlin"));
        }
        let cutoff = self.cutoff_time.unwrap_or_else(|| "16:00".to_owned());
        let cutoff = NaiveTime::parse_from_str(&cutoff, "%H:%M")
            .map_err(|_| FieldError::new("cutoff_time", "must be a time of day as HH:MM, such as 15:30"))?;
        Ok(Location {
            code: field::code("code", &self.code)?,
            name: field::text("name", &self.name)?,
            kind: self.kind,
            priority: field::bounded("priority", self.priority, 0, 10_000)?,
            time_zone,
            cutoff_time: cutoff.format("%H:%M").to_string(),
            managed_by: self.managed_by.map(|c| field::code("managed_by", &c)).transpose()?,
            calendar: self.calendar.map(|c| c.validate().map_err(|e| FieldError::new(format!("calendar.{}", e.field), e.message))).transpose()?.unwrap_or_default(),
        })
    }
}

/// A stock-keeping unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// Cost of one unit in the base currency, as a decimal string.
    #[serde(serialize_with = "crate::money::serde_decimal")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "12.50"))]
    pub unit_cost: Money,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "EUR"))]
    pub currency: Currency,
    pub weight_grams: i64,
    pub tax_class: String,
    pub abc_class: AbcClass,
    pub active: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    /// Decimal string in the base currency, such as "12.50".
    pub unit_cost: String,
    #[serde(default)]
    pub weight_grams: Option<i64>,
    /// Defaults to `standard`.
    #[serde(default)]
    pub tax_class: Option<String>,
    /// Defaults to `C` until sales say otherwise.
    #[serde(default)]
    pub abc_class: Option<AbcClass>,
    /// Defaults to true.
    #[serde(default)]
    pub active: Option<bool>,
}

impl NewProduct {
    /// `base` is the currency costs are kept in.
    pub fn validate(self, base: Currency) -> Result<Product, FieldError> {
        Ok(Product {
            sku: field::code("sku", &self.sku)?,
            name: field::text("name", &self.name)?,
            unit_cost: Money::parse_non_negative("unit_cost", &self.unit_cost, base)?,
            currency: base,
            weight_grams: field::bounded("weight_grams", self.weight_grams.unwrap_or(0), 0, 10_000_000)?,
            tax_class: field::code("tax_class", self.tax_class.as_deref().unwrap_or("standard"))?,
            abc_class: self.abc_class.unwrap_or(AbcClass::C),
            active: self.active.unwrap_or(true),
        })
    }
}

/// How a channel names and prices one of our SKUs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Listing {
    pub channel: String,
    pub channel_sku: String,
    pub sku: String,
    #[serde(serialize_with = "crate::money::serde_decimal")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "24.90"))]
    pub price: Money,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "EUR"))]
    pub currency: Currency,
}

/// One component of a kit: a SKU and how many of it one kit holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KitComponent {
    pub sku: String,
    pub quantity: i64,
}

/// The most components one kit may have.
pub const MAX_KIT_COMPONENTS: usize = 20;

/// Checks a kit's components on their own: codes, quantities, no repeats, not the kit itself.
pub fn check_kit(kit: &str, components: Vec<KitComponent>) -> Result<Vec<KitComponent>, FieldError> {
    if components.len() > MAX_KIT_COMPONENTS {
        return Err(FieldError::new("components", format!("a kit has at most {MAX_KIT_COMPONENTS} components")));
    }
    let mut checked: Vec<KitComponent> = Vec::with_capacity(components.len());
    for (i, c) in components.into_iter().enumerate() {
        let sku = field::code(&format!("components[{i}].sku"), &c.sku)?;
        if sku == kit {
            return Err(FieldError::new(format!("components[{i}].sku"), "a kit cannot contain itself"));
        }
        if checked.iter().any(|k| k.sku == sku) {
            return Err(FieldError::new(format!("components[{i}].sku"), format!("{sku} is listed twice")));
        }
        let quantity = field::bounded(&format!("components[{i}].quantity"), c.quantity, 1, 1000)?;
        checked.push(KitComponent { sku, quantity });
    }
    Ok(checked)
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewListing {
    pub channel: String,
    pub channel_sku: String,
    pub sku: String,
    /// Decimal string in the channel's currency.
    pub price: String,
}

impl NewListing {
    /// `channel_currency` is the currency of the channel named in the listing.
    pub fn validate(self, channel_currency: Currency) -> Result<Listing, FieldError> {
        Ok(Listing {
            channel: field::code("channel", &self.channel)?,
            channel_sku: field::code("channel_sku", &self.channel_sku)?,
            sku: field::code("sku", &self.sku)?,
            price: Money::parse_non_negative("price", &self.price, channel_currency)?,
            currency: channel_currency,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Customer {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub segment: CustomerSegment,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub email: String,
    pub name: String,
    /// Defaults to `consumer`.
    #[serde(default)]
    pub segment: Option<CustomerSegment>,
}

impl NewCustomer {
    pub fn validate(self, id: Uuid, now: DateTime<Utc>) -> Result<Customer, FieldError> {
        Ok(Customer {
            id,
            email: field::email("email", &self.email)?,
            name: field::text("name", &self.name)?,
            segment: self.segment.unwrap_or(CustomerSegment::Consumer),
            created_at: now,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Supplier {
    pub code: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "EUR"))]
    pub currency: Currency,
    /// Days from purchase order to receipt, as the supplier usually delivers.
    pub lead_time_days: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSupplier {
    pub code: String,
    pub name: String,
    pub currency: String,
    pub lead_time_days: i64,
}

impl NewSupplier {
    pub fn validate(self) -> Result<Supplier, FieldError> {
        Ok(Supplier {
            code: field::code("code", &self.code)?,
            name: field::text("name", &self.name)?,
            currency: Currency::parse("currency", &self.currency)?,
            lead_time_days: field::bounded("lead_time_days", self.lead_time_days, 0, 365)?,
        })
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(unit_cost: &str) -> NewProduct {
        NewProduct {
            sku: "MUG-1".into(),
            name: "Mug".into(),
            unit_cost: unit_cost.into(),
            weight_grams: None,
            tax_class: None,
            abc_class: None,
            active: None,
        }
    }

    #[test]
    fn a_product_takes_defaults_and_checks_its_cost() {
        let p = product("3.5").validate(Currency::EUR).unwrap();
        assert_eq!((p.unit_cost.minor(), p.tax_class.as_str(), p.abc_class, p.active), (350, "standard", AbcClass::C, true));
        assert_eq!(product("3.555").validate(Currency::EUR).unwrap_err().field, "unit_cost");
        assert_eq!(product("-1").validate(Currency::EUR).unwrap_err().field, "unit_cost");
    }

    #[test]
    fn a_location_needs_a_real_time_zone_and_cutoff() {
        let new = |tz: &str, cutoff: &str| NewLocation {
            code: "WH1".into(),
            name: "Central".into(),
            kind: LocationKind::Warehouse,
            priority: 1,
            time_zone: Some(tz.into()),
            cutoff_time: Some(cutoff.into()),
            managed_by: None,
            calendar: None,
        };
        assert_eq!(new("Europe/Berlin", "9:05").validate().unwrap().cutoff_time, "09:05");
        assert_eq!(new("Mars/Olympus", "15:00").validate().unwrap_err().field, "time_zone");
        assert_eq!(new("UTC", "25:00").validate().unwrap_err().field, "cutoff_time");
        // A calendar given with the location is checked as the calendar route checks it.
        let with = |weekday: &str| NewLocation {
            calendar: Some(NewCalendar { closed_weekdays: vec![weekday.into()], closed_dates: Vec::new() }),
            ..new("UTC", "15:00")
        };
        assert_eq!(with("Sunday").validate().unwrap().calendar.closed_weekdays, ["sunday"]);
        assert_eq!(with("sun").validate().unwrap_err().field, "calendar.closed_weekdays[0]");
        assert_eq!(new("UTC", "15:00").validate().unwrap().calendar, Calendar::default(), "without one it works every day");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json_free_check();
        assert!(err);
    }

    // serde's derive rejects unknown fields; this guards the attribute against removal
    // without pulling a JSON crate into the domain.
    fn serde_json_free_check() -> bool {
        use serde::de::value::{Error, MapDeserializer};
        let fields = vec![("code", "WEB"), ("name", "Web"), ("kind", "web"), ("currency", "EUR"), ("colour", "red")];
        let result: Result<NewChannel, Error> = NewChannel::deserialize(MapDeserializer::new(fields.into_iter()));
        result.is_err_and(|e| e.to_string().contains("unknown field `colour`"))
    }

    #[test]
    fn text_enums_name_their_choices() {
        assert_eq!(LocationKind::parse("kind", "3pl").unwrap(), LocationKind::ThirdPartyLogistics);
        let err = ChannelKind::parse("kind", "fax").unwrap_err();
        assert_eq!(err.field, "kind");
        assert!(err.message.contains("marketplace"));
    }
}

//! Orders: what a channel sends, the rules it must meet, and the life cycle it goes through.
//!
//! An order moves through an explicit state machine ([`OrderStatus::can_become`]); every move
//! is recorded as an event with time, actor and reason, which is the order's timeline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::field::{self, FieldError};
use crate::money::{Currency, Money};

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted from the channel, not yet checked against master data and stock.
    Received,
    /// Checked; waiting for routing.
    Validated,
    /// Waiting for a person: payment, address or value needs a look.
    OnHold,
    /// Every unit is reserved at a location.
    Allocated,
    /// Some units wait for stock.
    Backordered,
    PartiallyShipped,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 9] = [
        OrderStatus::Received,
        OrderStatus::Validated,
        OrderStatus::OnHold,
        OrderStatus::Allocated,
        OrderStatus::Backordered,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Received => "received",
            OrderStatus::Validated => "validated",
            OrderStatus::OnHold => "on_hold",
            OrderStatus::Allocated => "allocated",
            OrderStatus::Backordered => "backordered",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The state machine: whether an order in `self` may move to `next`. An allocated or
    /// backordered order goes back to validated when the channel changes what it holds, to be
    /// routed again.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Received, Validated | Cancelled)
                | (Validated, OnHold | Allocated | Backordered | Cancelled)
                | (OnHold, Validated | Cancelled)
                | (Allocated, Validated | Backordered | PartiallyShipped | Shipped | Cancelled)
                | (Backordered, Validated | Allocated | PartiallyShipped | Cancelled)
                | (PartiallyShipped, PartiallyShipped | Shipped | Backordered | Allocated)
                | (Shipped, Delivered)
        )
    }

    /// Whether stock reserved for the order may still be released by cancelling it.
    pub fn is_open(self) -> bool {
        !matches!(self, OrderStatus::Shipped | OrderStatus::Delivered | OrderStatus::Cancelled)
    }
}

/// A move the state machine does not allow, with where the order is now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an order that is {from} cannot become {to}")]
pub struct ForbiddenTransition {
    pub from: &'static str,
    pub to: &'static str,
}

impl OrderStatus {
    /// `next` if the state machine allows it, else the reason it does not.
    pub fn become_(self, next: OrderStatus) -> Result<OrderStatus, ForbiddenTransition> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(ForbiddenTransition { from: self.as_str(), to: next.as_str() })
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far the customer's payment has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Authorized,
    #[serde(alias = "paid")]
    Captured,
}

/// As stored: storage reads the column once into the type.
impl TryFrom<String> for OrderStatus {
    type Error = FieldError;
    fn try_from(value: String) -> Result<OrderStatus, FieldError> {
        OrderStatus::parse(&value).ok_or_else(|| FieldError::new("status", format!("{value:?} is no order status")))
    }
}

/// As stored: storage reads the column once into the type.
impl TryFrom<String> for PaymentStatus {
    type Error = FieldError;
    fn try_from(value: String) -> Result<PaymentStatus, FieldError> {
        PaymentStatus::parse(&value).ok_or_else(|| FieldError::new("payment_status", format!("{value:?} is no payment status")))
    }
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Authorized => "authorized",
            PaymentStatus::Captured => "captured",
        }
    }

    pub fn parse(value: &str) -> Option<PaymentStatus> {
        [PaymentStatus::Pending, PaymentStatus::Authorized, PaymentStatus::Captured]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewCustomerRef {
    pub email: String,
    pub name: String,
}

/// A postal address as channels send it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, such as "DE".
    pub country: String,
}

impl Address {
    fn validate(self, field_prefix: &str) -> Result<Address, FieldError> {
        let f = |name: &str| format!("{field_prefix}.{name}");
        let optional = |name: &str, value: Option<String>| -> Result<Option<String>, FieldError> {
            value.filter(|v| !v.trim().is_empty()).map(|v| field::text(&f(name), &v)).transpose()
        };
        let country = field::country(&f("country"), &self.country)?;
        Ok(Address {
            name: field::text(&f("name"), &self.name)?,
            line1: field::text(&f("line1"), &self.line1)?,
            line2: optional("line2", self.line2)?,
            city: field::text(&f("city"), &self.city)?,
            region: optional("region", self.region)?,
            postal_code: field::text(&f("postal_code"), &self.postal_code)?,
            country,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOrderLine {
    /// Our SKU, or the channel's SKU from its listing.
    pub sku: String,
    pub quantity: i64,
    /// Price of one unit, as a decimal string in the order's currency.
    pub unit_price: String,
    /// Tax on the whole line as the channel computed it.
    #[serde(default)]
    pub tax: Option<String>,
    /// Discount on the whole line.
    #[serde(default)]
    pub discount: Option<String>,
    /// The channel's own id of the line, which its settlement reports name.
    #[serde(default)]
    pub item_id: Option<String>,
}

/// An order exactly as a channel may send it.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub channel: String,
    /// The channel's own order id; with the channel it identifies the order for ever.
    pub external_id: String,
    pub placed_at: DateTime<Utc>,
    pub currency: String,
    pub customer: NewCustomerRef,
    pub ship_to: Address,
    /// Country of the billing address, when the channel sends one.
    #[serde(default)]
    pub billing_country: Option<String>,
    pub shipping_method: String,
    pub payment_status: PaymentStatus,
    /// Shipping charged to the customer.
    #[serde(default)]
    pub shipping_price: Option<String>,
    pub lines: Vec<NewOrderLine>,
}

/// The years an order may be placed in: anything else is a typo or a placeholder (0000, 9999).
pub const MIN_YEAR: i32 = 2000;
pub const MAX_YEAR: i32 = 2100;

/// How far ahead of Ordo's clock a channel's clock may run: an order placed later than this is
/// refused as placed in the future.
pub const CLOCK_SKEW: chrono::Duration = chrono::Duration::hours(24);

/// The most lines one order may have.
pub const MAX_LINES: usize = 500;

/// An order line after validation, with the SKU not yet resolved through listings.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedLine {
    pub item_id: Option<String>,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub tax: Option<Money>,
    pub discount: Money,
}

/// An order that passed every check that needs no master data.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedOrder {
    pub channel: String,
    pub external_id: String,
    pub placed_at: DateTime<Utc>,
    pub currency: Currency,
    pub customer_email: String,
    pub customer_name: String,
    pub ship_to: Address,
    pub billing_country: Option<String>,
    pub shipping_method: String,
    pub payment_status: PaymentStatus,
    pub shipping_price: Money,
    pub lines: Vec<CheckedLine>,
}

impl NewOrder {
    pub fn check(self) -> Result<CheckedOrder, FieldError> {
        let currency = Currency::parse("currency", &self.currency)?;
        if self.lines.is_empty() {
            return Err(FieldError::new("lines", "an order needs at least one line"));
        }
        if self.lines.len() > MAX_LINES {
            return Err(FieldError::new("lines", format!("at most {MAX_LINES} lines")));
        }
        let money = |field: &str, value: &str| Money::parse_non_negative(field, value, currency);
        let mut lines = Vec::with_capacity(self.lines.len());
        for (i, line) in self.lines.into_iter().enumerate() {
            let f = |name: &str| format!("lines[{i}].{name}");
            let item_id = line.item_id.map(|id| id.trim().to_owned()).filter(|id| !id.is_empty());
            if item_id.as_ref().is_some_and(|id| id.len() > 100 || id.chars().any(char::is_control)) {
                return Err(FieldError::new(f("item_id"), "must be at most 100 characters, none of them control characters"));
            }
            let quantity = field::bounded(&f("quantity"), line.quantity, 1, 1_000_000)?;
            let unit_price = money(&f("unit_price"), &line.unit_price)?;
            let unit_price = unit_price.within(Money::MAX_UNIT_PRICE_MINOR).map_err(|e| FieldError::new(f("unit_price"), e.to_string()))?;
            // A line's price is bounded like any amount: quantity times price stays far from overflow.
            unit_price
                .checked_times(quantity)
                .and_then(|gross| gross.within(Money::MAX_MINOR))
                .map_err(|e| FieldError::new(f("quantity"), format!("times the unit price {e}")))?;
            lines.push(CheckedLine {
                item_id,
                sku: field::code(&f("sku"), &line.sku)?,
                quantity,
                unit_price,
                tax: line.tax.as_deref().map(|t| money(&f("tax"), t)).transpose()?,
                discount: line.discount.as_deref().map(|d| money(&f("discount"), d)).transpose()?.unwrap_or(Money::zero(currency)),
            });
        }
        let billing_country = self.billing_country.as_deref().map(|c| field::country("billing_country", c)).transpose()?;
        if !(MIN_YEAR..=MAX_YEAR).contains(&chrono::Datelike::year(&self.placed_at)) {
            return Err(FieldError::new("placed_at", format!("must be a time between the years {MIN_YEAR} and {MAX_YEAR}")));
        }
        Ok(CheckedOrder {
            channel: field::code("channel", &self.channel)?,
            external_id: field::code("external_id", &self.external_id)?,
            // Microseconds are what both databases keep.
            placed_at: chrono::SubsecRound::trunc_subsecs(self.placed_at, 6),
            currency,
            customer_email: field::email("customer.email", &self.customer.email)?,
            customer_name: field::text("customer.name", &self.customer.name)?,
            ship_to: self.ship_to.validate("ship_to")?,
            billing_country,
            shipping_method: field::code("shipping_method", &self.shipping_method)?,
            payment_status: self.payment_status,
            shipping_price: self.shipping_price.as_deref().map(|p| money("shipping_price", p)).transpose()?.unwrap_or(Money::zero(currency)),
            lines,
        })
    }
}

impl CheckedOrder {
    /// What the sender asked for, as canonical JSON: kept with the order so a re-send of the
    /// same `(channel, external_id)` can be told apart from a different order under a used id.
    pub fn terms(&self) -> serde_json::Value {
        let money = |m: Money| m.to_decimal_string();
        serde_json::json!({
            "placed_at": self.placed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "currency": self.currency.code(),
            "customer": {"email": self.customer_email, "name": self.customer_name},
            "ship_to": self.ship_to,
            "billing_country": self.billing_country,
            "shipping_method": self.shipping_method,
            "payment_status": self.payment_status.as_str(),
            "shipping_price": money(self.shipping_price),
            "lines": self.lines.iter().map(|l| serde_json::json!({
                "sku": l.sku,
                "quantity": l.quantity,
                "unit_price": money(l.unit_price),
                "tax": l.tax.map(money),
                "discount": money(l.discount),
                "item_id": l.item_id,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The first field in which `sent` differs from `kept`, both [`CheckedOrder::terms`], as a path
/// such as `lines[0].quantity`; none when they are the same order.
pub fn first_difference(kept: &serde_json::Value, sent: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    fn walk(path: &str, kept: &Value, sent: &Value) -> Option<String> {
        match (kept, sent) {
            (Value::Object(a), Value::Object(b)) => {
                let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
                keys.sort();
                keys.dedup();
                keys.into_iter().find_map(|key| {
                    let inner = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                    walk(&inner, a.get(key).unwrap_or(&Value::Null), b.get(key).unwrap_or(&Value::Null))
                })
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                a.iter().zip(b).enumerate().find_map(|(i, (x, y))| walk(&format!("{path}[{i}]"), x, y))
            }
            _ if kept == sent => None,
            _ => Some(path.to_owned()),
        }
    }
    walk("", kept, sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_allows_the_happy_path_and_forbids_going_back() {
        use OrderStatus::*;
        let path = [Received, Validated, Allocated, PartiallyShipped, Shipped, Delivered];
        for pair in path.windows(2) {
            assert!(pair[0].can_become(pair[1]), "{} → {}", pair[0], pair[1]);
        }
        assert!(!Shipped.can_become(Cancelled), "shipped goods are returned, not cancelled");
        assert!(!Cancelled.can_become(Allocated));
        assert!(!Delivered.can_become(Shipped));
        for status in OrderStatus::ALL {
            assert!(!Cancelled.can_become(status), "cancelled is final");
            assert!(!Delivered.can_become(status), "delivered is final");
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(Shipped.become_(Cancelled).unwrap_err().from, "shipped");
    }

    fn order() -> NewOrder {
        NewOrder {
            channel: "web".into(),
            external_id: "1001".into(),
            placed_at: Utc::now(),
            currency: "EUR".into(),
            customer: NewCustomerRef { email: "ann@example.com".into(), name: "Ann".into() },
            ship_to: Address {
                name: "Ann".into(),
                line1: "Main St 1".into(),
                line2: None,
                city: "Berlin".into(),
                region: None,
                postal_code: "10115".into(),
                country: "de".into(),
            },
            billing_country: None,
            shipping_method: "standard".into(),
            payment_status: PaymentStatus::Captured,
            shipping_price: None,
            lines: vec![NewOrderLine { sku: "MUG".into(), quantity: 2, unit_price: "9.99".into(), tax: None, discount: None, item_id: None }],
        }
    }

    #[test]
    fn a_re_sent_order_names_what_differs() {
        let sent = order();
        let order = || sent.clone();
        let kept = order().check().unwrap().terms();
        assert_eq!(first_difference(&kept, &order().check().unwrap().terms()), None, "the same order");
        let mut other = order();
        other.lines[0].quantity = 3;
        assert_eq!(first_difference(&kept, &other.check().unwrap().terms()).as_deref(), Some("lines[0].quantity"));
        let mut other = order();
        other.lines.push(other.lines[0].clone());
        assert_eq!(first_difference(&kept, &other.check().unwrap().terms()).as_deref(), Some("lines"));
        let mut other = order();
        other.ship_to.city = "Hamburg".into();
        assert_eq!(first_difference(&kept, &other.check().unwrap().terms()).as_deref(), Some("ship_to.city"));
        let mut other = order();
        other.ship_to.country = "DE".into();
        assert_eq!(first_difference(&kept, &other.check().unwrap().terms()), None, "the same once checked");
    }

    #[test]
    fn a_checked_order_names_the_first_bad_field() {
        assert_eq!(order().check().unwrap().ship_to.country, "DE");
        let mut o = order();
        o.lines[0].quantity = 0;
        assert_eq!(o.check().unwrap_err().field, "lines[0].quantity");
        for year in ["0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "9999-12-31T00:00:00Z"] {
            let mut o = order();
            o.placed_at = year.parse().unwrap();
            assert_eq!(o.check().unwrap_err().field, "placed_at", "{year}");
        }
        for country in ["XX", "UK"] {
            let mut o = order();
            o.ship_to.country = country.into();
            assert_eq!(o.check().unwrap_err().field, "ship_to.country", "{country}");
        }
        let mut o = order();
        o.lines[0].unit_price = "9.999".into();
        assert_eq!(o.clone().check().unwrap_err().field, "lines[0].unit_price");
        o.lines[0].unit_price = "1000000000.01".into();
        assert_eq!(o.clone().check().unwrap_err().field, "lines[0].unit_price", "above the unit price bound");
        o.lines[0].unit_price = "1000000000.00".into();
        o.lines[0].quantity = 101;
        let refused = o.check().unwrap_err();
        assert_eq!(refused.field, "lines[0].quantity", "the line is above the amount bound: {refused}");
        assert!(refused.message.contains("100000000000.00"), "{refused}");
        let mut o = order();
        o.ship_to.country = "".into();
        assert_eq!(o.check().unwrap_err().field, "ship_to.country");
        let mut o = order();
        o.lines.clear();
        assert_eq!(o.check().unwrap_err().field, "lines");
        let mut o = order();
        o.currency = "EU".into();
        assert_eq!(o.check().unwrap_err().field, "currency");
    }
}

/// Units of a line reserved at a location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineAllocation {
    pub location: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderLine {
    pub line: i64,
    /// The line sells a kit: it carries the price and tax, and the lines that name it in
    /// `part_of` carry its components' stock.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub kit: bool,
    /// The kit line this component line belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_of: Option<i64>,
    pub sku: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_sku: Option<String>,
    /// The channel's own id of the line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    pub quantity: i64,
    #[serde(serialize_with = "crate::money::serde_decimal")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "19.99"))]
    pub unit_price: Money,
    #[serde(serialize_with = "crate::money::serde_decimal")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "3.80"))]
    pub tax: Money,
    #[serde(serialize_with = "crate::money::serde_decimal")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0.00"))]
    pub discount: Money,
    pub allocations: Vec<LineAllocation>,
    /// Units waiting for stock.
    pub backordered: i64,
    /// Units that left in shipments.
    pub shipped: i64,
}

/// One step of an order's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderEvent {
    pub at: DateTime<Utc>,
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    pub actor: String,
    pub reason: String,
}

/// A routing decision as stored: who decided and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoutingRecord {
    pub decided_at: DateTime<Utc>,
    pub decider: String,
    pub reasons: Vec<String>,
}

/// A parcel that left a location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Shipment {
    pub id: uuid::Uuid,
    pub location: String,
    pub status: ShipmentStatus,
    pub carrier: String,
    pub tracking_number: String,
    pub shipped_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
    pub lines: Vec<ShipmentLine>,
    /// What the carrier reported of the parcel, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracking: Vec<TrackingEvent>,
}

/// Where a shipment stands: it left (`shipped`), then arrived (`delivered`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    Shipped,
    Delivered,
}
named!(ShipmentStatus, "a shipment status", { Shipped => "shipped", Delivered => "delivered" });

impl ShipmentStatus {
    /// A shipment is delivered once, after it shipped.
    pub fn can_become(self, next: ShipmentStatus) -> bool {
        matches!((self, next), (ShipmentStatus::Shipped, ShipmentStatus::Delivered))
    }
}

/// Where a parcel is, as the carrier (through EasyPost) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TrackingStatus {
    Unknown,
    PreTransit,
    InTransit,
    OutForDelivery,
    Delivered,
    AvailableForPickup,
    ReturnToSender,
    Failure,
    Cancelled,
    Error,
}

impl TrackingStatus {
    pub const ALL: [TrackingStatus; 10] = [
        TrackingStatus::Unknown,
        TrackingStatus::PreTransit,
        TrackingStatus::InTransit,
        TrackingStatus::OutForDelivery,
        TrackingStatus::Delivered,
        TrackingStatus::AvailableForPickup,
        TrackingStatus::ReturnToSender,
        TrackingStatus::Failure,
        TrackingStatus::Cancelled,
        TrackingStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TrackingStatus::Unknown => "unknown",
            TrackingStatus::PreTransit => "pre_transit",
            TrackingStatus::InTransit => "in_transit",
            TrackingStatus::OutForDelivery => "out_for_delivery",
            TrackingStatus::Delivered => "delivered",
            TrackingStatus::AvailableForPickup => "available_for_pickup",
            TrackingStatus::ReturnToSender => "return_to_sender",
            TrackingStatus::Failure => "failure",
            TrackingStatus::Cancelled => "cancelled",
            TrackingStatus::Error => "error",
        }
    }

    pub fn parse(value: &str) -> Option<TrackingStatus> {
        TrackingStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The parcel will not reach the customer as sent: someone must act.
    pub fn is_problem(self) -> bool {
        matches!(self, TrackingStatus::Failure | TrackingStatus::ReturnToSender)
    }
}

/// One report of the carrier's on a parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrackingEvent {
    pub status: TrackingStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ShipmentLine {
    pub line: i64,
    pub quantity: i64,
}

/// A shipment as the warehouse reports it.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewShipment {
    /// The location the parcel leaves from.
    pub location: String,
    pub carrier: String,
    pub tracking_number: String,
    /// What is in the parcel; everything reserved at the location when absent.
    #[serde(default)]
    pub lines: Option<Vec<ShipmentLine>>,
}

impl NewShipment {
    /// Checks the fields that need nothing but themselves.
    pub fn check(self) -> Result<NewShipment, FieldError> {
        let lines = match self.lines {
            Some(lines) if lines.is_empty() => return Err(FieldError::new("lines", "a shipment needs at least one line")),
            Some(lines) => {
                for (i, l) in lines.iter().enumerate() {
                    field::bounded(&format!("lines[{i}].quantity"), l.quantity, 1, 1_000_000)?;
                    field::bounded(&format!("lines[{i}].line"), l.line, 1, MAX_LINES as i64)?;
                }
                Some(lines)
            }
            None => None,
        };
        Ok(NewShipment {
            location: field::code("location", &self.location)?,
            carrier: field::text("carrier", &self.carrier)?,
            tracking_number: field::code("tracking_number", &self.tracking_number)?,
            lines,
        })
    }
}

/// An order as Ordo keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    pub id: uuid::Uuid,
    pub channel: String,
    pub external_id: String,
    pub status: OrderStatus,
    pub placed_at: DateTime<Utc>,
    /// When the order must leave the warehouse to meet the channel's SLA.
    pub ship_by: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "EUR"))]
    pub currency: Currency,
    pub customer: NewCustomerRef,
    pub ship_to: Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_country: Option<String>,
    pub shipping_method: String,
    pub payment_status: PaymentStatus,
    #[serde(serialize_with = "crate::money::serde_decimal")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "4.90"))]
    pub shipping_price: Money,
    /// Lines less discounts plus tax plus shipping.
    #[serde(serialize_with = "crate::money::serde_decimal")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "44.87"))]
    pub total: Money,
    /// Why the channel holds the order back (Amazon's `Pending`: the payment is not confirmed):
    /// its stock is reserved, but it is not picked or shipped until the channel lets it go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// The channel ships the order from stock it keeps itself (Amazon FBA): it is reserved at
    /// the location the channel manages, never picked by Ordo, and ships when the channel says.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fulfilled_by_channel: bool,
    pub lines: Vec<OrderLine>,
    pub shipments: Vec<Shipment>,
    pub timeline: Vec<OrderEvent>,
    pub routing: Vec<RoutingRecord>,
    /// What tagging rules said of the order at intake.
    pub tags: Vec<OrderTag>,
}

/// A tag on an order, and the rule and version that put it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderTag {
    pub tag: String,
    /// Such as `rule vip-customers v2`.
    pub rule: String,
}


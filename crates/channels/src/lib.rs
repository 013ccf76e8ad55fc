//! What the sales channels send, and what it means for Ordo.
//!
//! Each channel module reads its channel's own payloads (Shopify and WooCommerce webhooks,
//! Amazon SP-API and eBay Sell Fulfillment pages) exactly as the channel writes them, and maps
//! them onto Ordo's [`NewOrder`]: a line's SKU through the channel's listings, money in the
//! shop's currency, times in UTC, the channel's statuses onto Ordo's. Everything here is a pure
//! function from values to values; fetching, storing and deciding what to do with the result
//! belong to the application. A payload that cannot be mapped is an error naming its field.

pub mod amazon;
pub mod carrier;
pub mod ebay;
pub mod signature;
pub mod shopify;
pub mod woocommerce;
pub mod wire;

use chrono::{DateTime, Utc};
use ordo_domain::order::{Address, NewOrder};
use ordo_domain::{Currency, FieldError, Money};

/// What mapping needs to know about the channel besides the payload.
pub struct Context<'a> {
    /// Ordo's code of the channel.
    pub channel: &'a str,
    /// The channel's currency in Ordo: the shop's money must be in it.
    pub currency: Currency,
    /// Whether the channel has a listing with this `channel_sku`.
    pub listed: &'a (dyn Fn(&str) -> bool + Sync),
}

/// What a delivery or a polled record asks of Ordo.
#[derive(Debug, Clone)]
pub enum Inbound {
    /// The channel's order as it stands now: to be made, or changed to this.
    Order(Box<ChannelOrder>),
    /// The channel cancelled (or deleted) the order.
    Cancelled { external_id: String, updated_at: Option<DateTime<Utc>>, reason: String },
    /// The channel refunded money, and perhaps took goods back.
    Refund(ChannelRefund),
    /// The shop removed Ordo's app: the connector stops until someone connects it again.
    Uninstalled,
    /// Nothing for Ordo to do, and why (a ping, a topic Ordo does not act on).
    Ignored(String),
}

/// An order as the channel has it now, in Ordo's terms.
#[derive(Debug, Clone)]
pub struct ChannelOrder {
    pub order: NewOrder,
    /// When the channel last changed it: an older version never overwrites a newer one.
    pub updated_at: DateTime<Utc>,
    /// The channel cancelled it.
    pub cancelled: bool,
    /// The channel says it has shipped already (fulfilled outside Ordo, or before Ordo knew).
    pub fulfilled: bool,
    /// Why the channel holds the order back for now (Amazon's `Pending`): Ordo reserves its
    /// stock but does not pick or ship it until a later version comes without this.
    pub waiting_for: Option<String>,
    /// The channel ships it from stock it keeps (Amazon FBA): Ordo records it against the
    /// location the channel manages and never picks it.
    pub fulfilled_by_channel: bool,
}

/// Money the channel gave back, and the units it took back, by the channel's line ids.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRefund {
    pub external_id: String,
    /// The channel's id of the refund: the same refund is never booked twice.
    pub refund_id: String,
    pub lines: Vec<RefundedLine>,
    /// Shipping given back.
    pub shipping: Money,
    /// Everything given back, as the channel's transactions say.
    pub amount: Money,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefundedLine {
    /// The channel's id of the order line.
    pub item_id: String,
    pub quantity: i64,
    /// The goods come back to stock (Shopify `restock_type: return`).
    pub returned: bool,
    /// What the channel gave back for the line before tax, where it says.
    pub amount: Option<Money>,
}

/// The channel's id of the order a payload is about (a Shopify refund's `order_id`, else `id`,
/// eBay's `orderId`, Amazon's `order.AmazonOrderId`), read without mapping anything: deliveries
/// about one order are processed in turn, others at once.
pub fn order_key(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct AmazonOrder {
        amazon_order_id: String,
    }
    #[derive(serde::Deserialize)]
    struct Key {
        order_id: Option<wire::Id>,
        id: Option<wire::Id>,
        #[serde(rename = "orderId")]
        ebay_order_id: Option<String>,
        order: Option<AmazonOrder>,
    }
    let key: Key = serde_json::from_slice(body).ok()?;
    key.order_id.or(key.id).map(|id| id.0).or(key.ebay_order_id).or(key.order.map(|o| o.amazon_order_id))
}

/// The channel SKU a line sells: its SKU where the channel has a listing for it, else its
/// variant id, else its product id. `None`s and zeros (WooCommerce's `variation_id: 0`) are
/// skipped.
pub fn listed_sku(field: &str, context: &Context<'_>, candidates: &[(&str, Option<&str>)]) -> Result<String, FieldError> {
    let present: Vec<(&str, &str)> = candidates
        .iter()
        .filter_map(|(name, value)| value.map(str::trim).filter(|v| !v.is_empty() && *v != "0").map(|v| (*name, v)))
        .collect();
    if let Some((_, sku)) = present.iter().find(|(_, value)| (context.listed)(value)) {
        return Ok((*sku).to_owned());
    }
    let tried: Vec<String> = present.iter().map(|(name, value)| format!("{name} {value:?}")).collect();
    let message = if tried.is_empty() {
        "the line names no SKU, variant or product".to_owned()
    } else {
        format!("no listing on {} for {}", context.channel, tried.join(", "))
    };
    Err(FieldError::new(field, message))
}

/// Minor units added or taken, refusing what would overflow: amounts come from outside.
pub(crate) fn add(field: &str, a: i64, b: i64) -> Result<i64, FieldError> {
    a.checked_add(b).ok_or_else(|| FieldError::new(field, "is too large"))
}

/// `a` times `b` in minor units, refusing what would overflow.
pub(crate) fn times(field: &str, a: i64, b: i64) -> Result<i64, FieldError> {
    a.checked_mul(b).ok_or_else(|| FieldError::new(field, "is too large"))
}

/// Splits an order-level amount over lines in proportion to their value, so the parts sum
/// back to it exactly (where the channel gave tax or discount for the order, not per line).
pub fn spread(total: Money, line_values: &[Money]) -> Vec<Money> {
    let weights: Vec<u64> = line_values.iter().map(|v| v.minor().max(0).unsigned_abs()).collect();
    let parts = total.allocate(&weights);
    if parts.is_empty() {
        // All lines free: the whole amount on the first.
        let mut parts = vec![Money::zero(total.currency()); line_values.len()];
        if let Some(first) = parts.first_mut() {
            *first = total;
        }
        return parts;
    }
    parts
}

/// A postal address from its parts, each blank one left out; the fields are checked again by
/// Ordo's order rules.
pub(crate) struct AddressParts<'a> {
    pub name: Option<&'a str>,
    pub line1: Option<&'a str>,
    pub line2: Option<&'a str>,
    pub city: Option<&'a str>,
    pub region: Option<&'a str>,
    pub postal_code: Option<&'a str>,
    pub country: Option<&'a str>,
}

impl AddressParts<'_> {
    pub(crate) fn address(&self, field: &str) -> Result<Address, FieldError> {
        let f = |name: &str| format!("{field}.{name}");
        let optional = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        Ok(Address {
            name: wire::required(&f("name"), self.name)?,
            line1: wire::required(&f("address1"), self.line1)?,
            line2: optional(self.line2),
            city: wire::required(&f("city"), self.city)?,
            region: optional(self.region),
            // Some countries have no postal codes; Ordo's address needs one.
            postal_code: optional(self.postal_code).unwrap_or_else(|| "-".to_owned()),
            country: wire::required(&f("country_code"), self.country)?,
        })
    }
}

/// A person's name from first and last, or a fallback.
pub(crate) fn full_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, last].into_iter().flatten().map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_line_is_found_by_sku_then_variant_then_product() {
        let listed = |s: &str| ["IPOD-GREEN", "39072856", "77"].contains(&s);
        let context = Context { channel: "web", currency: Currency::USD, listed: &listed };
        let sku = |c: &[(&str, Option<&str>)]| listed_sku("line_items[0].sku", &context, c);
        assert_eq!(sku(&[("sku", Some("IPOD-GREEN")), ("variant_id", Some("39072856"))]).unwrap(), "IPOD-GREEN");
        assert_eq!(sku(&[("sku", Some("")), ("variant_id", Some("39072856"))]).unwrap(), "39072856");
        assert_eq!(sku(&[("sku", None), ("variation_id", Some("0")), ("product_id", Some("77"))]).unwrap(), "77");
        let e = sku(&[("sku", Some("NOPE")), ("variant_id", Some("5"))]).unwrap_err();
        assert_eq!(e.field, "line_items[0].sku");
        assert!(e.message.contains("\"NOPE\"") && e.message.contains("variant_id \"5\""), "{}", e.message);
    }

    proptest! {
        #[test]
        fn spread_parts_sum_back(total in 0i64..10_000_000, values in proptest::collection::vec(0i64..1_000_000, 1..20)) {
            let currency = Currency::EUR;
            let values: Vec<Money> = values.into_iter().map(|v| Money::from_minor(v, currency)).collect();
            let parts = spread(Money::from_minor(total, currency), &values);
            prop_assert_eq!(parts.len(), values.len());
            prop_assert_eq!(parts.iter().map(|p| p.minor()).sum::<i64>(), total);
        }
    }
}

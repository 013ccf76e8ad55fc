//! WooCommerce: the REST v3 Order its webhooks deliver (`order.created`, `order.updated`,
//! `order.deleted`) and its `/wp-json/wc/v3/orders` pages, and the `webhook_id=N` ping it sends
//! when a webhook is saved. Money comes as strings, except a line's `price`, a JSON number;
//! times are read from the `*_gmt` fields, which carry no offset and are UTC.

use ordo_domain::order::{NewCustomerRef, NewOrder, NewOrderLine, PaymentStatus};
use ordo_domain::{Currency, FieldError, Money};
use serde::Deserialize;

use crate::shopify::method_code;
use crate::wire::{self, Amount, Id, Quantity};
use crate::{listed_sku, AddressParts, ChannelOrder, Context, Inbound};

#[derive(Debug, Deserialize)]
struct LineItem {
    id: Id,
    product_id: Option<Id>,
    variation_id: Option<Id>,
    sku: Option<String>,
    quantity: Quantity,
    /// The total divided by the quantity (after discounts), as an unrounded number.
    price: Option<Amount>,
    /// Before discounts.
    subtotal: Option<Amount>,
    /// After discounts.
    total: Option<Amount>,
    total_tax: Option<Amount>,
}

#[derive(Debug, Deserialize)]
struct ShippingLine {
    method_id: Option<String>,
    method_title: Option<String>,
    total: Option<Amount>,
}

#[derive(Debug, Deserialize, Default)]
struct WooAddress {
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    address_1: Option<String>,
    address_2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Order {
    id: Id,
    status: Option<String>,
    currency: String,
    date_created_gmt: Option<String>,
    date_modified_gmt: Option<String>,
    date_paid_gmt: Option<String>,
    #[serde(default)]
    billing: WooAddress,
    #[serde(default)]
    shipping: WooAddress,
    #[serde(default)]
    line_items: Vec<LineItem>,
    #[serde(default)]
    shipping_lines: Vec<ShippingLine>,
}

/// Whether a body is the ping WooCommerce sends when a webhook is saved (`webhook_id=N`).
pub fn is_ping(body: &[u8]) -> bool {
    body.strip_prefix(b"webhook_id=").is_some_and(|rest| !rest.is_empty() && rest.iter().all(u8::is_ascii_digit))
}

/// What a delivery of `topic` asks of Ordo.
pub fn read(topic: &str, body: &[u8], context: &Context<'_>) -> Result<Inbound, FieldError> {
    if is_ping(body) {
        return Ok(Inbound::Ignored("the ping WooCommerce sends when a webhook is saved".to_owned()));
    }
    match topic {
        "order.created" | "order.updated" | "order.restored" => order(body, context).map(|o| Inbound::Order(Box::new(o))),
        "order.deleted" => {
            #[derive(Deserialize)]
            struct Deleted {
                id: Id,
            }
            let deleted: Deleted = wire::parse(body)?;
            Ok(Inbound::Cancelled { external_id: deleted.id.0, updated_at: None, reason: "deleted on WooCommerce".to_owned() })
        }
        other => Ok(Inbound::Ignored(format!("Ordo does not act on the WooCommerce topic {other:?}"))),
    }
}

/// The order a WooCommerce v3 Order describes.
pub fn order(body: &[u8], context: &Context<'_>) -> Result<ChannelOrder, FieldError> {
    let o: Order = wire::parse(body)?;
    let currency = Currency::parse("currency", &o.currency)?;
    if currency != context.currency {
        let message = format!("the shop sells in {currency}, but the channel {} is in {}", context.channel, context.currency);
        return Err(FieldError::new("currency", message));
    }
    let placed_at = wire::utc("date_created_gmt", &wire::required("date_created_gmt", o.date_created_gmt.as_deref())?)?;
    let updated_at = o.date_modified_gmt.as_deref().map(|t| wire::utc("date_modified_gmt", t)).transpose()?.unwrap_or(placed_at);

    let mut lines = Vec::with_capacity(o.line_items.len());
    for (i, item) in o.line_items.iter().enumerate() {
        let f = |name: &str| format!("line_items[{i}].{name}");
        let quantity = item.quantity.0;
        if quantity <= 0 {
            continue;
        }
        let variation = item.variation_id.as_ref().filter(|v| !v.is_none()).map(|v| v.0.as_str());
        let product = item.product_id.as_ref().filter(|p| !p.is_none()).map(|p| p.0.as_str());
        let sku = listed_sku(&f("sku"), context, &[("sku", item.sku.as_deref()), ("variation_id", variation), ("product_id", product)])?;
        let (unit_price, discount) = unit_and_discount(i, item, currency)?;
        // No tax said for the line: Ordo's own tax rates apply.
        let tax = item.total_tax.as_ref().map(|t| t.money(&f("total_tax"), currency)).transpose()?;
        lines.push(NewOrderLine {
            sku,
            quantity,
            unit_price: unit_price.to_decimal_string(),
            tax: tax.map(|t| t.to_decimal_string()),
            discount: Some(discount.to_decimal_string()),
            item_id: Some(item.id.0.clone()),
        });
    }
    if lines.is_empty() {
        return Err(FieldError::new("line_items", "the order has no line to fulfil"));
    }
    let mut shipping = Money::zero(currency);
    for (i, line) in o.shipping_lines.iter().enumerate() {
        let field = format!("shipping_lines[{i}].total");
        if let Some(total) = &line.total {
            shipping = shipping.checked_add(total.money(&field, currency)?).map_err(|e| FieldError::new(field, e.to_string()))?;
        }
    }
    let shipping_method = o
        .shipping_lines
        .first()
        .and_then(|l| l.method_id.as_deref().filter(|m| !m.is_empty()).or(l.method_title.as_deref()))
        .map(method_code)
        .unwrap_or_else(|| "standard".to_owned());

    let s = &o.shipping;
    if s.address_1.as_deref().is_none_or(|a| a.trim().is_empty()) {
        return Err(FieldError::new("shipping.address_1", "is missing: Ordo cannot ship the order"));
    }
    let name = crate::full_name(s.first_name.as_deref(), s.last_name.as_deref()).or_else(|| s.company.clone());
    let ship_to = AddressParts {
        name: name.as_deref(),
        line1: s.address_1.as_deref(),
        line2: s.address_2.as_deref(),
        city: s.city.as_deref(),
        region: s.state.as_deref(),
        postal_code: s.postcode.as_deref(),
        country: s.country.as_deref(),
    }
    .address("shipping")
    .map_err(|e| FieldError::new(e.field.replace("address1", "address_1").replace("country_code", "country"), e.message))?;
    let b = &o.billing;
    let email = wire::required("billing.email", b.email.as_deref())?;
    let customer_name = crate::full_name(b.first_name.as_deref(), b.last_name.as_deref())
        .or_else(|| b.company.clone())
        .unwrap_or_else(|| ship_to.name.clone());
    let status = o.status.as_deref().unwrap_or("pending");
    let order = NewOrder {
        channel: context.channel.to_owned(),
        external_id: o.id.0.clone(),
        placed_at,
        currency: currency.code().to_owned(),
        customer: NewCustomerRef { email, name: customer_name },
        billing_country: b.country.clone().filter(|c| !c.trim().is_empty()),
        ship_to,
        shipping_method,
        payment_status: payment(status, o.date_paid_gmt.as_deref()),
        shipping_price: Some(shipping.to_decimal_string()),
        lines,
    };
    let cancelled = matches!(status, "cancelled" | "refunded" | "trash");
    Ok(ChannelOrder { order, updated_at, cancelled, fulfilled: status == "completed", waiting_for: None, fulfilled_by_channel: false })
}

/// The unit price before discounts and the line's discount, such that the units less the
/// discount come to the line's `total` exactly. The unit is the `subtotal` (before discounts)
/// divided by the quantity; where that does not come out in whole cents (three for 10.00) it
/// is rounded up, and the discount takes the rounding too, less than a cent a unit. The
/// numeric `price` is no unit price before discounts: WooCommerce sends the total divided by
/// the quantity, unrounded (3.3333333333333335), so it is read only for a line without a
/// `total`, and then must come out in whole cents.
fn unit_and_discount(i: usize, item: &LineItem, currency: Currency) -> Result<(Money, Money), FieldError> {
    let f = |name: &str| format!("line_items[{i}].{name}");
    let quantity = item.quantity.0;
    let subtotal = item.subtotal.as_ref().map(|t| t.money(&f("subtotal"), currency)).transpose()?;
    let total = match (&item.total, &item.price) {
        (Some(total), _) => Some(total.money(&f("total"), currency)?),
        (None, Some(price)) => Some(price.money(&f("price"), currency)?.checked_times(quantity).map_err(|e| FieldError::new(f("price"), e.to_string()))?),
        (None, None) => None,
    };
    let Some(net) = total.or(subtotal) else {
        return Err(FieldError::new(f("total"), "is missing"));
    };
    let gross = subtotal.unwrap_or(net).minor();
    let unit = gross.div_euclid(quantity) + i64::from(gross.rem_euclid(quantity) != 0);
    let units = unit.checked_mul(quantity).ok_or_else(|| FieldError::new(f("subtotal"), "is out of range"))?;
    let discount = crate::add(&f("total"), units, -net.minor())?.max(0);
    Ok((Money::from_minor(unit, currency), Money::from_minor(discount, currency)))
}

/// WooCommerce's status in Ordo's payment terms: processing and completed orders are paid, as
/// is any with a payment date; pending, on-hold and failed orders wait for their money.
fn payment(status: &str, date_paid: Option<&str>) -> PaymentStatus {
    match status {
        "processing" | "completed" => PaymentStatus::Captured,
        _ if date_paid.is_some_and(|d| !d.trim().is_empty()) => PaymentStatus::Captured,
        _ => PaymentStatus::Pending,
    }
}

//! Shopify: the REST Order and Refund resources its webhooks deliver (`orders/create`,
//! `orders/updated`, `orders/paid`, `orders/cancelled`, `refunds/create`, `app/uninstalled`)
//! and its Admin API pages. Money is read in shop money (`*_set.shop_money`, else the plain
//! field, which is in the shop's currency), never presentment money.

use ordo_domain::order::{NewCustomerRef, NewOrder, NewOrderLine, PaymentStatus};
use ordo_domain::{Currency, FieldError, Money};
use serde::Deserialize;

use crate::wire::{self, Amount, Flag, Id, Quantity};
use crate::{listed_sku, spread, AddressParts, ChannelOrder, ChannelRefund, Context, Inbound, RefundedLine};

#[derive(Debug, Deserialize)]
struct ShopMoney {
    amount: Amount,
}

#[derive(Debug, Deserialize)]
struct MoneySet {
    shop_money: ShopMoney,
}

/// An amount in shop money: the `*_set` twin's shop money where sent, else the plain field.
fn shop(field: &str, plain: Option<&Amount>, set: Option<&MoneySet>, currency: Currency) -> Result<Money, FieldError> {
    match (set, plain) {
        (Some(set), _) => set.shop_money.amount.money(&format!("{field}_set.shop_money.amount"), currency),
        (None, Some(plain)) => plain.money(field, currency),
        (None, None) => Ok(Money::zero(currency)),
    }
}

#[derive(Debug, Deserialize)]
struct TaxLine {
    price: Amount,
    price_set: Option<MoneySet>,
}

#[derive(Debug, Deserialize)]
struct DiscountAllocation {
    amount: Amount,
    amount_set: Option<MoneySet>,
}

#[derive(Debug, Deserialize)]
struct LineItem {
    id: Id,
    sku: Option<String>,
    variant_id: Option<Id>,
    product_id: Option<Id>,
    quantity: Quantity,
    /// What is left after edits and removals; absent on old payloads.
    current_quantity: Option<Quantity>,
    price: Amount,
    price_set: Option<MoneySet>,
    total_discount: Option<Amount>,
    total_discount_set: Option<MoneySet>,
    #[serde(default)]
    discount_allocations: Vec<DiscountAllocation>,
    #[serde(default)]
    tax_lines: Vec<TaxLine>,
}

#[derive(Debug, Deserialize)]
struct ShippingLine {
    code: Option<String>,
    title: Option<String>,
    price: Option<Amount>,
    price_set: Option<MoneySet>,
    discounted_price: Option<Amount>,
    discounted_price_set: Option<MoneySet>,
}

#[derive(Debug, Deserialize)]
struct ShopAddress {
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    province_code: Option<String>,
    province: Option<String>,
    zip: Option<String>,
    country_code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Customer {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Order {
    id: Id,
    email: Option<String>,
    contact_email: Option<String>,
    created_at: String,
    updated_at: Option<String>,
    cancelled_at: Option<String>,
    currency: String,
    financial_status: Option<String>,
    fulfillment_status: Option<String>,
    #[serde(default)]
    taxes_included: Flag,
    total_tax: Option<Amount>,
    total_tax_set: Option<MoneySet>,
    total_discounts: Option<Amount>,
    total_discounts_set: Option<MoneySet>,
    #[serde(default)]
    line_items: Vec<LineItem>,
    #[serde(default)]
    shipping_lines: Vec<ShippingLine>,
    shipping_address: Option<ShopAddress>,
    billing_address: Option<ShopAddress>,
    customer: Option<Customer>,
}

/// Reads a resource, bare as webhooks send it or wrapped as the REST API answers
/// (`{"order": {…}}`), naming the field that does not fit.
fn parse<T: for<'a> Deserialize<'a>>(body: &[u8]) -> Result<T, FieldError> {
    #[derive(Deserialize)]
    struct Wrapped<'a> {
        #[serde(borrow)]
        order: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow)]
        refund: Option<&'a serde_json::value::RawValue>,
    }
    match serde_json::from_slice::<Wrapped<'_>>(body) {
        Ok(Wrapped { order: Some(inner), refund: None } | Wrapped { order: None, refund: Some(inner) }) if inner.get().starts_with('{') => {
            wire::parse(inner.get().as_bytes())
        }
        _ => wire::parse(body),
    }
}

/// What a delivery of `topic` asks of Ordo.
pub fn read(topic: &str, body: &[u8], context: &Context<'_>) -> Result<Inbound, FieldError> {
    match topic {
        "orders/create" | "orders/updated" | "orders/paid" | "orders/edited" | "orders/fulfilled" | "orders/partially_fulfilled" => {
            order(body, context).map(|o| Inbound::Order(Box::new(o)))
        }
        "orders/cancelled" => cancellation(body),
        "refunds/create" => refund(body, context).map(Inbound::Refund),
        "app/uninstalled" => Ok(Inbound::Uninstalled),
        other => Ok(Inbound::Ignored(format!("Ordo does not act on the Shopify topic {other:?}"))),
    }
}

/// A cancellation needs only the order's id and times: an order whose listing was removed
/// since, or which has no address, is still cancelled.
fn cancellation(body: &[u8]) -> Result<Inbound, FieldError> {
    #[derive(Deserialize)]
    struct Cancelled {
        id: Id,
        created_at: Option<String>,
        updated_at: Option<String>,
        cancelled_at: Option<String>,
        cancel_reason: Option<String>,
    }
    let c: Cancelled = parse(body)?;
    let updated_at = match (c.updated_at.as_deref(), c.cancelled_at.as_deref(), c.created_at.as_deref()) {
        (Some(t), _, _) => Some(wire::utc("updated_at", t)?),
        (None, Some(t), _) => Some(wire::utc("cancelled_at", t)?),
        (None, None, Some(t)) => Some(wire::utc("created_at", t)?),
        (None, None, None) => None,
    };
    let reason = match c.cancel_reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(why) => format!("cancelled on Shopify ({why})"),
        None => "cancelled on Shopify".to_owned(),
    };
    Ok(Inbound::Cancelled { external_id: c.id.0, updated_at, reason })
}

/// The order a Shopify Order resource describes.
pub fn order(body: &[u8], context: &Context<'_>) -> Result<ChannelOrder, FieldError> {
    let o: Order = parse(body)?;
    let currency = Currency::parse("currency", &o.currency)?;
    if currency != context.currency {
        let message = format!("the shop sells in {currency}, but the channel {} is in {}", context.channel, context.currency);
        return Err(FieldError::new("currency", message));
    }
    let placed_at = wire::utc("created_at", &o.created_at)?;
    let updated_at = o.updated_at.as_deref().map(|t| wire::utc("updated_at", t)).transpose()?.unwrap_or(placed_at);

    // Lines removed by an edit are left out; what is left is the current quantity.
    let mut lines = Vec::new();
    let mut values = Vec::new();
    let mut has_line_tax = false;
    let mut has_line_discount = false;
    let mut taxes = Vec::new();
    let mut discounts = Vec::new();
    for (i, item) in o.line_items.iter().enumerate() {
        let f = |name: &str| format!("line_items[{i}].{name}");
        let quantity = item.current_quantity.unwrap_or(item.quantity).0;
        if quantity <= 0 {
            continue;
        }
        let unit_price = shop(&f("price"), Some(&item.price), item.price_set.as_ref(), currency)?;
        let variant = item.variant_id.as_ref().map(|v| v.0.as_str());
        let product = item.product_id.as_ref().map(|p| p.0.as_str());
        let sku = listed_sku(&f("sku"), context, &[("sku", item.sku.as_deref()), ("variant_id", variant), ("product_id", product)])?;
        let mut tax = Money::zero(currency);
        for (t, line) in item.tax_lines.iter().enumerate() {
            let field = format!("line_items[{i}].tax_lines[{t}].price");
            tax = tax.checked_add(shop(&field, Some(&line.price), line.price_set.as_ref(), currency)?).map_err(|e| FieldError::new(field, e.to_string()))?;
        }
        has_line_tax |= !item.tax_lines.is_empty();
        let discount = if item.discount_allocations.is_empty() {
            shop(&f("total_discount"), item.total_discount.as_ref(), item.total_discount_set.as_ref(), currency)?
        } else {
            let mut sum = Money::zero(currency);
            for (d, allocation) in item.discount_allocations.iter().enumerate() {
                let field = format!("line_items[{i}].discount_allocations[{d}].amount");
                let amount = shop(&field, Some(&allocation.amount), allocation.amount_set.as_ref(), currency)?;
                sum = sum.checked_add(amount).map_err(|e| FieldError::new(field, e.to_string()))?;
            }
            sum
        };
        has_line_discount |= discount.minor() != 0;
        let value = unit_price.checked_times(quantity).map_err(|e| FieldError::new(f("price"), e.to_string()))?;
        values.push(value.checked_sub(discount).map_err(|e| FieldError::new(f("total_discount"), e.to_string()))?);
        taxes.push(tax);
        discounts.push(discount);
        lines.push(NewOrderLine { sku, quantity, unit_price: unit_price.to_decimal_string(), tax: None, discount: None, item_id: Some(item.id.0.clone()) });
    }
    if lines.is_empty() {
        return Err(FieldError::new("line_items", "the order has no line left to fulfil"));
    }
    // Where Shopify gave tax or discounts for the order only, they are spread over its lines.
    if !has_line_discount {
        let total = shop("total_discounts", o.total_discounts.as_ref(), o.total_discounts_set.as_ref(), currency)?;
        let gross: Vec<Money> = values.clone();
        discounts = spread(total, &gross);
        values = gross.iter().zip(&discounts).map(|(v, d)| v.checked_sub(*d).unwrap_or(*v)).collect();
    }
    // No tax said at all (neither on the lines nor for the order): Ordo's own tax rates apply.
    let tax_said = has_line_tax || o.total_tax.is_some() || o.total_tax_set.is_some();
    if !has_line_tax {
        let total = shop("total_tax", o.total_tax.as_ref(), o.total_tax_set.as_ref(), currency)?;
        taxes = spread(total, &values);
    }
    for ((line, tax), discount) in lines.iter_mut().zip(&taxes).zip(&discounts) {
        // Prices that include tax already carry it: the line adds none on top.
        line.tax = match (tax_said, o.taxes_included.0) {
            (false, _) => None,
            (true, true) => Some(Money::zero(currency).to_decimal_string()),
            (true, false) => Some(tax.to_decimal_string()),
        };
        line.discount = Some(discount.to_decimal_string());
    }

    let mut shipping = Money::zero(currency);
    for (i, line) in o.shipping_lines.iter().enumerate() {
        let field = format!("shipping_lines[{i}].price");
        let price = match (&line.discounted_price, &line.discounted_price_set) {
            (None, None) => shop(&field, line.price.as_ref(), line.price_set.as_ref(), currency)?,
            (plain, set) => shop(&format!("shipping_lines[{i}].discounted_price"), plain.as_ref(), set.as_ref(), currency)?,
        };
        shipping = shipping.checked_add(price).map_err(|e| FieldError::new(field, e.to_string()))?;
    }
    let shipping_method = o
        .shipping_lines
        .first()
        .and_then(|l| l.code.as_deref().or(l.title.as_deref()))
        .map(method_code)
        .unwrap_or_else(|| "standard".to_owned());

    let address = o.shipping_address.as_ref().ok_or_else(|| FieldError::new("shipping_address", "is missing: Ordo cannot ship the order"))?;
    let name = address.name.clone().or_else(|| crate::full_name(address.first_name.as_deref(), address.last_name.as_deref()));
    let ship_to = AddressParts {
        name: name.as_deref(),
        line1: address.address1.as_deref(),
        line2: address.address2.as_deref(),
        city: address.city.as_deref(),
        region: address.province_code.as_deref().or(address.province.as_deref()),
        postal_code: address.zip.as_deref(),
        country: address.country_code.as_deref(),
    }
    .address("shipping_address")?;
    let customer = o.customer.as_ref();
    let email = [o.email.as_deref(), o.contact_email.as_deref(), customer.and_then(|c| c.email.as_deref())]
        .into_iter()
        .flatten()
        .find(|e| !e.trim().is_empty());
    let email = wire::required("email", email)?;
    let customer_name = customer
        .and_then(|c| crate::full_name(c.first_name.as_deref(), c.last_name.as_deref()))
        .unwrap_or_else(|| ship_to.name.clone());

    let order = NewOrder {
        channel: context.channel.to_owned(),
        external_id: o.id.0.clone(),
        placed_at,
        currency: currency.code().to_owned(),
        customer: NewCustomerRef { email, name: customer_name },
        billing_country: o.billing_address.as_ref().and_then(|b| b.country_code.clone()).filter(|c| !c.trim().is_empty()),
        ship_to,
        shipping_method,
        payment_status: payment(o.financial_status.as_deref()),
        shipping_price: Some(shipping.to_decimal_string()),
        lines,
    };
    let cancelled = o.cancelled_at.as_deref().is_some_and(|c| !c.trim().is_empty());
    let fulfilled = o.fulfillment_status.as_deref() == Some("fulfilled");
    Ok(ChannelOrder { order, updated_at, cancelled, fulfilled, waiting_for: None, fulfilled_by_channel: false })
}

/// Shopify's `financial_status` in Ordo's terms: only money taken counts as captured.
fn payment(status: Option<&str>) -> PaymentStatus {
    match status {
        Some("paid" | "partially_refunded" | "refunded") => PaymentStatus::Captured,
        Some("authorized") => PaymentStatus::Authorized,
        _ => PaymentStatus::Pending,
    }
}

/// A shipping line's code or title as one of Ordo's method codes: `Free Shipping` → `free-shipping`.
pub(crate) fn method_code(text: &str) -> String {
    let mut code = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
            code.push(c.to_ascii_lowercase());
        } else if !code.ends_with('-') {
            code.push('-');
        }
    }
    let code = code.trim_matches('-');
    if code.is_empty() { "standard".to_owned() } else { code.chars().take(64).collect() }
}

#[derive(Debug, Deserialize)]
struct RefundLineItem {
    line_item_id: Id,
    quantity: Quantity,
    restock_type: Option<String>,
    subtotal: Option<Amount>,
    subtotal_set: Option<MoneySet>,
}

#[derive(Debug, Deserialize)]
struct Transaction {
    kind: Option<String>,
    status: Option<String>,
    amount: Amount,
}

#[derive(Debug, Deserialize)]
struct Adjustment {
    kind: Option<String>,
    amount: Amount,
}

#[derive(Debug, Deserialize)]
struct Refund {
    id: Id,
    order_id: Id,
    note: Option<String>,
    #[serde(default)]
    refund_line_items: Vec<RefundLineItem>,
    #[serde(default)]
    transactions: Vec<Transaction>,
    #[serde(default)]
    order_adjustments: Vec<Adjustment>,
}

/// The refund a Shopify Refund resource describes. Its amount is what its successful refund
/// transactions gave back; shipping refunds come from its order adjustments (whose amounts
/// Shopify writes negative).
pub fn refund(body: &[u8], context: &Context<'_>) -> Result<ChannelRefund, FieldError> {
    let r: Refund = parse(body)?;
    let currency = context.currency;
    let mut amount = Money::zero(currency);
    for (i, t) in r.transactions.iter().enumerate() {
        let counts = t.kind.as_deref().is_none_or(|k| k == "refund") && t.status.as_deref().is_none_or(|s| s == "success");
        if counts {
            let field = format!("transactions[{i}].amount");
            let value = t.amount.money(&field, currency)?;
            amount = amount.checked_add(abs(value)).map_err(|e| FieldError::new(field, e.to_string()))?;
        }
    }
    let mut shipping = Money::zero(currency);
    for (i, a) in r.order_adjustments.iter().enumerate() {
        if a.kind.as_deref() == Some("shipping_refund") {
            let field = format!("order_adjustments[{i}].amount");
            shipping = shipping.checked_add(abs(a.amount.money(&field, currency)?)).map_err(|e| FieldError::new(field, e.to_string()))?;
        }
    }
    let mut lines = Vec::with_capacity(r.refund_line_items.len());
    for (i, l) in r.refund_line_items.iter().enumerate() {
        let field = |name: &str| format!("refund_line_items[{i}].{name}");
        let amount = match l.subtotal.is_some() || l.subtotal_set.is_some() {
            false => None,
            true => Some(shop(&field("subtotal"), l.subtotal.as_ref(), l.subtotal_set.as_ref(), currency)?),
        };
        lines.push(RefundedLine {
            item_id: l.line_item_id.0.clone(),
            quantity: l.quantity.0,
            returned: l.restock_type.as_deref() == Some("return"),
            amount: amount.map(abs),
        });
    }
    let reason = r.note.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "refunded on Shopify".to_owned());
    Ok(ChannelRefund { external_id: r.order_id.0, refund_id: r.id.0, lines, shipping, amount, reason })
}

fn abs(money: Money) -> Money {
    if money.is_negative() { Money::from_minor(-money.minor(), money.currency()) } else { money }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancellation_is_read_without_mapping_the_order() {
        // The listing is gone and the address missing: neither matters to a cancellation.
        let body = br#"{"id": 820982911946154508, "created_at": "2026-11-30T10:00:00-05:00",
            "updated_at": "2026-12-01T09:30:00-05:00", "cancelled_at": "2026-12-01T09:30:00-05:00",
            "cancel_reason": "customer", "currency": "USD",
            "line_items": [{"id": 1, "sku": "GONE", "quantity": 1, "price": "9.99"}]}"#;
        let nothing_listed = |_: &str| false;
        let context = Context { channel: "web", currency: Currency::USD, listed: &nothing_listed };
        let Inbound::Cancelled { external_id, updated_at, reason } = read("orders/cancelled", body, &context).unwrap() else {
            panic!("not read as a cancellation");
        };
        assert_eq!(external_id, "820982911946154508");
        assert_eq!(updated_at.unwrap().to_rfc3339(), "2026-12-01T14:30:00+00:00");
        assert_eq!(reason, "cancelled on Shopify (customer)");
        assert_eq!(read("orders/cancelled", br#"{"updated_at": "x"}"#, &context).unwrap_err().field, "id");
        assert_eq!(read("orders/cancelled", br#"{"id": 5, "updated_at": "yesterday"}"#, &context).unwrap_err().field, "updated_at");
    }
}

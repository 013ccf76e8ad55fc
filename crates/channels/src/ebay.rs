//! eBay Sell Fulfillment API: an order from `getOrders`, kept in the inbox as eBay sent it.
//! Money is `{"value", "currency"}` with the value a decimal string; a line's `lineItemCost`
//! is for all its units; times are UTC with milliseconds.

use ordo_domain::order::{NewCustomerRef, NewOrder, NewOrderLine, PaymentStatus};
use ordo_domain::{Currency, FieldError, Money};
use serde::Deserialize;

use crate::wire::{self, Amount, Quantity};
use crate::{add, listed_sku, times, AddressParts, ChannelOrder, Context, Inbound};

#[derive(Debug, Deserialize)]
struct EbayMoney {
    value: Amount,
    currency: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContactAddress {
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    state_or_province: Option<String>,
    postal_code: Option<String>,
    country_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShipTo {
    full_name: Option<String>,
    contact_address: Option<ContactAddress>,
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShippingStep {
    ship_to: Option<ShipTo>,
    shipping_service_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Instruction {
    shipping_step: Option<ShippingStep>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tax {
    amount: EbayMoney,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Promotion {
    discount_amount: Option<EbayMoney>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryCost {
    shipping_cost: Option<EbayMoney>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItem {
    line_item_id: String,
    legacy_item_id: Option<String>,
    legacy_variation_id: Option<String>,
    sku: Option<String>,
    quantity: Quantity,
    line_item_cost: EbayMoney,
    delivery_cost: Option<DeliveryCost>,
    #[serde(default)]
    taxes: Vec<Tax>,
    #[serde(default)]
    applied_promotions: Vec<Promotion>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelStatus {
    cancel_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Buyer {
    username: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    order_id: String,
    creation_date: String,
    last_modified_date: Option<String>,
    order_payment_status: Option<String>,
    order_fulfillment_status: Option<String>,
    cancel_status: Option<CancelStatus>,
    buyer: Option<Buyer>,
    #[serde(default)]
    fulfillment_start_instructions: Vec<Instruction>,
    #[serde(default)]
    line_items: Vec<LineItem>,
}

/// A `getOrders` page: its orders, raw, and the address of the next page.
#[derive(Debug, Deserialize)]
pub struct OrdersPage {
    #[serde(default)]
    pub orders: Vec<Box<serde_json::value::RawValue>>,
    pub next: Option<String>,
}

/// An order's id and last change, from one raw order of a page: the poller's delivery id.
pub fn order_version(order: &[u8]) -> Result<(String, String), FieldError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Version {
        order_id: String,
        last_modified_date: Option<String>,
        creation_date: Option<String>,
    }
    let v: Version = wire::parse(order)?;
    Ok((v.order_id, v.last_modified_date.or(v.creation_date).unwrap_or_default()))
}

fn money(field: &str, m: &EbayMoney, currency: Currency) -> Result<Money, FieldError> {
    if let Some(code) = m.currency.as_deref().filter(|c| !c.is_empty())
        && code != currency.code()
    {
        return Err(FieldError::new(format!("{field}.currency"), format!("is {code}, but the channel sells in {currency}")));
    }
    m.value.money(&format!("{field}.value"), currency)
}

/// What a polled eBay order asks of Ordo.
pub fn read(body: &[u8], context: &Context<'_>) -> Result<Inbound, FieldError> {
    let o: Order = wire::parse(body)?;
    let currency = context.currency;
    let placed_at = wire::utc("creationDate", &o.creation_date)?;
    let updated_at = o.last_modified_date.as_deref().map(|t| wire::utc("lastModifiedDate", t)).transpose()?.unwrap_or(placed_at);
    if o.cancel_status.as_ref().and_then(|c| c.cancel_state.as_deref()) == Some("CANCELED") {
        return Ok(Inbound::Cancelled { external_id: o.order_id, updated_at: Some(updated_at), reason: "cancelled on eBay".to_owned() });
    }
    let mut lines = Vec::with_capacity(o.line_items.len());
    let mut shipping = Money::zero(currency);
    for (i, item) in o.line_items.iter().enumerate() {
        let f = |name: &str| format!("lineItems[{i}].{name}");
        let quantity = item.quantity.0;
        if quantity <= 0 {
            continue;
        }
        let candidates = [("sku", item.sku.as_deref()), ("legacyVariationId", item.legacy_variation_id.as_deref()), ("legacyItemId", item.legacy_item_id.as_deref())];
        let sku = listed_sku(&f("sku"), context, &candidates)?;
        let cost = money(&f("lineItemCost"), &item.line_item_cost, currency)?;
        // lineItemCost is for all the units: the unit price, rounded up, the rest a discount.
        let unit = cost.minor().div_euclid(quantity) + i64::from(cost.minor().rem_euclid(quantity) != 0);
        let mut discount = add(&f("lineItemCost"), times(&f("quantity"), unit, quantity)?, -cost.minor())?;
        for (p, promotion) in item.applied_promotions.iter().enumerate() {
            if let Some(amount) = &promotion.discount_amount {
                let field = format!("lineItems[{i}].appliedPromotions[{p}].discountAmount");
                discount = add(&field, discount, money(&field, amount, currency)?.minor().saturating_abs())?;
            }
        }
        let mut tax = 0;
        for (t, line) in item.taxes.iter().enumerate() {
            let field = format!("lineItems[{i}].taxes[{t}].amount");
            tax = add(&field, tax, money(&field, &line.amount, currency)?.minor())?;
        }
        if let Some(cost) = item.delivery_cost.as_ref().and_then(|d| d.shipping_cost.as_ref()) {
            let field = f("deliveryCost.shippingCost");
            shipping = Money::from_minor(add(&field, shipping.minor(), money(&field, cost, currency)?.minor())?, currency);
        }
        lines.push(NewOrderLine {
            sku,
            quantity,
            unit_price: Money::from_minor(unit, currency).to_decimal_string(),
            tax: Some(Money::from_minor(tax, currency).to_decimal_string()),
            discount: Some(Money::from_minor(discount, currency).to_decimal_string()),
            item_id: Some(item.line_item_id.clone()),
        });
    }
    if lines.is_empty() {
        return Err(FieldError::new("lineItems", "the order has no line to fulfil"));
    }
    let step = o.fulfillment_start_instructions.first().and_then(|i| i.shipping_step.as_ref());
    let to = step.and_then(|s| s.ship_to.as_ref());
    let address = to.and_then(|t| t.contact_address.as_ref()).ok_or_else(|| {
        FieldError::new("fulfillmentStartInstructions[0].shippingStep.shipTo.contactAddress", "is missing: Ordo cannot ship the order")
    })?;
    let field = "fulfillmentStartInstructions[0].shippingStep.shipTo";
    let ship_to = AddressParts {
        name: to.and_then(|t| t.full_name.as_deref()),
        line1: address.address_line1.as_deref(),
        line2: address.address_line2.as_deref(),
        city: address.city.as_deref(),
        region: address.state_or_province.as_deref(),
        postal_code: address.postal_code.as_deref(),
        country: address.country_code.as_deref(),
    }
    .address(field)
    .map_err(|e| FieldError::new(e.field.replace(".address1", ".contactAddress.addressLine1").replace(".country_code", ".contactAddress.countryCode").replace(".name", ".fullName"), e.message))?;
    let email = to
        .and_then(|t| t.email.clone())
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| format!("{}@members.ebay.invalid", o.buyer.as_ref().and_then(|b| b.username.clone()).unwrap_or_else(|| o.order_id.clone())));
    let order = NewOrder {
        channel: context.channel.to_owned(),
        external_id: o.order_id.clone(),
        placed_at,
        currency: currency.code().to_owned(),
        customer: NewCustomerRef { email, name: ship_to.name.clone() },
        billing_country: None,
        ship_to,
        shipping_method: step.and_then(|s| s.shipping_service_code.as_deref()).map(crate::shopify::method_code).unwrap_or_else(|| "standard".to_owned()),
        payment_status: match o.order_payment_status.as_deref() {
            Some("PAID" | "PARTIALLY_REFUNDED" | "FULLY_REFUNDED") => PaymentStatus::Captured,
            _ => PaymentStatus::Pending,
        },
        shipping_price: Some(shipping.to_decimal_string()),
        lines,
    };
    let fulfilled = o.order_fulfillment_status.as_deref() == Some("FULFILLED");
    Ok(Inbound::Order(Box::new(ChannelOrder { order, updated_at, cancelled: false, fulfilled, waiting_for: None, fulfilled_by_channel: false })))
}

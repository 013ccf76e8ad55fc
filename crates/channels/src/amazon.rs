//! Amazon Selling Partner API, Orders v0: an order from `getOrders` and its items from
//! `getOrderItems`, which the poller keeps together in the inbox as
//! `{"order": {…}, "items": [{…}, …]}`. Money is `{"CurrencyCode", "Amount"}` with the amount a
//! decimal string; an item's `ItemPrice` is for all its units; booleans may come as strings.

use ordo_domain::order::{NewCustomerRef, NewOrder, NewOrderLine, PaymentStatus};
use ordo_domain::{Currency, FieldError, Money};
use serde::Deserialize;

use crate::wire::{self, Amount, Quantity};
use crate::{add, listed_sku, times, AddressParts, ChannelOrder, Context, Inbound};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AmazonMoney {
    currency_code: Option<String>,
    amount: Amount,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ShippingAddress {
    name: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    state_or_region: Option<String>,
    postal_code: Option<String>,
    country_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BuyerInfo {
    buyer_email: Option<String>,
    buyer_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Order {
    amazon_order_id: String,
    purchase_date: String,
    last_update_date: Option<String>,
    order_status: String,
    fulfillment_channel: Option<String>,
    order_total: Option<AmazonMoney>,
    ship_service_level: Option<String>,
    shipment_service_level_category: Option<String>,
    shipping_address: Option<ShippingAddress>,
    buyer_info: Option<BuyerInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Item {
    #[serde(rename = "ASIN")]
    asin: Option<String>,
    #[serde(rename = "SellerSKU")]
    seller_sku: Option<String>,
    order_item_id: String,
    quantity_ordered: Quantity,
    item_price: Option<AmazonMoney>,
    item_tax: Option<AmazonMoney>,
    shipping_price: Option<AmazonMoney>,
    promotion_discount: Option<AmazonMoney>,
    shipping_discount: Option<AmazonMoney>,
}

#[derive(Debug, Deserialize)]
struct Polled {
    order: Order,
    #[serde(default)]
    items: Vec<Item>,
}

/// The `getOrders` page: its orders, as raw JSON to keep, and the token of the next page.
#[derive(Debug, Deserialize)]
pub struct OrdersPage {
    pub payload: OrdersPayload,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrdersPayload {
    #[serde(default)]
    pub orders: Vec<Box<serde_json::value::RawValue>>,
    pub next_token: Option<String>,
}

/// The `getOrderItems` page: its items, raw, and the token of the next page.
#[derive(Debug, Deserialize)]
pub struct ItemsPage {
    pub payload: ItemsPayload,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ItemsPayload {
    #[serde(default)]
    pub order_items: Vec<Box<serde_json::value::RawValue>>,
    pub next_token: Option<String>,
}

/// An order's id and last change, from one raw order of a page: the poller's delivery id.
pub fn order_version(order: &[u8]) -> Result<(String, String), FieldError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Version {
        amazon_order_id: String,
        last_update_date: Option<String>,
        purchase_date: Option<String>,
    }
    let v: Version = wire::parse(order)?;
    let at = v.last_update_date.or(v.purchase_date).unwrap_or_default();
    Ok((v.amazon_order_id, at))
}

fn money(field: &str, m: Option<&AmazonMoney>, currency: Currency) -> Result<Money, FieldError> {
    let Some(m) = m else { return Ok(Money::zero(currency)) };
    if let Some(code) = m.currency_code.as_deref().filter(|c| !c.is_empty())
        && code != currency.code()
    {
        return Err(FieldError::new(format!("{field}.CurrencyCode"), format!("is {code}, but the channel sells in {currency}")));
    }
    m.amount.money(&format!("{field}.Amount"), currency)
}

/// What a polled order (the order with its items) asks of Ordo.
pub fn read(body: &[u8], context: &Context<'_>) -> Result<Inbound, FieldError> {
    let polled: Polled = wire::parse(body)?;
    let o = &polled.order;
    let currency = context.currency;
    if let Some(code) = o.order_total.as_ref().and_then(|t| t.currency_code.as_deref()).filter(|c| !c.is_empty())
        && code != currency.code()
    {
        return Err(FieldError::new("order.OrderTotal.CurrencyCode", format!("is {code}, but the channel {} sells in {currency}", context.channel)));
    }
    let placed_at = wire::utc("order.PurchaseDate", &o.purchase_date)?;
    let updated_at = o.last_update_date.as_deref().map(|t| wire::utc("order.LastUpdateDate", t)).transpose()?.unwrap_or(placed_at);
    if matches!(o.order_status.as_str(), "Canceled" | "Cancelled") {
        return Ok(Inbound::Cancelled { external_id: o.amazon_order_id.clone(), updated_at: Some(updated_at), reason: "cancelled on Amazon".to_owned() });
    }
    // Fulfilled by Amazon (FBA): Amazon ships from the stock it keeps for the seller.
    let by_amazon = o.fulfillment_channel.as_deref() == Some("AFN");
    let mut lines = Vec::with_capacity(polled.items.len());
    let mut shipping = Money::zero(currency);
    for (i, item) in polled.items.iter().enumerate() {
        let f = |name: &str| format!("items[{i}].{name}");
        let quantity = item.quantity_ordered.0;
        if quantity <= 0 {
            continue;
        }
        let sku = listed_sku(&f("SellerSKU"), context, &[("SellerSKU", item.seller_sku.as_deref()), ("ASIN", item.asin.as_deref())])?;
        let price = money(&f("ItemPrice"), item.item_price.as_ref(), currency)?;
        // ItemPrice is for all the units: the unit price, rounded up, the rest a discount.
        let unit = Money::from_minor(price.minor().div_euclid(quantity) + i64::from(price.minor().rem_euclid(quantity) != 0), currency);
        let rounding = add(&f("ItemPrice"), times(&f("QuantityOrdered"), unit.minor(), quantity)?, -price.minor())?;
        let promotion = money(&f("PromotionDiscount"), item.promotion_discount.as_ref(), currency)?;
        // No tax said for the item: Ordo's own tax rates apply.
        let tax = item.item_tax.as_ref().map(|t| money(&f("ItemTax"), Some(t), currency)).transpose()?;
        let item_shipping = add(
            &f("ShippingDiscount"),
            money(&f("ShippingPrice"), item.shipping_price.as_ref(), currency)?.minor(),
            -money(&f("ShippingDiscount"), item.shipping_discount.as_ref(), currency)?.minor(),
        )?;
        shipping = Money::from_minor(add(&f("ShippingPrice"), shipping.minor(), item_shipping.max(0))?, currency);
        lines.push(NewOrderLine {
            sku,
            quantity,
            unit_price: unit.to_decimal_string(),
            tax: tax.map(|t| t.to_decimal_string()),
            discount: Some(Money::from_minor(add(&f("PromotionDiscount"), rounding, promotion.minor().saturating_abs())?, currency).to_decimal_string()),
            item_id: Some(item.order_item_id.clone()),
        });
    }
    if lines.is_empty() {
        return Err(FieldError::new("items", "the order has no item to fulfil"));
    }
    let a = o.shipping_address.as_ref().ok_or_else(|| {
        FieldError::new("order.ShippingAddress", "is missing: the connector needs the Restricted Data Token's address to ship the order")
    })?;
    // Amazon delivers an FBA order itself and shows the seller no more than the town: enough
    // for tax, and Ordo never ships it.
    let unseen = |part: &Option<String>, stand_in: &'static str| match part.as_deref() {
        Some(p) if !p.trim().is_empty() => Some(p.to_owned()),
        _ if by_amazon => Some(stand_in.to_owned()),
        _ => None,
    };
    let (name, line1) = (unseen(&a.name, "Amazon customer"), unseen(&a.address_line1, "delivered by Amazon (FBA)"));
    let ship_to = AddressParts {
        name: name.as_deref(),
        line1: line1.as_deref(),
        line2: a.address_line2.as_deref(),
        city: a.city.as_deref(),
        region: a.state_or_region.as_deref(),
        postal_code: a.postal_code.as_deref(),
        country: a.country_code.as_deref(),
    }
    .address("order.ShippingAddress")
    .map_err(|e| FieldError::new(e.field.replace("address1", "AddressLine1").replace("country_code", "CountryCode"), e.message))?;
    let buyer = o.buyer_info.as_ref();
    // Amazon hides the buyer's address behind a relay, or leaves it out without a token.
    let email = buyer
        .and_then(|b| b.buyer_email.clone())
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| format!("{}@marketplace.amazon.invalid", o.amazon_order_id));
    let name = buyer.and_then(|b| b.buyer_name.clone()).filter(|n| !n.trim().is_empty()).unwrap_or_else(|| ship_to.name.clone());
    let method = o.shipment_service_level_category.as_deref().or(o.ship_service_level.as_deref()).map(crate::shopify::method_code);
    let order = NewOrder {
        channel: context.channel.to_owned(),
        external_id: o.amazon_order_id.clone(),
        placed_at,
        currency: currency.code().to_owned(),
        customer: NewCustomerRef { email, name },
        billing_country: None,
        ship_to,
        shipping_method: method.unwrap_or_else(|| "standard".to_owned()),
        // Amazon has taken or guaranteed the money for every order it hands to the seller;
        // a Pending order is reserved while Amazon confirms it.
        payment_status: PaymentStatus::Captured,
        shipping_price: Some(shipping.to_decimal_string()),
        lines,
    };
    let fulfilled = matches!(o.order_status.as_str(), "Shipped" | "InvoiceUnconfirmed");
    // Pending: Amazon has not confirmed the payment and tells the seller not to ship yet.
    let waiting_for = if by_amazon {
        Some("fulfilled by Amazon (FBA): Amazon ships it from the stock it keeps".to_owned())
    } else {
        (o.order_status == "Pending").then(|| "Amazon has not confirmed the order yet (Pending): do not ship".to_owned())
    };
    let order = ChannelOrder { order, updated_at, cancelled: false, fulfilled, waiting_for, fulfilled_by_channel: by_amazon };
    Ok(Inbound::Order(Box::new(order)))
}

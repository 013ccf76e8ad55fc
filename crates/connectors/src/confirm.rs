//! Shipments, cancellations and refunds out, in each channel's own API:
//!
//! - Shopify (GraphQL Admin API): a parcel becomes a `fulfillmentCreate` over the order's
//!   open fulfillment orders, with the tracking company and number; a cancellation is
//!   `orderCancel`, refunding to the original payment method; a refund is `refundCreate`
//!   against the order's payment, its line items not restocked (Ordo's stock is the truth).
//! - WooCommerce (REST v3): a parcel becomes an order note the customer sees, naming carrier,
//!   tracking number and items, and the order turns `completed` with its last parcel; a
//!   cancellation sets `cancelled`; a refund is an order refund through the payment gateway.
//! - Amazon (Orders v0): `confirmShipment` with the package's order items.
//! - eBay (Sell Fulfillment): `createShippingFulfillment` with the line items; a refund is
//!   `issueRefund`, by line item, or for the order when shipping is given back too.
//!
//! Amazon cannot take a seller's cancellation or refund through these APIs, nor eBay a
//! cancellation; the application never sends them one. Each call is tried once; a 4xx about the request is the channel's
//! refusal, for a person to look at.

use chrono::SecondsFormat;
use ordo_app::domain::confirmation::ChannelLine;
use ordo_app::{Answer, Confirm, Confirmation, FeedError, OrderConfirmer, PollTarget, PushError, RefundedItem};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::amazon::AmazonFeed;
use crate::ebay::EbayFeed;
use crate::http::{excerpt, outbound, Http};
use crate::shopify::ShopifyFeed;
use crate::woocommerce::WooCommerceFeed;

/// The confirmer for a connector whose channel Ordo tells what it shipped and cancelled.
pub enum Confirmer {
    Shopify(ShopifyFeed),
    WooCommerce(WooCommerceFeed),
    Amazon { feed: AmazonFeed, marketplace: String },
    Ebay(EbayFeed),
}

impl Confirmer {
    /// The confirmer `target`'s connector describes; an error names what its credentials lack.
    pub fn for_target(http: &Http, target: &PollTarget) -> Result<Confirmer, String> {
        use ordo_app::domain::connector::ConnectorKind;
        Ok(match target.kind {
            ConnectorKind::Shopify => Confirmer::Shopify(ShopifyFeed::new(http.clone(), target)?),
            ConnectorKind::WooCommerce => Confirmer::WooCommerce(WooCommerceFeed::new(http.clone(), target)?),
            ConnectorKind::Amazon => {
                let feed = AmazonFeed::new(http.clone(), target)?;
                let marketplace = feed.marketplaces.split(',').next().unwrap_or_default().trim().to_owned();
                Confirmer::Amazon { feed, marketplace }
            }
            ConnectorKind::Ebay => Confirmer::Ebay(EbayFeed::with_scope(http.clone(), target, crate::ebay::FULFILLMENT_SCOPE)?),
        })
    }
}

impl OrderConfirmer for Confirmer {
    async fn confirm(&self, confirmation: &Confirmation) -> Result<Answer, PushError> {
        match self {
            Confirmer::Shopify(shop) => shopify(shop, confirmation).await,
            Confirmer::WooCommerce(site) => woocommerce(site, confirmation).await,
            Confirmer::Amazon { feed, marketplace } => amazon(feed, marketplace, confirmation).await,
            Confirmer::Ebay(feed) => ebay(feed, confirmation).await,
        }
    }
}

/// A 2xx is taken; any other answer that reached here (a 4xx about the request) refused.
fn answered(what: &str, answer: &crate::http::Answer) -> Answer {
    if answer.status.is_success() {
        Answer::Took
    } else {
        Answer::Refused(format!("{what} answered {}: {}", answer.status, excerpt(&answer.body)))
    }
}

fn feed_to_push(error: FeedError) -> PushError {
    match error {
        FeedError::Unauthorized(why) => PushError::Unauthorized(why),
        FeedError::Failed(why) => PushError::Failed(why),
    }
}

async fn shopify(shop: &ShopifyFeed, confirmation: &Confirmation) -> Result<Answer, PushError> {
    let order = format!("gid://shopify/Order/{}", confirmation.external_id);
    match &confirmation.what {
        Confirm::Shipment { carrier, tracking_number, lines, .. } => {
            let query = "query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 20) { nodes { id status \
                         lineItems(first: 250) { nodes { id remainingQuantity lineItem { id } } } } } } }";
            let data = shop.graphql("fulfillmentOrders", query, json!({"id": order})).await?;
            if data["order"].is_null() {
                return Ok(Answer::Refused(format!("Shopify has no order {}", confirmation.external_id)));
            }
            let by_order = match fulfillment_lines(&data["order"]["fulfillmentOrders"]["nodes"], lines) {
                Ok(by_order) => by_order,
                Err(why) => return Ok(Answer::Refused(why)),
            };
            let mutation = "mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id } userErrors { field message } } }";
            let fulfillment = json!({
                "lineItemsByFulfillmentOrder": by_order,
                "trackingInfo": {"company": carrier, "number": tracking_number},
                "notifyCustomer": true,
            });
            let data = shop.graphql("fulfillmentCreate", mutation, json!({"f": fulfillment})).await?;
            Ok(user_errors("fulfillmentCreate", &data["fulfillmentCreate"]["userErrors"]))
        }
        Confirm::Cancellation { reason } => {
            let mutation = "mutation($id: ID!, $note: String) { orderCancel(orderId: $id, reason: OTHER, staffNote: $note, restock: false, \
                            notifyCustomer: true, refundMethod: {originalPaymentMethodsRefund: true}) { job { id } orderCancelUserErrors { field message code } } }";
            let data = shop.graphql("orderCancel", mutation, json!({"id": order, "note": reason})).await?;
            Ok(user_errors("orderCancel", &data["orderCancel"]["orderCancelUserErrors"]))
        }
        Confirm::Refund { lines, shipping, total, reason, .. } => {
            // The money goes back against the payment the order was charged with.
            let query = "query($id: ID!) { order(id: $id) { transactions(first: 20) { id gateway kind status } } }";
            let data = shop.graphql("transactions", query, json!({"id": order})).await?;
            let paid = data["order"]["transactions"].as_array().into_iter().flatten().find(|t| matches!(t["kind"].as_str(), Some("SALE" | "CAPTURE")) && t["status"] == "SUCCESS");
            let Some(paid) = paid else {
                return Ok(Answer::Refused(format!("Shopify shows no payment of order {} to refund", confirmation.external_id)));
            };
            let mut input = json!({
                "orderId": order,
                "note": reason,
                "notify": true,
                "refundLineItems": lines.iter().map(|l| json!({"lineItemId": format!("gid://shopify/LineItem/{}", l.item_id), "quantity": l.quantity, "restockType": "NO_RESTOCK"})).collect::<Vec<_>>(),
                "transactions": [{"orderId": order, "parentId": paid["id"], "gateway": paid["gateway"], "kind": "REFUND", "amount": total}],
            });
            if !is_zero(shipping) {
                input["shipping"] = json!({"amount": shipping});
            }
            let mutation = "mutation($input: RefundInput!) { refundCreate(input: $input) { refund { id } userErrors { field message } } }";
            let data = shop.graphql("refundCreate", mutation, json!({"input": input})).await?;
            Ok(user_errors("refundCreate", &data["refundCreate"]["userErrors"]))
        }
    }
}

/// Whether a decimal string is zero.
fn is_zero(amount: &str) -> bool {
    amount.chars().all(|c| c == '0' || c == '.')
}

/// Shopify's user errors: none is taken, any is a refusal naming them.
fn user_errors(what: &str, errors: &Value) -> Answer {
    let messages: Vec<String> = errors.as_array().into_iter().flatten().map(|e| e["message"].as_str().unwrap_or("error").to_owned()).collect();
    if messages.is_empty() {
        Answer::Took
    } else {
        Answer::Refused(format!("{what}: {}", messages.join("; ")))
    }
}

/// The parcel's lines over the order's open fulfillment orders, as `fulfillmentCreate` takes
/// them: each line's units from the fulfillment order lines of its line item that still have
/// units to fulfil, in Shopify's order. An error when Shopify has fewer left than the parcel
/// carries (fulfilled there already, or removed).
fn fulfillment_lines(fulfillment_orders: &Value, lines: &[ChannelLine]) -> Result<Vec<Value>, String> {
    let mut by_order: Vec<(String, Vec<Value>)> = Vec::new();
    let mut taken: std::collections::HashMap<String, i64> = Default::default();
    for line in lines {
        let line_item = format!("gid://shopify/LineItem/{}", line.item_id);
        let mut left = line.quantity;
        let open = fulfillment_orders.as_array().into_iter().flatten().filter(|fo| matches!(fo["status"].as_str(), Some("OPEN" | "IN_PROGRESS")));
        for fo in open {
            let fo_id = fo["id"].as_str().unwrap_or_default().to_owned();
            for item in fo["lineItems"]["nodes"].as_array().into_iter().flatten().filter(|i| i["lineItem"]["id"] == line_item.as_str()) {
                let id = item["id"].as_str().unwrap_or_default().to_owned();
                let remaining = item["remainingQuantity"].as_i64().unwrap_or(0) - taken.get(&id).copied().unwrap_or(0);
                let take = left.min(remaining);
                if take <= 0 {
                    continue;
                }
                left -= take;
                *taken.entry(id.clone()).or_default() += take;
                let at = by_order.iter().position(|(f, _)| *f == fo_id).unwrap_or_else(|| {
                    by_order.push((fo_id.clone(), Vec::new()));
                    by_order.len() - 1
                });
                by_order[at].1.push(json!({"id": id, "quantity": take}));
            }
        }
        if left > 0 {
            return Err(format!("Shopify has {} of line item {} fewer left to fulfil than the parcel carries", left, line.item_id));
        }
    }
    Ok(by_order.into_iter().map(|(fo, items)| json!({"fulfillmentOrderId": fo, "fulfillmentOrderLineItems": items})).collect())
}

async fn woocommerce(site: &WooCommerceFeed, confirmation: &Confirmation) -> Result<Answer, PushError> {
    let order_url = format!("{}/wp-json/wc/v3/orders/{}", site.base, confirmation.external_id);
    let wait = std::time::Duration::from_secs(5);
    let put_status = |status: &'static str| {
        let body = json!({"status": status});
        let url = order_url.clone();
        async move {
            let answer = site.http.send_once("orders", |c| c.put(&url).basic_auth(&site.key, Some(&site.secret)).json(&body)).await.map_err(PushError::Failed)?;
            outbound("orders", answer, wait)
        }
    };
    match &confirmation.what {
        Confirm::Shipment { carrier, tracking_number, lines, complete, .. } => {
            let note = json!({"note": shipment_note(carrier, tracking_number, lines), "customer_note": true});
            let url = format!("{order_url}/notes");
            let answer = site.http.send_once("order notes", |c| c.post(&url).basic_auth(&site.key, Some(&site.secret)).json(&note)).await.map_err(PushError::Failed)?;
            let noted = answered("order notes", &outbound("order notes", answer, wait)?);
            if noted != Answer::Took || !complete {
                return Ok(noted);
            }
            Ok(answered("orders", &put_status("completed").await?))
        }
        Confirm::Cancellation { .. } => Ok(answered("orders", &put_status("cancelled").await?)),
        Confirm::Refund { lines, total, reason, .. } => {
            let url = format!("{order_url}/refunds");
            let body = json!({
                "amount": total,
                "reason": reason,
                "api_refund": true,
                "line_items": lines.iter().map(|l| json!({"id": l.item_id, "quantity": l.quantity, "refund_total": l.amount})).collect::<Vec<_>>(),
            });
            let answer = site.http.send_once("order refunds", |c| c.post(&url).basic_auth(&site.key, Some(&site.secret)).json(&body)).await.map_err(PushError::Failed)?;
            Ok(answered("order refunds", &outbound("order refunds", answer, wait)?))
        }
    }
}

/// The note a WooCommerce customer reads about a parcel.
fn shipment_note(carrier: &str, tracking_number: &str, lines: &[ChannelLine]) -> String {
    let items: Vec<String> = lines.iter().map(|l| format!("{} × item {}", l.quantity, l.item_id)).collect();
    format!("Shipped with {carrier}, tracking number {tracking_number}: {}.", items.join(", "))
}

async fn amazon(feed: &AmazonFeed, marketplace: &str, confirmation: &Confirmation) -> Result<Answer, PushError> {
    let Confirm::Shipment { carrier, tracking_number, shipped_at, lines, .. } = &confirmation.what else {
        return Ok(Answer::Refused("Amazon's Orders API cannot cancel or refund an order".to_owned()));
    };
    let url = format!("{}/orders/v0/orders/{}/shipmentConfirmation", feed.base, confirmation.external_id);
    let (code, name) = amazon_carrier(carrier);
    let mut package = json!({
        "packageReferenceId": tracking_number,
        "carrierCode": code,
        "trackingNumber": tracking_number,
        "shipDate": shipped_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "orderItems": lines.iter().map(|l| json!({"orderItemId": l.item_id, "quantity": l.quantity})).collect::<Vec<_>>(),
    });
    if let Some(name) = name {
        package["carrierName"] = json!(name);
    }
    let body = json!({"packageDetail": package, "marketplaceId": marketplace});
    let answer = feed.call_once("confirmShipment", |c, token| c.post(&url).header("x-amz-access-token", token).json(&body)).await?;
    Ok(answered("confirmShipment", &answer))
}

/// Amazon's carrier code for a carrier it knows by name, else `Other` with the name.
fn amazon_carrier(carrier: &str) -> (&'static str, Option<&str>) {
    const KNOWN: [&str; 10] = ["DHL", "UPS", "FedEx", "USPS", "DPD", "GLS", "Hermes", "Royal Mail", "Deutsche Post", "Amazon Shipping"];
    match KNOWN.iter().find(|k| k.eq_ignore_ascii_case(carrier.trim())) {
        Some(code) => (code, None),
        None => ("Other", Some(carrier)),
    }
}

async fn ebay(feed: &EbayFeed, confirmation: &Confirmation) -> Result<Answer, PushError> {
    let (what, url, body) = match &confirmation.what {
        Confirm::Shipment { carrier, tracking_number, shipped_at, lines, .. } => (
            "createShippingFulfillment",
            format!("{}/sell/fulfillment/v1/order/{}/shipping_fulfillment", feed.base, confirmation.external_id),
            json!({
                "lineItems": lines.iter().map(|l| json!({"lineItemId": l.item_id, "quantity": l.quantity})).collect::<Vec<_>>(),
                "shippedDate": shipped_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "shippingCarrierCode": carrier,
                "trackingNumber": tracking_number,
            }),
        ),
        Confirm::Refund { lines, shipping, total, currency, reason } => (
            "issueRefund",
            format!("{}/sell/fulfillment/v1/order/{}/issue_refund", feed.base, confirmation.external_id),
            ebay_refund(lines, shipping, total, currency, reason),
        ),
        Confirm::Cancellation { .. } => return Ok(Answer::Refused("eBay's Fulfillment API cannot cancel an order".to_owned())),
    };
    let mut renewed = false;
    let mut token = match feed.token.lock().await.clone() {
        Some(token) => token,
        None => {
            renewed = true;
            feed.renew().await.map_err(feed_to_push)?
        }
    };
    loop {
        let answer = feed.http.send_once(what, |c| c.post(&url).bearer_auth(&token).json(&body)).await.map_err(PushError::Failed)?;
        if answer.status == StatusCode::UNAUTHORIZED && !renewed {
            renewed = true;
            token = feed.renew().await.map_err(feed_to_push)?;
            continue;
        }
        return Ok(answered(what, &outbound(what, answer, std::time::Duration::from_secs(5))?));
    }
}

/// eBay's `issueRefund` body: by line item, or, when shipping is given back too (which eBay
/// takes only as an order-level amount), the whole amount for the order.
fn ebay_refund(lines: &[RefundedItem], shipping: &str, total: &str, currency: &str, reason: &str) -> serde_json::Value {
    let comment: String = reason.chars().take(100).collect();
    let amount = |value: &str| json!({"value": value, "currency": currency});
    if is_zero(shipping) && !lines.is_empty() {
        let items: Vec<serde_json::Value> = lines.iter().map(|l| json!({"lineItemId": l.item_id, "refundAmount": amount(&l.amount)})).collect();
        json!({"reasonForRefund": "OTHER_ADJUSTMENT", "comment": comment, "refundItems": items})
    } else {
        json!({"reasonForRefund": "OTHER_ADJUSTMENT", "comment": comment, "orderLevelRefundAmount": amount(total)})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(item_id: &str, quantity: i64) -> ChannelLine {
        ChannelLine { item_id: item_id.to_owned(), quantity }
    }

    #[test]
    fn a_parcel_takes_its_units_from_the_open_fulfillment_orders_of_its_line_items() {
        let fos = json!([
            {"id": "gid://shopify/FulfillmentOrder/1", "status": "CLOSED", "lineItems": {"nodes": [
                {"id": "gid://shopify/FulfillmentOrderLineItem/10", "remainingQuantity": 5, "lineItem": {"id": "gid://shopify/LineItem/111"}}]}},
            {"id": "gid://shopify/FulfillmentOrder/2", "status": "OPEN", "lineItems": {"nodes": [
                {"id": "gid://shopify/FulfillmentOrderLineItem/20", "remainingQuantity": 1, "lineItem": {"id": "gid://shopify/LineItem/111"}},
                {"id": "gid://shopify/FulfillmentOrderLineItem/21", "remainingQuantity": 2, "lineItem": {"id": "gid://shopify/LineItem/222"}}]}},
            {"id": "gid://shopify/FulfillmentOrder/3", "status": "IN_PROGRESS", "lineItems": {"nodes": [
                {"id": "gid://shopify/FulfillmentOrderLineItem/30", "remainingQuantity": 4, "lineItem": {"id": "gid://shopify/LineItem/111"}}]}},
        ]);
        let planned = fulfillment_lines(&fos, &[line("111", 3), line("222", 2)]).unwrap();
        assert_eq!(
            planned,
            [
                json!({"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/2", "fulfillmentOrderLineItems": [
                    {"id": "gid://shopify/FulfillmentOrderLineItem/20", "quantity": 1},
                    {"id": "gid://shopify/FulfillmentOrderLineItem/21", "quantity": 2}]}),
                json!({"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/3", "fulfillmentOrderLineItems": [
                    {"id": "gid://shopify/FulfillmentOrderLineItem/30", "quantity": 2}]}),
            ]
        );
        let too_many = fulfillment_lines(&fos, &[line("222", 3)]).unwrap_err();
        assert!(too_many.contains("1 of line item 222 fewer"), "{too_many}");
    }

    #[test]
    fn amazon_knows_some_carriers_by_code_and_the_rest_by_name() {
        assert_eq!(amazon_carrier("dhl"), ("DHL", None));
        assert_eq!(amazon_carrier("Österreichische Post"), ("Other", Some("Österreichische Post")));
    }
}

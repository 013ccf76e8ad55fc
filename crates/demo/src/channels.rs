//! The demo's channels reach Ordo the way real ones do: the web shop's orders as signed
//! Shopify `orders/create` webhooks, the wholesale portal's as signed WooCommerce
//! `order.created` webhooks, both through the same use case the webhook endpoints call and the
//! same parsers; the Amazon marketplace's as SP-API pages polled from a stand-in of Amazon
//! through the pollers' use case. A few deliveries are sent twice, one web order names a SKU
//! the shop no longer lists and one has no shipping address: they wait in the inbox as
//! `channel_mapping` exceptions.

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use ordo_channels::signature::base64_hmac;
use ordo_domain::connector::{ConnectorKind, NewConnector};
use ordo_domain::order::Order;
use serde_json::{json, Value};

use super::Seed;
use ordo_app::{FeedError, OrderFeed, PollTarget, PolledOrder, PolledPage};
use ordo_app::{Actor, AppResult, Ordo, Receipt};

const SHOPIFY_SECRET: &str = "demo-shopify-webhook-secret";
const WOO_SECRET: &str = "demo-woocommerce-webhook-secret";
/// Orders per page of the Amazon stand-in.
const PAGE: usize = 20;

/// How the channels' deliveries went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelsSummary {
    /// Webhook deliveries taken, duplicates included.
    pub deliveries: u64,
    pub duplicates: u64,
    /// Pages fetched from the Amazon stand-in, and the orders they brought.
    pub pages: u64,
    pub polled: u64,
    /// Deliveries and polled orders made into orders, and those that could not be.
    pub mapped: u64,
    pub exceptions: u64,
}

/// The stand-in of Amazon's SP-API: orders listed as the marketplace sells them, served in
/// pages by their last change, as `getOrders` with `getOrderItems` would.
#[derive(Default)]
pub(super) struct Marketplace {
    listed: Mutex<Vec<(DateTime<Utc>, PolledOrder)>>,
}

impl OrderFeed for Marketplace {
    async fn page(&self, since: DateTime<Utc>, until: DateTime<Utc>, token: Option<&str>) -> Result<PolledPage, FeedError> {
        let offset: usize = token.map(|t| t.parse().map_err(|_| FeedError::Failed(format!("bad NextToken {t:?}")))).transpose()?.unwrap_or(0);
        let listed = self.listed.lock().map_err(|_| FeedError::Failed("the stand-in's list is poisoned".into()))?;
        let window: Vec<&PolledOrder> = listed.iter().filter(|(at, _)| *at >= since && *at < until).map(|(_, o)| o).collect();
        let orders: Vec<PolledOrder> = window.iter().skip(offset).take(PAGE).map(|o| (*o).clone()).collect();
        let next = (offset + PAGE < window.len()).then(|| (offset + PAGE).to_string());
        Ok(PolledPage { orders, next })
    }
}

/// The demo's channel connections and what they did.
pub(super) struct Channels {
    pub(super) summary: ChannelsSummary,
    marketplace: Marketplace,
    target: PollTarget,
    sent: u64,
    /// Amazon orders already made, so the overlap each poll re-reads is not counted twice.
    seen: HashSet<String>,
}

fn money(text: &Value) -> &str {
    text.as_str().unwrap_or("0.00")
}

/// The order's lines, each made into the channel's shape by `line(i, line)`.
fn lines_of(order: &Value, line: impl Fn(usize, &Value) -> Value) -> Vec<Value> {
    order["lines"].as_array().map(|lines| lines.iter().enumerate().map(|(i, l)| line(i, l)).collect()).unwrap_or_default()
}

/// A line's unit price as written, its quantity, and its price for all the units.
fn priced(line: &Value) -> (&str, i64, String) {
    let price = money(&line["unit_price"]);
    let quantity = line["quantity"].as_i64().unwrap_or(1);
    let minor: i64 = price.replace('.', "").parse::<i64>().unwrap_or(0) * quantity;
    (price, quantity, format!("{}.{:02}", minor / 100, minor % 100))
}

fn first_and_last(name: &str) -> (&str, &str) {
    name.split_once(' ').unwrap_or((name, ""))
}

impl Channels {
    /// Connects the web shop to Shopify, the wholesale portal to WooCommerce and the
    /// marketplace to Amazon, as an admin would.
    pub(super) async fn connect(ordo: &Ordo, admin: &Actor) -> AppResult<Channels> {
        for (channel, kind, secret) in [("web", "shopify", Some(SHOPIFY_SECRET)), ("b2b", "woocommerce", Some(WOO_SECRET)), ("amazon", "amazon", None)] {
            let new = NewConnector {
                kind: kind.to_owned(),
                base_url: None,
                webhook_secrets: secret.map(|s| vec![s.to_owned()]),
                credentials: None,
                poll_interval_s: Some(3600),
                location_map: None,
                sync_lag_threshold_s: None,
            };
            ordo.channels().put_connector(channel, new, admin).await?;
        }
        let target = PollTarget {
            channel: "amazon".to_owned(),
            kind: ConnectorKind::Amazon,
            base_url: None,
            credentials: serde_json::Map::new(),
            poll_interval: std::time::Duration::from_secs(3600),
            sync_lag_threshold: std::time::Duration::from_secs(300),
        };
        Ok(Channels { summary: ChannelsSummary::default(), marketplace: Marketplace::default(), target, sent: 0, seen: HashSet::new() })
    }

    /// Sends the web shop's order `order` (in Ordo's own shape) as Shopify would; the order
    /// made of it, or none where it waits in the inbox.
    pub(super) async fn shopify(&mut self, ordo: &Ordo, order: &Value, number: u64, seed: &mut Seed) -> AppResult<Option<Order>> {
        self.sent += 1;
        let mut body = shopify_order(order, number);
        // Planted on the second and third day's first web order: a SKU the shop stopped
        // listing, and an order without a shipping address.
        match self.sent {
            30 => body["line_items"][0]["sku"] = "WEB-DISCONTINUED".into(),
            60 => body["shipping_address"] = Value::Null,
            _ => {}
        }
        let body = body.to_string().into_bytes();
        let headers = vec![
            ("x-shopify-topic".to_owned(), "orders/create".to_owned()),
            ("x-shopify-hmac-sha256".to_owned(), base64_hmac(&body, SHOPIFY_SECRET)),
            ("x-shopify-webhook-id".to_owned(), format!("demo-{number}")),
            ("x-shopify-shop-domain".to_owned(), "ordo-demo.myshopify.com".to_owned()),
        ];
        // Shopify delivers at least once: now and then the same delivery comes twice.
        let twice = seed.between(1, 25) == 1;
        self.deliver(ordo, ConnectorKind::Shopify, "web", &headers, &body, twice).await
    }

    /// Sends the wholesale portal's order as WooCommerce would.
    pub(super) async fn woocommerce(&mut self, ordo: &Ordo, order: &Value, number: u64, seed: &mut Seed) -> AppResult<Option<Order>> {
        let body = woocommerce_order(order, number).to_string().into_bytes();
        let headers = vec![
            ("x-wc-webhook-topic".to_owned(), "order.created".to_owned()),
            ("x-wc-webhook-signature".to_owned(), base64_hmac(&body, WOO_SECRET)),
            ("x-wc-webhook-delivery-id".to_owned(), format!("{:x}", number * 7919)),
            ("x-wc-webhook-source".to_owned(), "https://portal.ordo-demo.example/".to_owned()),
        ];
        let twice = seed.between(1, 10) == 1;
        self.deliver(ordo, ConnectorKind::WooCommerce, "b2b", &headers, &body, twice).await
    }

    async fn deliver(
        &mut self,
        ordo: &Ordo,
        source: ConnectorKind,
        channel: &str,
        headers: &[(String, String)],
        body: &[u8],
        twice: bool,
    ) -> AppResult<Option<Order>> {
        for _ in 0..(1 + u8::from(twice)) {
            self.summary.deliveries += 1;
            if ordo.channels().receive_webhook(source, channel, headers, body).await? == Receipt::Duplicate {
                self.summary.duplicates += 1;
            }
        }
        self.settle(ordo).await?;
        let id = ordo_channels::order_key(body).unwrap_or_default();
        self.made(ordo, channel, &id).await
    }

    /// Lists the marketplace's order on the Amazon stand-in; it reaches Ordo at the next poll.
    pub(super) fn list_on_amazon(&self, order: &Value) {
        let external_id = order["external_id"].as_str().unwrap_or_default().to_owned();
        let at = order["placed_at"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        let body = amazon_order(order, at);
        let polled = PolledOrder { external_id, version: at.to_rfc3339_opts(SecondsFormat::Secs, true), body: body.to_string().into_bytes() };
        if let Ok(mut listed) = self.marketplace.listed.lock() {
            listed.push((at, polled));
        }
    }

    /// Polls the Amazon stand-in as the poller does; the orders made of what it brought.
    pub(super) async fn poll_amazon(&mut self, ordo: &Ordo) -> AppResult<Vec<Order>> {
        let round = ordo.channels().poll_channel(&self.target, &self.marketplace, "demo-poller").await?;
        self.summary.pages += round.pages as u64;
        self.summary.polled += round.stored as u64;
        let fresh: Vec<String> = {
            let listed = self.marketplace.listed.lock().map_err(|_| ordo_app::AppError::Storage(ordo_storage::StorageError::Unavailable("the stand-in's list is poisoned".into())))?;
            listed.iter().map(|(_, o)| o.external_id.clone()).collect()
        };
        self.settle(ordo).await?;
        let mut made = Vec::new();
        for id in fresh {
            if self.seen.contains(&id) {
                continue;
            }
            if let Some(order) = self.made(ordo, "amazon", &id).await? {
                self.seen.insert(id);
                made.push(order);
            }
        }
        if let Ok(mut listed) = self.marketplace.listed.lock() {
            // What the poll brought is Ordo's now; the overlap the next poll re-reads stays.
            let cutoff = ordo.now() - chrono::Duration::minutes(10);
            listed.retain(|(at, _)| *at >= cutoff);
        }
        Ok(made)
    }

    /// Processes the inbox until nothing is due, counting what was mapped and what failed.
    async fn settle(&mut self, ordo: &Ordo) -> AppResult<()> {
        loop {
            let round = ordo.channels().process_inbox(ordo_app::MAX_INBOX_CLAIM).await?;
            self.summary.mapped += round.processed as u64;
            self.summary.exceptions += round.failed as u64;
            if round.claimed == 0 {
                return Ok(());
            }
        }
    }

    async fn made(&self, ordo: &Ordo, channel: &str, external_id: &str) -> AppResult<Option<Order>> {
        match ordo.orders().order_by_external_id(channel, external_id).await {
            Ok(order) => Ok(Some(order)),
            Err(ordo_app::AppError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The demo order (Ordo's shape) as a Shopify `orders/create` body.
fn shopify_order(order: &Value, number: u64) -> Value {
    let id = 5_000_000_000_000_000u64 + number;
    let placed = order["placed_at"].clone();
    let name = order["customer"]["name"].as_str().unwrap_or_default();
    let (first, last) = first_and_last(name);
    let lines = lines_of(order, |i, l| {
        json!({"id": id * 10 + i as u64, "variant_id": 40_000_000 + number * 10 + i as u64, "product_id": 30_000_000 + i as u64,
               "sku": l["sku"], "quantity": l["quantity"], "price": money(&l["unit_price"]), "total_discount": "0.00", "discount_allocations": []})
    });
    let financial = match order["payment_status"].as_str() {
        Some("captured") => "paid",
        Some("authorized") => "authorized",
        _ => "pending",
    };
    let to = &order["ship_to"];
    json!({
        "id": id,
        "admin_graphql_api_id": format!("gid://shopify/Order/{id}"),
        "name": format!("#{}", 1000 + number),
        "email": order["customer"]["email"],
        "created_at": placed,
        "updated_at": placed,
        "currency": order["currency"],
        "presentment_currency": order["currency"],
        "financial_status": financial,
        "fulfillment_status": null,
        "taxes_included": false,
        "line_items": lines,
        "shipping_lines": [{"code": order["shipping_method"], "title": "Standard", "price": "0.00", "source": "shopify"}],
        "shipping_address": {"name": name, "first_name": first, "last_name": last, "address1": to["line1"], "city": to["city"], "zip": to["postal_code"], "country_code": to["country"]},
        "billing_address": {"country_code": to["country"]},
        "customer": {"email": order["customer"]["email"], "first_name": first, "last_name": last},
    })
}

/// The demo order as a WooCommerce v3 `order.created` body: money as strings, a line's price
/// as a number, local times without an offset beside their `_gmt` twins.
fn woocommerce_order(order: &Value, number: u64) -> Value {
    let placed = order["placed_at"].as_str().unwrap_or_default().trim_end_matches('Z').to_owned();
    let placed = placed.split('.').next().unwrap_or_default().to_owned();
    let name = order["customer"]["name"].as_str().unwrap_or_default();
    let (first, last) = first_and_last(name);
    let lines = lines_of(order, |i, l| {
        let (price, quantity, total) = priced(l);
        let numeric: Value = serde_json::from_str(price).unwrap_or(Value::Null);
        json!({"id": number * 10 + i as u64, "product_id": 900 + i as u64, "variation_id": 0, "sku": l["sku"], "quantity": quantity,
               "subtotal": total, "total": total, "price": numeric})
    });
    let to = &order["ship_to"];
    json!({
        "id": 70_000 + number,
        "status": if order["payment_status"] == "captured" { "processing" } else { "on-hold" },
        "currency": order["currency"],
        "date_created": placed, "date_created_gmt": placed,
        "date_modified": placed, "date_modified_gmt": placed,
        "billing": {"first_name": first, "last_name": last, "company": name, "email": order["customer"]["email"], "country": to["country"]},
        "shipping": {"first_name": first, "last_name": last, "address_1": to["line1"], "city": to["city"], "postcode": to["postal_code"], "country": to["country"]},
        "line_items": lines,
        "shipping_lines": [{"method_id": order["shipping_method"], "method_title": "Freight", "total": "0.00"}],
    })
}

/// The demo order as Amazon's `getOrders` order with its `getOrderItems` items.
fn amazon_order(order: &Value, at: DateTime<Utc>) -> Value {
    let stamp = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let currency = order["currency"].clone();
    let items = lines_of(order, |i, l| {
        let (_, quantity, total) = priced(l);
        json!({"OrderItemId": format!("{}{i:02}", order["external_id"].as_str().unwrap_or_default().replace('-', "")), "SellerSKU": l["sku"],
               "QuantityOrdered": quantity, "ItemPrice": {"CurrencyCode": currency, "Amount": total}})
    });
    let to = &order["ship_to"];
    json!({
        "order": {
            "AmazonOrderId": order["external_id"], "PurchaseDate": stamp, "LastUpdateDate": stamp, "OrderStatus": "Unshipped",
            "FulfillmentChannel": "MFN", "ShipmentServiceLevelCategory": order["shipping_method"], "IsPrime": "false",
            "ShippingAddress": {"Name": order["customer"]["name"], "AddressLine1": to["line1"], "City": to["city"], "PostalCode": to["postal_code"], "CountryCode": to["country"]},
            "BuyerInfo": {"BuyerEmail": order["customer"]["email"], "BuyerName": order["customer"]["name"]},
        },
        "items": items,
    })
}

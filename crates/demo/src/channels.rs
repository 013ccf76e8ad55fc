//! The demo's channels reach Ordo the way real ones do. The web shop's orders come as signed
//! Shopify `orders/create` webhooks and the wholesale portal's as signed WooCommerce
//! `order.created` webhooks, posted over HTTP to Ordo's own webhook endpoints, served on
//! loopback while the demo trades. The Amazon marketplace's come as SP-API pages: the pollers'
//! Amazon client (Login with Amazon, `getOrders` by `NextToken`, `getOrderItems`) fetches them
//! from a stand-in of Amazon on loopback. A few deliveries are sent twice, one web order names a
//! SKU the shop no longer lists and one has no shipping address: they wait in the inbox as
//! `channel_mapping` exceptions.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use ordo_channels::signature::base64_hmac;
use ordo_domain::connector::{ConnectorKind, NewConnector};
use ordo_domain::order::Order;
use serde_json::{json, Value};

use super::Seed;
use ordo_app::{Actor, AppError, AppResult, Ordo, PollTarget};

const SHOPIFY_SECRET: &str = "demo-shopify-webhook-secret";
const WOO_SECRET: &str = "demo-woocommerce-webhook-secret";
/// Orders per page of the Amazon stand-in.
const PAGE: usize = 20;
const MARKETPLACE_ID: &str = "A1PA6795UKMFR9";
/// Calls a second the Amazon stand-in states it takes.
const STAND_IN_RATE: &str = "10000";

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

/// An order listed on the Amazon stand-in: when it last changed, its `getOrders` entry and its
/// `getOrderItems` items.
struct Listed {
    at: DateTime<Utc>,
    order: Value,
    items: Vec<Value>,
}

/// The stand-in of Amazon's SP-API: Login with Amazon's token exchange, `getOrders` by last
/// change in pages of [`PAGE`] with a `NextToken`, and `getOrderItems`, each answer stating
/// its rate limit as Amazon does. The rate it states is its own, far above Amazon's (a month
/// of trading is polled in a minute), so the client's pacing never holds the demo up.
#[derive(Default)]
struct Marketplace {
    listed: Mutex<Vec<Listed>>,
    /// The windows handed out as `NextToken`s: the orders of the window and where the next
    /// page starts.
    tokens: Mutex<Vec<(Vec<Value>, usize)>>,
}

type Amazon = Arc<Marketplace>;

fn amazon_error(status: axum::http::StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"errors": [{"code": code, "message": message}]}))).into_response()
}

fn rate_limited(body: Value, rate: &'static str) -> Response {
    ([("x-amzn-RateLimit-Limit", rate)], Json(body)).into_response()
}

async fn lwa_token() -> Json<Value> {
    Json(json!({"access_token": "Atza|demo-access-token", "token_type": "bearer", "expires_in": 3600}))
}

async fn get_orders(State(amazon): State<Amazon>, query: Query<std::collections::HashMap<String, String>>) -> Response {
    use axum::http::StatusCode;
    if query.get("MarketplaceIds").map(String::as_str) != Some(MARKETPLACE_ID) {
        return amazon_error(StatusCode::BAD_REQUEST, "InvalidInput", "MarketplaceIds is required");
    }
    let Ok(mut tokens) = amazon.tokens.lock() else { return amazon_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "poisoned") };
    let (window, offset) = match query.get("NextToken") {
        Some(token) => match token.parse::<usize>().ok().and_then(|i| tokens.get(i)) {
            Some((window, offset)) => (window.clone(), *offset),
            None => return amazon_error(StatusCode::BAD_REQUEST, "InvalidInput", "Invalid NextToken"),
        },
        None => {
            let time = |name: &str| query.get(name).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
            let Some(after) = time("LastUpdatedAfter") else {
                return amazon_error(StatusCode::BAD_REQUEST, "InvalidInput", "LastUpdatedAfter is required");
            };
            let before = time("LastUpdatedBefore");
            let Ok(listed) = amazon.listed.lock() else { return amazon_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "poisoned") };
            let window = listed.iter().filter(|l| l.at >= after && before.is_none_or(|b| l.at < b)).map(|l| l.order.clone()).collect();
            (window, 0)
        }
    };
    let end = (offset + PAGE).min(window.len());
    let mut payload = json!({"Orders": window[offset..end]});
    if end < window.len() {
        payload["NextToken"] = tokens.len().to_string().into();
        tokens.push((window, end));
    }
    rate_limited(json!({"payload": payload}), STAND_IN_RATE)
}

async fn get_order_items(State(amazon): State<Amazon>, Path(id): Path<String>) -> Response {
    use axum::http::StatusCode;
    let Ok(listed) = amazon.listed.lock() else { return amazon_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "poisoned") };
    match listed.iter().find(|l| l.order["AmazonOrderId"] == id.as_str()) {
        Some(l) => rate_limited(json!({"payload": {"AmazonOrderId": id, "OrderItems": l.items}}), STAND_IN_RATE),
        None => amazon_error(StatusCode::NOT_FOUND, "NotFound", "no such order"),
    }
}

/// Serves `app` on a free loopback port until the handle is dropped; its address.
async fn serve_on_loopback(app: Router) -> AppResult<(String, tokio::task::JoinHandle<()>)> {
    let unavailable = |e: std::io::Error| AppError::Storage(ordo_storage::StorageError::Unavailable(format!("cannot serve the demo's channels on loopback: {e}")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(unavailable)?;
    let address = listener.local_addr().map_err(unavailable)?;
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!(%error, "a demo server stopped");
        }
    });
    Ok((format!("http://{address}"), task))
}

/// The demo's channel connections and what they did.
pub(super) struct Channels {
    pub(super) summary: ChannelsSummary,
    client: reqwest::Client,
    /// Where Ordo's webhook endpoints are served while the demo trades.
    ordo_base: String,
    marketplace: Amazon,
    feed: ordo_connectors::Feed,
    target: PollTarget,
    sent: u64,
    /// Amazon orders already made, so the overlap each poll re-reads is not counted twice.
    seen: HashSet<String>,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Channels {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
    }
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
    /// marketplace to Amazon, as an admin would; serves Ordo's webhook endpoints and the Amazon
    /// stand-in on loopback.
    pub(super) async fn connect(ordo: &Ordo, admin: &Actor) -> AppResult<Channels> {
        for (channel, kind, secret) in [("web", "shopify", Some(SHOPIFY_SECRET)), ("b2b", "woocommerce", Some(WOO_SECRET)), ("amazon", "amazon", None)] {
            let new = NewConnector {
                kind: kind.to_owned(),
                base_url: None,
                webhook_secrets: secret.map(|s| vec![s.to_owned()]),
                credentials: None,
                poll_interval_s: Some(3600),
                sync_lag_threshold_s: None,
            };
            ordo.channels().put_connector(channel, new, admin).await?;
        }
        let (ordo_base, ordo_server) = serve_on_loopback(ordo_api::router(ordo.clone())).await?;
        let marketplace = Amazon::default();
        let stand_in = Router::new()
            .route("/auth/o2/token", post(lwa_token))
            .route("/orders/v0/orders", get(get_orders))
            .route("/orders/v0/orders/{id}/orderItems", get(get_order_items))
            .with_state(marketplace.clone());
        let (amazon_base, amazon_server) = serve_on_loopback(stand_in).await?;
        // The stand-in's address and credentials live only while the demo trades: the stored
        // connector has none, so a served demo does not poll a stand-in that is gone.
        let credentials = json!({
            "client_id": "amzn1.application-oa2-client.demo", "client_secret": "demo-lwa-secret", "refresh_token": "Atzr|demo-refresh",
            "marketplace_ids": MARKETPLACE_ID, "token_url": format!("{amazon_base}/auth/o2/token"),
        });
        let target = PollTarget {
            channel: "amazon".to_owned(),
            kind: ConnectorKind::Amazon,
            base_url: Some(amazon_base),
            credentials: credentials.as_object().cloned().unwrap_or_default(),
            poll_interval: std::time::Duration::from_secs(3600),
            sync_lag_threshold: std::time::Duration::from_secs(300),
        };
        let failed = |what: &str, e: String| AppError::Invalid(ordo_domain::FieldError::new("channels", format!("{what}: {e}")));
        let http = ordo_connectors::Http::new().map_err(|e| failed("the Amazon client", e))?;
        let feed = ordo_connectors::Feed::for_target(&http, &target).map_err(|e| failed("the Amazon client", e))?;
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build().map_err(|e| failed("the webhook sender", e.to_string()))?;
        Ok(Channels {
            summary: ChannelsSummary::default(),
            client,
            ordo_base,
            marketplace,
            feed,
            target,
            sent: 0,
            seen: HashSet::new(),
            servers: vec![ordo_server, amazon_server],
        })
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
        let headers = [
            ("x-shopify-topic", "orders/create".to_owned()),
            ("x-shopify-hmac-sha256", base64_hmac(&body, SHOPIFY_SECRET)),
            ("x-shopify-webhook-id", format!("demo-{number}")),
            ("x-shopify-shop-domain", "ordo-demo.myshopify.com".to_owned()),
        ];
        // Shopify delivers at least once: now and then the same delivery comes twice.
        let twice = seed.between(1, 25) == 1;
        self.deliver(ordo, "/webhooks/shopify/web", "web", &headers, body, twice).await
    }

    /// Sends the wholesale portal's order as WooCommerce would.
    pub(super) async fn woocommerce(&mut self, ordo: &Ordo, order: &Value, number: u64, seed: &mut Seed) -> AppResult<Option<Order>> {
        let body = woocommerce_order(order, number).to_string().into_bytes();
        let headers = [
            ("x-wc-webhook-topic", "order.created".to_owned()),
            ("x-wc-webhook-signature", base64_hmac(&body, WOO_SECRET)),
            ("x-wc-webhook-delivery-id", format!("{:x}", number * 7919)),
            ("x-wc-webhook-source", "https://portal.ordo-demo.example/".to_owned()),
        ];
        let twice = seed.between(1, 10) == 1;
        self.deliver(ordo, "/webhooks/woocommerce/b2b", "b2b", &headers, body, twice).await
    }

    /// Posts a signed delivery to Ordo's webhook endpoint `path` (twice if `twice`), then
    /// processes the inbox; the order made of it, if any.
    async fn deliver(&mut self, ordo: &Ordo, path: &str, channel: &str, headers: &[(&str, String)], body: Vec<u8>, twice: bool) -> AppResult<Option<Order>> {
        let id = ordo_channels::order_key(&body).unwrap_or_default();
        let url = format!("{}{path}", self.ordo_base);
        for _ in 0..(1 + u8::from(twice)) {
            self.summary.deliveries += 1;
            let mut request = self.client.post(&url).header("content-type", "application/json").body(body.clone());
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let refused = |why: String| AppError::Invalid(ordo_domain::FieldError::new("webhook", format!("{path} refused the demo's delivery: {why}")));
            let response = request.send().await.map_err(|e| refused(e.to_string()))?;
            let status = response.status();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                return Err(refused(format!("{status} {answer}")));
            }
            if answer["status"] == "duplicate" {
                self.summary.duplicates += 1;
            }
        }
        self.settle(ordo).await?;
        self.made(ordo, channel, &id).await
    }

    /// Lists the marketplace's order on the Amazon stand-in; it reaches Ordo at the next poll.
    pub(super) fn list_on_amazon(&self, order: &Value) {
        let at = order["placed_at"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        let (order, items) = amazon_order(order, at);
        if let Ok(mut listed) = self.marketplace.listed.lock() {
            listed.push(Listed { at, order, items });
        }
    }

    /// Polls the Amazon stand-in with the pollers' Amazon client; the orders made of what it
    /// brought.
    pub(super) async fn poll_amazon(&mut self, ordo: &Ordo) -> AppResult<Vec<Order>> {
        let round = ordo.channels().poll_channel(&self.target, &self.feed, "demo-poller").await?;
        self.summary.pages += round.pages as u64;
        self.summary.polled += round.stored as u64;
        let fresh: Vec<String> = match self.marketplace.listed.lock() {
            Ok(listed) => listed.iter().filter_map(|l| l.order["AmazonOrderId"].as_str().map(str::to_owned)).collect(),
            Err(_) => Vec::new(),
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
            listed.retain(|l| l.at >= cutoff);
        }
        if let Ok(mut tokens) = self.marketplace.tokens.lock() {
            tokens.clear();
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
            Err(AppError::NotFound { .. }) => Ok(None),
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

/// The demo order as Amazon's `getOrders` order and its `getOrderItems` items.
fn amazon_order(order: &Value, at: DateTime<Utc>) -> (Value, Vec<Value>) {
    let stamp = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let currency = order["currency"].clone();
    let items = lines_of(order, |i, l| {
        let (_, quantity, total) = priced(l);
        json!({"OrderItemId": format!("{}{i:02}", order["external_id"].as_str().unwrap_or_default().replace('-', "")), "SellerSKU": l["sku"],
               "QuantityOrdered": quantity, "ItemPrice": {"CurrencyCode": currency, "Amount": total}})
    });
    let to = &order["ship_to"];
    let order = json!({
        "AmazonOrderId": order["external_id"], "PurchaseDate": stamp, "LastUpdateDate": stamp, "OrderStatus": "Unshipped",
        "FulfillmentChannel": "MFN", "ShipmentServiceLevelCategory": order["shipping_method"], "IsPrime": "false", "MarketplaceId": MARKETPLACE_ID,
        "ShippingAddress": {"Name": order["customer"]["name"], "AddressLine1": to["line1"], "City": to["city"], "PostalCode": to["postal_code"], "CountryCode": to["country"]},
        "BuyerInfo": {"BuyerEmail": order["customer"]["email"], "BuyerName": order["customer"]["name"]},
    });
    (order, items)
}

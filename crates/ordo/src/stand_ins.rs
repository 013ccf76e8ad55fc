//! Stand-ins of the four channels' stock APIs on 127.0.0.1, for `ordo bench sync`: each keeps
//! the quantities it was told and, while metered, holds Ordo to its channel's documented
//! limits.
//!
//! - Shopify (GraphQL Admin API): a leaky bucket of 1,000 points restored at 100 points a
//!   second (a standard plan); `inventorySetQuantities` costs 10, a variant search 2 plus
//!   what it asks for. A call the bucket cannot pay is answered `THROTTLED` with the cost.
//! - WooCommerce (REST v3 `products/batch`, 100 products a call): no limit of its own, but a
//!   shared WordPress host takes 150 ms a batch.
//! - Amazon (Listings Items `patchListingsItem`): 5 requests a second, bursts of 10; a 429 with
//!   `x-amzn-RateLimit-Limit` beyond that.
//! - eBay (Inventory `bulkUpdatePriceQuantity`, 25 SKUs a call): a daily quota that a minute
//!   cannot reach; 30 ms a call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// A bucket of `capacity` that refills at `rate` a second.
struct Bucket {
    capacity: f64,
    rate: f64,
    level: f64,
    at: Instant,
}

impl Bucket {
    fn new(capacity: f64, rate: f64) -> Bucket {
        Bucket { capacity, rate, level: capacity, at: Instant::now() }
    }

    /// Takes `cost` if there is that much; else how much there is.
    fn take(&mut self, cost: f64) -> Result<(), f64> {
        let now = Instant::now();
        self.level = (self.level + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.capacity);
        self.at = now;
        if self.level >= cost {
            self.level -= cost;
            Ok(())
        } else {
            Err(self.level)
        }
    }
}

#[derive(Default)]
pub struct Channel {
    /// What the channel shows, by its own key (SKU, product id, inventory item).
    pub levels: Mutex<HashMap<String, i64>>,
    pub calls: AtomicU64,
    pub throttled: AtomicU64,
}

pub struct StandIns {
    pub base: String,
    /// Limits are enforced only while metered: the bench's set-up is not the channels' load.
    pub metered: AtomicBool,
    pub shopify: Channel,
    pub woocommerce: Channel,
    pub amazon: Channel,
    pub ebay: Channel,
    shopify_bucket: Mutex<Bucket>,
    amazon_bucket: Mutex<Bucket>,
}

/// The Shopify inventory item of a SKU, as the stand-in's shop has it.
pub fn shopify_item(sku: &str) -> String {
    format!("gid://shopify/InventoryItem/{}", sku.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))) % 1_000_000_000_000)
}

impl StandIns {
    /// Serves the stand-ins on a free port of 127.0.0.1.
    pub async fn start() -> Result<Arc<StandIns>, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let base = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        let stand_ins = Arc::new(StandIns {
            base,
            metered: AtomicBool::new(false),
            shopify: Channel::default(),
            woocommerce: Channel::default(),
            amazon: Channel::default(),
            ebay: Channel::default(),
            shopify_bucket: Mutex::new(Bucket::new(1000.0, 100.0)),
            amazon_bucket: Mutex::new(Bucket::new(10.0, 5.0)),
        });
        let app = Router::new()
            .route("/admin/api/2025-07/graphql.json", post(shopify))
            .route("/wp-json/wc/v3/products/batch", post(woocommerce))
            .route("/auth/o2/token", post(amazon_token))
            .route("/listings/2021-08-01/items/{seller}/{sku}", patch(amazon))
            .route("/sell/inventory/v1/bulk_update_price_quantity", post(ebay))
            .with_state(stand_ins.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(stand_ins)
    }

    fn metered(&self) -> bool {
        self.metered.load(Ordering::Relaxed)
    }
}

type Shared = State<Arc<StandIns>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn shopify(State(s): Shared, Json(body): Json<Value>) -> Json<Value> {
    let query = body["query"].as_str().unwrap_or_default();
    let cost = if query.contains("productVariants") { 252.0 } else { 10.0 };
    if s.metered()
        && let Err(available) = lock(&s.shopify_bucket).take(cost)
    {
        s.shopify.throttled.fetch_add(1, Ordering::Relaxed);
        return Json(json!({
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {"cost": {"requestedQueryCost": cost, "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": available, "restoreRate": 100.0}}},
        }));
    }
    s.shopify.calls.fetch_add(1, Ordering::Relaxed);
    if query.contains("productVariants") {
        let search = body["variables"]["q"].as_str().unwrap_or_default();
        let nodes: Vec<Value> = search
            .split(" OR ")
            .filter_map(|term| term.strip_prefix("sku:\"").and_then(|t| t.strip_suffix('"')))
            .map(|sku| json!({"sku": sku, "inventoryItem": {"id": shopify_item(sku)}}))
            .collect();
        return Json(json!({"data": {"productVariants": {"nodes": nodes}}}));
    }
    let mut levels = lock(&s.shopify.levels);
    for q in body["variables"]["input"]["quantities"].as_array().into_iter().flatten() {
        if let (Some(item), Some(quantity)) = (q["inventoryItemId"].as_str(), q["quantity"].as_i64()) {
            levels.insert(item.to_owned(), quantity);
        }
    }
    Json(json!({"data": {"inventorySetQuantities": {"userErrors": []}}}))
}

async fn woocommerce(State(s): Shared, Json(body): Json<Value>) -> Json<Value> {
    if s.metered() {
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    s.woocommerce.calls.fetch_add(1, Ordering::Relaxed);
    let mut levels = lock(&s.woocommerce.levels);
    let mut updated = Vec::new();
    for p in body["update"].as_array().into_iter().flatten() {
        if let (Some(id), Some(quantity)) = (p["id"].as_i64(), p["stock_quantity"].as_i64()) {
            levels.insert(id.to_string(), quantity);
            updated.push(json!({"id": id, "stock_quantity": quantity}));
        }
    }
    Json(json!({"update": updated}))
}

async fn amazon_token() -> Json<Value> {
    Json(json!({"access_token": "Atza|stand-in", "token_type": "bearer", "expires_in": 3600}))
}

async fn amazon(State(s): Shared, Path((_seller, sku)): Path<(String, String)>, Json(body): Json<Value>) -> Response {
    if s.metered() && lock(&s.amazon_bucket).take(1.0).is_err() {
        s.amazon.throttled.fetch_add(1, Ordering::Relaxed);
        let quota = json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]});
        return (StatusCode::TOO_MANY_REQUESTS, [("x-amzn-ratelimit-limit", "5.0")], Json(quota)).into_response();
    }
    s.amazon.calls.fetch_add(1, Ordering::Relaxed);
    let quantity = body["patches"][0]["value"][0]["quantity"].as_i64().unwrap_or_default();
    lock(&s.amazon.levels).insert(sku.clone(), quantity);
    Json(json!({"sku": sku, "status": "ACCEPTED", "submissionId": "stand-in", "issues": []})).into_response()
}

async fn ebay(State(s): Shared, Json(body): Json<Value>) -> Json<Value> {
    if s.metered() {
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    s.ebay.calls.fetch_add(1, Ordering::Relaxed);
    let mut levels = lock(&s.ebay.levels);
    let mut responses = Vec::new();
    for r in body["requests"].as_array().into_iter().flatten() {
        if let (Some(sku), Some(quantity)) = (r["sku"].as_str(), r["shipToLocationAvailability"]["quantity"].as_i64()) {
            levels.insert(sku.to_owned(), quantity);
            responses.push(json!({"sku": sku, "statusCode": 200}));
        }
    }
    Json(json!({"responses": responses}))
}

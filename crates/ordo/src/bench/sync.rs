//! `ordo bench sync`: orders at a steady rate over the API, each reserving a unit of a SKU
//! listed on every channel (so each is a stock change there), pushed by `ordo serve`'s own
//! channel loop to stand-ins that enforce each channel's documented limits (see
//! [`crate::stand_ins`]). Prints, per channel, the push latency from a change's commit to the
//! channel's answer, calls per change, the largest lag seen and the drift left at the end;
//! and the most orders a second the API takes alone, beside the order stream, and beside the
//! stream with the sync running.
//!
//! Set-up, not measured: SKUs with stock, listed on each channel (WooCommerce by product id),
//! and each channel starting in step with Ordo (as after a resync). Shopify's pusher looks up
//! its inventory items on a first, unmetered resync, as a running `ordo serve` has long done.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use ordo_app::domain::access::Role;
use ordo_app::domain::connector::NewConnector;
use ordo_app::domain::inventory::{MovementKind, NewMovement};
use ordo_app::import::{ImportKind, ImportOptions};
use ordo_app::{Actor, NoProgress, Ordo};
use ordo_storage::StockPushed;

use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::serve::{self, HttpOptions};
use crate::stand_ins::{shopify_item, StandIns};

/// The channels the bench connects, in order: code, kind, and how the stand-in keys a listing.
const CHANNELS: [(&str, &str); 4] = [("sync-shopify", "shopify"), ("sync-woo", "woocommerce"), ("sync-amazon", "amazon"), ("sync-ebay", "ebay")];
/// The stock location of the bench's SKUs.
const LOCATION: &str = "bench-a";
/// Orders sent for each intake measure.
const INTAKE_ORDERS: u64 = 2_000;
const INTAKE_CLIENTS: usize = 8;

#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncReport {
    pub engine: String,
    /// SKUs, each listed on every channel.
    pub listings: usize,
    pub changes_per_s: u32,
    pub seconds: u64,
    /// Orders of the stream taken: each a stock change on every channel.
    pub changes: u64,
    pub channels: Vec<ChannelFigures>,
    /// The most orders a second the API takes: alone; beside the order stream with nothing
    /// pushed; and beside the stream with the sync running. The sync's own cost is the last
    /// against the second.
    pub intake_alone_per_s: f64,
    pub intake_with_changes_per_s: f64,
    pub intake_during_sync_per_s: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ChannelFigures {
    pub channel: String,
    pub kind: String,
    /// Listings the channel took a new quantity of.
    pub pushed: u64,
    pub calls: u64,
    pub calls_per_change: f64,
    /// Calls the channel refused for its rate limit.
    pub throttled: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// The longest a change waited, as sampled each second.
    pub largest_lag_s: f64,
    /// Listings the channel still showed differently from Ordo after the drain.
    pub drift: usize,
    pub pending_at_end: i64,
}

/// Runs the bench on a database it may fill.
pub async fn sync(ordo: Ordo, listings: usize, channels: usize, changes_per_s: u32, seconds: u64) -> Result<SyncReport, String> {
    fn fail(what: &'static str) -> impl Fn(ordo_app::AppError) -> String {
        move |e| format!("{what}: {e}")
    }
    // The connectors keep credentials: without a configured key, one for this run.
    let ordo = match ordo.settings().secret_key {
        Some(_) => ordo,
        None => {
            let key = ordo_app::SecretKey::from_text(&format!("bench-{}", uuid::Uuid::now_v7().simple())).map_err(|e| e.to_string())?;
            ordo.with_settings(ordo_app::Settings { secret_key: Some(key), ..ordo.settings().clone() })
        }
    };
    let channels = &CHANNELS[..channels.clamp(1, CHANNELS.len())];
    super::seed(&ordo).await.map_err(fail("seeding the bench data"))?;
    let stand_ins = StandIns::start().await?;
    let skus = Arc::new(catalogue(&ordo, listings, channels).await?);
    for (code, kind) in channels {
        connect(&ordo, code, kind, &stand_ins.base).await?;
        in_step(&ordo, code, kind, &stand_ins).await?;
    }

    // `ordo serve`'s push loop, with an eye on each round's latencies.
    let latencies: Arc<Mutex<HashMap<String, Vec<i64>>>> = Arc::default();
    let pushed: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let observer: serve::RoundObserver = {
        let (latencies, pushed) = (latencies.clone(), pushed.clone());
        Arc::new(move |channel: &str, round: &ordo_app::PushRound| {
            latencies.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(channel.to_owned()).or_default().extend(&round.latencies_ms);
            *pushed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(channel.to_owned()).or_default() += round.pushed as u64;
        })
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let pushers = tokio::spawn(serve::push_to_channels(ordo.clone(), stopped, Some(observer)));

    // Shopify's pusher meets its inventory items once, unmetered.
    if channels.iter().any(|(_, kind)| *kind == "shopify") {
        ordo.channels().resync_stock("sync-shopify", &Actor::system()).await.map_err(fail("resync"))?;
        drain(&ordo, &["sync-shopify"], Duration::from_secs(600)).await?;
    }

    // The API, and the order intake rate before any stock moves.
    let token = ordo.access().create_token(Role::Integration, "bench-sync", &Actor::system()).await.map_err(fail("token"))?.token;
    let options = HttpOptions { request_timeout: Duration::from_secs(30), body_limit_bytes: 1 << 20, secure_cookies: false };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let app = serve::app(ordo.clone(), &options);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let currency = ordo.settings().base_currency.code().to_owned();
    let intake = |run: &'static str| intake(address, token.clone(), run, currency.clone());
    let intake_alone_per_s = intake("alone").await?;

    // The measured run: limits on, changes at the rate asked, orders meanwhile.
    stand_ins.metered.store(true, Ordering::Relaxed);
    let calls_before: Vec<(u64, u64)> = channels.iter().map(|(_, kind)| counters(&stand_ins, kind)).collect();
    latencies.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    pushed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    let codes: Vec<&str> = channels.iter().map(|(code, _)| *code).collect();
    let largest_lag: Arc<Mutex<HashMap<String, f64>>> = Arc::default();
    let sampling = tokio::spawn(sample_lag(ordo.clone(), codes.iter().map(|c| (*c).to_owned()).collect(), largest_lag.clone()));
    let stream = |run: Duration| tokio::spawn(order_stream(address, token.clone(), skus.clone(), currency.clone(), changes_per_s, run));
    let changing = stream(Duration::from_secs(seconds));
    tokio::time::sleep(Duration::from_secs(seconds / 4)).await;
    let intake_during_sync_per_s = intake("during").await?;
    let changes = changing.await.map_err(|e| e.to_string())??;
    // What is left goes out as fast as each channel's limits allow, for as long as the run took.
    drain(&ordo, &codes, Duration::from_secs(seconds.max(10))).await.ok();
    sampling.abort();
    let _ = stop.send(true);
    let _ = pushers.await;
    let drifts = {
        let mut drifts = Vec::new();
        for (code, kind) in channels {
            drifts.push(drift(&ordo, code, kind, &stand_ins, &skus).await?);
        }
        drifts
    };
    // The same changes again with nothing pushed: what intake loses to them alone.
    let changing = stream(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let intake_with_changes_per_s = intake("changes").await?;
    changing.abort();
    server.abort();

    let mut figures = Vec::new();
    for (((code, kind), (calls_then, throttled_then)), (drift, pending_at_end)) in channels.iter().zip(calls_before).zip(drifts) {
        let (calls_now, throttled_now) = counters(&stand_ins, kind);
        let mut waits = latencies.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(*code).unwrap_or_default();
        waits.sort_unstable();
        let calls = calls_now - calls_then;
        figures.push(ChannelFigures {
            channel: (*code).to_owned(),
            kind: (*kind).to_owned(),
            pushed: pushed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(*code).copied().unwrap_or(0),
            calls,
            calls_per_change: calls as f64 / changes.max(1) as f64,
            throttled: throttled_now - throttled_then,
            p50_ms: percentile_ms(&waits, 0.50),
            p95_ms: percentile_ms(&waits, 0.95),
            p99_ms: percentile_ms(&waits, 0.99),
            largest_lag_s: largest_lag.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(*code).copied().unwrap_or(0.0),
            drift,
            pending_at_end,
        });
    }
    Ok(SyncReport {
        engine: super::engine_name(&ordo),
        listings: skus.len(),
        changes_per_s,
        seconds,
        changes,
        channels: figures,
        intake_alone_per_s,
        intake_with_changes_per_s,
        intake_during_sync_per_s,
    })
}

fn percentile_ms(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize] as f64
}

/// `listings` SKUs with plenty of stock, listed on every channel: WooCommerce by product id
/// (from 10,001), the others by a channel SKU of their own.
async fn catalogue(ordo: &Ordo, listings: usize, channels: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let system = Actor::system();
    let skus: Vec<String> = (0..listings).map(|n| format!("SYNC-{n:06}")).collect();
    let mut products = String::from("sku,name,unit_cost\n");
    for sku in &skus {
        products.push_str(&format!("{sku},Synced item {sku},2.50\n"));
    }
    let system = &system;
    let import = |kind, csv: String| async move {
        ordo.master_data().import_csv(kind, csv.as_bytes(), ImportOptions { skip_invalid: false }, &NoProgress, system).await.map_err(|e| e.to_string())
    };
    import(ImportKind::Products, products).await?;
    let currency = ordo.settings().base_currency.code().to_owned();
    let mut channel_rows = String::from("code,name,kind,currency\n");
    for (code, _) in channels {
        channel_rows.push_str(&format!("{code},{code},marketplace,{currency}\n"));
    }
    import(ImportKind::Channels, channel_rows).await?;
    // The bench channel sells them too, unconnected: its orders are the stock changes.
    let mut listing_rows = String::from("channel,channel_sku,sku,price\n");
    for sku in &skus {
        listing_rows.push_str(&format!("bench,B-{sku},{sku},9.90\n"));
    }
    for (code, kind) in channels {
        for (n, sku) in skus.iter().enumerate() {
            listing_rows.push_str(&format!("{code},{},{sku},9.90\n", channel_sku(kind, n, sku)));
        }
    }
    import(ImportKind::Listings, listing_rows).await?;
    for sku in &skus {
        let receipt = NewMovement { sku: sku.clone(), location: LOCATION.into(), quantity: 100_000, kind: MovementKind::Receipt, reason: "bench stock".into(), unit_cost: None };
        ordo.inventory().record_movement(receipt, system).await.map_err(|e| e.to_string())?;
    }
    Ok(skus)
}

fn channel_sku(kind: &str, n: usize, sku: &str) -> String {
    match kind {
        "woocommerce" => (10_001 + n).to_string(),
        _ => format!("{}-{sku}", &kind[..3].to_uppercase()),
    }
}

async fn connect(ordo: &Ordo, code: &str, kind: &str, base: &str) -> Result<(), String> {
    let credentials = match kind {
        "shopify" => serde_json::json!({"access_token": "shpat_bench", "location_id": "1"}),
        "woocommerce" => serde_json::json!({"consumer_key": "ck_bench", "consumer_secret": "cs_bench"}),
        "amazon" => serde_json::json!({"client_id": "bench", "client_secret": "bench", "refresh_token": "Atzr|bench",
            "marketplace_ids": ["A1PA6795UKMFR9"], "seller_id": "A2BENCH", "token_url": format!("{base}/auth/o2/token")}),
        _ => serde_json::json!({"access_token": "v^1.1#bench"}),
    };
    let connector: NewConnector = serde_json::from_value(serde_json::json!({"kind": kind, "base_url": base, "credentials": credentials})).map_err(|e| e.to_string())?;
    ordo.channels().put_connector(code, connector, &Actor::system()).await.map_err(|e| format!("connecting {code}: {e}"))?;
    Ok(())
}

/// The channel starts holding what Ordo can sell of each listing, and Ordo knows it.
async fn in_step(ordo: &Ordo, code: &str, kind: &str, stand_ins: &StandIns) -> Result<(), String> {
    let now = Utc::now();
    let db = ordo.storage();
    let mut tx = db.write().await.map_err(|e| e.to_string())?;
    let marks = tx.claim_stock_marks(code, now, now + chrono::Duration::minutes(10), i64::MAX).await.map_err(|e| e.to_string())?;
    let skus: Vec<String> = marks.iter().map(|m| m.sku.clone()).collect();
    let available: HashMap<String, i64> = tx.available_to_sell(code, &skus).await.map_err(|e| e.to_string())?.into_iter().collect();
    let level = |sku: &str| available.get(sku).copied().unwrap_or(0);
    let done: Vec<StockPushed> = marks.iter().map(|m| StockPushed { channel_sku: &m.channel_sku, wanted: m.wanted, quantity: level(&m.sku), latency_ms: None }).collect();
    tx.record_stock_pushed(code, &done, now).await.map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    let mut levels = stand_ins_channel(stand_ins, kind).levels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for m in &marks {
        levels.insert(stand_in_key(kind, &m.channel_sku), level(&m.sku));
    }
    Ok(())
}

fn stand_ins_channel<'a>(stand_ins: &'a StandIns, kind: &str) -> &'a crate::stand_ins::Channel {
    match kind {
        "shopify" => &stand_ins.shopify,
        "woocommerce" => &stand_ins.woocommerce,
        "amazon" => &stand_ins.amazon,
        _ => &stand_ins.ebay,
    }
}

/// How the stand-in keys a listing: Shopify by inventory item, the others by channel SKU.
fn stand_in_key(kind: &str, channel_sku: &str) -> String {
    match kind {
        "shopify" => shopify_item(channel_sku),
        _ => channel_sku.to_owned(),
    }
}

fn counters(stand_ins: &StandIns, kind: &str) -> (u64, u64) {
    let channel = stand_ins_channel(stand_ins, kind);
    (channel.calls.load(Ordering::Relaxed), channel.throttled.load(Ordering::Relaxed))
}

/// Waits until nothing waits to be told to `codes`, for at most `limit`.
async fn drain(ordo: &Ordo, codes: &[&str], limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let mut pending = 0;
        for code in codes {
            pending += ordo.channels().channel_sync(code).await.map_err(|e| e.to_string())?.outbound.stock.pending;
        }
        if pending == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("the channels still had changes waiting after {} s", limit.as_secs()))
}

/// Each second, each channel's oldest waiting change: the largest seen.
async fn sample_lag(ordo: Ordo, codes: Vec<String>, largest: Arc<Mutex<HashMap<String, f64>>>) {
    loop {
        for code in &codes {
            if let Ok(health) = ordo.channels().channel_sync(code).await {
                let lag = health.outbound.stock.oldest_pending_age_s.unwrap_or(0) as f64;
                let mut largest = largest.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let seen = largest.entry(code.clone()).or_default();
                *seen = seen.max(lag);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Orders from the bench channel at `per_s` a second over the API, each for one unit of a
/// synced SKU (half of them on a tenth of the SKUs, as demand falls), for `run`: each one
/// reserves stock, so each is a change on every channel. How many were taken.
async fn order_stream(address: std::net::SocketAddr, token: String, skus: Arc<Vec<String>>, currency: String, per_s: u32, run: Duration) -> Result<u64, String> {
    let client: Client<_, Full<axum::body::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let url: axum::http::Uri = format!("http://{address}/api/v1/orders").parse().map_err(|e| format!("{e}"))?;
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(64));
    let taken = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut sent = tokio::task::JoinSet::new();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < run {
        let due = started + Duration::from_secs_f64(n as f64 / f64::from(per_s.max(1)));
        tokio::time::sleep_until(due.into()).await;
        let permit = in_flight.clone().acquire_owned().await.map_err(|e| e.to_string())?;
        let stride = n.wrapping_mul(2_654_435_761) as usize;
        let sku = if n.is_multiple_of(2) { &skus[stride % skus.len().div_ceil(10)] } else { &skus[stride % skus.len()] };
        let body = format!(
            r#"{{"channel":"bench","external_id":"{tag}-{n}","placed_at":"{}","currency":"{currency}","customer":{{"email":"s{}@example.com","name":"Sync Customer"}},"ship_to":{{"name":"Sync Customer","line1":"1 Loop Rd","city":"Localhost","postal_code":"12345","country":"US"}},"shipping_method":"standard","payment_status":"captured","lines":[{{"sku":"B-{sku}","quantity":1,"unit_price":"9.90"}}]}}"#,
            Utc::now().to_rfc3339(),
            n % 5000
        );
        let request = axum::http::Request::post(url.clone())
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::from(body))
            .map_err(|e| e.to_string())?;
        let (client, taken) = (client.clone(), taken.clone());
        sent.spawn(async move {
            if let Ok(answer) = client.request(request).await {
                if answer.status() == axum::http::StatusCode::CREATED {
                    taken.fetch_add(1, Ordering::Relaxed);
                }
                let _ = http_body_util::BodyExt::collect(answer.into_body()).await;
            }
            drop(permit);
        });
        n += 1;
    }
    while sent.join_next().await.is_some() {}
    Ok(taken.load(Ordering::Relaxed))
}

/// Orders a second for `INTAKE_ORDERS` orders over the API.
async fn intake(address: std::net::SocketAddr, token: String, run: &'static str, currency: String) -> Result<f64, String> {
    let url: axum::http::Uri = format!("http://{address}/api/v1/orders").parse().map_err(|e| format!("{e}"))?;
    let tag = format!("{run}-{}", uuid::Uuid::now_v7().simple());
    let started = Instant::now();
    let (_, failed) = super::drive(INTAKE_CLIENTS, INTAKE_ORDERS, axum::http::StatusCode::CREATED, move |n| {
        axum::http::Request::post(url.clone())
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(http_body_util::Full::from(super::order_body(&tag, n, &currency)))
    })
    .await?;
    if failed > 0 {
        return Err(format!("{failed} of {INTAKE_ORDERS} orders were refused"));
    }
    Ok(INTAKE_ORDERS as f64 / started.elapsed().as_secs_f64().max(f64::EPSILON))
}

/// Listings the channel shows differently from Ordo's available-to-sell, and the changes
/// still waiting to be told.
async fn drift(ordo: &Ordo, code: &str, kind: &str, stand_ins: &StandIns, skus: &[String]) -> Result<(usize, i64), String> {
    let available: HashMap<String, i64> = ordo.storage().read().await.map_err(|e| e.to_string())?.available_to_sell(code, skus).await.map_err(|e| e.to_string())?.into_iter().collect();
    let levels = stand_ins_channel(stand_ins, kind).levels.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let drift = skus
        .iter()
        .enumerate()
        .filter(|(n, sku)| levels.get(&stand_in_key(kind, &channel_sku(kind, *n, sku))) != available.get(*sku))
        .count();
    let pending = ordo.channels().channel_sync(code).await.map_err(|e| e.to_string())?.outbound.stock.pending;
    Ok((drift, pending))
}

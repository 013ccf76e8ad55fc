//! `ordo bench ingest`: drives the order API with concurrent clients over loopback and
//! reports throughput, latency percentiles and the oversell check. `ordo bench settlement`:
//! reconciles a generated settlement report against its orders and reports lines per second
//! and peak memory.
//!
//! The server runs in this process on 127.0.0.1 against the given database, seeded with a
//! bench channel, two locations and SKUs of which a few are scarce, so reservations contend.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ordo_app::domain::access::Role;
use ordo_app::domain::inventory::{MovementKind, NewMovement};
use ordo_app::domain::master::{ChannelKind, LocationKind, NewChannel, NewLocation, NewListing, NewProduct};
use ordo_app::{Actor, AppError, Ordo};

use crate::serve::{self, HttpOptions};

mod sync;
pub use sync::{sync, ChannelFigures, SyncReport};

const SKUS: i64 = 200;
/// The first few SKUs have little stock, so many orders fight over them.
const SCARCE: i64 = 5;

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestReport {
    pub engine: String,
    pub clients: usize,
    pub orders: u64,
    pub failed: u64,
    pub seconds: f64,
    pub orders_per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub oversells: usize,
}

fn ignore_duplicate<T>(result: Result<T, AppError>) -> Result<(), AppError> {
    match result {
        Ok(_) | Err(AppError::Duplicate(_)) => Ok(()),
        Err(other) => Err(other),
    }
}

/// Master data for the bench; adding it again changes nothing.
async fn seed(ordo: &Ordo) -> Result<(), AppError> {
    let currency = ordo.settings().base_currency.code().to_owned();
    let channel = NewChannel {
        code: "bench".into(),
        name: "Bench channel".into(),
        kind: ChannelKind::Marketplace,
        currency,
        ship_by_sla_hours: Some(48),
    };
    let system = Actor::system();
    ignore_duplicate(ordo.master_data().create_channel(channel, &system).await)?;
    for (code, priority) in [("bench-a", 1), ("bench-b", 2)] {
        let location = NewLocation {
            code: code.into(),
            name: code.into(),
            kind: LocationKind::Warehouse,
            priority,
            time_zone: None,
            cutoff_time: None,
            managed_by: None,
            calendar: None,
        };
        ignore_duplicate(ordo.master_data().create_location(location, &system).await)?;
    }
    let mut products = Vec::new();
    for n in 0..SKUS {
        let sku = format!("BENCH-{n:04}");
        let product = NewProduct {
            sku: sku.clone(),
            name: format!("Bench item {n}"),
            unit_cost: "3.50".into(),
            weight_grams: Some(300),
            tax_class: None,
            abc_class: None,
            active: None,
        };
        if ordo.master_data().create_product(product, &system).await.is_ok() {
            products.push((n, sku));
        }
    }
    for (n, sku) in products {
        let listing = NewListing { channel: "bench".into(), channel_sku: format!("B-{sku}"), sku: sku.clone(), price: "9.90".into() };
        ignore_duplicate(ordo.master_data().create_listing(listing, &system).await)?;
        let stock = if n < SCARCE { 100 } else { 1_000_000 };
        for location in ["bench-a", "bench-b"] {
            let receipt = NewMovement {
                sku: sku.clone(),
                location: location.into(),
                quantity: stock,
                kind: MovementKind::Receipt,
                reason: "bench stock".into(),
                unit_cost: None,
            };
            ordo.inventory().record_movement(receipt, &system).await?;
        }
    }
    Ok(())
}

/// A realistic order placed now: 1 to 4 lines, sometimes a scarce SKU, prices as a channel
/// sends them.
fn order_body(run: &str, n: u64, currency: &str) -> String {
    order_placed_at(run, n, currency, chrono::Utc::now())
}

/// [`order_body`], placed at `placed_at`.
fn order_placed_at(run: &str, n: u64, currency: &str, placed_at: chrono::DateTime<chrono::Utc>) -> String {
    // A cheap deterministic mix; the bench needs variety, not randomness.
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let lines = 1 + next(4);
    let items: Vec<String> = (0..lines)
        .map(|i| {
            let sku = if i == 0 && next(10) == 0 { next(SCARCE as u64) } else { next(SKUS as u64) };
            format!(r#"{{"sku":"B-BENCH-{sku:04}","quantity":{},"unit_price":"9.90"}}"#, 1 + next(3))
        })
        .collect();
    format!(
        r#"{{"channel":"bench","external_id":"{run}-{n}","placed_at":"{}","currency":"{currency}","customer":{{"email":"c{}@example.com","name":"Bench Customer"}},"ship_to":{{"name":"Bench Customer","line1":"1 Loop Rd","city":"Localhost","postal_code":"12345","country":"US"}},"shipping_method":"standard","payment_status":"captured","lines":[{}]}}"#,
        placed_at.to_rfc3339(),
        n % 5000,
        items.join(",")
    )
}

/// The engine a report names: `sqlite` or `postgres`.
fn engine_name(ordo: &Ordo) -> String {
    match ordo.engine() {
        ordo_app::Engine::Sqlite => "sqlite",
        ordo_app::Engine::Postgres => "postgres",
    }
    .to_owned()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index.min(sorted.len() - 1)]) / 1000.0
}

/// `clients` concurrent clients send the `count` requests `request(n)` makes over loopback;
/// each request's latency in microseconds, and how many did not answer `expected`.
async fn drive(
    clients: usize,
    count: u64,
    expected: axum::http::StatusCode,
    request: impl Fn(u64) -> Result<axum::http::Request<Full<axum::body::Bytes>>, axum::http::Error> + Send + Sync + 'static,
) -> Result<(Vec<u32>, u64), String> {
    let client: Client<_, Full<axum::body::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (client, request, next, failed) = (client.clone(), request.clone(), next.clone(), failed.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        break;
                    }
                    let Ok(request) = request(n) else {
                        failed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let sent = Instant::now();
                    let ok = match client.request(request).await {
                        Ok(response) => {
                            let ok = response.status() == expected;
                            let _ = response.into_body().collect().await;
                            ok
                        }
                        Err(_) => false,
                    };
                    latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for worker in workers {
        latencies.extend(worker.await.map_err(|e| e.to_string())?);
    }
    Ok((latencies, failed.load(Ordering::Relaxed)))
}

/// Runs the bench: `clients` concurrent clients send `orders` orders in all.
pub async fn ingest(ordo: Ordo, clients: usize, orders: u64) -> Result<IngestReport, String> {
    seed(&ordo).await.map_err(|e| format!("seeding the bench data failed: {e}"))?;
    let token = ordo.access().create_token(Role::Integration, "bench", &Actor::system()).await.map_err(|e| e.to_string())?.token;
    let options = HttpOptions { request_timeout: Duration::from_secs(30), body_limit_bytes: 1 << 20, secure_cookies: false };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let app = serve::app(ordo.clone(), &options);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let url: axum::http::Uri = format!("http://{address}/api/v1/orders").parse().map_err(|e| format!("{e}"))?;
    let run = uuid::Uuid::now_v7().simple().to_string();
    // The bench channel sells in the base currency.
    let currency = ordo.settings().base_currency.code().to_owned();
    let started = Instant::now();
    let (mut latencies, failed) = drive(clients, orders, axum::http::StatusCode::CREATED, move |n| {
        axum::http::Request::post(url.clone())
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::from(order_body(&run, n, &currency)))
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    if orders > 0 && failed == orders {
        server.abort();
        return Err(format!("every one of the {orders} orders was refused: no figure to report (is the database a bench database?)"));
    }
    server.abort();
    latencies.sort_unstable();
    let oversells = ordo.inventory().stock_discrepancies().await.map_err(|e| e.to_string())?.len();
    Ok(IngestReport {
        engine: engine_name(&ordo),
        clients,
        orders,
        failed,
        seconds,
        orders_per_second: orders as f64 / seconds.max(f64::EPSILON),
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        oversells,
    })
}

/// What one webhook run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebhookReport {
    pub engine: String,
    pub clients: usize,
    pub deliveries: u64,
    pub failed: u64,
    pub seconds: f64,
    pub deliveries_per_second: f64,
    /// The channel's wait for its 200.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// From receipt to the order existing.
    pub to_order_p50_ms: f64,
    pub to_order_p99_ms: f64,
    pub to_order_max_ms: f64,
    pub orders_made: usize,
    pub oversells: usize,
}

/// A Shopify `orders/create` body for order `n` of the run, in the bench channel's currency.
fn shopify_body(run: u64, n: u64, currency: &str) -> String {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5A5A;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let lines: Vec<String> = (0..1 + next(3))
        .map(|i| {
            let sku = next(SKUS as u64);
            format!(
                r#"{{"id":{},"variant_id":{},"product_id":{},"sku":"B-BENCH-{sku:04}","quantity":{},"price":"9.90","total_discount":"0.00","discount_allocations":[],"tax_lines":[{{"title":"Tax","price":"0.99","rate":0.1}}]}}"#,
                n * 10 + i,
                40_000_000 + sku,
                30_000_000 + sku,
                1 + next(2)
            )
        })
        .collect();
    let now = chrono::Utc::now().to_rfc3339();
    format!(
        r#"{{"id":{},"email":"c{}@example.com","created_at":"{now}","updated_at":"{now}","currency":"{currency}","financial_status":"paid","taxes_included":false,"line_items":[{}],"shipping_lines":[{{"code":"standard","title":"Standard","price":"4.90"}}],"shipping_address":{{"name":"Bench Customer","address1":"1 Loop Rd","city":"Localhost","zip":"12345","country_code":"US"}},"customer":{{"email":"c{}@example.com","first_name":"Bench","last_name":"Customer"}}}}"#,
        run + n,
        n % 5000,
        lines.join(","),
        n % 5000
    )
}

/// Sends `deliveries` signed Shopify `orders/create` webhooks from `clients` concurrent
/// clients into the inbox of the bench channel, then waits until each is an order.
pub async fn webhooks(ordo: Ordo, clients: usize, deliveries: u64) -> Result<WebhookReport, String> {
    seed(&ordo).await.map_err(|e| format!("seeding the bench data failed: {e}"))?;
    let ordo = match ordo.settings().secret_key {
        Some(_) => ordo,
        // The bench seals its own connector's secret when no key is configured.
        None => {
            let key = ordo_app::SecretKey::from_text(&format!("bench key {}", uuid::Uuid::now_v7())).map_err(|e| e.to_string())?;
            ordo.with_settings(ordo_app::Settings { secret_key: Some(key), ..ordo.settings().clone() })
        }
    };
    let secret = format!("bench-secret-{}", uuid::Uuid::now_v7().simple());
    let connector: ordo_app::domain::connector::NewConnector =
        serde_json::from_value(serde_json::json!({"kind": "shopify", "webhook_secrets": [secret]})).map_err(|e| e.to_string())?;
    ordo.channels().put_connector("bench", connector, &Actor::system()).await.map_err(|e| e.to_string())?;
    let currency = ordo.settings().base_currency.code().to_owned();
    let options = HttpOptions { request_timeout: Duration::from_secs(30), body_limit_bytes: 1 << 20, secure_cookies: false };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let app = serve::app(ordo.clone(), &options);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let processors = serve::process_inbox(&ordo, &stopped);
    let before = ordo.channels().channel_sync("bench").await.map_err(|e| e.to_string())?;

    let url: axum::http::Uri = format!("http://{address}/webhooks/shopify/bench").parse().map_err(|e| format!("{e}"))?;
    // Order ids above 2^53, as Shopify's are, distinct per run.
    let run = 10_000_000_000_000_000u64 + (chrono::Utc::now().timestamp_micros().unsigned_abs() % 1_000_000_000_000) * 1_000;
    let started = Instant::now();
    let (mut latencies, failed) = drive(clients, deliveries, axum::http::StatusCode::OK, move |n| {
        let body = shopify_body(run, n, &currency);
        let signature = ordo_channels::signature::base64_hmac(body.as_bytes(), &secret);
        axum::http::Request::post(url.clone())
            .header("content-type", "application/json")
            .header("x-shopify-topic", "orders/create")
            .header("x-shopify-hmac-sha256", signature)
            .header("x-shopify-webhook-id", format!("{run}-{n}"))
            .body(Full::from(body))
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    server.abort();
    // Every delivery becomes an order: wait for the inbox to empty (at most a minute).
    let waiting = Instant::now();
    loop {
        let health = ordo.channels().channel_sync("bench").await.map_err(|e| e.to_string())?;
        if health.inbound.pending == 0 || waiting.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    for processor in processors {
        let _ = processor.await;
    }
    latencies.sort_unstable();
    let mut to_order: Vec<u32> =
        ordo.channels().delivery_times_ms("bench").await.map_err(|e| e.to_string())?.into_iter().map(|ms| u32::try_from(ms.max(0) * 1000).unwrap_or(u32::MAX)).collect();
    to_order.sort_unstable();
    let after = ordo.channels().channel_sync("bench").await.map_err(|e| e.to_string())?;
    let oversells = ordo.inventory().stock_discrepancies().await.map_err(|e| e.to_string())?.len();
    Ok(WebhookReport {
        engine: engine_name(&ordo),
        clients,
        deliveries,
        failed: failed + u64::try_from(after.inbound.failed - before.inbound.failed).unwrap_or(0),
        seconds,
        deliveries_per_second: deliveries as f64 / seconds.max(f64::EPSILON),
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        to_order_p50_ms: percentile(&to_order, 0.50),
        to_order_p99_ms: percentile(&to_order, 0.99),
        to_order_max_ms: percentile(&to_order, 1.0),
        orders_made: to_order.len(),
        oversells,
    })
}

/// What one settlement run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SettlementReport {
    pub engine: String,
    pub lines: usize,
    pub orders: u64,
    pub report_bytes: usize,
    pub seconds: f64,
    pub lines_per_second: f64,
    pub matched: usize,
    pub exceptions: usize,
    /// Resident memory just before the import, and its peak during the import, in MiB.
    pub rss_before_mib: f64,
    pub peak_rss_mib: f64,
}

/// Rows a bench order settles with: per line its price, tax, commission and fulfilment fee.
const ROWS_PER_LINE: usize = 4;
const LINES_PER_ORDER: usize = 2;

/// Places enough orders on the bench channel for a settlement of `lines` rows, writes the
/// report the marketplace would send for them (every thousandth order paid 0.10 short, so a
/// few exceptions are found), and times its import.
pub async fn settlement(ordo: Ordo, lines: usize) -> Result<SettlementReport, String> {
    seed(&ordo).await.map_err(|e| format!("seeding the bench data failed: {e}"))?;
    let orders = lines.div_ceil(ROWS_PER_LINE * LINES_PER_ORDER) as u64;
    let run = uuid::Uuid::now_v7().simple().to_string();
    let next = Arc::new(AtomicU64::new(0));
    let currency = ordo.settings().base_currency;
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let (ordo, run, next) = (ordo.clone(), run.clone(), next.clone());
            tokio::spawn(async move {
                let actor = Actor::system();
                let currency = currency.code();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= orders {
                        return Ok::<(), String>(());
                    }
                    let body = settled_order_body(&run, n, currency);
                    let order = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                    ordo.orders().receive_order(order, &body, &actor).await.map_err(|e| e.to_string())?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.map_err(|e| e.to_string())??;
    }

    let report = settlement_report(&run, orders, lines, currency);
    // The peak counts from here: writing the report is the harness's, not the import's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = memory_mib("VmRSS");
    let started = Instant::now();
    let imported = ordo.settlements().import_settlement("bench", &report, &Actor::system()).await.map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(SettlementReport {
        engine: engine_name(&ordo),
        lines: imported.lines,
        orders,
        report_bytes: report.len(),
        seconds,
        lines_per_second: imported.lines as f64 / seconds.max(1e-9),
        matched: imported.matched,
        exceptions: imported.exceptions,
        rss_before_mib: rss_before,
        peak_rss_mib: memory_mib("VmHWM"),
    })
}

/// An order of two lines of one unit each at 9.90, as the bench channel sends it.
fn settled_order_body(run: &str, n: u64, currency: &str) -> String {
    let items: Vec<String> = (0..LINES_PER_ORDER as u64)
        .map(|i| format!(r#"{{"sku":"B-BENCH-{:04}","quantity":1,"unit_price":"9.90","tax":"0.00"}}"#, SCARCE as u64 + (n * 2 + i) % (SKUS - SCARCE) as u64))
        .collect();
    format!(
        r#"{{"channel":"bench","external_id":"{run}-{n}","placed_at":"{}","currency":"{currency}","customer":{{"email":"c{}@example.com","name":"Bench Customer"}},"ship_to":{{"name":"Bench Customer","line1":"1 Loop Rd","city":"Localhost","postal_code":"12345","country":"US"}},"shipping_method":"standard","payment_status":"captured","lines":[{}]}}"#,
        chrono::Utc::now().to_rfc3339(),
        n % 5000,
        items.join(",")
    )
}

/// The V2 flat file a marketplace would send for the bench orders, `lines` rows long.
fn settlement_report(run: &str, orders: u64, lines: usize, currency: ordo_app::domain::Currency) -> String {
    use ordo_app::domain::settlement::{write_amazon_v2, V2Row};
    let money = |minor: i64| ordo_app::domain::Money::from_minor(minor, currency);
    let mut rows: Vec<V2Row> = Vec::with_capacity(lines);
    'orders: for n in 0..orders {
        for i in 0..LINES_PER_ORDER as u64 {
            let principal = if n % 1000 == 999 && i == 0 { 980 } else { 990 };
            let sku = SCARCE as u64 + (n * 2 + i) % (SKUS - SCARCE) as u64;
            for (amount_type, description, minor) in
                [("ItemPrice", "Principal", principal), ("ItemPrice", "Tax", 0), ("ItemFees", "Commission", -119), ("ItemFees", "FBAPerUnitFulfillmentFee", -50)]
            {
                if rows.len() == lines {
                    break 'orders;
                }
                rows.push(V2Row {
                    transaction: "Order",
                    order_id: format!("{run}-{n}"),
                    amount_type,
                    description,
                    item_code: format!("{n}{i}"),
                    sku: format!("B-BENCH-{sku:04}"),
                    amount: money(minor),
                });
            }
        }
    }
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default();
    write_amazon_v2(run, (day(1), day(14)), day(16), currency, &rows)
}

/// A line of this process's /proc status in MiB (`VmRSS` now, `VmHWM` the peak since the
/// last reset); 0 where the system has none.
fn memory_mib(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.trim_start_matches(':').trim().strip_suffix("kB")?.trim().parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}

/// What `ordo bench replay` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayReport {
    pub engine: String,
    pub orders: u64,
    pub seconds: f64,
    pub orders_per_second: f64,
    pub newly_held: u64,
    pub routed_elsewhere: u64,
}

/// Places `orders` orders (in-process, 32 at a time), drafts a risk rule and a routing rule,
/// and times replaying the last day's orders under them.
pub async fn replay(ordo: Ordo, orders: u64) -> Result<ReplayReport, String> {
    seed(&ordo).await.map_err(|e| format!("seeding the bench data failed: {e}"))?;
    let system = Actor::system();
    let run = format!("replay-{}", chrono::Utc::now().timestamp_millis());
    let next = Arc::new(AtomicU64::new(0));
    let mut placers = Vec::new();
    let currency = ordo.settings().base_currency;
    for _ in 0..32 {
        let (ordo, run, next, system) = (ordo.clone(), run.clone(), next.clone(), system.clone());
        placers.push(tokio::spawn(async move {
            let currency = currency.code();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= orders {
                    return Ok::<(), String>(());
                }
                let body = order_body(&run, n, currency);
                let order: ordo_app::domain::order::NewOrder = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                ordo.orders().receive_order(order, &body, &system).await.map_err(|e| e.to_string())?;
            }
        }));
    }
    for placer in placers {
        placer.await.map_err(|e| e.to_string())??;
    }
    let rule = |name: &str, kind: &str, condition: &str, action: serde_json::Value| ordo_app::NewRule {
        name: format!("{name}-{run}"),
        kind: kind.to_owned(),
        priority: None,
        description: None,
        condition: condition.to_owned(),
        action,
    };
    let risk = ordo
        .rules().draft_rule(rule("bench-big", "risk_hold", "order.total_minor > 3000 && order.lines.exists(l, l.quantity >= 3)", serde_json::json!({"reason": "big"})), &system)
        .await
        .map_err(|e| e.to_string())?;
    let routing = ordo
        .rules().draft_rule(rule("bench-route", "routing", "order.units >= 6", serde_json::json!({"locations": ["bench-b"], "allow_split": false})), &system)
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let simulation = ordo.rules().simulate_rules(&[risk.rule.id, routing.rule.id], 1).await.map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(ReplayReport {
        engine: engine_name(&ordo),
        orders: simulation.orders,
        seconds,
        orders_per_second: simulation.orders as f64 / seconds.max(1e-9),
        newly_held: simulation.newly_held.count,
        routed_elsewhere: simulation.routed_elsewhere.count,
    })
}

/// What `ordo bench workload` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkloadReport {
    pub engine: String,
    pub orders: u64,
    pub weeks: u64,
    /// Orders placed within the weeks the workload reads (its profile's, and the back-test's
    /// fortnight before them).
    pub read_orders: u64,
    pub placing_seconds: f64,
    /// Each read of every location's workload, in milliseconds, fastest first.
    pub read_ms: Vec<f64>,
}

/// Places `orders` orders spread evenly over the `weeks` weeks before now, each shipped from
/// where it is reserved as soon as it is placed (in-process, 32 at a time), then times reading
/// every location's workload five times: what the workload page and `GET /api/v1/workload`
/// cost a business with that much history behind it.
pub async fn workload(ordo: Ordo, orders: u64, weeks: u64) -> Result<WorkloadReport, String> {
    seed(&ordo).await.map_err(|e| format!("seeding the bench data failed: {e}"))?;
    let system = Actor::system();
    let run = format!("workload-{}", chrono::Utc::now().timestamp_millis());
    let now = chrono::Utc::now();
    let placed = move |n: u64| spread(now, weeks, orders, n);
    let next = Arc::new(AtomicU64::new(0));
    let currency = ordo.settings().base_currency;
    let started = Instant::now();
    let mut placers = Vec::new();
    for _ in 0..32 {
        let (ordo, run, next, system) = (ordo.clone(), run.clone(), next.clone(), system.clone());
        placers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= orders {
                    return Ok::<(), String>(());
                }
                let body = order_placed_at(&run, n, currency.code(), placed(n));
                let order: ordo_app::domain::order::NewOrder = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                let intake = ordo.orders().receive_order(order, &body, &system).await.map_err(|e| e.to_string())?;
                let mut locations: Vec<String> = intake.order.lines.iter().flat_map(|l| l.allocations.iter().map(|a| a.location.clone())).collect();
                locations.sort_unstable();
                locations.dedup();
                for location in locations {
                    let parcel = ordo_app::domain::order::NewShipment { tracking_number: format!("{run}-{n}-{location}"), location, carrier: "bench".into(), lines: None };
                    ordo.fulfilment().ship_order(intake.order.id, parcel, &system).await.map_err(|e| e.to_string())?;
                }
            }
        }));
    }
    for placer in placers {
        placer.await.map_err(|e| e.to_string())??;
    }
    let placing_seconds = started.elapsed().as_secs_f64();
    let window = chrono::Duration::weeks(ordo_app::domain::workload::PROFILE_WEEKS) + chrono::Duration::days(ordo_app::domain::workload::RECENT_DAYS + 1);
    let read_orders = (0..orders).filter(|n| placed(*n) >= now - window).count() as u64;
    let mut read_ms = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        ordo.fulfilment().workload().await.map_err(|e| e.to_string())?;
        read_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    read_ms.sort_by(f64::total_cmp);
    Ok(WorkloadReport { engine: engine_name(&ordo), orders, weeks, read_orders, placing_seconds, read_ms })
}

/// When order `n` of `orders` is placed: `n / orders` of the way through the `weeks` weeks
/// before `now`, the last a minute before it. In whole seconds, so ten million orders over ten
/// years stay within range.
fn spread(now: chrono::DateTime<chrono::Utc>, weeks: u64, orders: u64, n: u64) -> chrono::DateTime<chrono::Utc> {
    let span = i128::from(weeks) * 7 * 86_400;
    let offset = span * i128::from(n) / i128::from(orders.max(1));
    now - chrono::Duration::minutes(1) - chrono::Duration::seconds((span - offset) as i64)
}

/// What `ordo bench replenish` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplenishReport {
    pub skus: usize,
    pub days: usize,
    pub threads: usize,
    pub seconds: f64,
    pub skus_per_second: f64,
    pub proposals: usize,
    /// How many SKUs' pools each method is in.
    pub methods: std::collections::BTreeMap<String, usize>,
    pub peak_memory_mib: f64,
}

/// A small deterministic generator (SplitMix64) for the bench's made-up demand.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `days` of daily sales for SKU `n`: a quarter steady sellers with a weekly rhythm, the rest
/// intermittent or lumpy, some with a stockout fortnight; whole units.
fn made_up_history(n: usize, days: usize) -> (Vec<f64>, Vec<bool>) {
    let mut dice = Dice(n as u64 * 7919 + 17);
    let kind = n % 4;
    let rate = 0.2 + dice.unit() * if kind == 0 { 12.0 } else { 1.5 };
    let out_from = if n.is_multiple_of(5) { (dice.unit() * days as f64) as usize } else { usize::MAX };
    let mut sales = Vec::with_capacity(days);
    let mut stockout = Vec::with_capacity(days);
    for day in 0..days {
        let out = (out_from..out_from.saturating_add(14)).contains(&day);
        let weekly = if kind == 0 { [0.8, 0.9, 1.0, 1.0, 1.1, 1.4, 1.2][day % 7] } else { 1.0 };
        let mean = rate * weekly;
        // Sum of Bernoulli trials: near-Poisson, whole units, no floats leave as quantities.
        let units = if out {
            0
        } else if kind == 3 {
            if dice.unit() < 0.08 { 1 + (dice.unit() * 12.0) as i64 } else { 0 }
        } else {
            (0..((mean * 4.0).ceil() as i64)).filter(|_| dice.unit() < 0.25).count() as i64
        };
        sales.push(units as f64);
        stockout.push(out);
    }
    (sales, stockout)
}

/// Forecasts and proposes for `skus` made-up SKUs with `days` of daily history each, on every
/// core: the nightly replenishment run without the database around it.
pub fn replenish(skus: usize, days: usize) -> Result<ReplenishReport, String> {
    use ordo_app::domain::procurement::{propose, Policy, Position, SupplyTerms};
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    // Each SKU's pooled methods, and whether it was proposed.
    type Done = Vec<(Vec<String>, bool)>;
    let results: Vec<Result<Done, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut done = Vec::new();
                    for n in (t..skus).step_by(threads) {
                        let (sales, stockout) = made_up_history(n, days);
                        let sku = format!("SKU-{n:05}");
                        let forecast = ordo_app::forecast_history(&sku, sales, stockout).map_err(|e| e.to_string())?;
                        let policy = match n % 3 {
                            0 => Policy::ReorderPoint { service_level: 0.95, cover_days: 14 },
                            1 => Policy::PeriodicReview { review_days: 7, service_level: 0.9 },
                            _ => Policy::MinMax { min: 5, max: 40 },
                        };
                        let terms = SupplyTerms { lead_time_days: 7 + (n % 21) as i64, lead_time_sd_days: 1.5, moq: 12, pack_size: 6 };
                        let position = Position { on_hand: (n % 60) as i64, reserved: 0, on_order: 0, backordered: 0 };
                        let proposed = propose(&policy, forecast.daily_demand, forecast.daily_error, terms, position).is_some();
                        done.push((forecast.pooled, proposed));
                    }
                    Ok(done)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|_| Err("a worker panicked".into()))).collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut methods = std::collections::BTreeMap::new();
    let mut proposals = 0;
    for result in results {
        for (pooled, proposed) in result? {
            for method in pooled {
                *methods.entry(method).or_insert(0) += 1;
            }
            proposals += usize::from(proposed);
        }
    }
    Ok(ReplenishReport {
        skus,
        days,
        threads,
        seconds,
        skus_per_second: skus as f64 / seconds.max(1e-9),
        proposals,
        methods,
        peak_memory_mib: memory_mib("VmHWM"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_bench_spreads_even_the_most_orders_over_the_most_weeks() {
        let now = chrono::Utc::now();
        let (weeks, orders) = (520, 10_000_000);
        assert_eq!(spread(now, weeks, orders, 0), now - chrono::Duration::minutes(1) - chrono::Duration::weeks(520));
        let halfway = spread(now, weeks, orders, orders / 2);
        assert_eq!(halfway, now - chrono::Duration::minutes(1) - chrono::Duration::weeks(260));
        let last = spread(now, weeks, orders, orders - 1);
        assert!(halfway < last && last < now - chrono::Duration::minutes(1), "{last}");
    }
}

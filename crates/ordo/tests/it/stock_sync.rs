//! Available-to-sell out: Ordo tells the channel its stock, against a stand-in of Amazon's
//! Listings Items API that rate-limits and refuses a listing it does not know.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::common::Server;
use crate::orders::{order, shop};

/// What the stand-in was told, and how it is to answer.
#[derive(Default)]
struct Listings {
    /// Every quantity set, in order: (seller SKU, quantity).
    calls: Vec<(String, i64)>,
    /// The next calls answered 429.
    throttle: usize,
    /// The seller has made the listing `AMZ-GONE` on Amazon after all.
    gone_listed: bool,
}

type Shared = Arc<Mutex<Listings>>;

async fn token() -> Json<Value> {
    Json(json!({"access_token": "Atza|listings", "token_type": "bearer", "expires_in": 3600}))
}

async fn patch_listing(State(shared): State<Shared>, Path((seller, sku)): Path<(String, String)>, Query(query): Query<std::collections::HashMap<String, String>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if headers.get("x-amz-access-token").and_then(|v| v.to_str().ok()) != Some("Atza|listings") {
        return (StatusCode::FORBIDDEN, Json(json!({"errors": [{"code": "Unauthorized", "message": "denied"}]}))).into_response();
    }
    assert_eq!(seller, "A2SELLER");
    assert_eq!(query.get("marketplaceIds").map(String::as_str), Some("A1PA6795UKMFR9"));
    let mut s = shared.lock().unwrap();
    if s.throttle > 0 {
        s.throttle -= 1;
        return (StatusCode::TOO_MANY_REQUESTS, [("x-amzn-ratelimit-limit", "5.0")], Json(json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota"}]}))).into_response();
    }
    if sku == "AMZ-GONE" && !s.gone_listed {
        return (StatusCode::NOT_FOUND, Json(json!({"errors": [{"code": "NOT_FOUND", "message": "SKU AMZ-GONE not found"}]}))).into_response();
    }
    assert_eq!(body["patches"][0]["path"], "/attributes/fulfillment_availability", "{body}");
    let quantity = body["patches"][0]["value"][0]["quantity"].as_i64().unwrap();
    s.calls.push((sku.clone(), quantity));
    Json(json!({"sku": sku, "status": "ACCEPTED", "submissionId": format!("sub-{}", s.calls.len()), "issues": []})).into_response()
}

async fn listings_stand_in() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let app = Router::new()
        .route("/auth/o2/token", post(token))
        .route("/listings/2021-08-01/items/{seller}/{sku}", patch(patch_listing))
        .with_state(shared.clone());
    let base = serve_stand_in(app).await;
    (base, shared)
}

/// A stand-in channel API serving `app` on 127.0.0.1: its base address.
async fn serve_stand_in(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// The pusher `ordo serve` would use for `channel`'s connector.
async fn pusher_for(server: &Server, channel: &str) -> ordo_connectors::Pusher {
    let http = ordo_connectors::Http::new().unwrap();
    let target = server.ordo.channels().push_targets().await.unwrap().into_iter().find(|t| t.channel == channel).expect("the channel is pushed to");
    ordo_connectors::Pusher::for_target(&http, &target).unwrap()
}

async fn push(server: &Server) -> ordo_app::PushRound {
    server.ordo.channels().push_stock("amz", &pusher_for(server, "amz").await).await.unwrap()
}

fn told(stand_in: &Shared) -> Vec<(String, i64)> {
    stand_in.lock().unwrap().calls.clone()
}

#[tokio::test]
async fn amazon_is_told_the_stock_ordo_can_sell_once_per_burst_and_never_an_older_value() {
    let server = Server::start().await;
    let (base, stand_in) = listings_stand_in().await;
    shop(&server, 10).await;
    let t = &server.admin;
    let channel = json!({"code": "amz", "name": "Amazon DE", "kind": "marketplace", "currency": "EUR"});
    assert_eq!(server.post(t, "/api/v1/channels", channel).await.0, 201);
    assert_eq!(server.post(t, "/api/v1/products", json!({"sku": "GONE-1", "name": "Retired mug", "unit_cost": "1.00"})).await.0, 201);
    for (channel_sku, sku) in [("AMZ-MUG", "MUG-1"), ("AMZ-VASE", "VASE-1"), ("AMZ-GONE", "GONE-1")] {
        let listing = json!({"channel": "amz", "channel_sku": channel_sku, "sku": sku, "price": "12.90"});
        assert_eq!(server.post(t, "/api/v1/listings", listing).await.0, 201);
    }
    let connector = json!({"kind": "amazon", "base_url": base, "credentials": {
        "client_id": "amzn1.application-oa2-client.ordo", "client_secret": "lwa-secret", "refresh_token": "Atzr|refresh",
        "marketplace_ids": ["A1PA6795UKMFR9"], "seller_id": "A2SELLER", "token_url": format!("{base}/auth/o2/token")}});
    let (status, answer) = server.put(t, "/api/v1/channels/amz/connector", connector).await;
    assert_eq!(status, 200, "{answer}");

    // Connected: every listing is told once; the one Amazon does not know is refused.
    let first = push(&server).await;
    assert_eq!((first.claimed, first.pushed, first.failed), (3, 2, 1), "{first:?}");
    let mut calls = told(&stand_in);
    calls.sort();
    assert_eq!(calls, [("AMZ-MUG".to_owned(), 10), ("AMZ-VASE".to_owned(), 0)]);

    // Three orders reserve six mugs: one call carries the latest, nothing else moved.
    for (n, quantity) in [(1, 1), (2, 2), (3, 3)] {
        let body = order(&format!("S-{n}"), json!([{"sku": "W-MUG", "quantity": quantity, "unit_price": "12.90"}]));
        assert_eq!(server.post(t, "/api/v1/orders", body).await.0, 201);
    }
    let (_, health) = server.get(t, "/api/v1/channels/amz/sync").await;
    assert_eq!(health["outbound"]["pending"], 2, "the mug, and the refused listing waiting to be tried again: {health}");
    assert!(health["outbound"]["oldest_pending_age_s"].as_i64().is_some(), "{health}");
    let before = told(&stand_in).len();
    let burst = push(&server).await;
    assert_eq!((burst.pushed, burst.calls), (1, 1), "{burst:?}");
    assert_eq!(told(&stand_in)[before..], [("AMZ-MUG".to_owned(), 4)]);

    // Amazon asks Ordo to slow down: nothing is lost, and the next try carries the newest value.
    stand_in.lock().unwrap().throttle = 1;
    let body = order("S-4", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
    assert_eq!(server.post(t, "/api/v1/orders", body).await.0, 201);
    let throttled = push(&server).await;
    assert!(throttled.throttled && throttled.pushed == 0 && throttled.failed == 0, "{throttled:?}");
    let body = order("S-5", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
    assert_eq!(server.post(t, "/api/v1/orders", body).await.0, 201);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let caught_up = push(&server).await;
    assert_eq!(caught_up.pushed, 1, "{caught_up:?}");
    assert_eq!(told(&stand_in).last(), Some(&("AMZ-MUG".to_owned(), 2)), "ten less eight reserved");
    assert!(told(&stand_in).iter().all(|(sku, quantity)| sku != "AMZ-MUG" || *quantity != 3), "the value the throttled call had was never sent after a newer one");

    // Nothing moved: no call for the mug or the vase (the refused listing waits out its backoff).
    let before = told(&stand_in).len();
    let idle = push(&server).await;
    assert_eq!(idle.pushed, 0, "{idle:?}");
    assert_eq!(told(&stand_in).len(), before);
    let (_, health) = server.get(t, "/api/v1/channels/amz/sync").await;
    assert_eq!(health["outbound"]["pending"], 1, "only the refused listing waits: {health}");
    assert!(health["outbound"]["p95_latency_ms"].as_i64().is_some(), "{health}");

    // The refused listing keeps the channel behind: past the threshold, integration is told.
    let lag = server.ordo.channels().watch_stock_lag("amz", Duration::ZERO).await.unwrap();
    assert!(lag.is_some());
    let (_, lagging) = server.get(t, "/api/v1/exceptions?kind=sync_lag&status=unresolved").await;
    assert_eq!(lagging.as_array().map(Vec::len), Some(1), "{lagging}");
    assert_eq!(lagging[0]["subject"], "channel:amz");
    assert_eq!(lagging[0]["owner_role"], "integration");

    // The seller lists it on Amazon and asks for a resync: every listing is told again at once,
    // moved or not, and the lag resolves by itself.
    stand_in.lock().unwrap().gone_listed = true;
    let marked = server.ordo.channels().resync_stock("amz", &ordo_app::Actor::system()).await.unwrap();
    assert_eq!(marked, 3);
    let before = told(&stand_in).len();
    let again = push(&server).await;
    assert_eq!((again.pushed, again.failed), (3, 0), "{again:?}");
    let mut resent = told(&stand_in)[before..].to_vec();
    resent.sort();
    assert_eq!(resent, [("AMZ-GONE".to_owned(), 0), ("AMZ-MUG".to_owned(), 2), ("AMZ-VASE".to_owned(), 0)]);
    assert_eq!(server.ordo.channels().watch_stock_lag("amz", Duration::ZERO).await.unwrap(), None);
    let (_, lagging) = server.get(t, "/api/v1/exceptions?kind=sync_lag&status=unresolved").await;
    assert_eq!(lagging.as_array().map(Vec::len), Some(0), "{lagging}");
    let (_, health) = server.get(t, "/api/v1/channels/amz/sync").await;
    assert_eq!((health["outbound"]["pending"].as_i64(), health["outbound"]["failed"].as_i64()), (Some(0), Some(0)), "{health}");

    // The Channels page shows the same at a glance.
    let ops = crate::common::Browserless::log_in(&server, "olga", ordo_app::domain::access::Role::Ops).await;
    let (status, page) = ops.get("/dashboard/channels").await;
    assert_eq!(status, 200);
    let row = page.split("<code>amz</code>").nth(1).and_then(|rest| rest.split("</tr>").next()).expect("the amz row");
    let cells: Vec<&str> = row.split("<td class=\"num\">").skip(1).map(|c| c.split("</td>").next().unwrap_or_default()).collect();
    // Deliveries, waiting for a fix, then the stock columns.
    let stock = &cells[2..6];
    assert_eq!(stock[0], "0", "nothing waits: {row}");
    assert_eq!(stock[1], "none");
    assert!(stock[2].ends_with(" ms"), "{row}");
    assert_eq!(stock[3], "0");
}

/// What the eBay stand-in was told: each call's SKUs and quantities.
type EbayCalls = Arc<Mutex<Vec<Vec<(String, i64)>>>>;

async fn bulk_update(State(calls): State<EbayCalls>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer v^1.1#inventory") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"errors": [{"errorId": 1001, "message": "Invalid access token"}]}))).into_response();
    }
    let requests = body["requests"].as_array().unwrap();
    assert!(requests.len() <= 25, "eBay takes 25 SKUs a call");
    let mut call = Vec::new();
    let mut responses = Vec::new();
    for request in requests {
        let sku = request["sku"].as_str().unwrap().to_owned();
        let quantity = request["shipToLocationAvailability"]["quantity"].as_i64().unwrap();
        if sku == "EB-GONE" {
            responses.push(json!({"statusCode": 404, "sku": sku, "errors": [{"errorId": 25702, "message": "SKU EB-GONE is not available in the system"}]}));
        } else {
            responses.push(json!({"statusCode": 200, "sku": sku}));
            call.push((sku, quantity));
        }
    }
    calls.lock().unwrap().push(call);
    (StatusCode::MULTI_STATUS, Json(json!({"responses": responses}))).into_response()
}

#[tokio::test]
async fn ebay_is_told_its_listings_stock_twenty_five_skus_a_call() {
    let server = Server::start().await;
    let calls: EbayCalls = Arc::default();
    let app = Router::new().route("/sell/inventory/v1/bulk_update_price_quantity", post(bulk_update)).with_state(calls.clone());
    let base = serve_stand_in(app).await;

    shop(&server, 10).await;
    let t = &server.admin;
    assert_eq!(server.post(t, "/api/v1/channels", json!({"code": "ebay", "name": "eBay DE", "kind": "marketplace", "currency": "EUR"})).await.0, 201);
    assert_eq!(server.post(t, "/api/v1/listings", json!({"channel": "ebay", "channel_sku": "EB-MUG", "sku": "MUG-1", "price": "12.90"})).await.0, 201);
    assert_eq!(server.post(t, "/api/v1/listings", json!({"channel": "ebay", "channel_sku": "EB-GONE", "sku": "VASE-1", "price": "25.00"})).await.0, 201);
    for n in 0..28 {
        let sku = format!("CUP-{n:02}");
        assert_eq!(server.post(t, "/api/v1/products", json!({"sku": sku, "name": "Cup", "unit_cost": "1.00"})).await.0, 201);
        assert_eq!(server.post(t, "/api/v1/listings", json!({"channel": "ebay", "channel_sku": format!("EB-{sku}"), "sku": sku, "price": "3.00"})).await.0, 201);
    }
    let connector = json!({"kind": "ebay", "base_url": base, "credentials": {"access_token": "v^1.1#inventory"}});
    assert_eq!(server.put(t, "/api/v1/channels/ebay/connector", connector).await.0, 200);

    let pusher = pusher_for(&server, "ebay").await;
    let round = server.ordo.channels().push_stock("ebay", &pusher).await.unwrap();
    assert_eq!((round.claimed, round.calls, round.pushed, round.failed), (30, 2, 29, 1), "{round:?}");
    let sent: Vec<usize> = calls.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(sent.iter().sum::<usize>(), 29, "{sent:?}");
    assert!(calls.lock().unwrap().iter().flatten().any(|(sku, quantity)| sku == "EB-MUG" && *quantity == 10));

    // A reservation: one call, one SKU.
    let body = order("E-1", json!([{"sku": "W-MUG", "quantity": 4, "unit_price": "12.90"}]));
    assert_eq!(server.post(t, "/api/v1/orders", body).await.0, 201);
    let round = server.ordo.channels().push_stock("ebay", &pusher).await.unwrap();
    assert_eq!((round.calls, round.pushed), (1, 1), "{round:?}");
    assert_eq!(calls.lock().unwrap().last().unwrap(), &[("EB-MUG".to_owned(), 6)]);
}

/// What the WooCommerce stand-in was told: each batch's (product id, quantity).
type WooCalls = Arc<Mutex<Vec<Vec<(i64, i64)>>>>;

async fn woo_products(Query(query): Query<std::collections::HashMap<String, String>>) -> Json<Value> {
    match query.get("sku").map(String::as_str) {
        Some("WOO-MUG") => Json(json!([{"id": 501, "sku": "WOO-MUG", "stock_quantity": 0}])),
        _ => Json(json!([])),
    }
}

async fn woo_batch(State(calls): State<WooCalls>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    // "ck_ordo:cs_ordo", as HTTP basic authentication sends it.
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Basic Y2tfb3Jkbzpjc19vcmRv") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources."}))).into_response();
    }
    let update = body["update"].as_array().unwrap();
    assert!(update.len() <= 100);
    let mut call = Vec::new();
    let mut answers = Vec::new();
    for product in update {
        assert_eq!(product["manage_stock"], true);
        let id = product["id"].as_i64().unwrap();
        if id == 777 {
            answers.push(json!({"id": 0, "error": {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.", "data": {"status": 400}}}));
            continue;
        }
        call.push((id, product["stock_quantity"].as_i64().unwrap()));
        answers.push(json!({"id": id, "stock_quantity": product["stock_quantity"]}));
    }
    calls.lock().unwrap().push(call);
    Json(json!({"update": answers})).into_response()
}

#[tokio::test]
async fn woocommerce_is_told_its_products_stock_by_id_or_by_the_sku_it_looks_up_once() {
    let server = Server::start().await;
    let calls: WooCalls = Arc::default();
    let app = Router::new()
        .route("/wp-json/wc/v3/products", axum::routing::get(woo_products))
        .route("/wp-json/wc/v3/products/batch", post(woo_batch))
        .with_state(calls.clone());
    let base = serve_stand_in(app).await;

    shop(&server, 10).await;
    let t = &server.admin;
    assert_eq!(server.post(t, "/api/v1/channels", json!({"code": "b2b", "name": "Trade portal", "kind": "b2b", "currency": "EUR"})).await.0, 201);
    for (channel_sku, sku) in [("WOO-MUG", "MUG-1"), ("502", "VASE-1"), ("777", "VASE-1"), ("WOO-NONE", "VASE-1")] {
        let listing = json!({"channel": "b2b", "channel_sku": channel_sku, "sku": sku, "price": "9.00"});
        assert_eq!(server.post(t, "/api/v1/listings", listing).await.0, 201);
    }
    let connector = json!({"kind": "woocommerce", "base_url": base, "credentials": {"consumer_key": "ck_ordo", "consumer_secret": "cs_ordo"}});
    let (status, answer) = server.put(t, "/api/v1/channels/b2b/connector", connector).await;
    assert_eq!(status, 200, "{answer}");

    let pusher = pusher_for(&server, "b2b").await;
    let round = server.ordo.channels().push_stock("b2b", &pusher).await.unwrap();
    assert_eq!((round.claimed, round.calls, round.pushed, round.failed), (4, 1, 2, 2), "{round:?}");
    let mut first = calls.lock().unwrap()[0].clone();
    first.sort();
    assert_eq!(first, [(501, 10), (502, 0)], "the mug's product found by its SKU, the vase's by its id");

    let body = order("B-1", json!([{"sku": "W-MUG", "quantity": 3, "unit_price": "12.90"}]));
    assert_eq!(server.post(t, "/api/v1/orders", body).await.0, 201);
    let round = server.ordo.channels().push_stock("b2b", &pusher).await.unwrap();
    assert_eq!((round.calls, round.pushed), (1, 1), "{round:?}");
    assert_eq!(calls.lock().unwrap().last().unwrap(), &[(501, 7)]);
}

/// What the Shopify stand-in was told: each mutation's (inventory item, location, quantity).
type ShopifyCalls = Arc<Mutex<Vec<Vec<(String, String, i64)>>>>;

async fn shopify_graphql(State(calls): State<ShopifyCalls>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    assert_eq!(headers.get("x-shopify-access-token").and_then(|v| v.to_str().ok()), Some("shpat_ordo"));
    let query = body["query"].as_str().unwrap();
    if query.contains("productVariants") {
        let search = body["variables"]["q"].as_str().unwrap();
        let mut nodes = Vec::new();
        for (sku, item) in [("SHOP-MUG", "gid://shopify/InventoryItem/9001"), ("SHOP-VASE", "gid://shopify/InventoryItem/9002")] {
            if search.contains(&format!("sku:\"{sku}\"")) {
                nodes.push(json!({"sku": sku, "inventoryItem": {"id": item}}));
            }
        }
        return Json(json!({"data": {"productVariants": {"nodes": nodes}}}));
    }
    assert!(query.contains("inventorySetQuantities"), "{query}");
    let input = &body["variables"]["input"];
    assert_eq!((input["name"].as_str(), input["reason"].as_str()), (Some("available"), Some("correction")));
    let call: Vec<(String, String, i64)> = input["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["inventoryItemId"].as_str().unwrap().to_owned(), q["locationId"].as_str().unwrap().to_owned(), q["quantity"].as_i64().unwrap()))
        .collect();
    calls.lock().unwrap().push(call);
    Json(json!({"data": {"inventorySetQuantities": {"userErrors": []}}}))
}

#[tokio::test]
async fn shopify_is_told_available_at_its_location_by_inventory_item() {
    let server = Server::start().await;
    let calls: ShopifyCalls = Arc::default();
    let app = Router::new().route("/admin/api/2025-07/graphql.json", post(shopify_graphql)).with_state(calls.clone());
    let base = serve_stand_in(app).await;

    shop(&server, 10).await;
    let t = &server.admin;
    assert_eq!(server.post(t, "/api/v1/channels", json!({"code": "store", "name": "Web store", "kind": "web", "currency": "EUR"})).await.0, 201);
    for (channel_sku, sku) in [("SHOP-MUG", "MUG-1"), ("SHOP-VASE", "VASE-1"), ("SHOP-NONE", "VASE-1")] {
        let listing = json!({"channel": "store", "channel_sku": channel_sku, "sku": sku, "price": "14.90"});
        assert_eq!(server.post(t, "/api/v1/listings", listing).await.0, 201);
    }
    let connector = json!({"kind": "shopify", "base_url": base, "webhook_secrets": ["shpss_store"], "credentials": {"access_token": "shpat_ordo", "location_id": "655441491"}});
    let (status, answer) = server.put(t, "/api/v1/channels/store/connector", connector).await;
    assert_eq!(status, 200, "{answer}");

    let pusher = pusher_for(&server, "store").await;
    let round = server.ordo.channels().push_stock("store", &pusher).await.unwrap();
    assert_eq!((round.claimed, round.calls, round.pushed, round.failed), (3, 1, 2, 1), "{round:?}");
    let mut first = calls.lock().unwrap()[0].clone();
    first.sort();
    let location = "gid://shopify/Location/655441491".to_owned();
    assert_eq!(first, [("gid://shopify/InventoryItem/9001".to_owned(), location.clone(), 10), ("gid://shopify/InventoryItem/9002".to_owned(), location.clone(), 0)]);

    let body = order("P-1", json!([{"sku": "W-MUG", "quantity": 2, "unit_price": "12.90"}]));
    assert_eq!(server.post(t, "/api/v1/orders", body).await.0, 201);
    let round = server.ordo.channels().push_stock("store", &pusher).await.unwrap();
    assert_eq!((round.calls, round.pushed), (1, 1), "{round:?}");
    assert_eq!(calls.lock().unwrap().last().unwrap(), &[("gid://shopify/InventoryItem/9001".to_owned(), location, 8)]);
}

/// Two instances on one PostgreSQL push side by side: each listing's change reaches eBay once.
#[tokio::test]
async fn two_instances_on_one_postgresql_push_each_change_once() {
    let Some(url) = crate::common::postgres_url() else {
        println!("SKIP two_instances_on_one_postgresql_push_each_change_once: ORDO_TEST_POSTGRES_URL is not set");
        return;
    };
    let server = Server::start_on(Some(&url)).await;
    let other = ordo_app::Ordo::open(&server.ordo_url(), &Default::default(), server.ordo.settings().clone()).await.unwrap();
    let calls: EbayCalls = Arc::default();
    let app = Router::new().route("/sell/inventory/v1/bulk_update_price_quantity", post(bulk_update)).with_state(calls.clone());
    let base = serve_stand_in(app).await;

    shop(&server, 100).await;
    let t = &server.admin;
    assert_eq!(server.post(t, "/api/v1/channels", json!({"code": "ebay", "name": "eBay DE", "kind": "marketplace", "currency": "EUR"})).await.0, 201);
    assert_eq!(server.post(t, "/api/v1/listings", json!({"channel": "ebay", "channel_sku": "EB-MUG", "sku": "MUG-1", "price": "12.90"})).await.0, 201);
    for n in 0..59 {
        let sku = format!("PLATE-{n:02}");
        assert_eq!(server.post(t, "/api/v1/products", json!({"sku": sku, "name": "Plate", "unit_cost": "1.00"})).await.0, 201);
        assert_eq!(server.post(t, "/api/v1/listings", json!({"channel": "ebay", "channel_sku": format!("EB-{sku}"), "sku": sku, "price": "3.00"})).await.0, 201);
    }
    let connector = json!({"kind": "ebay", "base_url": base, "credentials": {"access_token": "v^1.1#inventory"}});
    assert_eq!(server.put(t, "/api/v1/channels/ebay/connector", connector).await.0, 200);

    let pusher = pusher_for(&server, "ebay").await;
    let rounds = |ordo: ordo_app::Ordo, pusher: &'static ordo_connectors::Pusher| async move {
        let mut pushed = 0;
        for _ in 0..5 {
            pushed += ordo.channels().push_stock("ebay", pusher).await.unwrap().pushed;
        }
        pushed
    };
    let pusher: &'static ordo_connectors::Pusher = Box::leak(Box::new(pusher));
    let told_per_sku = || {
        let mut counts = std::collections::BTreeMap::new();
        for (sku, _) in calls.lock().unwrap().iter().flatten() {
            *counts.entry(sku.clone()).or_insert(0) += 1;
        }
        counts
    };

    let (a, b) = tokio::join!(rounds(server.ordo.clone(), pusher), rounds(other.clone(), pusher));
    assert_eq!(a + b, 60, "every listing once: {a} + {b}");
    let counts = told_per_sku();
    assert_eq!(counts.len(), 60);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");

    // Orders arrive while both push: the mug's latest value reaches eBay, and no listing twice
    // for one change.
    for n in 0..5 {
        let body = order(&format!("T-{n}"), json!([{"sku": "W-MUG", "quantity": 2, "unit_price": "12.90"}]));
        assert_eq!(server.post(t, "/api/v1/orders", body).await.0, 201);
        tokio::join!(rounds(server.ordo.clone(), pusher), rounds(other.clone(), pusher));
    }
    let mug: Vec<i64> = calls.lock().unwrap().iter().flatten().filter(|(sku, _)| sku == "EB-MUG").map(|(_, q)| *q).collect();
    assert_eq!(mug.last(), Some(&90), "{mug:?}");
    assert!(mug.windows(2).all(|w| w[0] > w[1]), "each value told once, newest last: {mug:?}");
    other.close().await;
}

/// A WooCommerce shop's products as the stand-in keeps them: id to (SKU, stock).
type WooShop = Arc<Mutex<std::collections::BTreeMap<i64, (String, i64)>>>;

async fn shop_products(State(shop): State<WooShop>, Query(query): Query<std::collections::HashMap<String, String>>) -> Response {
    let shop = shop.lock().unwrap();
    let product = |(id, (sku, stock)): (&i64, &(String, i64))| json!({"id": id, "sku": sku, "stock_quantity": stock});
    if let Some(sku) = query.get("sku") {
        return Json(shop.iter().filter(|(_, (s, _))| s == sku).map(product).collect::<Vec<_>>()).into_response();
    }
    let per_page: usize = query.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(10);
    let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let pages = shop.len().div_ceil(per_page).to_string();
    let products: Vec<Value> = shop.iter().skip((page - 1) * per_page).take(per_page).map(product).collect();
    ([("x-wp-totalpages", pages)], Json(products)).into_response()
}

async fn shop_batch(State(shop): State<WooShop>, Json(body): Json<Value>) -> Json<Value> {
    let mut shop = shop.lock().unwrap();
    let mut answers = Vec::new();
    for update in body["update"].as_array().unwrap() {
        let id = update["id"].as_i64().unwrap();
        match shop.get_mut(&id) {
            Some((_, stock)) => {
                *stock = update["stock_quantity"].as_i64().unwrap();
                answers.push(json!({"id": id, "stock_quantity": stock}));
            }
            None => answers.push(json!({"id": 0, "error": {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID."}})),
        }
    }
    Json(json!({"update": answers}))
}

async fn reconcile_reads_the_channels_stock_back_and_tells_it_the_listings_that_drifted(server: Server) {
    let woo: WooShop = Arc::default();
    {
        // The shop's two products of Ordo's, among 150 others, so its product list pages.
        let mut shop = woo.lock().unwrap();
        shop.insert(501, ("WOO-MUG".to_owned(), 0));
        shop.insert(502, ("WOO-VASE".to_owned(), 0));
        for id in 1000..1150 {
            shop.insert(id, (format!("OTHER-{id}"), 5));
        }
    }
    let app = Router::new()
        .route("/wp-json/wc/v3/products", axum::routing::get(shop_products))
        .route("/wp-json/wc/v3/products/batch", post(shop_batch))
        .with_state(woo.clone());
    let base = serve_stand_in(app).await;
    shop(&server, 10).await;
    let t = &server.admin;
    assert_eq!(server.post(t, "/api/v1/channels", json!({"code": "b2b", "name": "Trade portal", "kind": "b2b", "currency": "EUR"})).await.0, 201);
    for (channel_sku, sku) in [("WOO-MUG", "MUG-1"), ("502", "VASE-1"), ("503", "VASE-1")] {
        let listing = json!({"channel": "b2b", "channel_sku": channel_sku, "sku": sku, "price": "9.00"});
        assert_eq!(server.post(t, "/api/v1/listings", listing).await.0, 201);
    }
    let connector = json!({"kind": "woocommerce", "base_url": base, "credentials": {"consumer_key": "ck_ordo", "consumer_secret": "cs_ordo"}});
    assert_eq!(server.put(t, "/api/v1/channels/b2b/connector", connector).await.0, 200);
    let pusher = pusher_for(&server, "b2b").await;
    server.ordo.channels().push_stock("b2b", &pusher).await.unwrap();
    assert_eq!(woo.lock().unwrap()[&501].1, 10);

    // Someone sets the mug's stock by hand in the shop; Ordo thinks the shop still shows 10.
    woo.lock().unwrap().get_mut(&501).unwrap().1 = 3;
    assert_eq!(server.ordo.channels().push_stock("b2b", &pusher).await.unwrap().claimed, 0, "nothing moved in Ordo");
    let drift = server.ordo.channels().reconcile_stock("b2b", &pusher, &ordo_app::Actor::system()).await.unwrap();
    assert_eq!(drift.checked, 3);
    let differing: Vec<(&str, Option<i64>, i64)> = drift.differing.iter().map(|d| (d.channel_sku.as_str(), d.channel_shows, d.ordo_can_sell)).collect();
    assert_eq!(differing, [("503", None, 0), ("WOO-MUG", Some(3), 10)], "the product the shop lacks, and the one changed by hand");
    let round = server.ordo.channels().push_stock("b2b", &pusher).await.unwrap();
    assert_eq!((round.pushed, round.failed), (1, 1), "{round:?}");
    assert_eq!(woo.lock().unwrap()[&501].1, 10, "the shop shows what Ordo can sell again");

    // Read again: only the listing the shop does not have still differs; the audit log says so.
    let again = server.ordo.channels().reconcile_stock("b2b", &pusher, &ordo_app::Actor::system()).await.unwrap();
    assert_eq!(again.differing.iter().map(|d| d.channel_sku.as_str()).collect::<Vec<_>>(), ["503"]);
    let (_, audit) = server.get(t, "/api/v1/audit?action=channel.stock_reconcile").await;
    let counts: Vec<i64> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str::<Value>(r["after"].as_str().unwrap()).unwrap()["differing"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [1, 2], "newest first: {audit}");
}

async fn each_connector_has_its_own_sync_lag_threshold(server: Server) {
    shop(&server, 10).await;
    let t = &server.admin;
    assert_eq!(server.post(t, "/api/v1/channels", json!({"code": "b2b", "name": "Trade portal", "kind": "b2b", "currency": "EUR"})).await.0, 201);
    let connector = |threshold: i64| json!({"kind": "woocommerce", "base_url": "https://trade.example.com", "sync_lag_threshold_s": threshold,
        "credentials": {"consumer_key": "ck_ordo", "consumer_secret": "cs_ordo"}});
    let (status, refused) = server.put(t, "/api/v1/channels/b2b/connector", connector(5)).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("sync_lag_threshold_s")), "{refused}");
    let (status, answer) = server.put(t, "/api/v1/channels/b2b/connector", connector(45)).await;
    assert_eq!(status, 200, "{answer}");
    let (_, shown) = server.get(t, "/api/v1/channels/b2b/connector").await;
    assert_eq!(shown["sync_lag_threshold_s"], 45, "{shown}");
    let target = server.ordo.channels().push_targets().await.unwrap().into_iter().find(|t| t.channel == "b2b").unwrap();
    assert_eq!(target.sync_lag_threshold, Duration::from_secs(45));
}

crate::common::on_both_engines!(reconcile_reads_the_channels_stock_back_and_tells_it_the_listings_that_drifted, reconcile_reads_the_channels_stock_back_and_tells_it_the_listings_that_drifted_on_sqlite, reconcile_reads_the_channels_stock_back_and_tells_it_the_listings_that_drifted_on_postgres);

crate::common::on_both_engines!(each_connector_has_its_own_sync_lag_threshold, each_connector_has_its_own_sync_lag_threshold_on_sqlite, each_connector_has_its_own_sync_lag_threshold_on_postgres);

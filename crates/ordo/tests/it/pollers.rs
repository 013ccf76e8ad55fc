//! Pollers against local stand-ins of Amazon's SP-API and eBay's Sell Fulfillment API that
//! behave as the channels document: pages, rate limits and 429s, 5xx bursts, expiring tokens.
//! Every order arrives once, across pages and failures, and a SIGKILL mid-poll loses none.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::common::{Server, TEST_SECRET_KEY};
use crate::orders::shop;

/// What the Amazon stand-in has and how it misbehaves.
#[derive(Default)]
struct Amazon {
    orders: Vec<Value>,
    page_size: usize,
    /// Windows of the pages handed out, by their NextToken.
    tokens: HashMap<String, (Vec<Value>, usize)>,
    /// Access tokens granted; each stops working after `token_life` calls.
    grants: usize,
    token_life: usize,
    calls_on_token: usize,
    /// Every getOrders call, and the pages actually answered.
    calls: usize,
    pages_served: usize,
    rate_limited: usize,
    server_errors: usize,
    /// A wait before each getOrders page, so a poll can be caught mid-way.
    page_delay: Duration,
}

type Shared = Arc<Mutex<Amazon>>;

fn amazon_order(n: usize, at: DateTime<Utc>) -> Value {
    let stamp = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "AmazonOrderId": format!("028-{n:07}-0000001"),
        "PurchaseDate": stamp,
        "LastUpdateDate": stamp,
        "OrderStatus": "Unshipped",
        "FulfillmentChannel": "MFN",
        "OrderTotal": {"CurrencyCode": "EUR", "Amount": "12.90"},
        "ShipmentServiceLevelCategory": "Standard",
        "IsPrime": "false",
        "ShippingAddress": {"Name": "Erika Mustermann", "AddressLine1": "Heidestrasse 17", "City": "Koeln", "PostalCode": "51147", "CountryCode": "DE"},
        "BuyerInfo": {"BuyerEmail": format!("buyer{n}@marketplace.amazon.de")}
    })
}

async fn lwa_token(State(s): State<Shared>) -> Json<Value> {
    let mut s = s.lock().unwrap();
    s.grants += 1;
    s.calls_on_token = 0;
    Json(json!({"access_token": format!("Atza|token-{}", s.grants), "token_type": "bearer", "expires_in": 3600}))
}

/// The access token is the latest granted, and not worn out.
fn authorised(s: &mut Amazon, headers: &HeaderMap) -> bool {
    let current = format!("Atza|token-{}", s.grants);
    let given = headers.get("x-amz-access-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    s.calls_on_token += 1;
    given == current && s.calls_on_token <= s.token_life
}

fn expired() -> Response {
    let body = json!({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.", "details": "The access token you provided has expired."}]});
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}

async fn get_orders(State(shared): State<Shared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let delay = shared.lock().unwrap().page_delay;
    tokio::time::sleep(delay).await;
    let mut s = shared.lock().unwrap();
    s.calls += 1;
    // Every fourth call is over the rate (0.0167/s documented; the stand-in asks for 50 ms),
    // and the third ever is a server error.
    if s.calls % 4 == 0 {
        s.rate_limited += 1;
        let mut answer = (StatusCode::TOO_MANY_REQUESTS, Json(json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]}))).into_response();
        answer.headers_mut().insert("x-amzn-RateLimit-Limit", "20".parse().unwrap());
        return answer;
    }
    if s.calls == 3 {
        s.server_errors += 1;
        return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    }
    if !authorised(&mut s, &headers) {
        return expired();
    }
    if query.get("MarketplaceIds").map(String::as_str) != Some("A1PA6795UKMFR9") {
        return (StatusCode::BAD_REQUEST, Json(json!({"errors": [{"code": "InvalidInput", "message": "MarketplaceIds is required"}]}))).into_response();
    }
    let (window, offset) = match query.get("NextToken") {
        Some(token) => match s.tokens.get(token) {
            Some(found) => found.clone(),
            None => return (StatusCode::BAD_REQUEST, "bad NextToken").into_response(),
        },
        None => {
            let parse = |name: &str| query.get(name).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
            let (Some(after), before) = (parse("LastUpdatedAfter"), parse("LastUpdatedBefore")) else {
                return (StatusCode::BAD_REQUEST, "LastUpdatedAfter is required").into_response();
            };
            let window: Vec<Value> = s
                .orders
                .iter()
                .filter(|o| {
                    let at = DateTime::parse_from_rfc3339(o["LastUpdateDate"].as_str().unwrap()).unwrap().with_timezone(&Utc);
                    at >= after && before.is_none_or(|b| at < b)
                })
                .cloned()
                .collect();
            (window, 0)
        }
    };
    let end = (offset + s.page_size).min(window.len());
    let page = window[offset..end].to_vec();
    let next = (end < window.len()).then(|| {
        let token = format!("token-{}-{end}", s.tokens.len());
        s.tokens.insert(token.clone(), (window.clone(), end));
        token
    });
    s.pages_served += 1;
    let mut payload = json!({"Orders": page});
    if let Some(next) = next {
        payload["NextToken"] = next.into();
    }
    Json(json!({"payload": payload})).into_response()
}

async fn get_order_items(State(shared): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut s = shared.lock().unwrap();
    if !authorised(&mut s, &headers) {
        return expired();
    }
    let items = json!([{"ASIN": "B0MUG00001", "OrderItemId": format!("{id}-1"), "SellerSKU": "AMZ-MUG", "QuantityOrdered": 1,
        "ItemPrice": {"CurrencyCode": "EUR", "Amount": "12.90"}, "ItemTax": {"CurrencyCode": "EUR", "Amount": "0.00"}}]);
    Json(json!({"payload": {"AmazonOrderId": id, "OrderItems": items}})).into_response()
}

/// The Amazon stand-in on 127.0.0.1, with `orders` orders changed over the last hour.
async fn amazon_stand_in(orders: usize, page_size: usize, token_life: usize, page_delay: Duration) -> (String, Shared) {
    let start = Utc::now() - chrono::Duration::hours(1);
    let state = Amazon {
        orders: (0..orders).map(|n| amazon_order(n, start + chrono::Duration::seconds(n as i64 * 10))).collect(),
        page_size,
        token_life,
        page_delay,
        ..Amazon::default()
    };
    let shared = Arc::new(Mutex::new(state));
    let app = Router::new()
        .route("/auth/o2/token", post(lwa_token))
        .route("/orders/v0/orders", get(get_orders))
        .route("/orders/v0/orders/{id}/orderItems", get(get_order_items))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, shared)
}

/// A marketplace channel `amz` with the mug listed as `AMZ-MUG`, and its Amazon connector.
async fn amazon_channel(server: &Server, base: &str) {
    shop(server, 1000).await;
    let t = &server.admin;
    let channel = json!({"code": "amz", "name": "Amazon DE", "kind": "marketplace", "currency": "EUR"});
    assert_eq!(server.post(t, "/api/v1/channels", channel).await.0, 201);
    let listing = json!({"channel": "amz", "channel_sku": "AMZ-MUG", "sku": "MUG-1", "price": "12.90"});
    assert_eq!(server.post(t, "/api/v1/listings", listing).await.0, 201);
    let connector = json!({"kind": "amazon", "base_url": base, "poll_interval_s": 10, "credentials": {
        "client_id": "amzn1.application-oa2-client.ordo", "client_secret": "lwa-secret", "refresh_token": "Atzr|refresh",
        "marketplace_ids": ["A1PA6795UKMFR9"], "token_url": format!("{base}/auth/o2/token")}});
    let (status, answer) = server.put(t, "/api/v1/channels/amz/connector", connector).await;
    assert_eq!(status, 200, "{answer}");
}

async fn poll_once(server: &Server, channel: &str) -> ordo_app::PollRound {
    let http = ordo_connectors::Http::new().unwrap();
    let target = server.ordo.channels().poll_targets().await.unwrap().into_iter().find(|t| t.channel == channel).unwrap();
    let feed = ordo_connectors::Feed::for_target(&http, &target).unwrap();
    server.ordo.channels().poll_channel(&target, &feed, "test-poller").await.unwrap()
}

/// The stand-in's first order changes to `status`, dated before the poller's settling time and
/// after its last window began, so the next poll brings it.
fn amazon_changes(stand_in: &Shared, status: &str) {
    let mut s = stand_in.lock().unwrap();
    s.orders[0]["OrderStatus"] = json!(status);
    let changed = Utc::now() - chrono::Duration::seconds(150);
    s.orders[0]["LastUpdateDate"] = json!(changed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
}

/// Waits (up to ten seconds) until `channel`'s order `id` is as `wanted` says; the order.
async fn order_when(server: &Server, channel: &str, id: &str, wanted: impl Fn(&ordo_domain::order::Order) -> bool) -> Option<ordo_domain::order::Order> {
    for _ in 0..200 {
        let order = server.ordo.orders().order_by_external_id(channel, id).await.unwrap();
        if wanted(&order) {
            return Some(order);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Waits until `count` orders of `channel` exist; their external ids.
async fn orders_of(server: &Server, channel: &str, count: usize) -> Vec<String> {
    for _ in 0..1200 {
        let (orders, _) = server.ordo.orders().list(Some(channel), None, None, 500, 0).await.unwrap();
        if orders.len() >= count {
            return orders.into_iter().map(|o| o.external_id).collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{channel} never had {count} orders");
}

#[tokio::test]
async fn amazon_orders_arrive_by_polling_across_pages_429s_5xx_and_an_expired_token() {
    let (base, stand_in) = amazon_stand_in(7, 2, 5, Duration::ZERO).await;
    let server = Server::start().await;
    amazon_channel(&server, &base).await;

    let round = poll_once(&server, "amz").await;
    assert_eq!((round.pages, round.stored, round.duplicates), (4, 7, 0), "{round:?}");
    let mut ids = orders_of(&server, "amz", 7).await;
    ids.sort();
    let expected: Vec<String> = (0..7).map(|n| format!("028-{n:07}-0000001")).collect();
    assert_eq!(ids, expected, "every order once");
    {
        let s = stand_in.lock().unwrap();
        assert!(s.rate_limited >= 1 && s.server_errors == 1, "the stand-in misbehaved: 429s {}, 5xx {}", s.rate_limited, s.server_errors);
        assert!(s.grants >= 2, "the expired token was renewed ({} grants)", s.grants);
    }
    let order = server.ordo.orders().order_by_external_id("amz", "028-0000003-0000001").await.unwrap();
    assert_eq!(order.lines[0].sku, "MUG-1");
    assert_eq!(order.lines[0].item_id.as_deref(), Some("028-0000003-0000001-1"));

    // The next poll reads only what changed since, less the overlap: nothing new.
    let again = poll_once(&server, "amz").await;
    assert_eq!(again.stored, 0, "{again:?}");
    assert_eq!(server.ordo.orders().list(Some("amz"), None, None, 500, 0).await.unwrap().0.len(), 7);

    // Another process cannot poll the channel while this one's lease runs.
    let http = ordo_connectors::Http::new().unwrap();
    let target = server.ordo.channels().poll_targets().await.unwrap().into_iter().find(|t| t.channel == "amz").unwrap();
    let feed = ordo_connectors::Feed::for_target(&http, &target).unwrap();
    assert!(server.ordo.channels().poll_channel(&target, &feed, "another-process").await.unwrap().skipped);
}

/// What the eBay stand-in has and how it misbehaves, as eBay documents: a 429 when the call
/// limit is reached, bursts of 5xx, and user access tokens that expire (401 with eBay's OAuth
/// error) and are renewed by the refresh-token grant.
#[derive(Default)]
struct Ebay {
    orders: Vec<Value>,
    /// Access tokens granted by the refresh-token grant; each stops working after
    /// `token_life` calls, as one expires after two hours.
    grants: usize,
    token_life: usize,
    calls_on_token: usize,
    /// Every getOrders call, the calls answered 429 and 5xx, and the pages actually answered.
    calls: usize,
    rate_limited_on: Vec<usize>,
    failing_on: Vec<usize>,
    rate_limited: usize,
    server_errors: usize,
    expired: usize,
    served: usize,
}

type EbayShared = Arc<Mutex<Ebay>>;

/// eBay's OAuth token endpoint: the refresh-token grant, with the app's keys as basic auth.
async fn ebay_token(State(shared): State<EbayShared>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    // "ordo-app-id:ordo-cert-id" in base64.
    let basic = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Basic b3Jkby1hcHAtaWQ6b3Jkby1jZXJ0LWlk");
    let grant = form.get("grant_type").map(String::as_str) == Some("refresh_token")
        && form.get("refresh_token").map(String::as_str) == Some("v^1.1#refresh")
        && form.get("scope").map(String::as_str) == Some("https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly");
    if !basic || !grant {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant", "error_description": "the provided authorization refresh token is invalid"}))).into_response();
    }
    let mut s = shared.lock().unwrap();
    s.grants += 1;
    s.calls_on_token = 0;
    Json(json!({"access_token": format!("v^1.1#granted-{}", s.grants), "expires_in": 7200, "token_type": "User Access Token"})).into_response()
}

async fn ebay_orders(State(shared): State<EbayShared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let mut s = shared.lock().unwrap();
    s.calls += 1;
    let call = s.calls;
    if s.rate_limited_on.contains(&call) {
        s.rate_limited += 1;
        // eBay documents no Retry-After on its REST APIs' 429: the caller backs off on its own.
        let body = json!({"errors": [{"errorId": 2001, "domain": "ACCESS", "category": "REQUEST", "message": "Too many requests. The request limit has been reached for the resource."}]});
        return (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    }
    if s.failing_on.contains(&call) {
        s.server_errors += 1;
        let body = json!({"errors": [{"errorId": 2003, "domain": "ACCESS", "category": "APPLICATION", "message": "Internal error", "longMessage": "There was a problem with an eBay internal system or process. Contact eBay developer support for assistance."}]});
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
    }
    let current = format!("Bearer v^1.1#granted-{}", s.grants);
    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    s.calls_on_token += 1;
    if s.grants == 0 || given != current || s.calls_on_token > s.token_life {
        s.expired += 1;
        let body = json!({"errors": [{"errorId": 1001, "domain": "OAuth", "category": "REQUEST", "message": "Invalid access token", "longMessage": "Invalid access token. Check the value of the Authorization HTTP request header."}]});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let Some(filter) = query.get("filter").and_then(|f| f.strip_prefix("lastmodifieddate:[")) else {
        return (StatusCode::BAD_REQUEST, "filter is required").into_response();
    };
    let (from, to) = filter.trim_end_matches(']').split_once("..").unwrap();
    let (from, to) = (DateTime::parse_from_rfc3339(from).unwrap(), DateTime::parse_from_rfc3339(to).unwrap());
    let window: Vec<Value> = s
        .orders
        .iter()
        .filter(|o| {
            let at = DateTime::parse_from_rfc3339(o["lastModifiedDate"].as_str().unwrap()).unwrap();
            at >= from && at <= to
        })
        .cloned()
        .collect();
    let offset: usize = query.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default().to_owned();
    s.served += 1;
    let page: Vec<&Value> = window.iter().skip(offset).take(1).collect();
    let mut answer = json!({"total": window.len(), "limit": 1, "offset": offset, "orders": page});
    if offset + 1 < window.len() {
        let filter = query["filter"].replace('[', "%5B").replace(']', "%5D").replace(':', "%3A");
        answer["next"] = format!("http://{host}/sell/fulfillment/v1/order?filter={filter}&limit=1&offset={}", offset + 1).into();
    }
    Json(answer).into_response()
}

/// The eBay stand-in on 127.0.0.1: `getOrders` by lastmodifieddate, pages of one, `next` as
/// an address; and the OAuth token endpoint.
async fn ebay_stand_in(state: Ebay) -> (String, EbayShared) {
    let shared = Arc::new(Mutex::new(state));
    let app = Router::new()
        .route("/identity/v1/oauth2/token", post(ebay_token))
        .route("/sell/fulfillment/v1/order", get(ebay_orders))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, shared)
}

/// `count` copies of the eBay fixture, changed over the last half hour.
fn ebay_orders_changed_lately(count: i64) -> Vec<Value> {
    let fixture: Value = serde_json::from_slice(include_bytes!("../../../channels/tests/fixtures/ebay-order.json")).unwrap();
    (0..count)
        .map(|n| {
            let mut order = fixture.clone();
            let at = (Utc::now() - chrono::Duration::minutes(30 - n)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            order["orderId"] = format!("12-0000{n}-52187").into();
            order["lastModifiedDate"] = at.clone().into();
            order["creationDate"] = at.into();
            order
        })
        .collect()
}

/// A marketplace channel `ebay` with the mug listed by its variation id, and its connector.
async fn ebay_channel(server: &Server, credentials: Value) {
    shop(server, 100).await;
    let t = &server.admin;
    assert_eq!(server.post(t, "/api/v1/channels", json!({"code": "ebay", "name": "eBay DE", "kind": "marketplace", "currency": "EUR"})).await.0, 201);
    assert_eq!(server.post(t, "/api/v1/listings", json!({"channel": "ebay", "channel_sku": "410014855123", "sku": "MUG-1", "price": "9.90"})).await.0, 201);
    let (status, answer) = server.put(t, "/api/v1/channels/ebay/connector", json!({"kind": "ebay", "base_url": credentials["base"], "credentials": credentials["credentials"]})).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn ebay_orders_arrive_by_polling_its_next_pages_across_a_429_a_5xx_burst_and_an_expired_token() {
    // The access token the connector was given has expired; the first call says so. The
    // second is over eBay's call limit, the fourth to sixth fail inside eBay, and each
    // renewed token lasts two calls.
    let misbehaving = Ebay {
        orders: ebay_orders_changed_lately(5),
        token_life: 2,
        rate_limited_on: vec![2],
        failing_on: vec![4, 5, 6],
        ..Ebay::default()
    };
    let (base, stand_in) = ebay_stand_in(misbehaving).await;
    let server = Server::start().await;
    let credentials = json!({"access_token": "v^1.1#expired", "refresh_token": "v^1.1#refresh", "client_id": "ordo-app-id",
        "client_secret": "ordo-cert-id", "token_url": format!("{base}/identity/v1/oauth2/token")});
    ebay_channel(&server, json!({"base": base, "credentials": credentials})).await;

    let round = poll_once(&server, "ebay").await;
    assert_eq!((round.pages, round.stored, round.duplicates), (5, 5, 0), "{round:?}");
    let mut ids = orders_of(&server, "ebay", 5).await;
    ids.sort();
    let expected: Vec<String> = (0..5).map(|n| format!("12-0000{n}-52187")).collect();
    assert_eq!(ids, expected, "every order once");
    {
        let s = stand_in.lock().unwrap();
        assert_eq!((s.rate_limited, s.server_errors), (1, 3), "the stand-in misbehaved");
        assert!(s.expired >= 2 && s.grants >= 2, "the expired token, and each worn out one, was renewed: {} refused, {} grants", s.expired, s.grants);
        assert_eq!(s.served, 5, "each page answered once");
    }
    let order = server.ordo.orders().order_by_external_id("ebay", "12-00001-52187").await.unwrap();
    assert_eq!((order.lines[0].sku.as_str(), order.lines[0].quantity), ("MUG-1", 3));

    // The next poll reads only what changed since, less the overlap: nothing new.
    let again = poll_once(&server, "ebay").await;
    assert_eq!(again.stored, 0, "{again:?}");
    assert_eq!(server.ordo.orders().list(Some("ebay"), None, None, 500, 0).await.unwrap().0.len(), 5);
}

/// A refresh token eBay no longer takes fails the poll as unauthorised: nothing is stored,
/// the connector's owner is told, and the orders arrive once a working token is given.
#[tokio::test]
async fn an_ebay_poll_with_a_refused_refresh_token_stores_nothing_and_tells_the_owner() {
    let (base, stand_in) = ebay_stand_in(Ebay { orders: ebay_orders_changed_lately(2), token_life: 100, ..Ebay::default() }).await;
    let server = Server::start().await;
    let credentials = |refresh: &str| {
        json!({"base": base, "credentials": {"refresh_token": refresh, "client_id": "ordo-app-id", "client_secret": "ordo-cert-id",
            "token_url": format!("{base}/identity/v1/oauth2/token")}})
    };
    ebay_channel(&server, credentials("v^1.1#revoked")).await;
    let round = poll_once(&server, "ebay").await;
    assert_eq!((round.pages, round.stored), (0, 0), "{round:?}");
    {
        let s = stand_in.lock().unwrap();
        assert_eq!((s.grants, s.served), (0, 0), "no token granted, no page asked for");
    }
    assert!(server.ordo.orders().list(Some("ebay"), None, None, 10, 0).await.unwrap().0.is_empty());
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?kind=sync_failure&status=open").await;
    assert_eq!(open.as_array().map(Vec::len), Some(1), "{open}");

    let t = &server.admin;
    let fixed = credentials("v^1.1#refresh");
    let (status, answer) = server.put(t, "/api/v1/channels/ebay/connector", json!({"kind": "ebay", "base_url": fixed["base"], "credentials": fixed["credentials"]})).await;
    assert_eq!(status, 200, "{answer}");
    let round = poll_once(&server, "ebay").await;
    assert_eq!(round.stored, 2, "{round:?}");
    assert_eq!(orders_of(&server, "ebay", 2).await.len(), 2);
}

/// A free port on 127.0.0.1, for a server that must come back at the same address.
fn free_port() -> SocketAddr {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap()
}

fn serve(dir: &std::path::Path, database: &str, address: SocketAddr) -> std::process::Child {
    use std::io::BufRead;
    let mut child = crate::cli::ordo(dir)
        .args(["serve", "--database", database, "--listen", &address.to_string()])
        .env("ORDO_SECRET_KEY", TEST_SECRET_KEY)
        // The business the test server made keeps its books in euros.
        .env("ORDO_BASE_CURRENCY", "EUR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("listening"), "{line}");
    child
}

#[tokio::test]
async fn a_sigkill_mid_poll_loses_and_duplicates_nothing() {
    // Thirty orders in pages of three, each page a little slow: the poll is caught mid-way.
    let (base, stand_in) = amazon_stand_in(30, 3, 1000, Duration::from_millis(250)).await;
    let server = Server::start().await;
    amazon_channel(&server, &base).await;
    let dir = tempfile::tempdir().unwrap();
    let address = free_port();
    let mut first = serve(dir.path(), &server.ordo_url(), address);
    for _ in 0..3000 {
        if stand_in.lock().unwrap().pages_served >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let served_before = stand_in.lock().unwrap().pages_served;
    assert!((3..10).contains(&served_before), "killed mid-poll, after {served_before} pages");

    let mut second = serve(dir.path(), &server.ordo_url(), address);
    let mut ids = orders_of(&server, "amz", 30).await;
    second.kill().unwrap();
    second.wait().unwrap();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30, "every order, once");
    let (orders, _) = server.ordo.orders().list(Some("amz"), None, None, 500, 0).await.unwrap();
    assert_eq!(orders.len(), 30, "none twice");
    // An order is made a moment before its delivery is marked processed, and the second
    // process may have been killed in between: this server's processors then finish those
    // deliveries once their lease (15 s) runs out. Wait for the inbox that long.
    let mut kept = server.ordo.channels().inbox("amz", None, 500).await.unwrap();
    for _ in 0..600 {
        if kept.iter().all(|d| d.status.as_str() == "processed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        kept = server.ordo.channels().inbox("amz", None, 500).await.unwrap();
    }
    let mut delivered: Vec<&str> = kept.iter().filter_map(|d| d.external_id.as_deref()).collect();
    delivered.sort();
    delivered.dedup();
    assert_eq!(delivered.len(), 30);
    assert!(kept.iter().all(|d| d.status.as_str() == "processed"), "{:?}", kept.iter().map(|d| &d.status).collect::<Vec<_>>());
}

/// A Shopify order of one mug, signed for the `web` connector's secret.
fn one_mug_on_shopify(n: u64) -> (Vec<u8>, String) {
    let body = json!({
        "id": 7_000_000_000_000_000u64 + n,
        "email": format!("shopper{n}@example.com"),
        "created_at": "2026-11-30T10:15:00-05:00",
        "updated_at": "2026-11-30T10:15:00-05:00",
        "currency": "EUR",
        "financial_status": "paid",
        "line_items": [{"id": 1, "variant_id": 2, "product_id": 3, "sku": "W-MUG", "quantity": 1, "price": "12.90", "tax_lines": []}],
        "shipping_lines": [{"code": "standard", "price": "0.00"}],
        "shipping_address": {"name": "Ann Berg", "address1": "Hauptstr. 1", "city": "Berlin", "zip": "10115", "country_code": "DE"},
    })
    .to_string()
    .into_bytes();
    let signature = ordo_channels::signature::base64_hmac(&body, "shopify-secret-of-the-web-shop");
    (body, signature)
}

/// Twenty mugs; thirty sold at once on Shopify by webhook, thirty on Amazon by the poller and
/// thirty through the API, to one or two Ordo instances: twenty are reserved, never more.
async fn one_sku_sold_everywhere_at_once(first: Server, second: Server) {
    let (base, _stand_in) = amazon_stand_in(30, 5, 1000, Duration::ZERO).await;
    amazon_channel(&first, &base).await;
    // amazon_channel received 1000 mugs: count them down to twenty.
    let count = json!({"sku": "MUG-1", "location": "central", "quantity": 20, "kind": "count", "reason": "cycle count"});
    assert_eq!(first.post(&first.admin, "/api/v1/inventory/movements", count).await.0, 201);
    let connector = json!({"kind": "shopify", "webhook_secrets": ["shopify-secret-of-the-web-shop"]});
    assert_eq!(first.put(&first.admin, "/api/v1/channels/web/connector", connector).await.0, 200);

    // Everything at once: each sale its own task, against either instance.
    let mut sales = tokio::task::JoinSet::new();
    for n in 0..30u64 {
        let (client, base) = if n % 2 == 0 { (first.client.clone(), first.base.clone()) } else { (second.client.clone(), second.base.clone()) };
        sales.spawn(async move {
            let (body, signature) = one_mug_on_shopify(n);
            let answer = client
                .post(format!("{base}/webhooks/shopify/web"))
                .header("x-shopify-topic", "orders/create")
                .header("x-shopify-hmac-sha256", signature)
                .header("x-shopify-webhook-id", format!("mug-{n}"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
        });
        let (client, base, token) =
            if n % 2 == 0 { (second.client.clone(), second.base.clone(), second.admin.clone()) } else { (first.client.clone(), first.base.clone(), first.admin.clone()) };
        sales.spawn(async move {
            let order = crate::orders::order(&format!("api-{n}"), json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
            let answer = client.post(format!("{base}/api/v1/orders")).bearer_auth(token).json(&order).send().await.unwrap();
            assert_eq!(answer.status(), 201);
        });
    }
    let round = poll_once(&second, "amz").await;
    assert_eq!(round.stored, 30);
    while let Some(sale) = sales.join_next().await {
        sale.unwrap();
    }

    orders_of(&first, "amz", 30).await;
    let web = orders_of(&first, "web", 60).await;
    assert_eq!(web.len(), 60);
    let (_, stock) = first.get(&first.admin, "/api/v1/inventory?sku=MUG-1").await;
    let reserved: i64 = stock.as_array().unwrap().iter().map(|l| l["reserved"].as_i64().unwrap()).sum();
    let on_hand: i64 = stock.as_array().unwrap().iter().map(|l| l["on_hand"].as_i64().unwrap()).sum();
    assert_eq!((on_hand, reserved), (20, 20), "every mug sold once, none twice: {stock}");
    assert!(first.ordo.inventory().stock_discrepancies().await.unwrap().is_empty());
    assert_eq!(first.ordo.orders().oversold_levels().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sku_sold_everywhere_at_once_on_sqlite() {
    let server = Server::start().await;
    let same = server.another_instance().await;
    one_sku_sold_everywhere_at_once(server, same).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sku_sold_everywhere_at_once_on_two_instances_over_postgres() {
    let Some(url) = crate::common::postgres_url() else {
        println!("SKIP one_sku_sold_everywhere_at_once_on_two_instances_over_postgres: ORDO_TEST_POSTGRES_URL is not set");
        return;
    };
    let first = Server::start_on(Some(&url)).await;
    let second = first.another_instance().await;
    one_sku_sold_everywhere_at_once(first, second).await;
}

/// The Shopify stand-in: `orders.json` by updated_at, pages of two linked by `page_info`.
/// Posts a signed webhook delivery to `path`; it must be taken (200).
async fn deliver(server: &Server, path: &str, headers: &[(&str, &str)], body: Vec<u8>) {
    let mut request = server.client.post(format!("{}{path}", server.base)).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
}

/// The web channel's deliveries once none is pending (waiting up to ten seconds).
async fn settled_web_inbox(server: &Server) -> Vec<ordo_app::DeliveryView> {
    for _ in 0..200 {
        if server.ordo.channels().inbox("web", Some("pending"), 10).await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.ordo.channels().inbox("web", None, 10).await.unwrap()
}

/// Shopify's REST orders list in pages of two, after one 429 that asks for a second's wait
/// as Shopify writes it (`Retry-After: 1.0`); the times it was called.
async fn shopify_stand_in(orders: Vec<Value>) -> (String, Arc<Mutex<Vec<std::time::Instant>>>) {
    type Stand = (Arc<Vec<Value>>, Arc<Mutex<Vec<std::time::Instant>>>);
    async fn list(State((orders, calls)): State<Stand>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
        let first = {
            let mut calls = calls.lock().unwrap();
            calls.push(std::time::Instant::now());
            calls.len() == 1
        };
        if first {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1.0")], Json(json!({"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}))).into_response();
        }
        if headers.get("x-shopify-access-token").and_then(|v| v.to_str().ok()) != Some("shpat_catch_up") {
            return (StatusCode::UNAUTHORIZED, Json(json!({"errors": "[API] Invalid API key or access token"}))).into_response();
        }
        let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default().to_owned();
        let offset: usize = match query.get("page_info") {
            Some(info) => {
                if query.contains_key("updated_at_min") {
                    return (StatusCode::BAD_REQUEST, "page_info takes no other filters").into_response();
                }
                info.trim_start_matches("p").parse().unwrap_or(0)
            }
            None => 0,
        };
        let page: Vec<&Value> = orders.iter().skip(offset).take(2).collect();
        let mut answer = Json(json!({"orders": page})).into_response();
        if offset + 2 < orders.len() {
            let link = format!("<http://{host}/admin/api/2025-07/orders.json?limit=250&page_info=p{}>; rel=\"next\"", offset + 2);
            answer.headers_mut().insert("link", link.parse().unwrap());
        }
        answer
    }
    let calls = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().route("/admin/api/2025-07/orders.json", get(list)).with_state((Arc::new(orders), calls.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, calls)
}

#[tokio::test]
async fn shopify_is_polled_for_what_its_webhooks_missed() {
    let fixture: Value = serde_json::from_slice(include_bytes!("../../../channels/tests/fixtures/shopify-orders-create.json")).unwrap();
    let orders: Vec<Value> = (0..3u64)
        .map(|n| {
            let mut order = fixture.clone();
            let at = (Utc::now() - chrono::Duration::minutes(40 - n as i64)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            order["id"] = (820_982_911_946_154_600u64 + n).into();
            order["created_at"] = at.clone().into();
            order["updated_at"] = at.into();
            order
        })
        .collect();
    let server = Server::start().await;
    shop(&server, 100).await;
    let t = &server.admin;
    for (channel_sku, sku) in [("SHOP-MUG-BLUE", "MUG-1"), ("49148385", "VASE-1")] {
        let listing = json!({"channel": "web", "channel_sku": channel_sku, "sku": sku, "price": "14.90"});
        assert_eq!(server.post(t, "/api/v1/listings", listing).await.0, 201);
    }
    let vases = json!({"sku": "VASE-1", "location": "central", "quantity": 10, "kind": "receipt", "reason": "opening"});
    assert_eq!(server.post(t, "/api/v1/inventory/movements", vases).await.0, 201);
    // The first order came by webhook as well.
    let body = orders[0].to_string().into_bytes();
    let signature = ordo_channels::signature::base64_hmac(&body, "shopify-webhook-secret");
    let (base, calls) = shopify_stand_in(orders).await;
    let connector = json!({"kind": "shopify", "base_url": base, "webhook_secrets": ["shopify-webhook-secret"], "credentials": {"access_token": "shpat_catch_up"}});
    assert_eq!(server.put(t, "/api/v1/channels/web/connector", connector).await.0, 200);
    deliver(&server, "/webhooks/shopify/web", &[("x-shopify-topic", "orders/create"), ("x-shopify-hmac-sha256", &signature), ("x-shopify-webhook-id", "hook-1")], body).await;
    orders_of(&server, "web", 1).await;

    let round = poll_once(&server, "web").await;
    assert_eq!((round.pages, round.stored), (2, 3), "{round:?}");
    {
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 3, "a 429, then two pages");
        assert!(calls[1] - calls[0] >= Duration::from_millis(950), "the 429's Retry-After: 1.0 was waited out: {:?}", calls[1] - calls[0]);
    }
    let ids = orders_of(&server, "web", 3).await;
    assert_eq!(ids.len(), 3, "the one the webhook brought is not made twice");
    let inbox = settled_web_inbox(&server).await;
    assert_eq!(inbox.len(), 4, "the webhook's delivery and the poll's three");
    assert!(inbox.iter().all(|d| d.status.as_str() == "processed"), "the poll's copy of the webhook's order changed nothing");
    assert_eq!(server.ordo.orders().list(Some("web"), None, None, 10, 0).await.unwrap().0.len(), 3);
}

/// What the WooCommerce stand-in has, and the queries it was asked.
struct WooCommerce {
    orders: Vec<Value>,
    asked: Vec<HashMap<String, String>>,
}

/// The WooCommerce stand-in: `/wp-json/wc/v3/orders` by `modified_after` and `modified_before`
/// in GMT, oldest change first, two a page (a site whose `per_page` is capped), the page count
/// in `X-WP-TotalPages`; the REST API key as basic auth.
async fn woocommerce_stand_in(orders: Vec<Value>) -> (String, Arc<Mutex<WooCommerce>>) {
    async fn list(State(shared): State<Arc<Mutex<WooCommerce>>>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
        // "ck_portal:cs_portal" in base64.
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Basic Y2tfcG9ydGFsOmNzX3BvcnRhbA==") {
            let body = json!({"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", "data": {"status": 401}});
            return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        }
        let mut s = shared.lock().unwrap();
        s.asked.push(query.clone());
        // WooCommerce reads dates without an offset as the site's time, or as GMT when asked.
        if query.get("dates_are_gmt").map(String::as_str) != Some("true") {
            return (StatusCode::BAD_REQUEST, "the stand-in's site is not on GMT: ask with dates_are_gmt").into_response();
        }
        let parse = |name: &str| query.get(name).and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").ok());
        let (Some(after), Some(before)) = (parse("modified_after"), parse("modified_before")) else {
            let body = json!({"code": "rest_invalid_param", "message": "Invalid parameter(s): modified_after", "data": {"status": 400}});
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        };
        let modified = |o: &Value| chrono::NaiveDateTime::parse_from_str(o["date_modified_gmt"].as_str().unwrap(), "%Y-%m-%dT%H:%M:%S").unwrap();
        let mut window: Vec<Value> = s.orders.iter().filter(|o| modified(o) > after && modified(o) < before).cloned().collect();
        if query.get("orderby").map(String::as_str) == Some("modified") {
            window.sort_by_key(modified);
            if query.get("order").map(String::as_str) == Some("desc") {
                window.reverse();
            }
        }
        let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let per_page = query.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(10usize).min(2);
        let pages = window.len().div_ceil(per_page).max(1);
        let answer: Vec<Value> = window.iter().skip((page - 1) * per_page).take(per_page).cloned().collect();
        let mut answer = Json(answer).into_response();
        answer.headers_mut().insert("x-wp-total", window.len().to_string().parse().unwrap());
        answer.headers_mut().insert("x-wp-totalpages", pages.to_string().parse().unwrap());
        answer
    }
    let shared = Arc::new(Mutex::new(WooCommerce { orders, asked: Vec::new() }));
    let app = Router::new().route("/wp-json/wc/v3/orders", get(list)).with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, shared)
}

#[tokio::test]
async fn woocommerce_is_polled_for_what_its_webhooks_missed() {
    let fixture: Value = serde_json::from_slice(include_bytes!("../../../channels/tests/fixtures/woocommerce-order-created.json")).unwrap();
    let gmt = |minutes: i64| (Utc::now() - chrono::Duration::minutes(minutes)).format("%Y-%m-%dT%H:%M:%S").to_string();
    // Three orders changed over the last forty minutes, listed newest first as a shop keeps
    // them: the poll must ask for the oldest change first.
    let orders: Vec<Value> = (0..3i64)
        .rev()
        .map(|n| {
            let mut order = fixture.clone();
            order["id"] = (800 + n).into();
            order["number"] = (800 + n).to_string().into();
            order["date_created_gmt"] = gmt(40 - n).into();
            order["date_modified_gmt"] = gmt(40 - n).into();
            order
        })
        .collect();
    let server = Server::start().await;
    shop(&server, 100).await;
    let t = &server.admin;
    for (channel_sku, sku) in [("93", "MUG-1"), ("23", "VASE-1"), ("WOO-TRIO", "MUG-1")] {
        let listing = json!({"channel": "web", "channel_sku": channel_sku, "sku": sku, "price": "3.00"});
        assert_eq!(server.post(t, "/api/v1/listings", listing).await.0, 201);
    }
    // The oldest came by webhook as well.
    let body = orders[2].to_string().into_bytes();
    let signature = ordo_channels::signature::base64_hmac(&body, "woocommerce-webhook-secret");
    let (base, stand_in) = woocommerce_stand_in(orders).await;
    let connector = json!({"kind": "woocommerce", "base_url": base, "webhook_secrets": ["woocommerce-webhook-secret"],
        "credentials": {"consumer_key": "ck_portal", "consumer_secret": "cs_portal"}});
    assert_eq!(server.put(t, "/api/v1/channels/web/connector", connector).await.0, 200);
    deliver(&server, "/webhooks/woocommerce/web", &[("x-wc-webhook-topic", "order.created"), ("x-wc-webhook-signature", &signature), ("x-wc-webhook-delivery-id", "wc-1")], body).await;
    orders_of(&server, "web", 1).await;

    let round = poll_once(&server, "web").await;
    assert_eq!((round.pages, round.stored), (2, 3), "{round:?}");
    {
        let s = stand_in.lock().unwrap();
        let first = &s.asked[0];
        assert_eq!((first["orderby"].as_str(), first["order"].as_str(), first["page"].as_str()), ("modified", "asc", "1"), "{first:?}");
        assert_eq!(s.asked[1]["page"], "2", "the second page by its number, up to X-WP-TotalPages");
        assert_eq!(s.asked.len(), 2, "no page past the last");
    }
    let mut ids = orders_of(&server, "web", 3).await;
    ids.sort();
    assert_eq!(ids, ["800", "801", "802"], "the one the webhook brought is not made twice");
    let inbox = settled_web_inbox(&server).await;
    assert_eq!(inbox.len(), 4, "the webhook's delivery and the poll's three");
    assert!(inbox.iter().all(|d| d.status.as_str() == "processed"), "{:?}", inbox.iter().map(|d| (&d.status, &d.outcome)).collect::<Vec<_>>());
    let order = server.ordo.orders().order_by_external_id("web", "801").await.unwrap();
    assert_eq!((order.lines.len(), order.lines[0].sku.as_str()), (3, "MUG-1"));

    // The next poll reads only what changed since, less the overlap: nothing new.
    let again = poll_once(&server, "web").await;
    assert_eq!(again.stored, 0, "{again:?}");
    assert_eq!(server.ordo.orders().list(Some("web"), None, None, 10, 0).await.unwrap().0.len(), 3);

    // A paused connector is not polled.
    assert_eq!(server.post(t, "/api/v1/channels/web/connector/pause", json!({})).await.0, 200);
    assert!(server.ordo.channels().poll_targets().await.unwrap().iter().all(|target| target.channel != "web"));
}

/// An Amazon order still `Pending` (payment not confirmed) is reserved but waits: no wave picks
/// it and it cannot ship, until a later version says `Unshipped`.
#[tokio::test]
async fn a_pending_amazon_order_is_reserved_and_waits_until_amazon_confirms_it() {
    let (base, stand_in) = amazon_stand_in(1, 10, 100, Duration::ZERO).await;
    stand_in.lock().unwrap().orders[0]["OrderStatus"] = json!("Pending");
    let server = Server::start().await;
    amazon_channel(&server, &base).await;
    poll_once(&server, "amz").await;
    let id = orders_of(&server, "amz", 1).await.remove(0);
    let held = server.ordo.orders().order_by_external_id("amz", &id).await.unwrap();
    assert_eq!(held.status.as_str(), "allocated", "its stock is reserved");
    assert!(held.waiting_for.as_deref().is_some_and(|w| w.contains("Pending")), "{:?}", held.waiting_for);
    let t = &server.admin;
    let (_, shown) = server.get(t, &format!("/api/v1/orders/{}", held.id)).await;
    assert!(shown["waiting_for"].as_str().is_some(), "{shown}");
    let ship = json!({"location": "central", "carrier": "DHL", "tracking_number": "P1"});
    let (status, refused) = server.post(t, &format!("/api/v1/orders/{}/shipments", held.id), ship.clone()).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("invalid_transition")), "{refused}");
    let (status, wave) = server.post(t, "/api/v1/waves", json!({"location": "central"})).await;
    assert!(status == 409 || status == 422 || wave["orders"].as_array().is_some_and(|o| o.is_empty()), "no wave picks it: {status} {wave}");

    // Amazon confirms it: the next poll lets it go.
    amazon_changes(&stand_in, "Unshipped");
    poll_once(&server, "amz").await;
    let released = order_when(&server, "amz", &id, |o| o.waiting_for.is_none()).await.expect("Amazon's confirmation let the order go");
    let (status, shipped) = server.post(t, &format!("/api/v1/orders/{}/shipments", released.id), ship).await;
    assert_eq!(status, 201, "{shipped}");
}

/// An Amazon FBA order (`AFN`) is Amazon's to ship from the stock it keeps: Ordo records it
/// against the location Amazon manages, reserves nothing in its own warehouses, never picks
/// it, and ships it there when Amazon says it shipped. Without such a location the delivery
/// waits in the inbox with an exception, and is replayed once the location exists.
#[tokio::test]
async fn an_amazon_fba_order_is_recorded_against_the_location_amazon_manages_and_ships_when_amazon_ships_it() {
    let (base, stand_in) = amazon_stand_in(1, 10, 100, Duration::ZERO).await;
    {
        let mut s = stand_in.lock().unwrap();
        s.orders[0]["FulfillmentChannel"] = json!("AFN");
        // Amazon shows the seller only the town of an FBA buyer.
        s.orders[0]["ShippingAddress"] = json!({"City": "Koeln", "PostalCode": "51147", "CountryCode": "DE"});
    }
    let server = Server::start().await;
    amazon_channel(&server, &base).await;
    let t = &server.admin;

    // No location stands for Amazon's stock yet: the order waits in the inbox, named.
    poll_once(&server, "amz").await;
    let mut failed = Vec::new();
    for _ in 0..200 {
        failed = server.ordo.channels().inbox("amz", Some("failed"), 10).await.unwrap();
        if !failed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(failed.len(), 1, "kept, not lost");
    assert_eq!(failed[0].error_field.as_deref(), Some("FulfillmentChannel"), "{:?}", failed[0].error);
    let (_, open) = server.get(t, "/api/v1/exceptions?status=open&kind=channel_mapping").await;
    assert_eq!(open.as_array().map(Vec::len), Some(1), "{open}");

    // Amazon's warehouse, with the two mugs the seller sent there.
    let fba = json!({"code": "amz-fba", "name": "Amazon FBA DE", "kind": "3pl", "priority": 0, "managed_by": "amz"});
    let (status, made) = server.post(t, "/api/v1/locations", fba).await;
    assert_eq!((status, made["managed_by"].as_str()), (201, Some("amz")), "{made}");
    let sent = json!({"sku": "MUG-1", "location": "amz-fba", "quantity": 2, "kind": "receipt", "reason": "FBA inbound shipment"});
    assert_eq!(server.post(t, "/api/v1/inventory/movements", sent).await.0, 201);
    let (_, ats) = server.get(t, "/api/v1/channels/web/availability?sku=MUG-1").await;
    assert_eq!(ats, json!([{"sku": "MUG-1", "available": 1000}]), "Amazon's stock is Amazon's to offer, not the web shop's");
    let unknown = json!({"code": "x-fba", "name": "X", "kind": "3pl", "priority": 0, "managed_by": "nope"});
    let (status, refused) = server.post(t, "/api/v1/locations", unknown).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("managed_by")), "{refused}");

    server.ordo.channels().replay_failed("amz", &ordo_app::Actor::system()).await.unwrap();
    let id = orders_of(&server, "amz", 1).await.remove(0);
    let order = server.ordo.orders().order_by_external_id("amz", &id).await.unwrap();
    assert!(order.fulfilled_by_channel);
    assert_eq!(order.status.as_str(), "allocated", "{order:?}");
    let (_, open) = server.get(t, "/api/v1/exceptions?status=open&kind=channel_mapping").await;
    assert_eq!(open.as_array().map(Vec::len), Some(0), "the replay settled it: {open}");
    let at: Vec<&str> = order.lines.iter().flat_map(|l| l.allocations.iter().map(|a| a.location.as_str())).collect();
    assert_eq!(at, ["amz-fba"], "reserved only where Amazon keeps the stock");
    let central = |levels: &[ordo_domain::inventory::StockLevel], location: &str| {
        levels.iter().find(|l| l.location == location).map(|l| (l.on_hand, l.reserved)).unwrap_or_default()
    };
    let levels = server.ordo.inventory().stock_levels(Some("MUG-1")).await.unwrap();
    assert_eq!(central(&levels, "central"), (1000, 0), "Ordo's own warehouse is untouched");
    assert_eq!(central(&levels, "amz-fba"), (2, 1));

    // Ordo neither picks nor ships it; an order of the web shop never routes to Amazon's stock.
    let ship = json!({"location": "amz-fba", "carrier": "DHL", "tracking_number": "F1"});
    let (status, refused) = server.post(t, &format!("/api/v1/orders/{}/shipments", order.id), ship).await;
    assert_eq!(status, 409, "{refused}");
    let (status, wave) = server.post(t, "/api/v1/waves", json!({"location": "amz-fba"})).await;
    assert!(status == 409 || status == 422 || wave["orders"].as_array().is_some_and(|o| o.is_empty()), "no wave picks it: {status} {wave}");
    let web = crate::orders::order("W-FBA", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
    let (status, made) = server.post(t, "/api/v1/orders", web).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["lines"][0]["allocations"][0]["location"].as_str(), Some("central"), "{made}");

    // Amazon ships it: Ordo records the shipment from Amazon's stock.
    amazon_changes(&stand_in, "Shipped");
    poll_once(&server, "amz").await;
    let shipped = order_when(&server, "amz", &id, |o| o.status.as_str() == "shipped").await.expect("Amazon's shipment is recorded");
    assert_eq!(shipped.shipments.len(), 1);
    assert_eq!(shipped.shipments[0].location, "amz-fba");
    let levels = server.ordo.inventory().stock_levels(Some("MUG-1")).await.unwrap();
    assert_eq!(central(&levels, "amz-fba"), (1, 0), "the unit left Amazon's stock");
}

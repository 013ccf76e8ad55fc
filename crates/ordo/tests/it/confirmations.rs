//! Shipments, cancellations and refunds out: what Ordo ships, cancels and refunds goes back to
//! each channel, per parcel with carrier and tracking, against one stand-in that speaks
//! Shopify's GraphQL, WooCommerce's REST, Amazon's Orders v0 and eBay's Fulfillment API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::common::Server;

/// What the stand-in was told, in order, and how it is to answer.
#[derive(Default)]
struct Told {
    /// (what, the channel's order id, the body).
    calls: Vec<(String, String, Value)>,
    /// Units of each Shopify line item fulfilled so far.
    fulfilled: std::collections::HashMap<String, i64>,
    /// The next WooCommerce calls answered 503.
    woo_down: usize,
    /// Amazon takes even the order it refused before.
    amazon_takes_all: bool,
}

type Shared = Arc<Mutex<Told>>;

impl Told {
    fn record(&mut self, what: &str, order: &str, body: Value) {
        self.calls.push((what.to_owned(), order.to_owned(), body));
    }
}

/// The Shopify order `S-1` has two line items: 111 (three mugs) and 222 (one vase), in one
/// open fulfillment order.
async fn shopify(State(told): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    assert_eq!(headers.get("x-shopify-access-token").and_then(|v| v.to_str().ok()), Some("shpat_ordo"));
    let query = body["query"].as_str().unwrap_or_default();
    let vars = &body["variables"];
    let mut told = told.lock().unwrap();
    if query.contains("fulfillmentOrders") {
        let order = vars["id"].as_str().unwrap();
        let nodes: Vec<Value> = [("111", 3), ("222", 1)]
            .iter()
            .map(|(item, ordered)| {
                let remaining = ordered - told.fulfilled.get(*item).copied().unwrap_or(0);
                json!({"id": format!("gid://shopify/FulfillmentOrderLineItem/{item}0"), "remainingQuantity": remaining, "lineItem": {"id": format!("gid://shopify/LineItem/{item}")}})
            })
            .collect();
        let known = order == "gid://shopify/Order/5001";
        let fulfillment_orders = json!({"fulfillmentOrders": {"nodes": [{"id": "gid://shopify/FulfillmentOrder/77", "status": "OPEN", "lineItems": {"nodes": nodes}}]}});
        return Json(json!({"data": {"order": if known { fulfillment_orders } else { Value::Null }}}));
    }
    if query.contains("fulfillmentCreate") {
        let f = &vars["f"];
        for group in f["lineItemsByFulfillmentOrder"].as_array().unwrap() {
            assert_eq!(group["fulfillmentOrderId"], "gid://shopify/FulfillmentOrder/77");
            for line in group["fulfillmentOrderLineItems"].as_array().unwrap() {
                let item = line["id"].as_str().unwrap().trim_start_matches("gid://shopify/FulfillmentOrderLineItem/").trim_end_matches('0').to_owned();
                *told.fulfilled.entry(item).or_default() += line["quantity"].as_i64().unwrap();
            }
        }
        told.record("fulfillmentCreate", "5001", f.clone());
        return Json(json!({"data": {"fulfillmentCreate": {"fulfillment": {"id": "gid://shopify/Fulfillment/1"}, "userErrors": []}}}));
    }
    if query.contains("transactions") {
        let payments = json!([{"id": "gid://shopify/OrderTransaction/9", "gateway": "shopify_payments", "kind": "SALE", "status": "SUCCESS"}]);
        return Json(json!({"data": {"order": {"transactions": payments}}}));
    }
    if query.contains("refundCreate") {
        told.record("refundCreate", "5001", vars["input"].clone());
        return Json(json!({"data": {"refundCreate": {"refund": {"id": "gid://shopify/Refund/1"}, "userErrors": []}}}));
    }
    assert!(query.contains("orderCancel"), "{query}");
    let order = vars["id"].as_str().unwrap().trim_start_matches("gid://shopify/Order/").to_owned();
    told.record("orderCancel", &order, vars.clone());
    Json(json!({"data": {"orderCancel": {"job": {"id": "gid://shopify/Job/1"}, "orderCancelUserErrors": []}}}))
}

async fn woo(told: &Shared, what: &str, order: String, body: Value) -> Response {
    let mut told = told.lock().unwrap();
    if told.woo_down > 0 {
        told.woo_down -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response();
    }
    told.record(what, &order, body);
    (StatusCode::CREATED, Json(json!({"id": 1}))).into_response()
}

async fn woo_note(State(told): State<Shared>, Path(order): Path<String>, Json(body): Json<Value>) -> Response {
    woo(&told, "note", order, body).await
}

async fn woo_status(State(told): State<Shared>, Path(order): Path<String>, Json(body): Json<Value>) -> Response {
    woo(&told, "status", order, body).await
}

async fn woo_refund(State(told): State<Shared>, Path(order): Path<String>, Json(body): Json<Value>) -> Response {
    woo(&told, "refund", order, body).await
}

async fn ebay_refund(State(told): State<Shared>, Path(order): Path<String>, Json(body): Json<Value>) -> Response {
    told.lock().unwrap().record("issue_refund", &order, body);
    Json(json!({"refundId": "5000012345", "refundStatus": "PENDING"})).into_response()
}

async fn token() -> Json<Value> {
    Json(json!({"access_token": "Atza|orders", "token_type": "bearer", "expires_in": 3600}))
}

async fn amazon_confirm(State(told): State<Shared>, Path(order): Path<String>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    assert_eq!(headers.get("x-amz-access-token").and_then(|v| v.to_str().ok()), Some("Atza|orders"));
    if order == "303-REFUSE" && !told.lock().unwrap().amazon_takes_all {
        let refused = json!({"errors": [{"code": "InvalidInput", "message": "The order has shipped already"}]});
        return (StatusCode::BAD_REQUEST, Json(refused)).into_response();
    }
    told.lock().unwrap().record("confirmShipment", &order, body);
    StatusCode::NO_CONTENT.into_response()
}

async fn ebay_fulfil(State(told): State<Shared>, Path(order): Path<String>, Json(body): Json<Value>) -> Response {
    told.lock().unwrap().record("shipping_fulfillment", &order, body);
    (StatusCode::CREATED, [("location", "https://api.ebay.com/sell/fulfillment/v1/order/x/shipping_fulfillment/1")]).into_response()
}

async fn stand_in() -> (String, Shared) {
    let told: Shared = Arc::default();
    let app = Router::new()
        .route("/admin/api/2025-07/graphql.json", post(shopify))
        .route("/wp-json/wc/v3/orders/{order}/notes", post(woo_note))
        .route("/wp-json/wc/v3/orders/{order}", put(woo_status))
        .route("/wp-json/wc/v3/orders/{order}/refunds", post(woo_refund))
        .route("/sell/fulfillment/v1/order/{order}/issue_refund", post(ebay_refund))
        .route("/auth/o2/token", post(token))
        .route("/orders/v0/orders/{order}/shipmentConfirmation", post(amazon_confirm))
        .route("/sell/fulfillment/v1/order/{order}/shipping_fulfillment", post(ebay_fulfil))
        .with_state(told.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, told)
}

/// Four connected channels on the stand-in, each selling the mug and the vase, with ten of
/// each at the central warehouse.
async fn channels(server: &Server, base: &str) {
    crate::orders::shop(server, 20).await;
    let t = &server.admin;
    let receipt = json!({"sku": "VASE-1", "location": "central", "quantity": 10, "kind": "receipt", "reason": "opening"});
    assert_eq!(server.post(t, "/api/v1/inventory/movements", receipt).await.0, 201);
    let connectors = [
        ("shop", "web", json!({"kind": "shopify", "base_url": base, "webhook_secrets": ["shpss_shop"], "credentials": {"access_token": "shpat_ordo", "location_id": "1"}})),
        ("woo", "b2b", json!({"kind": "woocommerce", "base_url": base, "credentials": {"consumer_key": "ck_ordo", "consumer_secret": "cs_ordo"}})),
        ("amz", "marketplace", json!({"kind": "amazon", "base_url": base, "credentials": {
            "client_id": "amzn1.application-oa2-client.ordo", "client_secret": "lwa", "refresh_token": "Atzr|r",
            "marketplace_ids": ["A1PA6795UKMFR9"], "seller_id": "A2SELLER", "token_url": format!("{base}/auth/o2/token")}})),
        ("ebay", "marketplace", json!({"kind": "ebay", "base_url": base, "credentials": {"access_token": "v^1.1#fulfil"}})),
    ];
    for (code, kind, connector) in connectors {
        let channel = json!({"code": code, "name": code, "kind": kind, "currency": "EUR"});
        assert_eq!(server.post(t, "/api/v1/channels", channel).await.0, 201);
        for (channel_sku, sku) in [("MUG", "MUG-1"), ("VASE", "VASE-1")] {
            let listing = json!({"channel": code, "channel_sku": format!("{code}-{channel_sku}"), "sku": sku, "price": "12.90"});
            assert_eq!(server.post(t, "/api/v1/listings", listing).await.0, 201);
        }
        let (status, answer) = server.put(t, &format!("/api/v1/channels/{code}/connector"), connector).await;
        assert_eq!(status, 200, "{answer}");
    }
}

/// An order from `channel` for three mugs (the channel's line `mugs`) and a vase (`vase`): its id.
async fn place(server: &Server, channel: &str, external_id: &str, mugs: &str, vase: &str) -> String {
    let mut body = crate::orders::order(external_id, json!([
        {"sku": format!("{channel}-MUG"), "quantity": 3, "unit_price": "12.90", "item_id": mugs},
        {"sku": format!("{channel}-VASE"), "quantity": 1, "unit_price": "25.00", "item_id": vase},
    ]));
    body["channel"] = json!(channel);
    let (status, placed) = server.post(&server.admin, "/api/v1/orders", body).await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["status"], "allocated", "{placed}");
    placed["id"].as_str().unwrap().to_owned()
}

async fn ship(server: &Server, order: &str, tracking: &str, lines: Option<Value>) {
    let mut body = json!({"location": "central", "carrier": "DHL", "tracking_number": tracking});
    if let Some(lines) = lines {
        body["lines"] = lines;
    }
    let (status, answer) = server.post(&server.admin, &format!("/api/v1/orders/{order}/shipments"), body).await;
    assert_eq!(status, 201, "{answer}");
}

async fn confirm(server: &Server, channel: &str) -> ordo_app::ConfirmRound {
    let http = ordo_connectors::Http::new().unwrap();
    let target = server.ordo.channels().push_targets().await.unwrap().into_iter().find(|t| t.channel == channel).expect("the channel is pushed to");
    let confirmer = ordo_connectors::Confirmer::for_target(&http, &target).unwrap();
    server.ordo.channels().confirm_orders(channel, &confirmer).await.unwrap()
}

async fn open_failures(server: &Server) -> Vec<Value> {
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?kind=sync_failure&status=unresolved").await;
    open.as_array().unwrap().clone()
}

fn calls(told: &Shared) -> Vec<(String, String, Value)> {
    told.lock().unwrap().calls.clone()
}

async fn each_parcel_confirms_back_to_its_channel_with_carrier_tracking_and_its_lines(server: Server) {
    let (base, told) = stand_in().await;
    channels(&server, &base).await;

    // Shopify: two mugs leave first, then the last mug with the vase: two fulfillments.
    let order = place(&server, "shop", "5001", "111", "222").await;
    ship(&server, &order, "JD-1", Some(json!([{"line": 1, "quantity": 2}]))).await;
    let (_, health) = server.get(&server.admin, "/api/v1/channels/shop/sync").await;
    assert_eq!(health["outbound"]["confirmations"]["pending"], 1, "{health}");
    let round = confirm(&server, "shop").await;
    assert_eq!((round.claimed, round.confirmed), (1, 1), "{round:?}");
    ship(&server, &order, "JD-2", None).await;
    assert_eq!(confirm(&server, "shop").await.confirmed, 1);
    let shopify: Vec<Value> = calls(&told).into_iter().filter(|c| c.0 == "fulfillmentCreate").map(|c| c.2).collect();
    assert_eq!(shopify.len(), 2);
    assert_eq!(shopify[0]["trackingInfo"], json!({"company": "DHL", "number": "JD-1"}));
    assert_eq!(shopify[0]["lineItemsByFulfillmentOrder"][0]["fulfillmentOrderLineItems"], json!([{"id": "gid://shopify/FulfillmentOrderLineItem/1110", "quantity": 2}]));
    assert_eq!(shopify[1]["trackingInfo"]["number"], "JD-2");
    assert_eq!(
        shopify[1]["lineItemsByFulfillmentOrder"][0]["fulfillmentOrderLineItems"],
        json!([{"id": "gid://shopify/FulfillmentOrderLineItem/1110", "quantity": 1}, {"id": "gid://shopify/FulfillmentOrderLineItem/2220", "quantity": 1}])
    );
    let (_, health) = server.get(&server.admin, "/api/v1/channels/shop/sync").await;
    assert_eq!(health["outbound"]["confirmations"]["pending"], 0, "{health}");
    assert!(health["outbound"]["confirmations"]["p95_latency_ms"].as_i64().is_some(), "{health}");

    // WooCommerce: a note the customer reads for each parcel; the last one completes the order.
    let order = place(&server, "woo", "812", "9001", "9002").await;
    ship(&server, &order, "WOO-1", Some(json!([{"line": 2, "quantity": 1}]))).await;
    confirm(&server, "woo").await;
    ship(&server, &order, "WOO-2", None).await;
    confirm(&server, "woo").await;
    let woo: Vec<(String, String, Value)> = calls(&told).into_iter().filter(|c| c.0 == "note" || c.0 == "status").collect();
    let said: Vec<(&str, &str)> = woo.iter().map(|(what, order, _)| (what.as_str(), order.as_str())).collect();
    assert_eq!(said, [("note", "812"), ("note", "812"), ("status", "812")]);
    assert_eq!(woo[0].2["note"], "Shipped with DHL, tracking number WOO-1: 1 × item 9002.");
    assert_eq!(woo[0].2["customer_note"], true);
    assert_eq!(woo[2].2, json!({"status": "completed"}));

    // Amazon and eBay: the whole order in one parcel, by their own line ids.
    let amazon = place(&server, "amz", "303-1234567-1234567", "51234", "51235").await;
    ship(&server, &amazon, "AMZ-TRACK", None).await;
    assert_eq!(confirm(&server, "amz").await.confirmed, 1);
    let ebay = place(&server, "ebay", "12-34567-89012", "10001", "10002").await;
    ship(&server, &ebay, "EB-TRACK", None).await;
    assert_eq!(confirm(&server, "ebay").await.confirmed, 1);
    let amazon_call = calls(&told).into_iter().find(|c| c.0 == "confirmShipment").unwrap();
    assert_eq!(amazon_call.1, "303-1234567-1234567");
    let package = &amazon_call.2["packageDetail"];
    assert_eq!((package["carrierCode"].as_str(), package["trackingNumber"].as_str()), (Some("DHL"), Some("AMZ-TRACK")));
    assert_eq!(package["orderItems"], json!([{"orderItemId": "51234", "quantity": 3}, {"orderItemId": "51235", "quantity": 1}]));
    assert_eq!(amazon_call.2["marketplaceId"], "A1PA6795UKMFR9");
    let ebay_call = calls(&told).into_iter().find(|c| c.0 == "shipping_fulfillment").unwrap();
    assert_eq!(ebay_call.1, "12-34567-89012");
    assert_eq!(ebay_call.2["lineItems"], json!([{"lineItemId": "10001", "quantity": 3}, {"lineItemId": "10002", "quantity": 1}]));
    assert_eq!((ebay_call.2["shippingCarrierCode"].as_str(), ebay_call.2["trackingNumber"].as_str()), (Some("DHL"), Some("EB-TRACK")));

    // Nothing is told twice.
    let before = calls(&told).len();
    for channel in ["shop", "woo", "amz", "ebay"] {
        assert_eq!(confirm(&server, channel).await.claimed, 0);
    }
    assert_eq!(calls(&told).len(), before);
}

async fn refusals_and_cancellations_a_channel_cannot_take_go_to_a_person(server: Server) {
    let (base, told) = stand_in().await;
    channels(&server, &base).await;
    let t = &server.admin;
    // Amazon refuses a shipment it thinks shipped: ops is told, with Amazon's words.
    let refused = place(&server, "amz", "303-REFUSE", "1", "2").await;
    ship(&server, &refused, "AMZ-1", None).await;
    let round = confirm(&server, "amz").await;
    assert_eq!((round.refused, round.confirmed), (1, 0), "{round:?}");
    let open = open_failures(&server).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["subject"], format!("order:{refused}"));
    assert_eq!(open[0]["owner_role"], "ops");
    let (_, detail) = server.get(t, &format!("/api/v1/exceptions/{}", open[0]["id"].as_str().unwrap())).await;
    assert!(detail.to_string().contains("The order has shipped already"), "{detail}");
    assert_eq!(confirm(&server, "amz").await.claimed, 0, "a refusal is not tried again");
    // Someone fixes it on Amazon's side and sends it again: taken, and the exception resolves.
    told.lock().unwrap().amazon_takes_all = true;
    let resent = server.ordo.channels().resend_confirmations("amz", None, &ordo_app::Actor::system()).await.unwrap();
    assert_eq!(resent, 1);
    assert_eq!(confirm(&server, "amz").await.confirmed, 1);
    assert!(open_failures(&server).await.is_empty(), "resolved once Amazon took it");

    // Amazon's API cannot cancel: a person is told at once, and nothing is sent.
    let cancelled = place(&server, "amz", "303-CANCEL", "3", "4").await;
    let (status, _) = server.post(t, &format!("/api/v1/orders/{cancelled}/cancel"), json!({"reason": "address cannot be served"})).await;
    assert_eq!(status, 200);
    assert_eq!(confirm(&server, "amz").await.claimed, 0);
    assert!(open_failures(&server).await.iter().any(|e| e["subject"] == format!("order:{cancelled}")));

    // Shopify's can: orderCancel, refunded to the card, with Ordo's reason as the staff note.
    let order = place(&server, "shop", "5002", "111", "222").await;
    assert_eq!(server.post(t, &format!("/api/v1/orders/{order}/cancel"), json!({"reason": "fraud suspected"})).await.0, 200);
    assert_eq!(confirm(&server, "shop").await.confirmed, 1);
    let cancel = calls(&told).into_iter().find(|c| c.0 == "orderCancel").unwrap();
    assert_eq!((cancel.1.as_str(), cancel.2["note"].as_str()), ("5002", Some("fraud suspected")));

    // A cancellation the channel made itself is not echoed back.
    place(&server, "shop", "5003", "111", "222").await;
    assert_eq!(server.post(t, "/api/v1/channels/shop/orders/5003/cancel", json!({})).await.0, 200);
    assert_eq!(confirm(&server, "shop").await.claimed, 0);

    // WooCommerce is down for a while: the cancellation waits and goes through once it is back.
    told.lock().unwrap().woo_down = 1;
    let order = place(&server, "woo", "813", "1", "2").await;
    assert_eq!(server.post(t, &format!("/api/v1/orders/{order}/cancel"), json!({"reason": "customer asked"})).await.0, 200);
    let down = confirm(&server, "woo").await;
    assert_eq!((down.failed, down.confirmed), (1, 0), "{down:?}");
    let (_, health) = server.get(t, "/api/v1/channels/woo/sync").await;
    assert_eq!(health["outbound"]["confirmations"]["pending"], 1, "{health}");
    assert_eq!(confirm(&server, "woo").await.claimed, 0, "it waits out its backoff");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(confirm(&server, "woo").await.confirmed, 1);
    let status = calls(&told).into_iter().find(|c| c.0 == "status").unwrap();
    assert_eq!((status.1.as_str(), &status.2), ("813", &json!({"status": "cancelled"})));
}

async fn refunds_decided_in_ordo_go_back_to_the_channels_that_take_them(server: Server) {
    let (base, told) = stand_in().await;
    channels(&server, &base).await;
    let t = &server.admin;
    // One mug of the three is given back on each channel, after the order shipped.
    for (channel, external_id, mugs, vase) in [("shop", "5001", "111", "222"), ("woo", "814", "9001", "9002"), ("ebay", "12-34567-00001", "10001", "10002"), ("amz", "303-REFUND", "1", "2")] {
        let order = place(&server, channel, external_id, mugs, vase).await;
        ship(&server, &order, "JD-R", None).await;
        let body = json!({"lines": [{"line": 1, "quantity": 1}], "reason": "chipped on arrival"});
        let (status, answer) = server.post(t, &format!("/api/v1/orders/{order}/refunds"), body).await;
        assert_eq!(status, 201, "{answer}");
    }
    let amazon = server.get(t, "/api/v1/channels/amz/orders/303-REFUND").await.1["id"].as_str().unwrap().to_owned();
    for channel in ["shop", "woo", "ebay", "amz"] {
        confirm(&server, channel).await;
    }
    let calls = calls(&told);
    let shopify = &calls.iter().find(|c| c.0 == "refundCreate").expect("Shopify was told").2;
    assert_eq!(shopify["refundLineItems"], json!([{"lineItemId": "gid://shopify/LineItem/111", "quantity": 1, "restockType": "NO_RESTOCK"}]));
    assert_eq!(shopify["transactions"][0]["parentId"], "gid://shopify/OrderTransaction/9");
    assert_eq!(shopify["transactions"][0]["amount"], "12.90");
    let woo = &calls.iter().find(|c| c.0 == "refund").expect("WooCommerce was told");
    assert_eq!((woo.1.as_str(), woo.2["amount"].as_str(), woo.2["api_refund"].as_bool()), ("814", Some("12.90"), Some(true)));
    assert_eq!(woo.2["line_items"], json!([{"id": "9001", "quantity": 1, "refund_total": "12.90"}]));
    let ebay = &calls.iter().find(|c| c.0 == "issue_refund").expect("eBay was told");
    assert_eq!(ebay.2["refundItems"], json!([{"lineItemId": "10001", "refundAmount": {"value": "12.90", "currency": "EUR"}}]));
    // Amazon's API cannot refund: ops is told to, and nothing was sent.
    assert!(!calls.iter().any(|c| c.1 == "303-REFUND" && c.0 != "confirmShipment"));
    let open = open_failures(&server).await;
    assert!(open.iter().any(|e| e["subject"] == format!("order:{amazon}")), "{open:?}");
}

crate::common::on_both_engines!(each_parcel_confirms_back_to_its_channel_with_carrier_tracking_and_its_lines, each_parcel_confirms_back_to_its_channel_with_carrier_tracking_and_its_lines_on_sqlite, each_parcel_confirms_back_to_its_channel_with_carrier_tracking_and_its_lines_on_postgres);

crate::common::on_both_engines!(refusals_and_cancellations_a_channel_cannot_take_go_to_a_person, refusals_and_cancellations_a_channel_cannot_take_go_to_a_person_on_sqlite, refusals_and_cancellations_a_channel_cannot_take_go_to_a_person_on_postgres);

crate::common::on_both_engines!(refunds_decided_in_ordo_go_back_to_the_channels_that_take_them, refunds_decided_in_ordo_go_back_to_the_channels_that_take_them_on_sqlite, refunds_decided_in_ordo_go_back_to_the_channels_that_take_them_on_postgres);

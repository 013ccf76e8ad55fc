//! Channel connectors: signed Shopify and WooCommerce webhooks over HTTP into the inbox and on
//! to orders, once; secrets that are never shown; deliveries that cannot be mapped kept,
//! raised and replayed.

use std::time::Duration;

use ordo_app::domain::access::Role;
use ordo_channels::signature::base64_hmac;
use serde_json::{json, Value};

use crate::common::{on_both_engines, Server};
use crate::orders::shop;

const SHOPIFY_ORDER: &[u8] = include_bytes!("../../../channels/tests/fixtures/shopify-orders-create.json");
const WOO_ORDER: &[u8] = include_bytes!("../../../channels/tests/fixtures/woocommerce-order-created.json");
const SECRET: &str = "shpss_first-secret-of-the-shop";
const NEXT_SECRET: &str = "shpss_second-secret-of-the-shop";

impl Server {
    /// Posts a webhook delivery as the channel sends it; the status and the answer.
    async fn deliver(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, Value) {
        let mut request = self.client.post(format!("{}{path}", self.base)).header("content-type", "application/json").body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn shopify(&self, topic: &str, webhook_id: &str, body: &[u8], secret: &str) -> (u16, Value) {
        let headers = [
            ("x-shopify-topic", topic.to_owned()),
            ("x-shopify-hmac-sha256", base64_hmac(body, secret)),
            ("x-shopify-webhook-id", webhook_id.to_owned()),
            ("x-shopify-shop-domain", "ordo-test.myshopify.com".to_owned()),
        ];
        self.deliver("/webhooks/shopify/web", &headers, body).await
    }

    /// Waits until `path` answers 200 (the inbox is processed in the background).
    async fn eventually(&self, path: &str) -> Value {
        for _ in 0..200 {
            let (status, answer) = self.get(&self.admin, path).await;
            if status == 200 {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} never answered 200");
    }

    /// Waits until the channel's inbox has nothing pending; its deliveries, newest first.
    async fn settled_inbox(&self, channel: &str) -> Vec<Value> {
        for _ in 0..200 {
            let (status, inbox) = self.get(&self.admin, &format!("/api/v1/channels/{channel}/inbox")).await;
            assert_eq!(status, 200, "{inbox}");
            let inbox = inbox.as_array().unwrap().clone();
            if inbox.iter().all(|d| d["status"] != "pending") {
                return inbox;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the inbox of {channel} never settled");
    }
}

fn shopify_order(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut order: Value = serde_json::from_slice(SHOPIFY_ORDER).unwrap();
    edit(&mut order);
    order.to_string().into_bytes()
}

/// The web shop of the order tests, its listings for the Shopify fixture, and a connector.
async fn shopify_shop(server: &Server) {
    shop(server, 10).await;
    let t = &server.admin;
    for body in [
        json!({"channel": "web", "channel_sku": "SHOP-MUG-BLUE", "sku": "MUG-1", "price": "14.90"}),
        json!({"channel": "web", "channel_sku": "49148385", "sku": "VASE-1", "price": "25.00"}),
    ] {
        let (status, answer) = server.post(t, "/api/v1/listings", body).await;
        assert_eq!(status, 201, "{answer}");
    }
    let receipt = json!({"sku": "VASE-1", "location": "central", "quantity": 5, "kind": "receipt", "reason": "opening"});
    assert_eq!(server.post(t, "/api/v1/inventory/movements", receipt).await.0, 201);
    let connector = json!({"kind": "shopify", "base_url": "https://ordo-test.myshopify.com", "webhook_secrets": [SECRET]});
    let (status, answer) = server.put(t, "/api/v1/channels/web/connector", connector).await;
    assert_eq!(status, 200, "an admin's connector applies at once: {answer}");
    assert_eq!(answer["webhook_secrets"], 1);
    assert!(!answer.to_string().contains(SECRET), "secrets are never returned: {answer}");
}

async fn shopify_webhooks_make_orders_once(server: Server) {
    shopify_shop(&server).await;
    let path = "/api/v1/channels/web/orders/820982911946154508";

    // A wrong or missing signature: 401, and nothing kept.
    let (status, answer) = server.shopify("orders/create", "w-0", SHOPIFY_ORDER, "not-the-secret").await;
    assert_eq!((status, answer["error"]["code"].as_str()), (401, Some("invalid_signature")), "{answer}");
    let (status, _) = server.deliver("/webhooks/shopify/web", &[("x-shopify-topic", "orders/create".into())], SHOPIFY_ORDER).await;
    assert_eq!(status, 401);
    assert!(server.settled_inbox("web").await.is_empty(), "a refused delivery keeps nothing");

    // Signed: kept, answered at once, and made into one order.
    let (status, answer) = server.shopify("orders/create", "w-1", SHOPIFY_ORDER, SECRET).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")), "{answer}");
    let order = server.eventually(path).await;
    assert_eq!(order["external_id"], "820982911946154508");
    let skus: Vec<&str> = order["lines"].as_array().unwrap().iter().map(|l| l["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["MUG-1", "VASE-1"], "by the listing of its SKU, then of its variant id");
    assert_eq!(order["total"], "63.75", "{order}");

    // The same delivery again changes nothing.
    let (status, answer) = server.shopify("orders/create", "w-1", SHOPIFY_ORDER, SECRET).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("duplicate")));
    let inbox = server.settled_inbox("web").await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0]["status"], "processed", "{}", inbox[0]);

    // An update older than what Ordo has changes nothing; a cancellation cancels.
    let older = shopify_order(|o| {
        o["updated_at"] = "2026-11-30T10:15:01-05:00".into();
        o["shipping_address"]["city"] = "Potsdam".into();
    });
    assert_eq!(server.shopify("orders/updated", "w-2", &older, SECRET).await.0, 200);
    let inbox = server.settled_inbox("web").await;
    assert_eq!(inbox[0]["status"], "ignored", "{}", inbox[0]);
    assert_eq!(server.get(&server.admin, path).await.1["ship_to"]["city"], "Berlin");

    // A rotation: while two secrets are in force, either signs.
    let rotation = json!({"kind": "shopify", "webhook_secrets": [NEXT_SECRET, SECRET]});
    assert_eq!(server.put(&server.admin, "/api/v1/channels/web/connector", rotation).await.0, 200);
    let cancelled = shopify_order(|o| {
        o["updated_at"] = "2026-11-30T11:00:00-05:00".into();
        o["cancelled_at"] = "2026-11-30T11:00:00-05:00".into();
    });
    assert_eq!(server.shopify("orders/cancelled", "w-3", &cancelled, SECRET).await.0, 200);
    server.settled_inbox("web").await;
    assert_eq!(server.get(&server.admin, path).await.1["status"], "cancelled");

    // A body without a shipping address is kept and raises an exception, never a 5xx.
    let no_address = shopify_order(|o| {
        o["id"] = 820982911946154509u64.into();
        o["shipping_address"] = Value::Null;
    });
    let (status, _) = server.shopify("orders/create", "w-4", &no_address, NEXT_SECRET).await;
    assert_eq!(status, 200);
    let inbox = server.settled_inbox("web").await;
    assert_eq!((inbox[0]["status"].as_str(), inbox[0]["error_field"].as_str()), (Some("failed"), Some("shipping_address")), "{}", inbox[0]);
    assert_eq!(server.get(&server.admin, "/api/v1/channels/web/orders/820982911946154509").await.0, 404);
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?status=open&kind=channel_mapping").await;
    let raised: Vec<&Value> = open.as_array().unwrap().iter().filter(|e| e["kind"] == "channel_mapping").collect();
    assert_eq!(raised.len(), 1, "{open}");
    assert_eq!(raised[0]["owner_role"], "integration");

    // An unknown SKU waits for its listing; replayed then, it becomes the order.
    let unknown = shopify_order(|o| {
        o["id"] = 820982911946154510u64.into();
        o["line_items"][0]["sku"] = "SHOP-NEW".into();
        o["line_items"][0]["variant_id"] = 1.into();
        o["line_items"][0]["product_id"] = 2.into();
    });
    server.shopify("orders/create", "w-5", &unknown, NEXT_SECRET).await;
    let inbox = server.settled_inbox("web").await;
    assert_eq!(inbox[0]["error_field"], "line_items[0].sku", "{}", inbox[0]);
    let listing = json!({"channel": "web", "channel_sku": "SHOP-NEW", "sku": "MUG-1", "price": "14.90"});
    assert_eq!(server.post(&server.admin, "/api/v1/listings", listing).await.0, 201);
    let id = inbox[0]["id"].as_str().unwrap();
    let (status, replayed) = server.post(&server.admin, &format!("/api/v1/channels/web/inbox/{id}/replay"), json!({})).await;
    assert_eq!(status, 200, "{replayed}");
    let order = server.eventually("/api/v1/channels/web/orders/820982911946154510").await;
    assert_eq!(order["lines"][0]["sku"], "MUG-1");
    let (_, health) = server.get(&server.admin, "/api/v1/channels/web/sync").await;
    assert_eq!((health["inbound"]["pending"].as_i64(), health["inbound"]["failed"].as_i64()), (Some(0), Some(1)), "{health}");
    assert!(health["inbound"]["last_received_at"].is_string());
    assert_eq!(health["outbound"]["pending"], 0);
}

on_both_engines!(shopify_webhooks_make_orders_once, shopify_webhooks_make_orders_once_on_sqlite, shopify_webhooks_make_orders_once_on_postgres);

#[tokio::test]
async fn a_connector_change_by_ops_waits_for_another_person_and_its_secrets_never_show() {
    let server = Server::start().await;
    shop(&server, 0).await;
    let ops = server.token(Role::Ops).await;
    let connector = json!({"kind": "woocommerce", "base_url": "https://portal.example.com", "webhook_secrets": [SECRET], "credentials": {"consumer_secret": "cs_very-secret"}});
    let (status, request) = server.put(&ops, "/api/v1/channels/web/connector", connector).await;
    assert_eq!(status, 202, "{request}");
    assert!(!request.to_string().contains(SECRET) && !request.to_string().contains("cs_very"), "{request}");
    assert_eq!(request["change"]["connector"]["webhook_secrets"], "secret changed");
    assert_eq!(server.get(&server.admin, "/api/v1/channels/web/connector").await.0, 404, "not before it is approved");
    let id = request["id"].as_str().unwrap();
    let (status, _) = server.post(&ops, &format!("/api/v1/change-requests/{id}/approve"), json!({})).await;
    assert_eq!(status, 403, "the proposer cannot approve");
    let (status, approved) = server.post(&server.admin, &format!("/api/v1/change-requests/{id}/approve"), json!({})).await;
    assert_eq!(status, 200, "{approved}");
    let (_, connector) = server.get(&ops, "/api/v1/channels/web/connector").await;
    assert_eq!((connector["kind"].as_str(), connector["webhook_secrets"].as_i64(), connector["credentials_set"].as_bool()), (Some("woocommerce"), Some(1), Some(true)));
    let (_, audit) = server.get(&server.admin, "/api/v1/audit?limit=500").await;
    let audit = audit.to_string();
    assert!(!audit.contains(SECRET) && !audit.contains("cs_very"), "the audit log says a secret changed, never what it is");
    assert!(audit.contains("secret changed"));

    // The ping WooCommerce sends when a webhook is saved: 200, nothing kept.
    let (status, _) = server.deliver("/webhooks/woocommerce/web", &[], b"webhook_id=14").await;
    assert_eq!(status, 200);

    // Without a secret key, Ordo refuses to store a secret.
    let keyless = server.ordo.with_settings(ordo_app::Settings { secret_key: None, ..server.ordo.settings().clone() });
    let new = serde_json::from_value(json!({"kind": "shopify", "webhook_secrets": [SECRET]})).unwrap();
    match keyless.channels().put_connector("web", new, &ordo_app::Actor::system()).await {
        Err(ordo_app::AppError::Invalid(e)) => assert_eq!(e.field, "webhook_secrets"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_woocommerce_order_maps_its_product_ids_and_numeric_prices() {
    let server = Server::start().await;
    shop(&server, 10).await;
    let t = &server.admin;
    for (channel_sku, sku) in [("93", "MUG-1"), ("23", "VASE-1"), ("WOO-TRIO", "MUG-1")] {
        let listing = json!({"channel": "web", "channel_sku": channel_sku, "sku": sku, "price": "3.00"});
        assert_eq!(server.post(t, "/api/v1/listings", listing).await.0, 201);
    }
    let connector = json!({"kind": "woocommerce", "webhook_secrets": [SECRET]});
    assert_eq!(server.put(t, "/api/v1/channels/web/connector", connector).await.0, 200);
    let headers = [
        ("x-wc-webhook-topic", "order.created".to_owned()),
        ("x-wc-webhook-signature", base64_hmac(WOO_ORDER, SECRET)),
        ("x-wc-webhook-delivery-id", "9f1c".to_owned()),
        ("x-wc-webhook-source", "https://portal.example.com/".to_owned()),
    ];
    let (status, answer) = server.deliver("/webhooks/woocommerce/web", &headers, WOO_ORDER).await;
    assert_eq!(status, 200, "{answer}");
    let order = server.eventually("/api/v1/channels/web/orders/727").await;
    let lines = order["lines"].as_array().unwrap();
    assert_eq!((lines[0]["sku"].as_str(), lines[0]["unit_price"].as_str()), (Some("MUG-1"), Some("3.00")), "{order}");
    assert_eq!(lines[1]["sku"], "VASE-1", "the variation's listing");
    // Three for 10.00 less a 1.00 coupon: the unit rounded up, the discount taking the rest.
    assert_eq!((lines[2]["unit_price"].as_str(), lines[2]["discount"].as_str()), (Some("3.34"), Some("1.02")), "{order}");
    assert_eq!(order["placed_at"], "2026-11-30T16:28:02Z", "date_created_gmt, as UTC");
    assert_eq!(order["total"], "39.03", "WooCommerce's total");
    let (status, _) = server.deliver("/webhooks/woocommerce/web", &headers[..2], b"{\"id\": 727}").await;
    assert_eq!(status, 401, "a body the signature was not made for");
}

/// The `web` channel as a WooCommerce portal: the fixture's products listed, and a connector.
async fn woocommerce_portal(server: &Server) {
    shop(server, 10).await;
    let t = &server.admin;
    for (channel_sku, sku) in [("93", "MUG-1"), ("23", "VASE-1"), ("WOO-TRIO", "MUG-1")] {
        let listing = json!({"channel": "web", "channel_sku": channel_sku, "sku": sku, "price": "3.00"});
        assert_eq!(server.post(t, "/api/v1/listings", listing).await.0, 201);
    }
    let receipt = json!({"sku": "VASE-1", "location": "central", "quantity": 5, "kind": "receipt", "reason": "opening"});
    assert_eq!(server.post(t, "/api/v1/inventory/movements", receipt).await.0, 201);
    let connector = json!({"kind": "woocommerce", "webhook_secrets": [SECRET]});
    assert_eq!(server.put(t, "/api/v1/channels/web/connector", connector).await.0, 200);
}

impl Server {
    async fn woocommerce(&self, topic: &str, delivery_id: &str, body: &[u8]) -> (u16, Value) {
        let headers = [
            ("x-wc-webhook-topic", topic.to_owned()),
            ("x-wc-webhook-signature", base64_hmac(body, SECRET)),
            ("x-wc-webhook-delivery-id", delivery_id.to_owned()),
            ("x-wc-webhook-source", "https://portal.example.com/".to_owned()),
        ];
        self.deliver("/webhooks/woocommerce/web", &headers, body).await
    }

    /// What `sku` has on hand and reserved, over every location.
    async fn stock_of(&self, sku: &str) -> (i64, i64) {
        let (_, levels) = self.get(&self.admin, &format!("/api/v1/inventory?sku={sku}")).await;
        let sum = |field: &str| levels.as_array().unwrap().iter().map(|l| l[field].as_i64().unwrap()).sum();
        (sum("on_hand"), sum("reserved"))
    }
}

/// WooCommerce's `order.deleted` (the order trashed or deleted; its body only the id) cancels
/// the order and gives its stock back, and the same delivery again changes nothing.
async fn a_woocommerce_order_deleted_cancels_the_order_and_releases_its_stock(server: Server) {
    woocommerce_portal(&server).await;
    assert_eq!(server.woocommerce("order.created", "d-1", WOO_ORDER).await.0, 200);
    let order = server.eventually("/api/v1/channels/web/orders/727").await;
    assert_eq!(order["status"], "allocated", "{order}");
    assert_eq!(server.stock_of("MUG-1").await, (10, 5), "two mugs and the trio of three reserved");
    assert_eq!(server.stock_of("VASE-1").await, (5, 1));

    let deleted = br#"{"id":727}"#;
    assert_eq!(server.woocommerce("order.deleted", "d-2", deleted).await.0, 200);
    let inbox = server.settled_inbox("web").await;
    assert_eq!(inbox[0]["status"], "processed", "{}", inbox[0]);
    let order = server.get(&server.admin, "/api/v1/channels/web/orders/727").await.1;
    assert_eq!(order["status"], "cancelled", "{order}");
    assert_eq!((server.stock_of("MUG-1").await, server.stock_of("VASE-1").await), ((10, 0), (5, 0)), "every unit given back");
    assert_eq!(server.woocommerce("order.deleted", "d-2", deleted).await.1["status"], "duplicate");
    assert_eq!(server.settled_inbox("web").await.len(), 2);
}

on_both_engines!(
    a_woocommerce_order_deleted_cancels_the_order_and_releases_its_stock,
    a_woocommerce_order_deleted_cancels_the_order_and_releases_its_stock_on_sqlite,
    a_woocommerce_order_deleted_cancels_the_order_and_releases_its_stock_on_postgres
);

/// Shopify's `app/uninstalled` pauses the connector; an order delivered meanwhile is kept,
/// answered 200 and not processed. Resumed, the connector processes what waited.
async fn shopify_app_uninstalled_pauses_the_connector_and_keeps_what_arrives_for_when_it_resumes(server: Server) {
    shopify_shop(&server).await;
    let shop = br#"{"id":548380009,"name":"Ordo Test","email":"owner@ordo-test.example","domain":"ordo-test.myshopify.com","myshopify_domain":"ordo-test.myshopify.com","currency":"EUR"}"#;
    assert_eq!(server.shopify("app/uninstalled", "u-1", shop, SECRET).await.0, 200);
    let inbox = server.settled_inbox("web").await;
    assert_eq!(inbox[0]["status"], "processed", "{}", inbox[0]);
    assert!(inbox[0]["outcome"].as_str().unwrap().contains("paused"), "{}", inbox[0]);
    let (_, connector) = server.get(&server.admin, "/api/v1/channels/web/connector").await;
    assert_eq!(connector["paused"], true, "{connector}");

    let (status, answer) = server.shopify("orders/create", "u-2", SHOPIFY_ORDER, SECRET).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")), "kept while paused: {answer}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let path = "/api/v1/channels/web/orders/820982911946154508";
    assert_eq!(server.get(&server.admin, path).await.0, 404, "no order while paused");
    let inbox = server.get(&server.admin, "/api/v1/channels/web/inbox").await.1;
    assert_eq!((inbox[0]["delivery_id"].as_str(), inbox[0]["status"].as_str()), (Some("u-2"), Some("pending")), "{}", inbox[0]);

    // docs/connectors.md: "`/resume` picks up what waited": at once, not at the waiting
    // delivery's next look a minute later.
    let (status, resumed) = server.post(&server.admin, "/api/v1/channels/web/connector/resume", json!({})).await;
    assert_eq!((status, resumed["paused"].as_bool()), (200, Some(false)), "{resumed}");
    let order = server.eventually(path).await;
    assert_eq!(order["total"], "63.75", "{order}");
    let inbox = server.settled_inbox("web").await;
    assert!(inbox.iter().all(|d| d["status"] == "processed"), "{inbox:?}");
    let kept = inbox.iter().find(|d| d["delivery_id"] == "u-2").unwrap();
    assert_eq!(kept["attempts"], 1, "the looks while paused are not attempts: {kept}");
}

on_both_engines!(
    shopify_app_uninstalled_pauses_the_connector_and_keeps_what_arrives_for_when_it_resumes,
    shopify_app_uninstalled_pauses_the_connector_and_keeps_what_arrives_for_when_it_resumes_on_sqlite,
    shopify_app_uninstalled_pauses_the_connector_and_keeps_what_arrives_for_when_it_resumes_on_postgres
);

/// An EasyPost tracker event for `tracking` in `status`.
fn tracker_event(tracking: &str, status: &str, at: &str) -> Vec<u8> {
    json!({
        "id": format!("evt_{status}_{tracking}"),
        "object": "Event",
        "mode": "production",
        "description": "tracker.updated",
        "previous_attributes": {"status": "pre_transit"},
        "result": {
            "id": format!("trk_{tracking}"),
            "object": "Tracker",
            "tracking_code": tracking,
            "status": status,
            "status_detail": "arrived_at_facility",
            "carrier": "DHL",
            "tracking_details": [{"object": "TrackingDetail", "datetime": at, "message": format!("{status} at the hub"), "status": status}],
            "updated_at": at
        },
        "created_at": at,
        "updated_at": at
    })
    .to_string()
    .into_bytes()
}

impl Server {
    async fn easypost(&self, body: &[u8], secret: &str) -> (u16, Value) {
        let signature = ordo_channels::signature::easypost_signature(body, secret);
        self.deliver("/webhooks/easypost", &[("x-hmac-signature", signature)], body).await
    }
}

#[tokio::test]
async fn carrier_tracking_lands_on_the_shipment_and_problems_raise_exceptions() {
    let server = Server::start().await;
    shop(&server, 10).await;
    let t = &server.admin;
    let mut ids = Vec::new();
    for (n, tracking) in [(1, "JD0140000001"), (2, "JD0140000002")] {
        let order = crate::orders::order(&format!("track-{n}"), json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
        let (_, order) = server.post(t, "/api/v1/orders", order).await;
        let id = order["id"].as_str().unwrap().to_owned();
        let (status, shipped) = server.post(t, &format!("/api/v1/orders/{id}/shipments"), json!({"location": "central", "carrier": "DHL", "tracking_number": tracking})).await;
        assert_eq!(status, 201, "{shipped}");
        ids.push(id);
    }
    let secret = crate::common::TEST_EASYPOST_SECRET;
    let in_transit = tracker_event("JD0140000001", "in_transit", "2026-12-01T08:00:00Z");
    assert_eq!(server.easypost(&in_transit, "not the secret").await.0, 401);
    assert_eq!(server.easypost(&in_transit, "whsec_easypost-first").await.1["status"], "recorded", "the secret NFKD-normalised");
    assert_eq!(server.easypost(&in_transit, secret).await.1["status"], "duplicate");
    server.easypost(&tracker_event("JD0140000001", "out_for_delivery", "2026-12-01T09:00:00Z"), secret).await;
    let delivered = tracker_event("JD0140000001", "delivered", "2026-12-01T11:30:00Z");
    assert_eq!(server.easypost(&delivered, secret).await.1["status"], "recorded");
    assert_eq!(server.easypost(&delivered, secret).await.1["status"], "duplicate", "a repeated delivered confirms again, quietly");
    let (_, order) = server.get(t, &format!("/api/v1/orders/{}", ids[0])).await;
    assert_eq!(order["status"], "delivered", "{order}");
    let timeline: Vec<&str> = order["shipments"][0]["tracking"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(timeline, ["in_transit", "out_for_delivery", "delivered"]);

    let (_, answer) = server.easypost(&tracker_event("JD0140000002", "return_to_sender", "2026-12-02T10:00:00Z"), secret).await;
    assert_eq!(answer["status"], "recorded");
    let (_, open) = server.get(t, "/api/v1/exceptions?status=open").await;
    let problem: Vec<&Value> = open.as_array().unwrap().iter().filter(|e| e["kind"] == "delivery_problem").collect();
    assert_eq!(problem.len(), 1, "{open}");
    assert_eq!(problem[0]["owner_role"], "service");
    let (_, unknown) = server.easypost(&tracker_event("NOT-OURS", "in_transit", "2026-12-02T10:00:00Z"), secret).await;
    assert_eq!(unknown["status"], "ignored");
    let (status, _) = server.easypost(b"{\"description\": \"tracker.updated\"", secret).await;
    assert_eq!(status, 422, "a signed body that is not JSON is the sender's mistake, named");
}

#[tokio::test]
async fn the_channels_page_shows_each_connection_and_replays_its_inbox() {
    let server = Server::start().await;
    shopify_shop(&server).await;
    let unknown = shopify_order(|o| {
        o["id"] = 42u64.into();
        o["line_items"][0]["sku"] = "SHOP-LATER".into();
        o["line_items"][0]["variant_id"] = 1.into();
        o["line_items"][0]["product_id"] = 2.into();
    });
    server.shopify("orders/create", "d-1", &unknown, SECRET).await;
    server.shopify("orders/create", "d-1", &unknown, SECRET).await;
    server.settled_inbox("web").await;

    let ops = crate::common::Browserless::log_in(&server, "olga", Role::Ops).await;
    let (status, page) = ops.get("/dashboard/channels").await;
    assert_eq!(status, 200);
    assert!(page.contains("shopify") && page.contains("failing"), "{page}");
    let (status, inbox) = ops.get("/dashboard/channels/web?status=failed").await;
    assert_eq!(status, 200);
    assert!(inbox.contains("line_items[0].sku") && inbox.contains("SHOP-LATER"), "{inbox}");
    assert!(inbox.contains("<dt>Duplicates dropped</dt><dd>1</dd>"), "one duplicate dropped: {inbox}");
    let delivery = server.get(&server.admin, "/api/v1/channels/web/inbox?status=failed").await.1[0]["id"].as_str().unwrap().to_owned();
    assert!(inbox.contains(&format!("/dashboard/channels/web/inbox/{delivery}/replay")));

    let listing = json!({"channel": "web", "channel_sku": "SHOP-LATER", "sku": "MUG-1", "price": "14.90"});
    assert_eq!(server.post(&server.admin, "/api/v1/listings", listing).await.0, 201);
    let (status, to) = ops.post(&format!("/dashboard/channels/web/inbox/{delivery}/replay"), &[]).await;
    assert_eq!((status, to.as_str()), (303, "/dashboard/channels/web"));
    server.eventually("/api/v1/channels/web/orders/42").await;
    let (_, page) = ops.get("/dashboard/channels").await;
    assert!(page.contains("active"), "{page}");
    let viewer = crate::common::Browserless::log_in(&server, "vera", Role::Viewer).await;
    let (_, inbox) = viewer.get("/dashboard/channels/web").await;
    assert!(!inbox.contains("<button type=\"submit\">Replay"), "a viewer sees no replay");
}

#[tokio::test]
async fn a_shopify_refund_is_booked_once_and_returned_goods_await_receipt() {
    let server = Server::start().await;
    shopify_shop(&server).await;
    server.shopify("orders/create", "r-1", SHOPIFY_ORDER, SECRET).await;
    let order = server.eventually("/api/v1/channels/web/orders/820982911946154508").await;
    let id = order["id"].as_str().unwrap();
    let ship = json!({"location": "central", "carrier": "DHL", "tracking_number": "JD0140009999"});
    assert_eq!(server.post(&server.admin, &format!("/api/v1/orders/{id}/shipments"), ship).await.0, 201);

    let refund = br#"{"id": 509562969, "order_id": 820982911946154508, "note": "arrived broken", "restock": true,
        "refund_line_items": [{"id": 1, "line_item_id": 866550311766439020, "quantity": 1, "restock_type": "return", "subtotal": 12.4, "total_tax": 2.36}],
        "transactions": [{"kind": "refund", "status": "success", "amount": "14.76", "gateway": "shopify_payments"}],
        "order_adjustments": []}"#;
    for webhook_id in ["r-2", "r-3"] {
        assert_eq!(server.shopify("refunds/create", webhook_id, refund, SECRET).await.0, 200);
    }
    let inbox = server.settled_inbox("web").await;
    assert_eq!(inbox[1]["status"], "processed", "{}", inbox[1]);
    assert!(inbox[1]["outcome"].as_str().unwrap().contains("return"), "{}", inbox[1]);
    let (_, refunds) = server.get(&server.admin, &format!("/api/v1/orders/{id}/refunds")).await;
    assert_eq!(refunds.as_array().unwrap().len(), 1, "the same refund, sent again, is booked once: {refunds}");
    let (_, returns) = server.get(&server.admin, &format!("/api/v1/returns?order_id={id}")).await;
    assert_eq!(returns.as_array().unwrap().len(), 1, "{returns}");
    assert_eq!(returns[0]["lines"][0]["quantity"], 1);
}

#[tokio::test]
async fn same_second_changes_apply_and_orders_shipped_elsewhere_are_not_made() {
    let server = Server::start().await;
    shopify_shop(&server).await;
    let path = "/api/v1/channels/web/orders/820982911946154508";
    server.shopify("orders/create", "s-1", SHOPIFY_ORDER, SECRET).await;
    server.eventually(path).await;
    // The same second as the order Ordo has, with a new address: applied, not taken for stale.
    let moved = shopify_order(|o| o["shipping_address"]["city"] = "Potsdam".into());
    server.shopify("orders/updated", "s-2", &moved, SECRET).await;
    server.settled_inbox("web").await;
    assert_eq!(server.get(&server.admin, path).await.1["ship_to"]["city"], "Potsdam");

    // Fulfilled on Shopify before Ordo ever heard of it: kept, not made to ship again.
    let shipped = shopify_order(|o| {
        o["id"] = 820982911946154599u64.into();
        o["fulfillment_status"] = "fulfilled".into();
    });
    server.shopify("orders/create", "s-3", &shipped, SECRET).await;
    let inbox = server.settled_inbox("web").await;
    assert_eq!(inbox[0]["status"], "ignored", "{}", inbox[0]);
    assert_eq!(server.get(&server.admin, "/api/v1/channels/web/orders/820982911946154599").await.0, 404);
}

#[tokio::test]
async fn a_channel_is_connected_paused_and_given_its_policies_from_its_page() {
    let server = Server::start().await;
    shop(&server, 10).await;
    let olga = crate::common::Browserless::log_in(&server, "olga", Role::Ops).await;
    let oscar = crate::common::Browserless::log_in(&server, "oscar", Role::Ops).await;
    let connector = |base_url: &'static str| {
        [
            ("kind", "shopify"),
            ("base_url", base_url),
            ("webhook_secret", SECRET),
            ("credentials", "access_token = shpat_kept-out-of-every-page"),
            ("poll_interval_s", "120"),
        ]
    };

    let (status, page) = olga.post("/dashboard/channels/web/connector", &connector("ftp://shop.example.com")).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains(r#"id="connector-base_url" name="base_url" type="text" value="ftp://shop.example.com" aria-invalid="true""#), "{page}");
    assert!(!page.contains(SECRET) && !page.contains("shpat_"), "secrets typed are not sent back");
    assert_eq!(server.get(&server.admin, "/api/v1/channels/web/connector").await.0, 404, "nothing changed");

    let (status, to) = olga.post("/dashboard/channels/web/connector", &connector("https://ordo-test.myshopify.com")).await;
    assert_eq!(status, 303, "{to}");
    assert!(to.starts_with("/dashboard/changes/"), "an ops change is a change request: {to}");
    assert_eq!(server.get(&server.admin, "/api/v1/channels/web/connector").await.0, 404, "not before it is approved");
    let (_, request) = oscar.get(&to).await;
    assert!(!request.contains(SECRET) && !request.contains("shpat_"), "the request shows no secret: {request}");
    assert_eq!(olga.post(&to, &[("decision", "approve")]).await.0, 422, "the proposer cannot approve");
    assert_eq!(oscar.post(&to, &[("decision", "approve")]).await.0, 303);
    let (status, view) = server.get(&server.admin, "/api/v1/channels/web/connector").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!((view["webhook_secrets"].as_u64(), view["credentials_set"].as_bool()), (Some(1), Some(true)), "{view}");
    assert_eq!(view["poll_interval_s"].as_i64(), Some(120), "{view}");

    let (_, page) = olga.get("/dashboard/channels/web").await;
    assert!(page.contains("1 in force; empty keeps them") && !page.contains("shpat_"), "{page}");
    assert_eq!(olga.post("/dashboard/channels/web/connector/state", &[("action", "pause")]).await.0, 303);
    assert_eq!(server.get(&server.admin, "/api/v1/channels/web/connector").await.1["paused"], true);
    let (_, page) = olga.get("/dashboard/channels/web").await;
    assert!(page.contains(r#"value="resume">Resume"#), "{page}");
    assert_eq!(olga.post("/dashboard/channels/web/connector/state", &[("action", "resume")]).await.0, 303);
    assert_eq!(server.get(&server.admin, "/api/v1/channels/web/connector").await.1["paused"], false);

    let policy = |window: &'static str, reasons: &'static str| {
        [("window_days", window), ("auto_reasons", reasons), ("max_auto_value", "150.00"), ("ship_back_days", "14")]
    };
    for (sent, field) in [(policy("a month", "damaged"), "window_days"), (policy("45", "damaged, changed_mind"), "auto_reasons")] {
        let (status, page) = olga.post("/dashboard/channels/web/return-policy", &sent).await;
        assert_eq!(status, 422, "{page}");
        assert!(page.contains(&format!("Not saved. {field}")), "{field}: {page}");
    }
    let before = server.get(&server.admin, "/api/v1/channels/web/return-policy").await.1;
    assert_eq!((before["window_days"].as_i64(), &before["max_auto_value"]), (Some(30), &Value::Null), "nothing changed: {before}");
    assert_eq!(olga.post("/dashboard/channels/web/return-policy", &policy("45", "damaged, defective")).await.0, 303);
    let (_, after) = server.get(&server.admin, "/api/v1/channels/web/return-policy").await;
    assert_eq!((after["window_days"].as_i64(), after["max_auto_value"].as_str()), (Some(45), Some("150.00")), "{after}");
    assert_eq!(after["auto_reasons"], json!(["damaged", "defective"]));

    let (status, page) = olga.post("/dashboard/channels/web/buffers", &[("abc_class", "D"), ("units", "2")]).await;
    assert_eq!((status, page.contains("Not saved. abc_class")), (422, true), "{page}");
    let (status, page) = olga.post("/dashboard/channels/web/buffers", &[("abc_class", "A"), ("units", "-1")]).await;
    assert_eq!((status, page.contains("Not saved. units")), (422, true), "{page}");
    assert_eq!(olga.post("/dashboard/channels/web/buffers", &[("abc_class", "A"), ("units", "2")]).await.0, 303);
    let (_, page) = olga.get("/dashboard/channels/web").await;
    assert!(page.contains("class A: 2 units") && page.contains("45 days to ask; damaged, defective authorised"), "{page}");

    let viewer = crate::common::Browserless::log_in(&server, "vera", Role::Viewer).await;
    let (_, page) = viewer.get("/dashboard/channels/web").await;
    assert!(!page.contains(r#"id="connector""#) && !page.contains("Pause the connector"), "a viewer sees no forms");
    assert_eq!(viewer.post("/dashboard/channels/web/buffers", &[("abc_class", "A"), ("units", "5")]).await.0, 403);
}

/// An order the risk rules hold because its payment is not captured is let go when Shopify
/// says it is paid (`orders/paid`); another rule that still holds it keeps it held.
async fn an_order_held_for_its_payment_goes_ahead_when_the_channel_says_it_is_paid(server: Server) {
    shopify_shop(&server).await;
    let author = server.token(Role::Finance).await;
    let checker = server.ordo.access().create_token(Role::Finance, "finance-checker", &ordo_app::Actor::system()).await.unwrap().token;
    // A risk rule drafted by one person and put in force by another.
    let in_force = |name: &'static str, condition: &'static str, reason: &'static str| {
        let (server, author, checker) = (&server, &author, &checker);
        async move {
            let rule = json!({"name": name, "kind": "risk_hold", "condition": condition, "action": {"reason": reason}});
            let (_, draft) = server.post(author, "/api/v1/rules", rule).await;
            let at = |action: &str| format!("/api/v1/rules/{}/{action}", draft["id"].as_str().unwrap());
            assert_eq!(server.post(author, &at("submit"), json!({})).await.0, 200);
            assert_eq!(server.post(checker, &at("approve"), json!({})).await.0, 200);
            assert_eq!(server.post(checker, &at("activate"), json!({})).await.0, 200);
        }
    };
    in_force("payment-not-captured", "order.payment_status != 'captured'", "payment is {order.payment_status}, not captured").await;

    // Authorised only: held, reserving nothing, in finance's queue.
    let authorised = shopify_order(|o| o["financial_status"] = "authorized".into());
    assert_eq!(server.shopify("orders/create", "p-1", &authorised, SECRET).await.0, 200);
    let path = "/api/v1/channels/web/orders/820982911946154508";
    let order = server.eventually(path).await;
    assert_eq!(order["status"], "on_hold", "{order}");
    let server = &server;
    let review = |status: &'static str| async move {
        let (_, found) = server.get(&server.admin, &format!("/api/v1/exceptions?kind=payment_review&status={status}")).await;
        found.as_array().unwrap().len()
    };
    assert_eq!(review("open").await, 1);

    // Paid: the rule no longer holds it, so it is routed and reserved, and the review resolves.
    let paid = shopify_order(|o| {
        o["financial_status"] = "paid".into();
        o["updated_at"] = "2026-11-30T11:00:00-05:00".into();
    });
    assert_eq!(server.shopify("orders/paid", "p-2", &paid, SECRET).await.0, 200);
    server.settled_inbox("web").await;
    let order = server.get(&server.admin, path).await.1;
    assert_eq!(order["status"], "allocated", "{order}");
    assert_eq!(order["payment_status"], "captured");
    assert_eq!((review("open").await, review("resolved").await), (0, 1));

    // A second order paid but held by another rule too stays held when its payment arrives.
    in_force("every-order", "order.total_minor > 0", "every order is looked at").await;
    let second = |status: &str, updated: &str| {
        shopify_order(|o| {
            o["id"] = 820982911946154600u64.into();
            o["financial_status"] = status.into();
            o["updated_at"] = updated.into();
        })
    };
    assert_eq!(server.shopify("orders/create", "p-3", &second("pending", "2026-11-30T10:00:00-05:00"), SECRET).await.0, 200);
    let path = "/api/v1/channels/web/orders/820982911946154600";
    assert_eq!(server.eventually(path).await["status"], "on_hold");
    assert_eq!(server.shopify("orders/paid", "p-4", &second("paid", "2026-11-30T11:00:00-05:00"), SECRET).await.0, 200);
    server.settled_inbox("web").await;
    let order = server.get(&server.admin, path).await.1;
    assert_eq!((order["status"].as_str(), order["payment_status"].as_str()), (Some("on_hold"), Some("captured")), "{order}");
    let why = order["timeline"].as_array().unwrap().last().unwrap()["reason"].as_str().unwrap().to_owned();
    assert!(why.contains("still held: every order is looked at"), "{why}");
}

on_both_engines!(
    an_order_held_for_its_payment_goes_ahead_when_the_channel_says_it_is_paid,
    an_order_held_for_its_payment_goes_ahead_when_the_channel_says_it_is_paid_on_sqlite,
    an_order_held_for_its_payment_goes_ahead_when_the_channel_says_it_is_paid_on_postgres
);

/// Makes the database refuse every new order with an error of its own, as a database that is
/// failing for a while would.
async fn refuse_new_orders(server: &Server) {
    if server.database_url().starts_with("sqlite:") {
        server.run_sql(&["CREATE TRIGGER refuse_orders BEFORE INSERT ON orders BEGIN SELECT RAISE(ABORT, 'orders are refused for now'); END"]).await;
    } else {
        server
            .run_sql(&[
                "CREATE FUNCTION refuse_orders() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'orders are refused for now'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_orders BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse_orders()",
            ])
            .await;
    }
}

async fn accept_new_orders(server: &Server) {
    if server.database_url().starts_with("sqlite:") {
        server.run_sql(&["DROP TRIGGER refuse_orders"]).await;
    } else {
        server.run_sql(&["DROP TRIGGER refuse_orders ON orders", "DROP FUNCTION refuse_orders()"]).await;
    }
}

async fn newest_delivery(server: &Server) -> Value {
    server.get(&server.admin, "/api/v1/channels/web/inbox").await.1[0].clone()
}

async fn a_delivery_failing_for_a_passing_reason_is_tried_again_later_then_given_up(server: Server) {
    shopify_shop(&server).await;
    // The inbox's rounds are run here, on a clock the test moves.
    server.stop_inbox().await;
    let clock = ordo_app::Clock::simulated(chrono::Utc::now());
    let ordo = server.ordo.with_clock(clock.clone());
    let later = |seconds: i64| clock.set(clock.now() + chrono::Duration::seconds(seconds));

    refuse_new_orders(&server).await;
    assert_eq!(server.shopify("orders/create", "w-1", SHOPIFY_ORDER, SECRET).await.0, 200);
    clock.set(chrono::Utc::now());
    let round = ordo.clone().channels().process_inbox(10).await.unwrap();
    assert_eq!((round.claimed, round.retried, round.failed), (1, 1, 0), "{round:?}");
    let kept = newest_delivery(&server).await;
    assert_eq!((kept["status"].as_str(), kept["attempts"].as_i64()), (Some("pending"), Some(1)), "{kept}");
    assert!(kept["error"].as_str().unwrap_or_default().contains("orders are refused for now"), "the reason is kept: {kept}");

    // Not again at once: after two seconds, then four, each wait twice the last.
    assert_eq!(ordo.clone().channels().process_inbox(10).await.unwrap().claimed, 0);
    later(2);
    assert_eq!(ordo.clone().channels().process_inbox(10).await.unwrap().retried, 1);
    later(3);
    assert_eq!(ordo.clone().channels().process_inbox(10).await.unwrap().claimed, 0, "the second wait is four seconds");

    // Once the database takes orders again, the delivery becomes the order, once.
    accept_new_orders(&server).await;
    later(1);
    let round = ordo.clone().channels().process_inbox(10).await.unwrap();
    assert_eq!((round.claimed, round.processed), (1, 1), "{round:?}");
    let kept = newest_delivery(&server).await;
    assert_eq!((kept["status"].as_str(), kept["attempts"].as_i64()), (Some("processed"), Some(3)), "{kept}");
    let (status, order) = server.get(&server.admin, "/api/v1/channels/web/orders/820982911946154508").await;
    assert_eq!((status, order["total"].as_str()), (200, Some("63.75")), "{order}");
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?status=open&kind=sync_failure").await;
    assert_eq!(open.as_array().unwrap().len(), 0, "a failure that passed troubles no one: {open}");

    // A reason that does not pass: after ten attempts the delivery fails, raised as a sync
    // failure for operations.
    refuse_new_orders(&server).await;
    let other = shopify_order(|o| o["id"] = 820982911946154511u64.into());
    assert_eq!(server.shopify("orders/create", "w-2", &other, SECRET).await.0, 200);
    let mut attempts = 0;
    loop {
        let round = ordo.clone().channels().process_inbox(10).await.unwrap();
        attempts += round.claimed;
        if round.failed == 1 {
            break;
        }
        assert_eq!(round.retried, round.claimed, "{round:?}");
        assert!(attempts < 20, "the delivery is given up in the end");
        later(300);
    }
    assert_eq!(attempts, 10);
    let kept = newest_delivery(&server).await;
    assert_eq!((kept["status"].as_str(), kept["outcome"].as_str()), (Some("failed"), Some("kept failing")), "{kept}");
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?status=open&kind=sync_failure").await;
    let raised = open.as_array().unwrap();
    assert_eq!(raised.len(), 1, "{open}");
    assert_eq!(raised[0]["owner_role"], "ops");
    assert!(raised[0]["details"]["last_error"].as_str().unwrap_or_default().contains("orders are refused for now"), "{}", raised[0]);
    assert_eq!(server.get(&server.admin, "/api/v1/channels/web/orders/820982911946154511").await.0, 404);

    // Replayed once the database is mended, it goes through.
    accept_new_orders(&server).await;
    let id = kept["id"].as_str().unwrap();
    assert_eq!(server.post(&server.admin, &format!("/api/v1/channels/web/inbox/{id}/replay"), json!({})).await.0, 200);
    assert_eq!(ordo.clone().channels().process_inbox(10).await.unwrap().processed, 1);
    assert_eq!(server.get(&server.admin, "/api/v1/channels/web/orders/820982911946154511").await.0, 200);
}

on_both_engines!(
    a_delivery_failing_for_a_passing_reason_is_tried_again_later_then_given_up,
    a_delivery_failing_for_a_passing_reason_is_tried_again_later_then_given_up_on_sqlite,
    a_delivery_failing_for_a_passing_reason_is_tried_again_later_then_given_up_on_postgres
);

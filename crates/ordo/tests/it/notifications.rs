//! Notifications through the outbox, against a real webhook receiver on 127.0.0.1: a message
//! outlives a stop between commit and delivery, a failing endpoint sees growing waits and then
//! a dead letter that a replay delivers, two workers deliver each message once, and the
//! signature verifies with the shared secret.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{KeyInit, Mac};
use ordo_app::domain::notification::RetryPolicy;
use ordo_app::{Courier, Ordo, OutboxQuery, Settings, StorageOptions};

/// Webhooks out through the HTTPS client `ordo serve` gives the couriers.
fn webhooks() -> std::sync::Arc<dyn ordo_app::WebhookClient> {
    std::sync::Arc::new(ordo_connectors::Http::new().unwrap())
}
use serde_json::{json, Value};

use crate::common::{on_both_engines, Server};
use crate::orders::{order, shop};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    delivery_id: String,
    signature: String,
    topic: String,
    body: Bytes,
}

/// A webhook receiver: answers with `status` (changeable while it runs) after `delay`, and
/// keeps every request.
#[derive(Clone)]
struct Receiver {
    url: String,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    got: Arc<Mutex<Vec<Received>>>,
}

type ReceiverState = (Arc<AtomicU16>, Arc<Mutex<Vec<Received>>>, Arc<AtomicU64>);

impl Receiver {
    async fn start(status: u16, delay: Duration) -> Receiver {
        let delay = u64::try_from(delay.as_millis()).unwrap();
        let state: ReceiverState = (Arc::new(AtomicU16::new(status)), Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicU64::new(delay)));
        let app = axum::Router::new()
            .route(
                "/hooks",
                axum::routing::post(
                    |State((status, got, delay)): State<ReceiverState>,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                        got.lock().unwrap().push(Received {
                            at: Instant::now(),
                            delivery_id: header("ordo-delivery-id"),
                            signature: header("ordo-signature"),
                            topic: header("ordo-topic"),
                            body,
                        });
                        tokio::time::sleep(Duration::from_millis(delay.load(Ordering::SeqCst))).await;
                        StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
                    },
                ),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, status: state.0, got: state.1, delay_ms: state.2 }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// What the receiver computes over the bytes it got, with the secret it was given.
fn expected_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

async fn endpoint(server: &Server, receiver: &Receiver, topics: Value) -> String {
    let body = json!({"code": "crm", "transport": "webhook", "url": receiver.url, "topics": topics});
    let (status, created) = server.post(&server.admin, "/api/v1/notification-endpoints", body).await;
    assert_eq!(status, 201, "{created}");
    created["secret"].as_str().unwrap().to_owned()
}

async fn outbox(server: &Server, query: &str) -> Vec<Value> {
    let (status, messages) = server.get(&server.admin, &format!("/api/v1/outbox{query}")).await;
    assert_eq!(status, 200, "{messages}");
    messages.as_array().unwrap().clone()
}

/// Waits until `done` holds of the outbox, for at most `limit`.
async fn until(server: &Server, limit: Duration, mut done: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let messages = outbox(server, "?limit=500").await;
        if done(&messages) {
            return messages;
        }
        assert!(start.elapsed() < limit, "the outbox did not settle: {messages:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_message_outlives_a_stop_between_commit_and_delivery(server: Server) {
    shop(&server, 5).await;
    let receiver = Receiver::start(200, Duration::ZERO).await;
    let secret = endpoint(&server, &receiver, json!(["order_confirmed"])).await;
    let (status, placed) = server.post(&server.admin, "/api/v1/orders", order("N-1", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]))).await;
    assert_eq!(status, 201, "{placed}");

    // Written with the order, nothing sent yet: no worker runs.
    let waiting = outbox(&server, "").await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!((waiting[0]["status"].as_str(), waiting[0]["topic"].as_str()), (Some("pending"), Some("order_confirmed")));
    assert_eq!(waiting[0]["subject"], format!("order:{}", placed["id"].as_str().unwrap()));

    // Stop: the process's Ordo goes; a new one opens the same database and delivers.
    let url = server.ordo_url();
    server.ordo.close().await;
    let restarted = Ordo::open(&url, &StorageOptions::default(), Settings::default()).await.unwrap();
    let round = restarted.outbox().deliver_due(&Courier::new("after-restart", None, webhooks()), 10).await.unwrap();
    assert_eq!((round.claimed, round.delivered), (1, 1));

    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].delivery_id, waiting[0]["id"].as_str().unwrap());
    assert_eq!(got[0].topic, "order_confirmed");
    assert_eq!(got[0].signature, expected_signature(&secret, &got[0].body), "the signature verifies with the shared secret");
    let sent: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!((sent["data"]["external_id"].as_str(), sent["data"]["total"].as_str()), (Some("N-1"), Some("12.90")), "{sent}");
    assert_eq!(sent["delivery_id"], waiting[0]["id"]);

    // Delivered once: another round finds nothing.
    assert_eq!(restarted.outbox().deliver_due(&Courier::new("again", None, webhooks()), 10).await.unwrap().claimed, 0);
    let (messages, _) = restarted.outbox().list(OutboxQuery { limit: 10, ..OutboxQuery::default() }).await.unwrap();
    assert_eq!(messages[0].status.as_str(), "delivered");
    restarted.close().await;
}
on_both_engines!(
    a_message_outlives_a_stop_between_commit_and_delivery,
    a_message_outlives_a_stop_on_sqlite,
    a_message_outlives_a_stop_on_postgres
);

/// A worker that dies in the middle of a try leaves the message to be claimed again once its
/// lease ends, never lost; the receiver sees the same delivery id twice and keeps one.
#[tokio::test]
async fn a_worker_that_dies_mid_try_leaves_the_message_to_another() {
    let server = Server::start().await;
    shop(&server, 5).await;
    let receiver = Receiver::start(200, Duration::from_secs(30)).await;
    endpoint(&server, &receiver, json!([])).await;
    server.post(&server.admin, "/api/v1/orders", order("N-2", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]))).await;

    let dying = tokio::time::timeout(Duration::from_millis(300), server.ordo.outbox().deliver_due(&Courier::new("dies", None, webhooks()), 10)).await;
    assert!(dying.is_err(), "the first worker was stopped mid-try");
    assert_eq!(receiver.received().len(), 1);
    // Within its lease nobody else takes it.
    assert_eq!(server.ordo.outbox().deliver_due(&Courier::new("second", None, webhooks()), 10).await.unwrap().claimed, 0);

    receiver.delay_ms.store(0, Ordering::SeqCst);
    let later = server.ordo.with_clock(ordo_app::Clock::simulated(chrono::Utc::now() + chrono::Duration::seconds(61)));
    let round = later.outbox().deliver_due(&Courier::new("second", None, webhooks()), 10).await.unwrap();
    assert_eq!((round.claimed, round.delivered), (1, 1));
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].delivery_id, got[1].delivery_id);
}

async fn a_failing_endpoint_sees_growing_waits_then_a_dead_letter(server: Server) {
    shop(&server, 5).await;
    let receiver = Receiver::start(503, Duration::ZERO).await;
    let secret = endpoint(&server, &receiver, json!(["order_confirmed"])).await;
    server.post(&server.admin, "/api/v1/orders", order("F-1", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]))).await;

    let retry = RetryPolicy { first_wait: chrono::Duration::milliseconds(60), cap: chrono::Duration::seconds(5), max_attempts: 5 };
    let ordo = server.ordo.with_settings(Settings { outbox_retry: retry, ..server.ordo.settings().clone() });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn({
        let ordo = ordo.clone();
        async move { ordo.outbox().run_courier(Courier::new("w1", None, webhooks()), Duration::from_millis(50), stopped).await }
    });
    let dead = until(&server, Duration::from_secs(10), |m| m.iter().any(|m| m["status"] == "dead")).await;
    let id = dead[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(dead[0]["attempts"], 5);
    assert_eq!(dead[0]["last_error"], "the endpoint answered 503 Service Unavailable");

    let got = receiver.received();
    assert_eq!(got.len(), 5, "five tries, then it stopped");
    assert!(got.iter().all(|r| r.delivery_id == id && r.signature == expected_signature(&secret, &r.body)), "the same message each time");
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps.windows(2).all(|g| g[0] < g[1]), "each wait longer than the last: {gaps:?}");
    assert!(gaps[0] >= Duration::from_millis(45), "{gaps:?}");

    let (_, detail) = server.get(&server.admin, &format!("/api/v1/outbox/{id}")).await;
    let codes: Vec<i64> = detail["attempts_made"].as_array().unwrap().iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [503; 5], "{detail}");

    // The dead letter is an exception for ops.
    let (_, exceptions) = server.get(&server.admin, "/api/v1/exceptions?kind=sync_failure&status=open").await;
    let exceptions = exceptions.as_array().unwrap().clone();
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert_eq!((exceptions[0]["subject"].as_str(), exceptions[0]["owner_role"].as_str()), (Some(&*format!("message:{id}")), Some("ops")));

    // Only a dead message can be replayed; replaying this one delivers it, same delivery id.
    receiver.status.store(200, Ordering::SeqCst);
    let (status, refused) = server.post(&server.token(ordo_app::domain::access::Role::Viewer).await, &format!("/api/v1/outbox/{id}/replay"), json!({})).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(server.post(&server.admin, &format!("/api/v1/outbox/{id}/replay"), json!({})).await.0, 204);
    let (status, again) = server.post(&server.admin, &format!("/api/v1/outbox/{id}/replay"), json!({})).await;
    assert!(status == 409 || status == 204, "{again}");
    until(&server, Duration::from_secs(5), |m| m.iter().all(|m| m["status"] == "delivered")).await;
    let got = receiver.received();
    assert_eq!(got.last().unwrap().delivery_id, id);
    // The tries before the replay stay on record, and the one after it numbers on from them.
    let (_, detail) = server.get(&server.admin, &format!("/api/v1/outbox/{id}")).await;
    let tries: Vec<i64> = detail["attempts_made"].as_array().unwrap().iter().map(|a| a["attempt"].as_i64().unwrap()).collect();
    assert_eq!(tries, [1, 2, 3, 4, 5, 6], "{detail}");
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?kind=sync_failure&status=unresolved").await;
    assert_eq!(open.as_array().unwrap().len(), 0, "the replay resolved it: {open}");
    let (_, log) = server.get(&server.admin, &format!("/api/v1/audit?subject=message:{id}")).await;
    assert_eq!(log[0]["action"], "message.replay", "{log}");

    stop.send(true).unwrap();
    worker.await.unwrap();
}
on_both_engines!(
    a_failing_endpoint_sees_growing_waits_then_a_dead_letter,
    a_failing_endpoint_dies_on_sqlite,
    a_failing_endpoint_dies_on_postgres
);

/// Two processes' worth of workers on one database deliver each of many messages exactly once.
async fn two_workers_deliver_each_message_once(server: Server) {
    shop(&server, 500).await;
    let receiver = Receiver::start(200, Duration::from_millis(2)).await;
    endpoint(&server, &receiver, json!(["order_confirmed"])).await;
    let orders = 120;
    for n in 0..orders {
        let body = order(&format!("M-{n}"), json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]));
        assert_eq!(server.post(&server.admin, "/api/v1/orders", body).await.0, 201);
    }
    let second = Ordo::open(&server.ordo_url(), &StorageOptions::default(), Settings::default()).await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for (n, ordo) in [server.ordo.clone(), server.ordo.clone(), second.clone(), second.clone()].into_iter().enumerate() {
        let stopped = stopped.clone();
        workers.push(tokio::spawn(async move { ordo.outbox().run_courier(Courier::new(format!("w{n}"), None, webhooks()), Duration::from_millis(20), stopped).await }));
    }
    until(&server, Duration::from_secs(30), |m| m.len() == orders && m.iter().all(|m| m["status"] == "delivered")).await;
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in receiver.received() {
        *seen.entry(r.delivery_id).or_default() += 1;
    }
    assert_eq!(seen.len(), orders);
    assert!(seen.values().all(|n| *n == 1), "a message was delivered twice: {seen:?}");
    second.close().await;
}
on_both_engines!(two_workers_deliver_each_message_once, two_workers_deliver_once_on_sqlite, two_workers_deliver_once_on_postgres);

/// Bad endpoints are refused naming the field, and nothing is stored.
#[tokio::test]
async fn a_bad_endpoint_is_refused_naming_the_field() {
    let server = Server::start().await;
    for (body, field) in [
        (json!({"code": "x", "transport": "pigeon"}), "transport"),
        (json!({"code": "x", "transport": "webhook"}), "url"),
        (json!({"code": "x", "transport": "webhook", "url": "ftp://example.com"}), "url"),
        (json!({"code": "x", "transport": "log", "url": "http://example.com"}), "url"),
        (json!({"code": "x", "transport": "log", "topics": ["order_lost"]}), "topics[0]"),
        (json!({"code": "x", "transport": "log", "secret": "short"}), "secret"),
        (json!({"code": "", "transport": "log"}), "code"),
    ] {
        let (status, refused) = server.post(&server.admin, "/api/v1/notification-endpoints", body.clone()).await;
        assert_eq!((status, refused["error"]["field"].as_str()), (422, Some(field)), "{body} → {refused}");
    }
    let (_, endpoints) = server.get(&server.admin, "/api/v1/notification-endpoints").await;
    assert_eq!(endpoints, json!([]));
}

/// A notification rule in force sends its notice, filled with the order's facts, through the
/// outbox for the orders its condition holds for, and for no other.
#[tokio::test]
async fn a_notification_rule_in_force_sends_its_notice() {
    let server = Server::start().await;
    shop(&server, 50).await;
    let receiver = Receiver::start(200, Duration::ZERO).await;
    endpoint(&server, &receiver, json!(["rule_triggered"])).await;
    let author = server.ordo.access().create_token(ordo_app::domain::access::Role::Ops, "ops-ana", &ordo_app::Actor::system()).await.unwrap().token;
    let draft = json!({
        "name": "big-mug-orders", "kind": "notification",
        "condition": "order.lines.exists(l, l.quantity >= 3)",
        "action": {"to": "role:ops", "template": "order {order.external_id} wants many mugs"}
    });
    let (status, drafted) = server.post(&author, "/api/v1/rules", draft).await;
    assert_eq!(status, 201, "{drafted}");
    let at = |action: &str| format!("/api/v1/rules/{}/{action}", drafted["id"].as_str().unwrap());
    for step in ["submit"] {
        assert_eq!(server.post(&author, &at(step), json!({})).await.0, 200);
    }
    for step in ["approve", "activate"] {
        assert_eq!(server.post(&server.admin, &at(step), json!({})).await.0, 200);
    }
    let body = |id: &str, quantity: i64| order(id, json!([{"sku": "MUG-1", "quantity": quantity, "unit_price": "12.90"}]));
    assert_eq!(server.post(&server.admin, "/api/v1/orders", body("NR-1", 4)).await.0, 201);
    assert_eq!(server.post(&server.admin, "/api/v1/orders", body("NR-2", 1)).await.0, 201);

    let round = server.ordo.outbox().deliver_due(&Courier::new("w", None, webhooks()), 10).await.unwrap();
    assert_eq!(round.delivered, 1);
    let got = receiver.received();
    let sent: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(sent["topic"], "rule_triggered");
    assert_eq!(sent["data"]["rule"], "big-mug-orders v1", "{sent}");
    assert_eq!((sent["data"]["to"].as_str(), sent["data"]["text"].as_str()), (Some("role:ops"), Some("order NR-1 wants many mugs")));
}

/// Each event writes its topic: an order confirmed, delayed and dispatched, a return
/// authorised, a refund issued, a replacement shipped; an endpoint hears only its topics.
#[tokio::test]
async fn every_event_writes_its_topic() {
    let server = Server::start().await;
    shop(&server, 20).await;
    let t = &server.admin;
    let everything = json!({"code": "all", "transport": "log"});
    assert_eq!(server.post(t, "/api/v1/notification-endpoints", everything).await.0, 201);
    let refunds_only = json!({"code": "books", "transport": "log", "topics": ["refund_issued"]});
    assert_eq!(server.post(t, "/api/v1/notification-endpoints", refunds_only).await.0, 201);

    let (_, placed) = server.post(t, "/api/v1/orders", order("E-1", json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}]))).await;
    let id = placed["id"].as_str().unwrap().to_owned();
    // Its ship-by time passes unshipped.
    let later = server.ordo.with_clock(ordo_app::Clock::simulated(chrono::Utc::now() + chrono::Duration::days(30)));
    assert_eq!(later.fulfilment().watch_ship_by().await.unwrap().late, 1);
    let ship = json!({"location": "central", "carrier": "DHL", "tracking_number": "T-E1"});
    assert_eq!(server.post(t, &format!("/api/v1/orders/{id}/shipments"), ship).await.0, 201);
    let (_, rma) = server.post(t, "/api/v1/returns", json!({"order_id": id, "lines": [{"line": 1, "quantity": 1, "reason": "wrong_item"}]})).await;
    let rma_id = rma["id"].as_str().unwrap().to_owned();
    let refund = json!({"lines": [{"line": 1, "amount": "1.00"}], "reason": "goodwill"});
    assert_eq!(server.post(t, &format!("/api/v1/orders/{id}/refunds"), refund).await.0, 201);
    let (_, replaced) = server.post(t, &format!("/api/v1/returns/{rma_id}/replacement"), json!({})).await;
    let replacement = replaced["replacement_order"].as_str().unwrap().to_owned();
    let ship = json!({"location": "central", "carrier": "DHL", "tracking_number": "T-E1-R"});
    assert_eq!(server.post(t, &format!("/api/v1/orders/{replacement}/shipments"), ship).await.0, 201);

    let ordo = &server.ordo;
    let topics = |endpoint: &str, subject: &str| {
        let subject = subject.to_owned();
        let endpoint = endpoint.to_owned();
        async move {
            let (messages, _) = ordo
                .outbox()
                .list(OutboxQuery { endpoint: Some(endpoint), subject: Some(subject), limit: 100, ..OutboxQuery::default() })
                .await
                .unwrap();
            let mut topics: Vec<String> = messages.into_iter().map(|m| m.topic).collect();
            topics.sort();
            topics
        }
    };
    assert_eq!(topics("all", &format!("order:{id}")).await, ["order_confirmed", "order_delayed", "order_dispatched", "refund_issued"]);
    assert_eq!(topics("all", &format!("return:{rma_id}")).await, ["return_authorized"]);
    assert_eq!(topics("all", &format!("order:{replacement}")).await, ["order_confirmed", "replacement_shipped"]);
    assert_eq!(topics("books", &format!("order:{id}")).await, ["refund_issued"], "an endpoint hears only its topics");
}

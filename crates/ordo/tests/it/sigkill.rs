//! `ordo serve` killed with SIGKILL while it takes orders and ships them: after a restart no
//! acknowledged order or shipment is missing, stock and books agree, and the outbox delivers
//! the confirmations it still owed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{ordo, Serving};

fn sigkill(server: &mut Serving) {
    // Child::kill sends SIGKILL on Unix: no shutdown, no flush.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
}

#[tokio::test]
async fn sigkill_under_orders_and_shipments_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("shop.db").display());
    let out = ordo(dir.path()).args(["init", "--database", &database, "--token-file", "admin.token"]).output().unwrap();
    assert!(out.status.success());
    let admin = std::fs::read_to_string(dir.path().join("admin.token")).unwrap().trim().to_owned();
    let (hooks, received) = crate::common::receiver("/hooks").await;
    let mut server = Serving::start(dir.path(), &database);
    let client = reqwest::Client::new();
    let mut setup = crate::cli::mug_shop();
    setup.push(("/api/v1/notification-endpoints", json!({"code": "crm", "transport": "webhook", "url": hooks, "topics": ["order_confirmed"]})));
    for (path, body) in setup {
        let answer = client.post(format!("{}{path}", server.1)).bearer_auth(&admin).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), 201, "{path}: {}", answer.text().await.unwrap());
    }

    let orders: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let shipped: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let base = server.1.clone();
    let mut load: Vec<_> = (0..3)
        .map(|c| {
            let (client, base, admin, orders, stop) = (client.clone(), base.clone(), admin.clone(), orders.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let id = format!("K-{c}-{n}");
                    let order = crate::cli::one_mug_order(&id);
                    let Ok(answer) = client.post(format!("{base}/api/v1/orders")).bearer_auth(&admin).json(&order).send().await else { return };
                    if answer.status() == 201 {
                        let body: Value = answer.json().await.unwrap_or_default();
                        if let Some(uuid) = body["id"].as_str() {
                            orders.lock().unwrap().push((id, uuid.to_owned()));
                        }
                    }
                }
            })
        })
        .collect();
    // One client ships what was ordered, oldest first.
    load.push({
        let (client, base, admin, orders, shipped, stop) = (client.clone(), base.clone(), admin.clone(), orders.clone(), shipped.clone(), stop.clone());
        tokio::spawn(async move {
            let mut next = 0;
            while !stop.load(Ordering::Relaxed) {
                let Some((_, uuid)) = orders.lock().unwrap().get(next).cloned() else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                next += 1;
                let parcel = json!({"location": "central", "carrier": "UPS", "tracking_number": format!("T{next}")});
                let Ok(answer) = client.post(format!("{base}/api/v1/orders/{uuid}/shipments")).bearer_auth(&admin).json(&parcel).send().await else { return };
                if answer.status() == 201 {
                    shipped.lock().unwrap().push(uuid);
                }
            }
        })
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sigkill(&mut server);
    stop.store(true, Ordering::Relaxed);
    for task in load {
        let _ = task.await;
    }
    let orders = orders.lock().unwrap().clone();
    let shipped = shipped.lock().unwrap().clone();
    assert!(orders.len() >= 20 && !shipped.is_empty(), "load before the kill: {} orders, {} shipped", orders.len(), shipped.len());

    // Restarted on the same file: everything acknowledged is there, and the books agree.
    let restarted = Serving::start(dir.path(), &database);
    let ordo = ordo_app::Ordo::open_initialised(&database, &Default::default(), Default::default()).await.unwrap();
    for (external_id, _) in &orders {
        assert!(ordo.orders().order_by_external_id("web", external_id).await.is_ok(), "acknowledged order {external_id} survived");
    }
    for uuid in &shipped {
        let order = ordo.orders().order(uuid.parse().unwrap()).await.unwrap();
        assert!(!order.shipments.is_empty(), "acknowledged shipment of {uuid} survived");
    }
    assert!(ordo.ledger().check_ledger().await.unwrap().holds(), "the books hold");
    let level = ordo.inventory().stock_levels(Some("MUG-1")).await.unwrap();
    let shipped_units: i64 = {
        let (_, total) = ordo.orders().list(Some("web"), Some("shipped"), None, 1, 0).await.unwrap();
        total
    };
    assert_eq!(level[0].on_hand, 1_000_000 - shipped_units, "on hand is what came in less what left");

    // The outbox resumes: every acknowledged order's confirmation reaches the receiver, those
    // the killed server had claimed once their 60-second lease runs out.
    let mut missing = orders.len();
    for _ in 0..900 {
        let bodies = received.lock().unwrap().join("\n");
        missing = orders.iter().filter(|(external_id, _)| !bodies.contains(&format!("\"{external_id}\""))).count();
        if missing == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(missing, 0, "every acknowledged order's confirmation was delivered after the restart");
    drop(restarted);
    ordo.close().await;
}

/// What the eBay stand-in was told, and whether its calls hang (the killed process's call).
#[derive(Default)]
struct Inventory {
    told: Vec<(String, i64)>,
    calls: usize,
    stall: bool,
}

async fn bulk_update(axum::extract::State(shared): axum::extract::State<Arc<Mutex<Inventory>>>, axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    let stall = {
        let mut s = shared.lock().unwrap();
        s.calls += 1;
        s.stall
    };
    if stall {
        tokio::time::sleep(Duration::from_secs(20)).await;
        return axum::Json(json!({"responses": []}));
    }
    let mut responses = Vec::new();
    for r in body["requests"].as_array().unwrap() {
        let sku = r["sku"].as_str().unwrap().to_owned();
        shared.lock().unwrap().told.push((sku.clone(), r["shipToLocationAvailability"]["quantity"].as_i64().unwrap()));
        responses.push(json!({"sku": sku, "statusCode": 200}));
    }
    axum::Json(json!({"responses": responses}))
}

#[tokio::test]
async fn sigkill_mid_push_loses_no_stock_change() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("shop.db").display());
    let out = ordo(dir.path()).args(["init", "--database", &database, "--token-file", "admin.token"]).output().unwrap();
    assert!(out.status.success());
    let admin = std::fs::read_to_string(dir.path().join("admin.token")).unwrap().trim().to_owned();
    let ebay: Arc<Mutex<Inventory>> = Arc::new(Mutex::new(Inventory { stall: true, ..Inventory::default() }));
    let app = axum::Router::new().route("/sell/inventory/v1/bulk_update_price_quantity", axum::routing::post(bulk_update)).with_state(ebay.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stand_in = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let key = [("ORDO_SECRET_KEY", "a-test-key-of-at-least-thirty-two-characters")];
    let mut server = Serving::start_with(dir.path(), &database, &key);
    let client = reqwest::Client::new();
    let mut setup = crate::cli::mug_shop();
    setup.push(("/api/v1/channels", json!({"code": "ebay", "name": "eBay US", "kind": "marketplace", "currency": "USD"})));
    setup.push(("/api/v1/listings", json!({"channel": "ebay", "channel_sku": "EB-MUG", "sku": "MUG-1", "price": "9.90"})));
    for (path, body) in setup {
        let answer = client.post(format!("{}{path}", server.1)).bearer_auth(&admin).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), 201, "{path}: {}", answer.text().await.unwrap());
    }
    let connector = json!({"kind": "ebay", "base_url": stand_in, "credentials": {"access_token": "v^1.1#inventory"}});
    let answer = client.put(format!("{}/api/v1/channels/ebay/connector", server.1)).bearer_auth(&admin).json(&connector).send().await.unwrap();
    assert_eq!(answer.status(), 200);

    // The connected channel is told at once; its call hangs, and the process dies in it.
    for _ in 0..100 {
        if ebay.lock().unwrap().calls > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ebay.lock().unwrap().calls, 1, "the push started");
    sigkill(&mut server);
    ebay.lock().unwrap().stall = false;

    // Restarted, with stock received meanwhile: the change the dead process held, and the new
    // one, reach eBay once its lease is over, as the latest value.
    let server = Serving::start_with(dir.path(), &database, &key);
    let receipt = json!({"sku": "MUG-1", "location": "central", "quantity": 5, "kind": "receipt", "reason": "late delivery"});
    let answer = client.post(format!("{}/api/v1/inventory/movements", server.1)).bearer_auth(&admin).json(&receipt).send().await.unwrap();
    assert_eq!(answer.status(), 201);
    let sync = format!("{}/api/v1/channels/ebay/sync", server.1);
    let health: Value = client.get(&sync).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["outbound"]["stock"]["pending"], 1, "the change waits, not lost: {health}");
    let deadline = std::time::Instant::now() + ordo_app::PUSH_LEASE + Duration::from_secs(30);
    while ebay.lock().unwrap().told.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(ebay.lock().unwrap().told, [("EB-MUG".to_owned(), 1_000_005)]);
    let health: Value = client.get(&sync).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["outbound"]["stock"]["pending"], 0, "{health}");
}

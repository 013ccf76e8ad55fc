//! Order intake over HTTP: idempotent, never oversold, backorders raise stockouts.

use std::sync::Arc;

use ordo_app::domain::access::Role;
use serde_json::{json, Value};

use crate::common::{postgres_url, Server};
use crate::common::on_both_engines;

/// A web channel, two locations, and `stock` units of MUG-1 at the central one.
pub(crate) async fn shop(server: &Server, stock: i64) {
    let t = &server.admin;
    for (path, body) in [
        ("/api/v1/channels", json!({"code": "web", "name": "Web shop", "kind": "web", "currency": "EUR"})),
        ("/api/v1/locations", json!({"code": "central", "name": "Central", "kind": "warehouse", "priority": 1})),
        ("/api/v1/locations", json!({"code": "overflow", "name": "Overflow", "kind": "3pl", "priority": 2})),
        ("/api/v1/products", json!({"sku": "MUG-1", "name": "Stoneware mug", "unit_cost": "4.20"})),
        ("/api/v1/products", json!({"sku": "VASE-1", "name": "Glass vase", "unit_cost": "9.00"})),
        ("/api/v1/listings", json!({"channel": "web", "channel_sku": "W-MUG", "sku": "MUG-1", "price": "12.90"})),
        ("/api/v1/inventory/movements", json!({"sku": "MUG-1", "location": "central", "quantity": stock, "kind": "receipt", "reason": "opening"})),
    ] {
        if path.ends_with("movements") && stock == 0 {
            continue;
        }
        let (status, answer) = server.post(t, path, body).await;
        assert_eq!(status, 201, "{path}: {answer}");
    }
}

pub(crate) fn order(external_id: &str, lines: Value) -> Value {
    json!({
        "channel": "web",
        "external_id": external_id,
        "placed_at": "2026-11-20T10:00:00Z",
        "currency": "EUR",
        "customer": {"email": "ann@example.com", "name": "Ann Berg"},
        "ship_to": {"name": "Ann Berg", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        "shipping_method": "standard",
        "payment_status": "captured",
        "lines": lines,
    })
}

#[tokio::test]
async fn an_order_is_received_once_reserved_and_released_on_cancel() {
    let server = Server::start().await;
    shop(&server, 10).await;
    let integration = server.token(Role::Integration).await;
    let body = order("1001", json!([{"sku": "W-MUG", "quantity": 3, "unit_price": "12.90"}, {"sku": "VASE-1", "quantity": 1, "unit_price": "25.00"}]));

    let (status, first) = server.post(&integration, "/api/v1/orders", body.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["status"], "backordered", "no vase in stock: {first}");
    assert_eq!(first["lines"][0]["sku"], "MUG-1", "the listing's SKU is resolved to ours");
    assert_eq!(first["lines"][0]["allocations"], json!([{"location": "central", "quantity": 3}]));
    assert_eq!(first["lines"][1]["backordered"], 1);
    assert_eq!(first["total"], "63.70");
    let statuses: Vec<&str> = first["timeline"].as_array().unwrap().iter().map(|e| e["to"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["received", "validated", "backordered"]);
    assert!(first["routing"][0]["reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains("VASE-1")));
    // Placed 2026-11-20 10:00 UTC with the default 48 h SLA; central's cut-off is 16:00 UTC.
    assert_eq!(first["ship_by"], "2026-11-21T16:00:00Z", "the last cut-off that meets the SLA");

    let (status, again) = server.post(&integration, "/api/v1/orders", body.clone()).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "a re-send returns the same order");
    let mut reordered = body.clone();
    reordered["ship_to"]["country"] = json!("de");
    let (status, again) = server.post(&integration, "/api/v1/orders", reordered).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "the same order once checked: {again}");
    let mut changed = body.clone();
    changed["lines"][1]["quantity"] = json!(2);
    let (status, refused) = server.post(&integration, "/api/v1/orders", changed).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str(), refused["error"]["field"].as_str()),
        (409, Some("idempotency_conflict"), Some("lines[1].quantity")),
        "another order under a used external id: {refused}"
    );
    let (_, vases) = server.get(&integration, "/api/v1/inventory?sku=VASE-1").await;
    assert_eq!(vases, json!([]), "the refused re-send changed nothing");

    let id = first["id"].as_str().unwrap();
    let (status, fetched) = server.get(&integration, &format!("/api/v1/orders/{id}")).await;
    assert_eq!((status, &fetched["external_id"]), (200, &json!("1001")));
    let (_, stock) = server.get(&integration, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(stock[0]["reserved"], 3);
    let (status, _) = server.get(&integration, "/api/v1/exceptions?status=open").await;
    assert_eq!(status, 200, "integrators see the queue: the channels' mapping exceptions are theirs to work");
    let (_, exceptions) = server.get(&server.admin, "/api/v1/exceptions?status=open").await;
    assert_eq!(exceptions.as_array().unwrap().len(), 1);
    assert_eq!((exceptions[0]["kind"].as_str(), exceptions[0]["subject"].as_str()), (Some("stockout"), Some("sku:VASE-1")));
    assert_eq!(exceptions[0]["owner_role"], "ops");

    let (status, cancelled) = server.post(&integration, &format!("/api/v1/orders/{id}/cancel"), json!({"reason": "customer changed mind"})).await;
    assert_eq!((status, cancelled["status"].as_str()), (200, Some("cancelled")));
    let (_, stock) = server.get(&integration, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!((stock[0]["reserved"].as_i64(), stock[0]["available"].as_i64()), (Some(0), Some(10)));
    let (status, refused) = server.post(&integration, &format!("/api/v1/orders/{id}/cancel"), json!({})).await;
    assert_eq!(status, 409);
    assert_eq!((refused["error"]["code"].as_str(), refused["error"]["current_state"].as_str()), (Some("invalid_transition"), Some("cancelled")));
    let (status, _) = server.get(&integration, "/api/v1/orders/0191d6a0-0000-7000-8000-000000000000").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_orders_name_the_field_and_store_nothing() {
    let server = Server::start().await;
    shop(&server, 10).await;
    let t = &server.admin;
    let line = |sku: &str, quantity: i64, price: &str| json!([{"sku": sku, "quantity": quantity, "unit_price": price}]);
    let mut no_country = order("X", line("MUG-1", 1, "1.00"));
    no_country["ship_to"].as_object_mut().unwrap().remove("country");
    let mut wrong_currency = order("X", line("MUG-1", 1, "1.00"));
    wrong_currency["currency"] = json!("USD");
    let mut unknown_channel = order("X", line("MUG-1", 1, "1.00"));
    unknown_channel["channel"] = json!("fax");
    let cases = [
        (order("X", line("NOPE", 1, "1.00")), "lines[0].sku"),
        (order("X", line("MUG-1", 0, "1.00")), "lines[0].quantity"),
        (order("X", line("MUG-1", -2, "1.00")), "lines[0].quantity"),
        (order("X", line("MUG-1", 1, "1.001")), "lines[0].unit_price"),
        (order("X", line("MUG-1", 1, "-1.00")), "lines[0].unit_price"),
        (order("X", json!([])), "lines"),
        (no_country, "ship_to.country"),
        (wrong_currency, "currency"),
        (unknown_channel, "channel"),
    ];
    for (body, field) in cases {
        let (status, answer) = server.post(t, "/api/v1/orders", body.clone()).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{answer}");
    }
    let (_, stock) = server.get(t, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(stock[0]["reserved"], 0);
    let (status, _) = server.post(t, "/api/v1/orders", order("X", line("MUG-1", 1, "1.00"))).await;
    assert_eq!(status, 201, "none of the refused requests stored order X");
}

/// 200 single-unit orders race for 50 units: exactly 50 are reserved, 150 wait, and reserved
/// never exceeds on-hand.
async fn two_hundred_orders_for_fifty_units(server: Server) {
    shop(&server, 50).await;
    let server = Arc::new(server);
    let token = Arc::new(server.token(Role::Integration).await);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (server, token) = (server.clone(), token.clone());
            tokio::spawn(async move {
                let body = order(&format!("race-{i}"), json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]));
                let (status, answer) = server.post(&token, "/api/v1/orders", body).await;
                assert_eq!(status, 201, "{answer}");
                answer["status"].as_str().unwrap().to_owned()
            })
        })
        .collect();
    let mut allocated = 0;
    for task in tasks {
        if task.await.unwrap() == "allocated" {
            allocated += 1;
        }
    }
    assert_eq!(allocated, 50);
    let (_, stock) = server.get(&server.admin, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!((stock[0]["on_hand"].as_i64(), stock[0]["reserved"].as_i64()), (Some(50), Some(50)));
    assert_eq!(server.ordo.orders().oversold_levels().await.unwrap(), 0);
    let (_, exceptions) = server.get(&server.admin, "/api/v1/exceptions?status=open").await;
    assert_eq!(exceptions.as_array().unwrap().len(), 1, "one open stockout for the SKU, not 150");
}

#[tokio::test]
async fn two_hundred_orders_for_fifty_units_on_sqlite() {
    two_hundred_orders_for_fifty_units(Server::start().await).await;
}

#[tokio::test]
async fn two_hundred_orders_for_fifty_units_on_postgres() {
    let Some(url) = postgres_url() else {
        println!("SKIP two_hundred_orders_for_fifty_units_on_postgres: ORDO_TEST_POSTGRES_URL is not set");
        return;
    };
    two_hundred_orders_for_fifty_units(Server::start_on(Some(&url)).await).await;
}

/// Concurrent re-sends of one order make one order.
async fn concurrent_resends_make_one_order(server: Server) {
    shop(&server, 50).await;
    let server = Arc::new(server);
    let body = order("resent", json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}]));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (server, body) = (server.clone(), body.clone());
            tokio::spawn(async move { server.post(&server.admin, "/api/v1/orders", body).await })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        assert!(status == 201 || status == 200, "{status} {answer}");
        created += i32::from(status == 201);
        ids.insert(answer["id"].as_str().unwrap().to_owned());
    }
    assert_eq!((created, ids.len()), (1, 1));
    let (_, stock) = server.get(&server.admin, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(stock[0]["reserved"], 2, "reserved once");
}

#[tokio::test]
async fn concurrent_resends_make_one_order_on_sqlite() {
    concurrent_resends_make_one_order(Server::start().await).await;
}

#[tokio::test]
async fn concurrent_resends_make_one_order_on_postgres() {
    let Some(url) = postgres_url() else {
        println!("SKIP concurrent_resends_make_one_order_on_postgres: ORDO_TEST_POSTGRES_URL is not set");
        return;
    };
    concurrent_resends_make_one_order(Server::start_on(Some(&url)).await).await;
}

#[tokio::test]
async fn arriving_stock_fills_backorders_oldest_ship_by_first() {
    let server = Server::start().await;
    shop(&server, 0).await;
    let t = &server.admin;
    let one_vase = json!([{"sku": "VASE-1", "quantity": 2, "unit_price": "25.00"}]);
    let mut later = order("later", one_vase.clone());
    later["placed_at"] = json!("2026-11-21T10:00:00Z");
    let mut earlier = order("earlier", one_vase);
    earlier["placed_at"] = json!("2026-11-20T09:00:00Z");
    let (_, later) = server.post(t, "/api/v1/orders", later).await;
    let (_, earlier) = server.post(t, "/api/v1/orders", earlier).await;
    assert_eq!((later["status"].as_str(), earlier["status"].as_str()), (Some("backordered"), Some("backordered")));

    let receipt = |quantity: i64| json!({"sku": "VASE-1", "location": "overflow", "quantity": quantity, "kind": "receipt", "reason": "PO 17"});
    let (status, level) = server.post(t, "/api/v1/inventory/movements", receipt(3)).await;
    assert_eq!(status, 201);
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(3), Some(3)));
    let fetch = |o: &Value| format!("/api/v1/orders/{}", o["id"].as_str().unwrap());
    let (_, earlier) = server.get(t, &fetch(&earlier)).await;
    let (_, later) = server.get(t, &fetch(&later)).await;
    assert_eq!(earlier["status"], "allocated", "the earlier ship-by is served first: {earlier}");
    assert_eq!(earlier["timeline"].as_array().unwrap().last().unwrap()["to"], "allocated");
    assert_eq!((later["status"].as_str(), later["lines"][0]["backordered"].as_i64()), (Some("backordered"), Some(1)));
    let (_, open) = server.get(t, "/api/v1/exceptions?status=open").await;
    assert_eq!(open.as_array().unwrap().len(), 1, "still short for the later order");

    server.post(t, "/api/v1/inventory/movements", receipt(5)).await;
    let (_, later) = server.get(t, &fetch(&later)).await;
    assert_eq!(later["status"], "allocated");
    assert_eq!(later["lines"][0]["allocations"], json!([{"location": "overflow", "quantity": 2}]));
    let (_, open) = server.get(t, "/api/v1/exceptions?status=open").await;
    assert_eq!(open, json!([]), "the stockout closes when nothing waits");
    let (_, resolved) = server.get(t, "/api/v1/exceptions?status=resolved").await;
    assert_eq!(resolved[0]["subject"], "sku:VASE-1");
    assert_eq!(server.ordo.orders().oversold_levels().await.unwrap(), 0);
}

/// Two `ordo serve` processes on one PostgreSQL database share the stock without overselling.
#[tokio::test]
async fn two_servers_on_one_postgres_database_never_oversell() {
    let Some(base) = postgres_url() else {
        println!("SKIP two_servers_on_one_postgres_database_never_oversell: ORDO_TEST_POSTGRES_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let database = ordo_storage::testing::create_postgres_database(&base).await.unwrap();
    let init = crate::cli::ordo(dir.path()).args(["init", "--database", &database, "--token-file", "admin.token"]).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let admin = std::fs::read_to_string(dir.path().join("admin.token")).unwrap().trim().to_owned();
    let first = crate::cli::Serving::start(dir.path(), &database);
    let second = crate::cli::Serving::start(dir.path(), &database);

    // Master data through the first server, orders through both.
    let ordo = ordo_app::Ordo::open(&database, &Default::default(), Default::default()).await.unwrap();
    let client = reqwest::Client::new();
    let post = |base: String, body: Value, path: &'static str| {
        let (client, admin) = (client.clone(), admin.clone());
        async move {
            let response = client.post(format!("{base}{path}")).bearer_auth(&admin).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    for (path, body) in [
        ("/api/v1/channels", json!({"code": "web", "name": "Web shop", "kind": "web", "currency": "USD"})),
        ("/api/v1/locations", json!({"code": "central", "name": "Central", "kind": "warehouse", "priority": 1})),
        ("/api/v1/products", json!({"sku": "MUG-1", "name": "Stoneware mug", "unit_cost": "4.20"})),
        ("/api/v1/inventory/movements", json!({"sku": "MUG-1", "location": "central", "quantity": 50, "kind": "receipt", "reason": "opening"})),
    ] {
        let (status, answer) = post(first.1.clone(), body, path).await;
        assert_eq!(status, 201, "{path}: {answer}");
    }
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let server = if i % 2 == 0 { first.1.clone() } else { second.1.clone() };
            let mut body = order(&format!("two-{i}"), json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]));
            body["currency"] = json!("USD");
            tokio::spawn(post(server, body, "/api/v1/orders"))
        })
        .collect();
    let mut allocated = 0;
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, 201, "{answer}");
        allocated += i32::from(answer["status"] == "allocated");
    }
    assert_eq!(allocated, 50);
    assert_eq!(ordo.inventory().stock_discrepancies().await.unwrap(), Vec::<String>::new());
    ordo.close().await;
}

#[tokio::test]
async fn risky_orders_wait_on_hold_until_a_person_releases_them() {
    let server = Server::start().await;
    shop(&server, 10).await;
    let integration = server.token(Role::Integration).await;
    let finance = server.token(Role::Finance).await;
    let mug = json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}]);
    let mut unpaid = order("unpaid", mug.clone());
    unpaid["payment_status"] = json!("authorized");
    let (status, held) = server.post(&integration, "/api/v1/orders", unpaid).await;
    assert_eq!((status, held["status"].as_str()), (201, Some("on_hold")), "{held}");
    assert!(held["timeline"].as_array().unwrap().last().unwrap()["reason"].as_str().unwrap().contains("not captured"));
    assert_eq!(held["lines"][0]["allocations"], json!([]), "nothing is reserved while on hold");
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?status=open").await;
    assert_eq!((open[0]["kind"].as_str(), open[0]["owner_role"].as_str()), (Some("payment_review"), Some("finance")));

    let mut abroad = order("abroad", mug);
    abroad["billing_country"] = json!("FR");
    let (_, abroad) = server.post(&integration, "/api/v1/orders", abroad).await;
    assert_eq!(abroad["status"], "on_hold");

    let release = format!("/api/v1/orders/{}/release", held["id"].as_str().unwrap());
    let (status, _) = server.post(&integration, &release, json!({})).await;
    assert_eq!(status, 403, "integrations do not review orders");
    let (status, released) = server.post(&finance, &release, json!({"reason": "payment captured by phone"})).await;
    assert_eq!((status, released["status"].as_str()), (200, Some("allocated")), "{released}");
    assert_eq!(released["lines"][0]["allocations"], json!([{"location": "central", "quantity": 2}]));
    let (status, refused) = server.post(&finance, &release, json!({})).await;
    assert_eq!((status, refused["error"]["current_state"].as_str()), (409, Some("allocated")));
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?status=open").await;
    assert_eq!(open.as_array().unwrap().len(), 1, "only the other held order is still open");
}

#[tokio::test]
async fn parcels_ship_what_is_reserved_and_deliveries_close_the_order() {
    let server = Server::start().await;
    shop(&server, 10).await;
    let warehouse = server.token(Role::Warehouse).await;
    let (_, placed) = server.post(&server.admin, "/api/v1/orders", order("ship-1", json!([{"sku": "MUG-1", "quantity": 3, "unit_price": "12.90"}]))).await;
    let id = placed["id"].as_str().unwrap();
    let ship = format!("/api/v1/orders/{id}/shipments");
    let parcel = |lines: Value| json!({"location": "central", "carrier": "DHL", "tracking_number": "JD0001", "lines": lines});

    let (status, partial) = server.post(&warehouse, &ship, parcel(json!([{"line": 1, "quantity": 2}]))).await;
    assert_eq!((status, partial["status"].as_str()), (201, Some("partially_shipped")), "{partial}");
    assert_eq!((partial["lines"][0]["shipped"].as_i64(), partial["shipments"][0]["carrier"].as_str()), (Some(2), Some("DHL")));
    let (_, stock) = server.get(&warehouse, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!((stock[0]["on_hand"].as_i64(), stock[0]["reserved"].as_i64()), (Some(8), Some(1)), "stock leaves at ship");

    let (status, refused) = server.post(&warehouse, &ship, parcel(json!([{"line": 1, "quantity": 5}]))).await;
    assert_eq!((status, refused["error"]["current_state"].as_str()), (409, Some("partially_shipped")), "{refused}");
    let (status, refused) = server.post(&warehouse, &ship, parcel(json!([{"line": 1, "quantity": 0}]))).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines[0].quantity")));

    let rest = json!({"location": "central", "carrier": "DHL", "tracking_number": "JD0002"});
    let (status, shipped) = server.post(&warehouse, &ship, rest).await;
    assert_eq!((status, shipped["status"].as_str()), (201, Some("shipped")), "{shipped}");
    let (status, refused) = server.post(&server.admin, &format!("/api/v1/orders/{id}/cancel"), json!({})).await;
    assert_eq!((status, refused["error"]["current_state"].as_str()), (409, Some("shipped")), "shipped goods are not cancelled");

    for (i, shipment) in shipped["shipments"].as_array().unwrap().iter().enumerate() {
        let (status, after) = server.post(&warehouse, &format!("/api/v1/shipments/{}/deliver", shipment["id"].as_str().unwrap()), json!({})).await;
        assert_eq!(status, 200, "{after}");
        assert_eq!(after["status"], if i == 0 { "shipped" } else { "delivered" }, "delivered when every parcel is");
    }
    let first = shipped["shipments"][0]["id"].as_str().unwrap();
    let (status, _) = server.post(&warehouse, &format!("/api/v1/shipments/{first}/deliver"), json!({})).await;
    assert_eq!(status, 409, "delivered once");
    assert_eq!(server.ordo.inventory().stock_discrepancies().await.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn channels_see_available_to_sell_after_buffers_and_a_change_feed() {
    let server = Server::start().await;
    shop(&server, 10).await;
    let t = &server.admin;
    let put = server.client.put(format!("{}/api/v1/channels/web/buffers/C", server.base)).bearer_auth(t).json(&json!({"units": 2}));
    assert_eq!(put.send().await.unwrap().status(), 204);
    let (status, ats) = server.get(t, "/api/v1/channels/web/availability?sku=MUG-1,VASE-1").await;
    assert_eq!(status, 200);
    assert_eq!(ats, json!([{"sku": "MUG-1", "available": 8}, {"sku": "VASE-1", "available": 0}]), "buffer kept back, never below 0");

    let (_, feed) = server.get(t, "/api/v1/channels/web/availability/changes?since=0").await;
    let cursor = feed["cursor"].as_i64().unwrap();
    assert_eq!(feed["changes"], json!([{"sku": "MUG-1", "available": 8}]));
    let (_, quiet) = server.get(t, &format!("/api/v1/channels/web/availability/changes?since={cursor}")).await;
    assert_eq!((quiet["changes"].clone(), quiet["cursor"].as_i64()), (json!([]), Some(cursor)), "nothing new");

    server.post(t, "/api/v1/orders", order("ats-1", json!([{"sku": "MUG-1", "quantity": 3, "unit_price": "12.90"}]))).await;
    let (_, feed) = server.get(t, &format!("/api/v1/channels/web/availability/changes?since={cursor}")).await;
    assert_eq!(feed["changes"], json!([{"sku": "MUG-1", "available": 5}]), "a reservation moves availability");
    assert!(feed["cursor"].as_i64().unwrap() > cursor);

    let (status, _) = server.get(t, "/api/v1/channels/nope/availability?sku=MUG-1").await;
    assert_eq!(status, 404);
    let bad = server.client.put(format!("{}/api/v1/channels/web/buffers/Z", server.base)).bearer_auth(t).json(&json!({"units": 2}));
    let answer: Value = bad.send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["error"]["field"], "abc_class");
}

#[tokio::test]
async fn lines_without_tax_are_taxed_by_the_ship_to_countrys_rate_for_their_class() {
    let server = Server::start().await;
    shop(&server, 10).await;
    let t = &server.admin;
    let put = |path: &str, body: Value| server.client.put(format!("{}{path}", server.base)).bearer_auth(t).json(&body).send();
    let answer: Value = put("/api/v1/tax-rates/de/standard", json!({"rate": "19"})).await.unwrap().json().await.unwrap();
    assert_eq!(answer, json!({"country": "DE", "tax_class": "standard", "rate": "19.00"}));
    let refused: Value = put("/api/v1/tax-rates/DE/standard", json!({"rate": "19.125"})).await.unwrap().json().await.unwrap();
    assert_eq!(refused["error"]["field"], "rate");

    let lines = json!([
        {"sku": "MUG-1", "quantity": 2, "unit_price": "10.00", "discount": "1.00"},
        {"sku": "MUG-1", "quantity": 1, "unit_price": "10.00", "tax": "0.70"},
    ]);
    let (status, placed) = server.post(t, "/api/v1/orders", order("tax-1", lines)).await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["lines"][0]["tax"], "3.61", "19 % of 19.00");
    assert_eq!(placed["lines"][1]["tax"], "0.70", "the channel's own tax is kept");
    assert_eq!(placed["total"], "33.31");
}

#[tokio::test]
async fn routing_follows_the_channels_locations_split_rule_and_shipping_methods() {
    let server = Server::start().await;
    shop(&server, 2).await;
    let t = &server.admin;
    let put = |path: String, body: Value| server.client.put(format!("{}{path}", server.base)).bearer_auth(t).json(&body).send();
    let receipt = json!({"sku": "MUG-1", "location": "overflow", "quantity": 5, "kind": "receipt", "reason": "opening"});
    server.post(t, "/api/v1/inventory/movements", receipt).await;
    let three = || json!([{"sku": "MUG-1", "quantity": 3, "unit_price": "12.90"}]);

    // Overflow alone can ship 3: the whole order goes there despite its lower priority.
    let (_, placed) = server.post(t, "/api/v1/orders", order("r-1", three())).await;
    assert_eq!(placed["lines"][0]["allocations"], json!([{"location": "overflow", "quantity": 3}]));

    // Only central may serve the web shop now: 2 reserved there, 1 waits (split allowed).
    let routing: Value = put("/api/v1/channels/web/routing".into(), json!({"allow_split": true, "locations": ["central"]}))
        .await.unwrap().json().await.unwrap();
    assert_eq!(routing, json!({"allow_split": true, "locations": ["central"]}));
    let (_, placed) = server.post(t, "/api/v1/orders", order("r-2", three())).await;
    assert_eq!(placed["lines"][0]["allocations"], json!([{"location": "central", "quantity": 2}]));
    assert_eq!(placed["lines"][0]["backordered"], 1);
    assert!(placed["routing"][0]["reasons"].as_array().unwrap().iter().any(|r| r == "overflow is not allowed for this channel"));

    // Every location again, but overflow does not offer the order's shipping method.
    put("/api/v1/channels/web/routing".into(), json!({"allow_split": false, "locations": []})).await.unwrap();
    let methods: Value = put("/api/v1/locations/overflow/shipping-methods".into(), json!({"methods": ["express"]}))
        .await.unwrap().json().await.unwrap();
    assert_eq!(methods, json!({"methods": ["express"]}));
    let (_, placed) = server.post(t, "/api/v1/orders", order("r-3", three())).await;
    assert_eq!(placed["status"], "backordered", "central is empty and overflow has no standard shipping: {placed}");

    let bad: Value = put("/api/v1/channels/web/routing".into(), json!({"allow_split": true, "locations": ["mars"]}))
        .await.unwrap().json().await.unwrap();
    assert_eq!(bad["error"]["field"], "locations[0]");
}

#[tokio::test]
async fn transfers_leave_the_source_travel_and_fill_backorders_on_arrival() {
    let server = Server::start().await;
    shop(&server, 4).await;
    let t = &server.admin;
    put_web_channel_on(&server, &["overflow"]).await;
    let (_, waiting) = server.post(t, "/api/v1/orders", order("tr-1", json!([{"sku": "MUG-1", "quantity": 3, "unit_price": "12.90"}]))).await;
    assert_eq!(waiting["status"], "backordered", "the web shop ships from overflow only, which is empty");

    let send = |quantity: i64| json!({"sku": "MUG-1", "from": "central", "to": "overflow", "quantity": quantity, "reason": "rebalance"});
    let (status, refused) = server.post(t, "/api/v1/inventory/transfers", send(5)).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("insufficient_stock")));
    let (status, sent) = server.post(t, "/api/v1/inventory/transfers", send(3)).await;
    assert_eq!((status, sent["status"].as_str()), (201, Some("in_transit")), "{sent}");
    let (_, stock) = server.get(t, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(stock[0]["on_hand"], 1, "left central at once: {stock}");
    let (_, transit) = server.get(t, "/api/v1/inventory/transfers").await;
    assert_eq!(transit.as_array().unwrap().len(), 1);

    let (status, level) = server.post(t, &format!("/api/v1/inventory/transfers/{}/receive", sent["id"].as_str().unwrap()), json!({})).await;
    assert_eq!((status, level["location"].as_str(), level["reserved"].as_i64()), (200, Some("overflow"), Some(3)), "{level}");
    let (_, filled) = server.get(t, &format!("/api/v1/orders/{}", waiting["id"].as_str().unwrap())).await;
    assert_eq!(filled["status"], "allocated");
    let (status, _) = server.post(t, &format!("/api/v1/inventory/transfers/{}/receive", sent["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(status, 404, "received once");
    let (_, bad) = server.post(t, "/api/v1/inventory/transfers", json!({"sku": "MUG-1", "from": "central", "to": "central", "quantity": 1, "reason": "x"})).await;
    assert_eq!(bad["error"]["field"], "to");
    assert_eq!(server.ordo.inventory().stock_discrepancies().await.unwrap(), Vec::<String>::new());
}

async fn put_web_channel_on(server: &Server, locations: &[&str]) {
    let response = server
        .client
        .put(format!("{}/api/v1/channels/web/routing", server.base))
        .bearer_auth(&server.admin)
        .json(&json!({"allow_split": true, "locations": locations}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn the_channel_changes_and_cancels_an_order_by_its_own_id(server: Server) {
    shop(&server, 10).await;
    let integration = server.token(Role::Integration).await;
    let receipt = json!({"sku": "VASE-1", "location": "central", "quantity": 5, "kind": "receipt", "reason": "opening"});
    assert_eq!(server.post(&server.admin, "/api/v1/inventory/movements", receipt).await.0, 201);
    let first = order("2001", json!([{"sku": "W-MUG", "quantity": 3, "unit_price": "12.90"}]));
    let (status, placed) = server.post(&integration, "/api/v1/orders", first.clone()).await;
    assert_eq!((status, placed["status"].as_str()), (201, Some("allocated")));
    let path = "/api/v1/channels/web/orders/2001";

    // Unchanged: nothing happens.
    let (status, same) = server.put(&integration, path, first.clone()).await;
    assert_eq!((status, same["timeline"].as_array().unwrap().len()), (200, 3), "{same}");

    // One mug fewer and a vase; a new street: the lines are routed again.
    let mut changed = order("2001", json!([{"sku": "W-MUG", "quantity": 2, "unit_price": "12.90"}, {"sku": "VASE-1", "quantity": 1, "unit_price": "25.00"}]));
    changed["ship_to"]["line1"] = json!("Gartenweg 7");
    let (status, updated) = server.put(&integration, path, changed).await;
    assert_eq!((status, updated["status"].as_str()), (200, Some("allocated")), "{updated}");
    assert_eq!(updated["id"], placed["id"]);
    assert_eq!(updated["ship_to"]["line1"], "Gartenweg 7");
    assert_eq!(updated["total"], "50.80");
    let steps: Vec<&str> = updated["timeline"].as_array().unwrap().iter().map(|e| e["to"].as_str().unwrap()).collect();
    assert_eq!(steps, ["received", "validated", "allocated", "validated", "allocated"]);
    assert!(updated["timeline"][3]["reason"].as_str().unwrap().contains("ship_to, lines"), "{}", updated["timeline"][3]);
    let (_, mugs) = server.get(&integration, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(mugs[0]["reserved"], 2, "the third mug went back");

    // Bad changes name the field and change nothing.
    let mut other_customer = order("2001", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
    other_customer["customer"]["email"] = json!("someone@example.com");
    for (path, body, field) in [
        (path, other_customer, "customer"),
        (path, order("2001", json!([{"sku": "NOPE", "quantity": 1, "unit_price": "1.00"}])), "lines[0].sku"),
        ("/api/v1/channels/web/orders/9999", order("2001", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}])), "external_id"),
    ] {
        let (status, answer) = server.put(&integration, path, body).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{answer}");
    }
    let (status, _) = server.put(&integration, "/api/v1/channels/web/orders/9999", order("9999", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]))).await;
    assert_eq!(status, 404, "the channel never sent order 9999");
    let (_, mugs) = server.get(&integration, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(mugs[0]["reserved"], 2);

    // Cancelled by the channel's id: the stock goes back; a shipped order cannot change.
    let (status, cancelled) = server.post(&integration, "/api/v1/channels/web/orders/2001/cancel", json!({})).await;
    assert_eq!((status, cancelled["status"].as_str()), (200, Some("cancelled")));
    let (_, mugs) = server.get(&integration, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(mugs[0]["reserved"], 0);
    let (status, refused) = server.put(&integration, path, first).await;
    assert_eq!((status, refused["error"]["current_state"].as_str()), (409, Some("cancelled")));
}

/// Intake answers with the order it wrote without reading it back: the answer must be exactly
/// what reading it gives, reserved, waiting or held.
async fn the_intake_answer_is_the_stored_order(server: Server) {
    shop(&server, 3).await;
    let held = {
        let mut body = order("held", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
        body["payment_status"] = json!("pending");
        body
    };
    for body in [
        order("reserved", json!([{"sku": "W-MUG", "quantity": 2, "unit_price": "12.90", "discount": "1.00"}])),
        order("waiting", json!([{"sku": "W-MUG", "quantity": 2, "unit_price": "12.90"}, {"sku": "VASE-1", "quantity": 1, "unit_price": "25.00", "tax": "4.75"}])),
        held,
    ] {
        let (status, answered) = server.post(&server.admin, "/api/v1/orders", body).await;
        assert_eq!(status, 201, "{answered}");
        let (_, stored) = server.get(&server.admin, &format!("/api/v1/orders/{}", answered["id"].as_str().unwrap())).await;
        assert_eq!(answered, stored);
    }
}

#[tokio::test]
async fn the_intake_answer_is_the_stored_order_on_sqlite() {
    the_intake_answer_is_the_stored_order(Server::start().await).await;
}

#[tokio::test]
async fn the_intake_answer_is_the_stored_order_on_postgres() {
    let Some(url) = postgres_url() else {
        println!("SKIP the_intake_answer_is_the_stored_order_on_postgres: ORDO_TEST_POSTGRES_URL is not set");
        return;
    };
    the_intake_answer_is_the_stored_order(Server::start_on(Some(&url)).await).await;
}

/// Intake keeps master data in memory for a moment, but a product another process has just
/// made is found, not refused.
#[tokio::test]
async fn a_product_made_by_another_process_is_sold_at_once() {
    use ordo_app::domain::master::NewProduct;
    let server = Server::start().await;
    shop(&server, 10).await;
    let line = json!([{"sku": "LAMP-1", "quantity": 1, "unit_price": "30.00"}]);
    let (status, refused) = server.post(&server.admin, "/api/v1/orders", order("P1", line.clone())).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines[0].sku")));
    // Another process on the same database makes the product.
    let url = server.ordo_url();
    let other = ordo_app::Ordo::open(&url, &Default::default(), server.ordo.settings().clone()).await.unwrap();
    let lamp = NewProduct {
        sku: "LAMP-1".into(),
        name: "Table lamp".into(),
        unit_cost: "12.00".into(),
        weight_grams: None,
        tax_class: None,
        abc_class: None,
        active: None,
    };
    other.master_data().create_product(lamp, &ordo_app::Actor::system()).await.unwrap();
    let (status, placed) = server.post(&server.admin, "/api/v1/orders", order("P1", line)).await;
    assert_eq!(status, 201, "{placed}");
}

on_both_engines!(the_channel_changes_and_cancels_an_order_by_its_own_id, the_channel_changes_and_cancels_an_order_by_its_own_id_on_sqlite, the_channel_changes_and_cancels_an_order_by_its_own_id_on_postgres);

#[tokio::test]
async fn orders_are_listed_newest_first_a_page_at_a_time_and_filtered() {
    let server = Server::start().await;
    shop(&server, 2).await;
    let t = &server.admin;
    for n in 1..=3 {
        let body = order(&format!("L-{n}"), json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
        assert_eq!(server.post(t, "/api/v1/orders", body).await.0, 201);
    }
    let (status, page) = server.get(t, "/api/v1/orders?limit=2").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!((page["total"].as_i64(), page["limit"].as_i64(), page["offset"].as_i64()), (Some(3), Some(2), Some(0)));
    let ids: Vec<&str> = page["orders"].as_array().unwrap().iter().map(|o| o["external_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["L-3", "L-2"], "newest first");
    assert_eq!(page["orders"][0]["total"], "12.90");
    let (_, rest) = server.get(t, "/api/v1/orders?limit=2&offset=2").await;
    assert_eq!(rest["orders"][0]["external_id"], "L-1");
    // Two mugs in stock: the third order waits for one.
    let (_, waiting) = server.get(t, "/api/v1/orders?status=backordered").await;
    assert_eq!((waiting["total"].as_i64(), waiting["orders"][0]["external_id"].as_str()), (Some(1), Some("L-3")), "{waiting}");
    let (status, refused) = server.get(t, "/api/v1/orders?status=lost").await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("status")), "{refused}");
    let (status, _) = server.get(t, "/api/v1/orders?colour=red").await;
    assert!((400..500).contains(&status));
    let viewer = server.token(Role::Viewer).await;
    assert_eq!(server.get(&viewer, "/api/v1/orders").await.0, 200, "reading orders is a viewer's right");
}

async fn orders_are_searched_paged_by_cursor_followed_as_a_change_feed_and_exported(server: Server) {
    shop(&server, 10).await;
    let t = &server.admin;
    let customers = [("Ann Berg", "ann@example.com"), ("Bob Stone", "bob@shop.example"), ("Cleo Berger", "cleo@example.com"), ("Dan Oak", "dan@example.com"), ("Eve Lind", "eve@example.com")];
    let mut ids = Vec::new();
    for (n, (name, email)) in customers.iter().enumerate() {
        let mut lines = vec![json!({"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"})];
        if n % 2 == 0 {
            lines.push(json!({"sku": "VASE-1", "quantity": 1, "unit_price": "25.00"}));
        }
        let mut body = order(&format!("S-{n}"), json!(lines));
        body["placed_at"] = json!(format!("2026-11-{:02}T10:00:00Z", 20 + n));
        body["customer"] = json!({"name": name, "email": email});
        let (status, placed) = server.post(t, "/api/v1/orders", body).await;
        assert_eq!(status, 201, "{placed}");
        ids.push(placed["id"].as_str().unwrap().to_owned());
    }
    let numbers = |page: &Value| -> Vec<String> { page["orders"].as_array().unwrap().iter().map(|o| o["external_id"].as_str().unwrap().to_owned()).collect() };

    // Customer by part of the name or e-mail, any case; SKU; the days placed, both included.
    assert_eq!(numbers(&server.get(t, "/api/v1/orders?customer=BERG").await.1), ["S-2", "S-0"]);
    assert_eq!(numbers(&server.get(t, "/api/v1/orders?customer=shop.example").await.1), ["S-1"]);
    assert_eq!(numbers(&server.get(t, "/api/v1/orders?sku=VASE-1").await.1), ["S-4", "S-2", "S-0"]);
    assert_eq!(numbers(&server.get(t, "/api/v1/orders?placed_from=2026-11-21&placed_to=2026-11-23").await.1), ["S-3", "S-2", "S-1"]);
    let (status, refused) = server.get(t, "/api/v1/orders?placed_from=2026-11-23&placed_to=2026-11-21").await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("placed_to")));

    // Page by cursor: every order once, newest first, and the last page says it is the last.
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let path = match &cursor { Some(c) => format!("/api/v1/orders?limit=2&cursor={c}"), None => "/api/v1/orders?limit=2".to_owned() };
        let (status, page) = server.get(t, &path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(numbers(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["S-4", "S-3", "S-2", "S-1", "S-0"]);
    let (status, refused) = server.get(t, "/api/v1/orders?cursor=yesterday").await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("cursor")));

    // The change feed: only what changed after the time asked for, oldest change first.
    let since = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    for id in [&ids[3], &ids[1]] {
        let (status, _) = server.post(t, &format!("/api/v1/orders/{id}/cancel"), json!({"reason": "customer asked"})).await;
        assert_eq!(status, 200);
    }
    let (_, feed) = server.get(t, &format!("/api/v1/orders?updated_since={since}")).await;
    assert_eq!(numbers(&feed), ["S-3", "S-1"], "{feed}");
    assert!(feed["orders"].as_array().unwrap().iter().all(|o| o["status"] == "cancelled"));

    // The same filters as CSV, every row.
    let csv = server.client.get(format!("{}/api/v1/orders?format=csv&customer=berg", server.base)).bearer_auth(t).send().await.unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[0].starts_with("id,channel,external_id,status"), "{csv}");
    assert!(rows[1].contains("S-2") && rows[1].contains("Cleo Berger") && rows[1].contains("37.90"), "{csv}");
}
on_both_engines!(
    orders_are_searched_paged_by_cursor_followed_as_a_change_feed_and_exported,
    orders_are_searched_paged_by_cursor_followed_as_a_change_feed_and_exported_on_sqlite,
    orders_are_searched_paged_by_cursor_followed_as_a_change_feed_and_exported_on_postgres
);

/// A location closed at weekends and on a stocktake Monday: an order placed on Friday morning
/// with the 48-hour SLA is due at Tuesday's cut-off, its hours counted on working days only;
/// a wrong calendar is refused naming its field and changes nothing.
async fn ship_by_dates_fall_on_working_days(server: Server) {
    shop(&server, 10).await;
    let t = &server.admin;
    let calendar = |weekdays: Value| json!({"closed_weekdays": weekdays, "closed_dates": [{"date": "2026-11-23", "name": "Stocktake"}]});
    let (status, refused) = server.put(t, "/api/v1/locations/central/calendar", calendar(json!(["sat"]))).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("closed_weekdays[0]")), "{refused}");
    let (_, locations) = server.get(t, "/api/v1/locations").await;
    assert_eq!(locations[0]["calendar"], json!({"closed_weekdays": [], "closed_dates": []}), "the refused calendar changed nothing");
    let (status, unknown) = server.put(t, "/api/v1/locations/nowhere/calendar", calendar(json!([]))).await;
    assert_eq!(status, 404, "{unknown}");

    let (status, set) = server.put(t, "/api/v1/locations/central/calendar", calendar(json!(["Sunday", "saturday"]))).await;
    assert_eq!(status, 200, "{set}");
    let expected = json!({"closed_weekdays": ["saturday", "sunday"], "closed_dates": [{"date": "2026-11-23", "name": "Stocktake"}]});
    assert_eq!(set, expected);
    let (_, locations) = server.get(t, "/api/v1/locations").await;
    assert_eq!(locations[0]["calendar"], expected);
    let (_, changes) = server.get(t, "/api/v1/audit?subject=location:central").await;
    assert!(changes.to_string().contains("location.calendar"), "the change is audited: {changes}");

    // Placed Friday 2026-11-20 10:00 UTC: 14 h on Friday, the weekend and Monday closed, 24 h
    // on Tuesday, 10 on Wednesday; the last cut-off before is Tuesday's 16:00.
    let (status, placed) = server.post(t, "/api/v1/orders", order("after-stocktake", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]))).await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["ship_by"], "2026-11-24T16:00:00Z", "{placed}");
    let reasons = placed["routing"][0]["reasons"].to_string();
    assert!(reasons.contains("16:00 cut-off at central (UTC)"), "{reasons}");
}

on_both_engines!(ship_by_dates_fall_on_working_days, ship_by_dates_fall_on_working_days_on_sqlite, ship_by_dates_fall_on_working_days_on_postgres);

//! Fulfilment over HTTP: a wave's pick list walks the bins, orders are picked, packed and
//! shipped, cancellations leave the wave, and ship-by times raise exceptions.

use chrono::{DateTime, Utc};
use ordo_app::domain::access::Role;
use ordo_app::Clock;
use serde_json::{json, Value};

use crate::common::Server;
use crate::orders::{order, shop};
use crate::common::on_both_engines;

/// Stock and bins for both SKUs at central, and three orders: two by standard shipping, one
/// express. Returns the orders' ids in that order.
async fn three_orders(server: &Server) -> Vec<String> {
    shop(server, 10).await;
    let t = &server.admin;
    let receipt = json!({"sku": "VASE-1", "location": "central", "quantity": 5, "kind": "receipt", "reason": "opening"});
    assert_eq!(server.post(t, "/api/v1/inventory/movements", receipt).await.0, 201);
    for (sku, bin) in [("MUG-1", "B-10"), ("VASE-1", "B-2")] {
        let (status, answer) = server.put(t, "/api/v1/inventory/bins", json!({"sku": sku, "location": "central", "bin": bin})).await;
        assert_eq!(status, 204, "{answer}");
    }
    let mut ids = Vec::new();
    for (external_id, method, lines) in [
        ("A", "standard", json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}, {"sku": "VASE-1", "quantity": 1, "unit_price": "25.00"}])),
        ("B", "standard", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}])),
        ("C", "express", json!([{"sku": "VASE-1", "quantity": 1, "unit_price": "25.00"}])),
    ] {
        let mut body = order(external_id, lines);
        body["shipping_method"] = json!(method);
        let (status, answer) = server.post(t, "/api/v1/orders", body).await;
        assert_eq!((status, answer["status"].as_str()), (201, Some("allocated")), "{answer}");
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    ids
}

fn stock(levels: &Value) -> (i64, i64) {
    (levels[0]["on_hand"].as_i64().unwrap(), levels[0]["reserved"].as_i64().unwrap())
}

async fn a_wave_is_picked_by_bin_packed_and_shipped_order_by_order(server: Server) {
    let ids = three_orders(&server).await;
    let floor = server.token(Role::Warehouse).await;

    let (status, wave) = server.post(&floor, "/api/v1/waves", json!({"location": "central", "shipping_method": "standard"})).await;
    assert_eq!(status, 201, "{wave}");
    let in_wave: Vec<&str> = wave["orders"].as_array().unwrap().iter().map(|o| o["external_id"].as_str().unwrap()).collect();
    assert_eq!(in_wave, ["A", "B"], "the express order waits for its own carrier's wave");
    assert_eq!(
        wave["pick_list"],
        json!([{"bin": "B-2", "sku": "VASE-1", "quantity": 1, "orders": 1}, {"bin": "B-10", "sku": "MUG-1", "quantity": 3, "orders": 2}]),
        "bins in walking order, units summed across orders"
    );
    assert_eq!(wave["status"], "open");
    let cutoff: DateTime<Utc> = wave["cutoff_at"].as_str().unwrap().parse().unwrap();
    assert!(cutoff > Utc::now() && cutoff <= Utc::now() + chrono::Duration::hours(24), "the next 16:00 cut-off: {cutoff}");
    let id = wave["id"].as_str().unwrap();

    let (status, again) = server.post(&floor, "/api/v1/waves", json!({"location": "central", "shipping_method": "standard"})).await;
    assert_eq!((status, again["error"]["field"].as_str()), (422, Some("location")), "both orders are in a wave: {again}");

    let dispatch = json!({"carrier": "DHL", "tracking_number": "00340434161234567890"});
    let ship_a = format!("/api/v1/waves/{id}/orders/{}/ship", ids[0]);
    let (status, early) = server.post(&floor, &ship_a, dispatch.clone()).await;
    assert_eq!((status, early["error"]["current_state"].as_str()), (409, Some("open")), "not picked yet: {early}");
    let (status, _) = server.post(&floor, &format!("/api/v1/waves/{id}/orders/{}/pack", ids[0]), json!({})).await;
    assert_eq!(status, 409, "picking comes before packing");

    let (status, picked) = server.post(&floor, &format!("/api/v1/waves/{id}/pick"), json!({})).await;
    assert_eq!((status, picked["status"].as_str()), (200, Some("picked")));
    assert!(picked["orders"].as_array().unwrap().iter().all(|o| o["status"] == "picked"));
    let (status, twice) = server.post(&floor, &format!("/api/v1/waves/{id}/pick"), json!({})).await;
    assert_eq!((status, twice["error"]["current_state"].as_str()), (409, Some("picked")));

    let (status, packed) = server.post(&floor, &format!("/api/v1/waves/{id}/orders/{}/pack", ids[0]), json!({})).await;
    assert_eq!((status, packed["orders"][0]["status"].as_str()), (200, Some("packed")));
    let (status, bad) = server.post(&floor, &ship_a, json!({"carrier": "DHL", "tracking_number": ""})).await;
    assert_eq!((status, bad["error"]["field"].as_str()), (422, Some("tracking_number")));
    let (status, shipped) = server.post(&floor, &ship_a, dispatch.clone()).await;
    assert_eq!((status, shipped["status"].as_str()), (201, Some("shipped")), "{shipped}");
    assert_eq!(shipped["shipments"][0]["tracking_number"], "00340434161234567890");
    let (_, mugs) = server.get(&floor, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(stock(&mugs), (8, 1), "A's two mugs left on-hand and reserved; B's one is still reserved");

    // B is cancelled on the channel: it leaves the wave, which has nothing left and closes.
    let (status, _) = server.post(&server.admin, &format!("/api/v1/orders/{}/cancel", ids[1]), json!({})).await;
    assert_eq!(status, 200);
    let (_, closed) = server.get(&floor, &format!("/api/v1/waves/{id}")).await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["orders"][1]["status"], "cancelled");
    assert_eq!(closed["pick_list"], json!([]), "nothing left to pick");
    let (_, mugs) = server.get(&floor, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(stock(&mugs), (8, 0));

    let (status, waves) = server.get(&floor, "/api/v1/waves?location=central").await;
    assert_eq!((status, waves[0]["orders"].as_i64(), waves[0]["units"].as_i64()), (200, Some(2), Some(4)));
    let (status, express) = server.post(&floor, "/api/v1/waves", json!({"location": "central"})).await;
    assert_eq!((status, express["orders"][0]["external_id"].as_str()), (201, Some("C")));
    assert_eq!(server.ordo.orders().oversold_levels().await.unwrap(), 0);
}

#[tokio::test]
async fn bad_fulfilment_requests_name_the_field_and_change_nothing() {
    let server = Server::start().await;
    three_orders(&server).await;
    let t = &server.admin;
    let cases = [
        ("/api/v1/waves", json!({"location": "central", "max_orders": 0}), "max_orders"),
        ("/api/v1/waves", json!({"location": "nowhere"}), "location"),
        ("/api/v1/waves", json!({"location": "central", "colour": "red"}), "colour"),
    ];
    for (path, body, field) in cases {
        let (status, answer) = server.post(t, path, body).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{answer}");
    }
    for (body, field) in [
        (json!({"sku": "NOPE", "location": "central", "bin": "A-1"}), "sku"),
        (json!({"sku": "MUG-1", "location": "central", "bin": "A 1"}), "bin"),
    ] {
        let (status, answer) = server.put(t, "/api/v1/inventory/bins", body).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{answer}");
    }
    let (_, waves) = server.get(t, "/api/v1/waves").await;
    assert_eq!(waves, json!([]), "no refused request made a wave");
    let viewer = server.token(Role::Viewer).await;
    assert_eq!(server.post(&viewer, "/api/v1/waves", json!({"location": "central"})).await.0, 403);
    assert_eq!(server.get(&viewer, "/api/v1/waves").await.0, 200);
}

async fn unshipped_orders_near_their_ship_by_time_are_at_risk_then_late(server: Server) {
    let ids = three_orders(&server).await;
    // The orders were placed 2026-11-20 10:00 UTC and must ship by central's 16:00 cut-off
    // on the 21st.
    let at = |time: &str| Clock::simulated(format!("2026-11-21T{time}:00Z").parse().unwrap());
    let kinds = |exceptions: &Value| -> Vec<(String, String)> {
        let mut kinds: Vec<(String, String)> = exceptions
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["subject"].as_str().unwrap().to_owned()))
            .collect();
        kinds.sort();
        kinds
    };
    let subject = |i: usize| format!("order:{}", ids[i]);

    let morning = server.ordo.with_clock(at("08:00")).fulfilment().watch_ship_by().await.unwrap();
    assert_eq!((morning.at_risk, morning.late), (0, 0), "eight hours ahead is not yet at risk");
    let noon = server.ordo.with_clock(at("13:00")).fulfilment().watch_ship_by().await.unwrap();
    assert_eq!((noon.at_risk, noon.late), (3, 0));
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?status=open").await;
    assert_eq!(open[0]["owner_role"], "warehouse");
    assert!(open.as_array().unwrap().iter().all(|e| e["kind"] == "shipment_at_risk"));

    // A ships in time; the other two are still here after the cut-off.
    let ship = json!({"location": "central", "carrier": "DHL", "tracking_number": "T1"});
    assert_eq!(server.post(&server.admin, &format!("/api/v1/orders/{}/shipments", ids[0]), ship).await.0, 201);
    let evening = server.ordo.with_clock(at("17:00"));
    let late = evening.fulfilment().watch_ship_by().await.unwrap();
    assert_eq!((late.at_risk, late.late), (0, 2));
    assert_eq!(evening.fulfilment().watch_ship_by().await.unwrap(), ordo_app::ShipByWatch::default(), "raised once");
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?status=open").await;
    let late_kind = |i: usize| ("late_shipment".to_owned(), subject(i));
    assert_eq!(kinds(&open), [late_kind(1), late_kind(2)], "A's shipment resolved its own; at-risk became late");

    // Cancelling C resolves its exception; B's stays until it ships.
    assert_eq!(server.post(&server.admin, &format!("/api/v1/orders/{}/cancel", ids[2]), json!({})).await.0, 200);
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?status=open").await;
    assert_eq!(kinds(&open), [late_kind(1)]);
}

/// Orders shipped or cancelled while others for the same SKUs arrive, their lines in either
/// order: each shipment and cancellation takes its stock rows in the one order intake takes
/// them (SKU, then location), so on PostgreSQL no two writers wait on each other and none is
/// refused.
async fn orders_shipped_while_others_arrive_never_deadlock(server: Server) {
    shop(&server, 1000).await;
    let receipt = json!({"sku": "VASE-1", "location": "central", "quantity": 1000, "kind": "receipt", "reason": "opening"});
    assert_eq!(server.post(&server.admin, "/api/v1/inventory/movements", receipt).await.0, 201);
    let mut shippers = tokio::task::JoinSet::new();
    for task in 0..8 {
        let (client, base, token) = (server.client.clone(), server.base.clone(), server.admin.clone());
        shippers.spawn(async move {
            for n in 0..6 {
                let (mug, vase) = (json!({"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}), json!({"sku": "VASE-1", "quantity": 1, "unit_price": "25.00"}));
                let lines = if (task + n) % 2 == 0 { json!([mug, vase]) } else { json!([vase, mug]) };
                let placed = client.post(format!("{base}/api/v1/orders")).bearer_auth(&token).json(&order(&format!("D-{task}-{n}"), lines)).send().await.unwrap();
                assert_eq!(placed.status(), 201);
                let id = placed.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
                let (path, body, expected) = if n % 3 == 2 {
                    ("cancel", json!({"reason": "customer changed mind"}), 200)
                } else {
                    ("shipments", json!({"location": "central", "carrier": "ups", "tracking_number": format!("1Z-{task}-{n}")}), 201)
                };
                let answer = client.post(format!("{base}/api/v1/orders/{id}/{path}")).bearer_auth(&token).json(&body).send().await.unwrap();
                let status = answer.status();
                assert_eq!(status, expected, "{path}: {}", answer.text().await.unwrap_or_default());
            }
        });
    }
    while let Some(shipper) = shippers.join_next().await {
        shipper.unwrap();
    }
    for sku in ["MUG-1", "VASE-1"] {
        let (_, levels) = server.get(&server.admin, &format!("/api/v1/inventory?sku={sku}")).await;
        // Eight tasks of six orders, two of each six cancelled: 32 shipped.
        assert_eq!(stock(&levels), (1000 - 32, 0), "{sku}: {levels}");
    }
}

/// The last two orders of a wave, of different SKUs, shipped at once by two packers: the
/// wave closes, each of five times.
async fn a_wave_whose_last_orders_ship_at_once_closes(server: Server) {
    shop(&server, 10).await;
    let receipt = json!({"sku": "VASE-1", "location": "central", "quantity": 10, "kind": "receipt", "reason": "opening"});
    assert_eq!(server.post(&server.admin, "/api/v1/inventory/movements", receipt).await.0, 201);
    let floor = server.token(Role::Warehouse).await;
    for round in 0..5 {
        let mut ids = Vec::new();
        for sku in ["MUG-1", "VASE-1"] {
            let body = order(&format!("W-{round}-{sku}"), json!([{"sku": sku, "quantity": 1, "unit_price": "12.90"}]));
            let (status, placed) = server.post(&server.admin, "/api/v1/orders", body).await;
            assert_eq!(status, 201, "{placed}");
            ids.push(placed["id"].as_str().unwrap().to_owned());
        }
        let (status, wave) = server.post(&floor, "/api/v1/waves", json!({"location": "central", "shipping_method": "standard"})).await;
        assert_eq!(status, 201, "{wave}");
        let id = wave["id"].as_str().unwrap().to_owned();
        assert_eq!(server.post(&floor, &format!("/api/v1/waves/{id}/pick"), json!({})).await.0, 200);
        for order in &ids {
            assert_eq!(server.post(&floor, &format!("/api/v1/waves/{id}/orders/{order}/pack"), json!({})).await.0, 200);
        }
        let ship = |order: &str, tracking: String| {
            let (client, url) = (server.client.clone(), format!("{}/api/v1/waves/{id}/orders/{order}/ship", server.base));
            let (token, body) = (floor.clone(), json!({"carrier": "DHL", "tracking_number": tracking}));
            async move { client.post(url).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16() }
        };
        let shipped = tokio::join!(ship(&ids[0], format!("0034043416000000{round}1")), ship(&ids[1], format!("0034043416000000{round}2")));
        assert_eq!(shipped, (201, 201));
        let (_, after) = server.get(&floor, &format!("/api/v1/waves/{id}")).await;
        assert_eq!(after["status"], "closed", "round {round}: {after}");
    }
}

/// A packer ships an order while an agent cancels it: one of the two happens, the other is
/// refused, and the stock's reservations stay those of the orders still waiting.
async fn an_order_shipped_and_cancelled_at_once_is_one_or_the_other(server: Server) {
    shop(&server, 1000).await;
    let receipt = json!({"sku": "VASE-1", "location": "central", "quantity": 1000, "kind": "receipt", "reason": "opening"});
    assert_eq!(server.post(&server.admin, "/api/v1/inventory/movements", receipt).await.0, 201);
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..4 {
        let (client, base, token) = (server.client.clone(), server.base.clone(), server.admin.clone());
        tasks.spawn(async move {
            let mut shipped = 0;
            for n in 0..8 {
                let lines = json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}, {"sku": "VASE-1", "quantity": 1, "unit_price": "25.00"}]);
                let placed = client.post(format!("{base}/api/v1/orders")).bearer_auth(&token).json(&order(&format!("X-{task}-{n}"), lines)).send().await.unwrap();
                assert_eq!(placed.status(), 201);
                let id = placed.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
                let parcel = json!({"location": "central", "carrier": "ups", "tracking_number": format!("1Z-{task}-{n}")});
                let ship = client.post(format!("{base}/api/v1/orders/{id}/shipments")).bearer_auth(&token).json(&parcel).send();
                let cancel = client.post(format!("{base}/api/v1/orders/{id}/cancel")).bearer_auth(&token).json(&json!({"reason": "customer changed mind"})).send();
                let (ship, cancel) = tokio::join!(ship, cancel);
                let answers = (ship.unwrap().status().as_u16(), cancel.unwrap().status().as_u16());
                assert!(matches!(answers, (201, 409) | (409, 200)), "{id}: shipped and cancelled answered {answers:?}");
                shipped += i64::from(answers.0 == 201);
            }
            shipped
        });
    }
    let mut shipped = 0;
    while let Some(task) = tasks.join_next().await {
        shipped += task.unwrap();
    }
    for (sku, each) in [("MUG-1", 2), ("VASE-1", 1)] {
        let (_, levels) = server.get(&server.admin, &format!("/api/v1/inventory?sku={sku}")).await;
        assert_eq!(stock(&levels), (1000 - each * shipped, 0), "{sku}, {shipped} orders shipped: {levels}");
    }
    assert!(server.ordo.inventory().stock_discrepancies().await.unwrap().is_empty());
}

on_both_engines!(a_wave_is_picked_by_bin_packed_and_shipped_order_by_order, a_wave_is_picked_by_bin_packed_and_shipped_order_by_order_on_sqlite, a_wave_is_picked_by_bin_packed_and_shipped_order_by_order_on_postgres);

on_both_engines!(unshipped_orders_near_their_ship_by_time_are_at_risk_then_late, unshipped_orders_near_their_ship_by_time_are_at_risk_then_late_on_sqlite, unshipped_orders_near_their_ship_by_time_are_at_risk_then_late_on_postgres);

on_both_engines!(orders_shipped_while_others_arrive_never_deadlock, orders_shipped_while_others_arrive_never_deadlock_on_sqlite, orders_shipped_while_others_arrive_never_deadlock_on_postgres);

on_both_engines!(
    an_order_shipped_and_cancelled_at_once_is_one_or_the_other,
    shipped_and_cancelled_at_once_on_sqlite,
    shipped_and_cancelled_at_once_on_postgres
);

on_both_engines!(
    a_wave_whose_last_orders_ship_at_once_closes,
    a_wave_shipped_at_once_closes_on_sqlite,
    a_wave_shipped_at_once_closes_on_postgres
);

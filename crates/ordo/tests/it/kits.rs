//! Kits: a listing sells a kit; the order reserves its components from one place, all of
//! them or none, and ships them.

use serde_json::{json, Value};

use crate::common::Server;
use crate::orders::{order, shop};
use crate::common::on_both_engines;

/// Saucers (none in stock, sold alone as W-SAUCER) and a set of a mug and `saucers` saucers
/// sold as W-SET, on the shop of [`shop`]. Returns the set's components as the API answered.
async fn mug_and_saucer_set(server: &Server, saucers: i64) -> Value {
    let t = &server.admin;
    for (path, body) in [
        ("/api/v1/products", json!({"sku": "SAUCER-1", "name": "Stoneware saucer", "unit_cost": "2.10"})),
        ("/api/v1/products", json!({"sku": "SET-1", "name": "Mug and saucer set", "unit_cost": "8.40"})),
        ("/api/v1/listings", json!({"channel": "web", "channel_sku": "W-SET", "sku": "SET-1", "price": "30.00"})),
        ("/api/v1/listings", json!({"channel": "web", "channel_sku": "W-SAUCER", "sku": "SAUCER-1", "price": "9.00"})),
    ] {
        let (status, answer) = server.post(t, path, body).await;
        assert_eq!(status, 201, "{path}: {answer}");
    }
    let components = json!({"components": [{"sku": "MUG-1", "quantity": 1}, {"sku": "SAUCER-1", "quantity": saucers}]});
    let (status, set) = server.put(t, "/api/v1/products/SET-1/components", components).await;
    assert_eq!(status, 200, "{set}");
    set
}

async fn a_kit_reserves_its_components_all_or_none(server: Server) {
    shop(&server, 10).await;
    let t = &server.admin;
    let set = mug_and_saucer_set(&server, 2).await;
    let (_, read) = server.get(t, "/api/v1/products/SET-1/components").await;
    assert_eq!(read, set);
    for (sku, body, field) in [
        ("SET-1", json!({"components": [{"sku": "SET-1", "quantity": 1}]}), "components[0].sku"),
        ("SET-1", json!({"components": [{"sku": "NOPE", "quantity": 1}]}), "components[0].sku"),
        ("SET-1", json!({"components": [{"sku": "MUG-1", "quantity": 0}]}), "components[0].quantity"),
        ("VASE-1", json!({"components": [{"sku": "SET-1", "quantity": 1}]}), "components[0].sku"),
        ("MUG-1", json!({"components": [{"sku": "VASE-1", "quantity": 1}]}), "components"),
    ] {
        let (status, answer) = server.put(t, &format!("/api/v1/products/{sku}/components"), body).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{sku}: {answer}");
    }
    let (_, unchanged) = server.get(t, "/api/v1/products/SET-1/components").await;
    assert_eq!(unchanged, set, "refused changes changed nothing");

    // Mugs are in stock, saucers are not: the kit waits whole and no mug is held for it.
    let (status, placed) =
        server.post(t, "/api/v1/orders", order("K1", json!([{"sku": "W-SET", "quantity": 2, "unit_price": "30.00"}]))).await;
    assert_eq!((status, placed["status"].as_str()), (201, Some("backordered")), "{placed}");
    let lines = placed["lines"].as_array().unwrap();
    let shape: Vec<(i64, &str, i64, Option<i64>)> = lines
        .iter()
        .map(|l| (l["line"].as_i64().unwrap(), l["sku"].as_str().unwrap(), l["quantity"].as_i64().unwrap(), l["part_of"].as_i64()))
        .collect();
    assert_eq!(shape, [(1, "SET-1", 2, None), (2, "MUG-1", 2, Some(1)), (3, "SAUCER-1", 4, Some(1))]);
    assert_eq!((lines[0]["kit"].as_bool(), lines[0]["unit_price"].as_str()), (Some(true), Some("30.00")));
    assert_eq!(placed["total"], "60.00", "the kit's line carries the price; its components none");
    assert_eq!((lines[1]["backordered"].as_i64(), lines[2]["backordered"].as_i64()), (Some(2), Some(4)));
    let (_, mugs) = server.get(t, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(mugs[0]["reserved"], 0, "no half kit is held");
    let (_, open) = server.get(t, "/api/v1/exceptions?status=open").await;
    let subjects: Vec<&str> = open.as_array().unwrap().iter().map(|e| e["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, ["sku:SAUCER-1"], "the mug is in stock; only the saucer is out");

    // Saucers arrive: the whole kit is reserved in one go, and ships.
    let receipt = json!({"sku": "SAUCER-1", "location": "central", "quantity": 10, "kind": "receipt", "reason": "delivery"});
    assert_eq!(server.post(t, "/api/v1/inventory/movements", receipt).await.0, 201);
    let id = placed["id"].as_str().unwrap();
    let (_, filled) = server.get(t, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(filled["status"], "allocated", "{filled}");
    assert_eq!(filled["lines"][1]["allocations"], json!([{"location": "central", "quantity": 2}]));
    assert_eq!(filled["lines"][2]["allocations"], json!([{"location": "central", "quantity": 4}]));
    let ship = json!({"location": "central", "carrier": "DHL", "tracking_number": "KIT1"});
    let (status, shipped) = server.post(t, &format!("/api/v1/orders/{id}/shipments"), ship).await;
    assert_eq!((status, shipped["status"].as_str()), (201, Some("shipped")), "{shipped}");
    let (_, saucers) = server.get(t, "/api/v1/inventory?sku=SAUCER-1").await;
    assert_eq!((saucers[0]["on_hand"].as_i64(), saucers[0]["reserved"].as_i64()), (Some(6), Some(0)));
    assert_eq!(server.ordo.inventory().stock_discrepancies().await.unwrap(), Vec::<String>::new());
}

on_both_engines!(a_kit_reserves_its_components_all_or_none, a_kit_reserves_its_components_all_or_none_on_sqlite, a_kit_reserves_its_components_all_or_none_on_postgres);

/// Saucers arrive for waiting mug-and-saucer sets while orders for mugs and saucers come in:
/// a receipt takes the stock rows its kits will need in the one order intake takes them, so on
/// PostgreSQL neither waits on the other and none is refused; and nothing is oversold.
async fn kits_filled_by_arrivals_while_orders_come_in_never_deadlock(server: Server) {
    shop(&server, 1000).await;
    let t = &server.admin;
    mug_and_saucer_set(&server, 1).await;
    // Forty sets wait for saucers.
    for n in 0..40 {
        let (status, placed) = server.post(t, "/api/v1/orders", order(&format!("SET-{n}"), json!([{"sku": "W-SET", "quantity": 1, "unit_price": "30.00"}]))).await;
        assert_eq!((status, placed["status"].as_str()), (201, Some("backordered")), "{placed}");
    }
    let mut writers = tokio::task::JoinSet::new();
    for task in 0..8 {
        let (client, base, token) = (server.client.clone(), server.base.clone(), server.admin.clone());
        writers.spawn(async move {
            for n in 0..5 {
                let (path, body) = if task % 2 == 0 {
                    ("inventory/movements", json!({"sku": "SAUCER-1", "location": "central", "quantity": 2, "kind": "receipt", "reason": "delivery"}))
                } else {
                    ("orders", order(&format!("MS-{task}-{n}"), json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}, {"sku": "W-SAUCER", "quantity": 1, "unit_price": "9.00"}])))
                };
                let answer = client.post(format!("{base}/api/v1/{path}")).bearer_auth(&token).json(&body).send().await.unwrap();
                let status = answer.status();
                assert_eq!(status, 201, "{path}: {}", answer.text().await.unwrap_or_default());
            }
        });
    }
    while let Some(writer) = writers.join_next().await {
        writer.unwrap();
    }
    // Forty saucers came for sixty waiting or arriving wants: every one is reserved, none twice.
    let (_, saucers) = server.get(t, "/api/v1/inventory?sku=SAUCER-1").await;
    assert_eq!((saucers[0]["on_hand"].as_i64(), saucers[0]["reserved"].as_i64()), (Some(40), Some(40)), "{saucers}");
    assert_eq!(server.ordo.orders().oversold_levels().await.unwrap(), 0);
    assert!(server.ordo.inventory().stock_discrepancies().await.unwrap().is_empty());
}

on_both_engines!(
    kits_filled_by_arrivals_while_orders_come_in_never_deadlock,
    kits_filled_by_arrivals_while_orders_come_in_never_deadlock_on_sqlite,
    kits_filled_by_arrivals_while_orders_come_in_never_deadlock_on_postgres
);

//! Returns end to end: the RMA path to each disposition with its stock and ledger effects,
//! refunds capped by what was paid, replacements, the channel's policy, and bad input.

use chrono::Utc;
use ordo_app::domain::access::Role;
use serde_json::{json, Value};

use crate::common::{balance, on_both_engines, Server};
use crate::orders::{order, shop};



async fn on_hand(server: &Server, sku: &str, location: &str) -> i64 {
    let (_, stock) = server.get(&server.admin, &format!("/api/v1/inventory?sku={sku}")).await;
    stock.as_array().unwrap().iter().find(|l| l["location"] == location).map_or(0, |l| l["on_hand"].as_i64().unwrap())
}

/// An order of 4 mugs (12.90 each, 19% tax on the line) and a vase, shipped whole from central.
async fn shipped_order(server: &Server, external_id: &str) -> String {
    let t = &server.admin;
    let receipt = json!({"sku": "VASE-1", "location": "central", "quantity": 5, "kind": "receipt", "reason": "opening"});
    assert_eq!(server.post(t, "/api/v1/inventory/movements", receipt).await.0, 201);
    let mut body = order(
        external_id,
        json!([
            {"sku": "MUG-1", "quantity": 4, "unit_price": "12.90", "tax": "9.80"},
            {"sku": "VASE-1", "quantity": 1, "unit_price": "25.00", "tax": "4.75"},
        ]),
    );
    body["shipping_price"] = json!("4.90");
    let (status, placed) = server.post(t, "/api/v1/orders", body).await;
    assert_eq!(status, 201, "{placed}");
    let id = placed["id"].as_str().unwrap().to_owned();
    let ship = json!({"location": "central", "carrier": "DHL", "tracking_number": format!("T-{external_id}")});
    let (status, shipped) = server.post(t, &format!("/api/v1/orders/{id}/shipments"), ship).await;
    assert_eq!(status, 201, "{shipped}");
    id
}

async fn request(server: &Server, token: &str, order: &str, lines: Value) -> (u16, Value) {
    server.post(token, "/api/v1/returns", json!({"order_id": order, "lines": lines})).await
}

async fn the_rma_path_to_each_disposition(server: Server) {
    shop(&server, 20).await;
    let order = shipped_order(&server, "R-1").await;
    let service = server.token(Role::Service).await;
    let warehouse = server.token(Role::Warehouse).await;
    let check = server.ordo.check_ledger().await.unwrap();
    assert!(check.holds(), "{check:?}");
    let (inventory0, cogs0, writeoffs0, claims0) =
        (balance(&server, "1200").await, balance(&server, "5000").await, balance(&server, "5400").await, balance(&server, "1400").await);
    let mugs_before = on_hand(&server, "MUG-1", "central").await;

    // Inside the window with usual reasons: authorised by the policy at once.
    let lines = json!([
        {"line": 1, "quantity": 3, "reason": "damaged"},
        {"line": 2, "quantity": 1, "reason": "no_longer_wanted"},
    ]);
    let (status, rma) = request(&server, &service, &order, lines).await;
    assert_eq!(status, 201, "{rma}");
    assert_eq!((rma["status"].as_str(), rma["decided_by"].as_str()), (Some("authorized"), Some("policy")), "{rma}");
    let id = rma["id"].as_str().unwrap().to_owned();
    let at = |step: &str| format!("/api/v1/returns/{id}/{step}");

    let (status, moving) = server.post(&service, &at("in-transit"), json!({"carrier": "DHL", "tracking": "RT-1"})).await;
    assert_eq!((status, moving["status"].as_str()), (200, Some("in_transit")), "{moving}");
    // Inspecting before receiving is a transition the state machine forbids.
    let early = json!({"lines": [{"line": 1, "disposition": "restock", "note": "fine"}]});
    let (status, refused) = server.post(&warehouse, &at("inspect"), early).await;
    assert_eq!((status, refused["error"]["current_state"].as_str()), (409, Some("in_transit")), "{refused}");

    let receipt = json!({"location": "central", "lines": [{"line": 1, "quantity": 3}, {"line": 2, "quantity": 1}]});
    let (status, received) = server.post(&warehouse, &at("receive"), receipt).await;
    assert_eq!((status, received["status"].as_str()), (200, Some("received")), "{received}");
    assert_eq!(on_hand(&server, "MUG-1", "central").await, mugs_before, "received goods wait for inspection, out of stock");

    // The mugs go back on the shelf; the vase is beyond saving.
    let twice = json!({"lines": [
        {"line": 1, "disposition": "restock", "note": "unopened"},
        {"line": 1, "disposition": "restock", "note": "unopened"},
        {"line": 2, "disposition": "dispose", "note": "shattered in transit"},
    ]});
    let (status, refused) = server.post(&warehouse, &at("inspect"), twice).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines[1].line")), "a line restocked twice: {refused}");
    let inspection = json!({"lines": [
        {"line": 1, "disposition": "restock", "note": "unopened"},
        {"line": 2, "disposition": "dispose", "note": "shattered in transit"},
    ]});
    let (status, inspected) = server.post(&warehouse, &at("inspect"), inspection).await;
    assert_eq!((status, inspected["status"].as_str()), (200, Some("inspected")), "{inspected}");
    assert_eq!(on_hand(&server, "MUG-1", "central").await, mugs_before + 3, "restocked mugs are available again");

    // The mugs came back into inventory at cost (4.20 each), out of cost of goods sold; the
    // vase's cost (9.00) moved from cost of goods sold to write-offs.
    assert_eq!(balance(&server, "1200").await - inventory0, 1260);
    assert_eq!(balance(&server, "5000").await - cogs0, -1260 - 900);
    assert_eq!(balance(&server, "5400").await - writeoffs0, 900);
    assert_eq!(balance(&server, "1400").await, claims0);
    let check = server.ordo.check_ledger().await.unwrap();
    assert!(check.holds(), "the inventory account equals the valued stock: {check:?}");
    let discrepancies = server.ordo.stock_discrepancies().await.unwrap();
    assert!(discrepancies.is_empty(), "{discrepancies:?}");

    // The refund for what came back: three mugs' share of price and tax, and shipping.
    let finance = server.token(Role::Finance).await;
    let receivable0 = balance(&server, "1100-web").await;
    let returns0 = balance(&server, "4200").await;
    let refund = json!({"return_id": id, "lines": [{"line": 1, "quantity": 3}, {"line": 2, "quantity": 1}], "shipping": "4.90", "reason": "returned"});
    let (status, refunded) = server.post(&finance, &format!("/api/v1/orders/{order}/refunds"), refund).await;
    assert_eq!(status, 201, "{refunded}");
    // 3/4 of 51.60 = 38.70 and of 9.80 tax = 7.35; the vase 25.00 + 4.75; shipping 4.90.
    assert_eq!(refunded["total"], "80.70", "{refunded}");
    assert_eq!(balance(&server, "4200").await - returns0, 3870 + 2500);
    assert_eq!(balance(&server, "1100-web").await - receivable0, -8070);

    // Refund caps: the fourth mug's share is left, not a cent more; shipping is spent.
    let (status, refused) = server
        .post(&finance, &format!("/api/v1/orders/{order}/refunds"), json!({"lines": [{"line": 1, "amount": "12.91"}], "reason": "goodwill"}))
        .await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines[0].amount")), "{refused}");
    let (status, refused) =
        server.post(&finance, &format!("/api/v1/orders/{order}/refunds"), json!({"shipping": "0.01", "reason": "goodwill"})).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("shipping")), "{refused}");
    let (status, refused) = server
        .post(&finance, &format!("/api/v1/orders/{order}/refunds"), json!({"lines": [{"line": 2, "quantity": 1}], "reason": "again"}))
        .await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines[0].quantity")), "{refused}");
    let (status, goodwill) = server
        .post(&finance, &format!("/api/v1/orders/{order}/refunds"), json!({"lines": [{"line": 1, "amount": "12.90"}], "reason": "goodwill"}))
        .await;
    assert_eq!(status, 201, "{goodwill}");
    assert_eq!(server.post(&warehouse, &format!("/api/v1/orders/{order}/refunds"), json!({"shipping": "1.00", "reason": "x"})).await.0, 403);

    let (status, closed) = server.post(&service, &at("close"), json!({"note": "refunded"})).await;
    assert_eq!((status, closed["status"].as_str()), (200, Some("closed")), "{closed}");
    assert_eq!(closed["refunds"].as_array().unwrap().len(), 1, "{closed}");
    let check = server.ordo.check_ledger().await.unwrap();
    assert!(check.holds(), "{check:?}");

    let (status, report) = server.get(&service, "/api/v1/reports/returns").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["shipped"].as_i64(), report["returned"].as_i64()), (Some(5), Some(4)), "{report}");
    assert_eq!(report["by_channel"][0]["rate_bp"], 8000, "{report}");
    let reasons: Vec<&str> = report["by_reason"].as_array().unwrap().iter().filter_map(|r| r["key"].as_str()).collect();
    assert_eq!(reasons, ["damaged", "no_longer_wanted"]);

    let (_, log) = server.get(&server.admin, &format!("/api/v1/audit?subject=return:{id}")).await;
    let actions: Vec<&str> = log.as_array().unwrap().iter().filter_map(|r| r["action"].as_str()).collect();
    for action in ["return.request", "return.ship_back", "return.receive", "return.inspect", "return.close"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}
on_both_engines!(the_rma_path_to_each_disposition, the_rma_path_on_sqlite, the_rma_path_on_postgres);

/// Refunds sent at the same moment for the same units: one pays, the others find nothing
/// left to pay, whatever the engine.
async fn concurrent_refunds_pay_once(server: Server) {
    shop(&server, 20).await;
    let order = shipped_order(&server, "R-C").await;
    let finance = server.token(Role::Finance).await;
    let path = format!("/api/v1/orders/{order}/refunds");
    let body = json!({"lines": [{"line": 1, "quantity": 4}], "reason": "all four back"});
    let url = format!("{}{path}", server.base);
    let sends: Vec<_> = (0..6)
        .map(|_| {
            let (client, url, finance, body) = (server.client.clone(), url.clone(), finance.clone(), body.clone());
            tokio::spawn(async move { client.post(url).bearer_auth(finance).json(&body).send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for send in sends {
        statuses.push(send.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 422), "{statuses:?}");
    let refunds = server.ordo.refunds_of(order.parse().unwrap()).await.unwrap();
    assert_eq!(refunds.len(), 1);
}
on_both_engines!(concurrent_refunds_pay_once, concurrent_refunds_on_sqlite, concurrent_refunds_on_postgres);

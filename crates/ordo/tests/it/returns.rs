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
    let check = server.ordo.ledger().check_ledger().await.unwrap();
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
    let check = server.ordo.ledger().check_ledger().await.unwrap();
    assert!(check.holds(), "the inventory account equals the valued stock: {check:?}");
    let discrepancies = server.ordo.inventory().stock_discrepancies().await.unwrap();
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
    let check = server.ordo.ledger().check_ledger().await.unwrap();
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
    let refunds = server.ordo.returns().refunds_of(order.parse().unwrap()).await.unwrap();
    assert_eq!(refunds.len(), 1);
}
on_both_engines!(concurrent_refunds_pay_once, concurrent_refunds_on_sqlite, concurrent_refunds_on_postgres);

async fn refurbish_and_supplier_claims(server: Server) {
    shop(&server, 20).await;
    let t = &server.admin;
    let supplier = json!({"code": "potter", "name": "The Potter", "currency": "EUR", "lead_time_days": 10});
    assert_eq!(server.post(t, "/api/v1/suppliers", supplier).await.0, 201);
    let order = shipped_order(&server, "R-2").await;
    let lines = json!([{"line": 1, "quantity": 2, "reason": "defective"}, {"line": 2, "quantity": 1, "reason": "not_as_described"}]);
    let (_, rma) = request(&server, t, &order, lines).await;
    let id = rma["id"].as_str().unwrap().to_owned();
    let receipt = json!({"location": "central", "lines": [{"line": 1, "quantity": 2}, {"line": 2, "quantity": 1}]});
    assert_eq!(server.post(t, &format!("/api/v1/returns/{id}/receive"), receipt).await.0, 200);
    let (inventory0, cogs0, claims0) = (balance(&server, "1200").await, balance(&server, "5000").await, balance(&server, "1400").await);
    let mugs = on_hand(&server, "MUG-1", "central").await;

    // Every received line needs a disposition; a claim names a known supplier.
    let partial = json!({"lines": [{"line": 1, "disposition": "refurbish", "note": "chipped glaze"}]});
    let (status, refused) = server.post(t, &format!("/api/v1/returns/{id}/inspect"), partial).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines")), "{refused}");
    let unknown = json!({"lines": [
        {"line": 1, "disposition": "refurbish", "note": "chipped glaze"},
        {"line": 2, "disposition": "supplier_claim", "note": "cracked at the base", "supplier": "nobody"},
    ]});
    let (status, refused) = server.post(t, &format!("/api/v1/returns/{id}/inspect"), unknown).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines[1].supplier")), "{refused}");

    let inspection = json!({"lines": [
        {"line": 1, "disposition": "refurbish", "note": "chipped glaze"},
        {"line": 2, "disposition": "supplier_claim", "note": "cracked at the base", "supplier": "potter"},
    ]});
    let (status, inspected) = server.post(t, &format!("/api/v1/returns/{id}/inspect"), inspection).await;
    assert_eq!(status, 200, "{inspected}");
    // Refurbished mugs are not available to sell and stay out of inventory.
    assert_eq!(on_hand(&server, "MUG-1", "central").await, mugs);
    assert_eq!(balance(&server, "1200").await, inventory0);
    // The vase's cost becomes a claim on the supplier.
    let claim = &inspected["claims"][0];
    assert_eq!((claim["supplier"].as_str(), claim["value"].as_str(), claim["status"].as_str()), (Some("potter"), Some("9.00"), Some("open")));
    assert_eq!(balance(&server, "1400").await - claims0, 900);
    assert_eq!(balance(&server, "5000").await - cogs0, -900);

    let finance = server.token(Role::Finance).await;
    let path = format!("/api/v1/supplier-claims/{}/settle", claim["id"].as_str().unwrap());
    let payable0 = balance(&server, "2000").await;
    let (status, settled) = server.post(&finance, &path, json!({"credited": true})).await;
    assert_eq!((status, settled["status"].as_str()), (200, Some("credited")), "{settled}");
    assert_eq!(balance(&server, "1400").await, claims0, "the claim is cleared");
    assert_eq!(balance(&server, "2000").await - payable0, 900, "we owe the supplier less");
    assert_eq!(server.post(&finance, &path, json!({"credited": false})).await.0, 409);
    assert!(server.ordo.ledger().check_ledger().await.unwrap().holds());
}
on_both_engines!(refurbish_and_supplier_claims, refurbish_and_claims_on_sqlite, refurbish_and_claims_on_postgres);

/// A reason the policy does not cover waits for service; a replacement is a new order,
/// reserved like any other and linked to the return.
#[tokio::test]
async fn service_decides_what_the_policy_does_not_and_sends_a_replacement() {
    let server = Server::start().await;
    shop(&server, 20).await;
    let order = shipped_order(&server, "R-3").await;
    let service = server.token(Role::Service).await;
    let (status, rma) = request(&server, &service, &order, json!([{"line": 1, "quantity": 1, "reason": "other"}])).await;
    assert_eq!((status, rma["status"].as_str()), (201, Some("requested")), "{rma}");
    assert_eq!(rma["review_reason"], "the reason other needs a person");
    let id = rma["id"].as_str().unwrap().to_owned();
    let (status, refused) = server.post(&service, &format!("/api/v1/returns/{id}/replacement"), json!({})).await;
    assert_eq!((status, refused["error"]["current_state"].as_str()), (409, Some("requested")), "{refused}");

    let warehouse = server.token(Role::Warehouse).await;
    let (status, refused) = server.post(&warehouse, &format!("/api/v1/returns/{id}/decide"), json!({"authorize": true, "note": "why not"})).await;
    assert_eq!(status, 403, "the floor does not decide returns: {refused}");
    assert_eq!(server.post(&warehouse, &format!("/api/v1/returns/{id}/replacement"), json!({})).await.0, 403, "nor gives goods away");
    let (status, authorized) = server.post(&service, &format!("/api/v1/returns/{id}/decide"), json!({"authorize": true, "note": "regular customer"})).await;
    assert_eq!((status, authorized["status"].as_str(), authorized["decided_by"].as_str()), (200, Some("authorized"), Some("token:test service")));
    let reserved_before = server.ordo.inventory().stock_levels(Some("MUG-1")).await.unwrap().iter().map(|l| l.reserved).sum::<i64>();
    let (status, replaced) = server.post(&service, &format!("/api/v1/returns/{id}/replacement"), json!({})).await;
    assert_eq!(status, 201, "{replaced}");
    let replacement = replaced["replacement_order"].as_str().unwrap();
    let (_, new_order) = server.get(&service, &format!("/api/v1/orders/{replacement}")).await;
    assert_eq!((new_order["status"].as_str(), new_order["total"].as_str()), (Some("allocated"), Some("0.00")), "{new_order}");
    let reserved_after = server.ordo.inventory().stock_levels(Some("MUG-1")).await.unwrap().iter().map(|l| l.reserved).sum::<i64>();
    assert_eq!(reserved_after - reserved_before, 1, "the replacement reserves like any order");
    let (status, _) = server.post(&service, &format!("/api/v1/returns/{id}/replacement"), json!({})).await;
    assert_eq!(status, 409, "one replacement per return");
}

/// Bad requests: more than shipped, an unknown line, outside the window without an override,
/// nothing shipped yet. A 4xx naming why, nothing stored.
#[tokio::test]
async fn a_bad_return_is_refused_naming_why() {
    let server = Server::start().await;
    shop(&server, 20).await;
    let t = &server.admin;
    let order = shipped_order(&server, "R-4").await;
    for (lines, field) in [
        (json!([{"line": 1, "quantity": 5, "reason": "damaged"}]), "lines[0].quantity"),
        (json!([{"line": 9, "quantity": 1, "reason": "damaged"}]), "lines[0].line"),
        (json!([{"line": 1, "quantity": 1, "reason": "bored"}]), "lines[0].reason"),
        (json!([{"line": 1, "quantity": 0, "reason": "damaged"}]), "lines[0].quantity"),
        (json!([]), "lines"),
    ] {
        let (status, refused) = request(&server, t, &order, lines.clone()).await;
        assert_eq!((status, refused["error"]["field"].as_str()), (422, Some(field)), "{lines} → {refused}");
    }
    // Two returns together may not take back more than shipped.
    assert_eq!(request(&server, t, &order, json!([{"line": 1, "quantity": 3, "reason": "damaged"}])).await.0, 201);
    let (status, refused) = request(&server, t, &order, json!([{"line": 1, "quantity": 2, "reason": "damaged"}])).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines[0].quantity")), "{refused}");

    // A week's window, asked a month later: only a person's override lets it in.
    let policy = json!({"window_days": 7, "auto_reasons": ["damaged"], "max_auto_value": null, "ship_back_days": 14});
    let (status, set) = server.put(t, "/api/v1/channels/web/return-policy", policy).await;
    assert_eq!(status, 200, "{set}");
    for (bad, field) in [
        (json!({"window_days": 7, "auto_reasons": [], "max_auto_value": "12.345", "ship_back_days": 14}), Some("max_auto_value")),
        (json!({"window_days": 7, "auto_reasons": ["bored"], "ship_back_days": 14}), Some("auto_reasons[0]")),
        (json!({"window_days": 7, "auto_reasons": [], "max_auto_value_minor": 100, "ship_back_days": 14}), None),
    ] {
        let (status, refused) = server.put(t, "/api/v1/channels/web/return-policy", bad.clone()).await;
        assert_eq!(status, 422, "{bad} → {refused}");
        if field.is_some() {
            assert_eq!(refused["error"]["field"].as_str(), field, "{refused}");
        }
    }
    let (_, kept) = server.get(t, "/api/v1/channels/web/return-policy").await;
    assert_eq!((kept["window_days"].as_i64(), kept["max_auto_value"].clone()), (Some(7), Value::Null), "nothing changed: {kept}");
    let cap = json!({"window_days": 7, "auto_reasons": ["damaged"], "max_auto_value": "500.00", "ship_back_days": 14});
    let (_, capped) = server.put(t, "/api/v1/channels/web/return-policy", cap).await;
    assert_eq!((capped["max_auto_value"].as_str(), capped["currency"].as_str()), (Some("500.00"), Some("EUR")), "{capped}");
    let later = server.ordo.with_clock(ordo_app::Clock::simulated(Utc::now() + chrono::Duration::days(30)));
    let lines = vec![ordo_app::NewReturnLine { line: 2, quantity: 1, reason: "damaged".into() }];
    let new = |override_window: Option<&str>| ordo_app::NewReturn {
        order_id: order.parse().unwrap(),
        lines: lines.clone(),
        source: "api".into(),
        override_window: override_window.map(str::to_owned),
    };
    let integration = ordo_app::Actor { kind: ordo_app::ActorKind::Token, name: "shop".into(), role: Role::Integration, request_id: None };
    match later.returns().request_return(new(None), &integration).await {
        Err(ordo_app::AppError::Invalid(e)) => assert_eq!(e.field, "override_window", "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(later.returns().request_return(new(Some("kind customer")), &integration).await, Err(ordo_app::AppError::Forbidden(_))));
    let service = ordo_app::Actor { role: Role::Service, name: "sam".into(), ..integration };
    let rma = later.returns().request_return(new(Some("long-standing customer")), &service).await.unwrap();
    assert_eq!(rma.status.as_str(), "authorized");
    assert_eq!(rma.decided_by.as_deref(), Some("token:sam"));
    assert!(rma.review_reason.as_deref().unwrap().ends_with("long-standing customer"), "{rma:?}");

    // An order that never shipped has nothing to return.
    let (_, unshipped) = server.post(t, "/api/v1/orders", order_body("R-5")).await;
    let (status, refused) = request(&server, t, unshipped["id"].as_str().unwrap(), json!([{"line": 1, "quantity": 1, "reason": "damaged"}])).await;
    assert_eq!(status, 409, "{refused}");
    let (_, all) = server.get(t, &format!("/api/v1/returns?order_id={}", unshipped["id"].as_str().unwrap())).await;
    assert_eq!(all, json!([]));
}

fn order_body(external_id: &str) -> Value {
    order(external_id, json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]))
}

/// Service works a return from the dashboard without JavaScript: asks for it, receives it,
/// inspects it, and reads the return rates with their charts.
#[tokio::test]
async fn service_works_a_return_from_the_dashboard() {
    let server = Server::start().await;
    shop(&server, 20).await;
    let order = shipped_order(&server, "D-1").await;
    let sam = crate::common::Browserless::log_in(&server, "sam", Role::Service).await;

    let (status, page) = sam.get("/dashboard/returns").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Start a return") && page.contains("<svg"), "{page}");
    // The return starts from the order's page, by the units of each shipped line.
    let (_, page) = sam.get(&format!("/dashboard/orders/{order}")).await;
    assert!(page.contains("name=\"quantity_1\""), "{page}");
    let (status, at) = sam.post("/dashboard/returns", &[("order_id", &order), ("quantity_1", "2"), ("reason", "wrong_item")]).await;
    assert_eq!(status, 303, "{at}");
    assert!(at.starts_with("/dashboard/returns/"), "{at}");
    let (status, page) = sam.get(&at).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"return-status\">authorized<") && page.contains("id=\"receive\""), "{page}");

    assert_eq!(sam.post(&at, &[("action", "receive"), ("location", "central"), ("received_1", "2")]).await.0, 303);
    let (_, page) = sam.get(&at).await;
    assert!(page.contains("id=\"inspect\""), "{page}");
    assert_eq!(sam.post(&at, &[("action", "inspect"), ("disposition_1", "restock"), ("note_1", "sealed")]).await.0, 303);
    let (_, page) = sam.get(&at).await;
    assert!(page.contains("id=\"return-status\">inspected<") && page.contains("restock"), "{page}");

    let (_, page) = sam.get("/dashboard/returns").await;
    assert!(page.contains("2 units returned of 5 shipped: 40.00%"), "{page}");
    assert!(page.contains("wrong item"), "{page}");

    // The helpdesk and the outbox have their pages; the warehouse sees no returns to work.
    assert_eq!(sam.get("/dashboard/helpdesk").await.0, 200);
    assert_eq!(sam.get("/dashboard/notifications").await.0, 200);
    let wanda = crate::common::Browserless::log_in(&server, "wanda", Role::Procurement).await;
    assert_eq!(wanda.post("/dashboard/returns", &[("order_id", &order), ("line", "1"), ("quantity", "1"), ("reason", "damaged")]).await.0, 403);
}

//! Procurement end to end: a policy approved through a change request, a proposal explained
//! from the forecast, a purchase order approved within the role's limit, receipts that fill
//! backorders and post inventory at the order's price, a bill matched (or disputed) against
//! them, and the books holding throughout.

use chrono::Utc;
use ordo_app::domain::access::Role;
use serde_json::{json, Value};

use crate::common::{balance, on_both_engines, Server};
use crate::orders::{order, shop};



/// A supplier of mugs, its price, and a min/max policy put in force by two buyers.
async fn supplier_and_policy(server: &Server, buyer: &str, checker: &str) {
    let t = &server.admin;
    let supplier = json!({"code": "potter", "name": "The Potter", "currency": "EUR", "lead_time_days": 7});
    assert_eq!(server.post(t, "/api/v1/suppliers", supplier).await.0, 201);
    let (status, _) = server.put(buyer, "/api/v1/suppliers/potter/terms", json!({"lead_time_sd_days": "1.5", "payment_terms_days": 30})).await;
    assert_eq!(status, 204);
    let price = json!({"unit_cost": "4.00", "moq": 24, "pack_size": 12, "preferred": true});
    assert_eq!(server.put(buyer, "/api/v1/suppliers/potter/skus/MUG-1", price).await.0, 204);

    let change = json!({"scope": "sku:MUG-1", "policy": {"kind": "min_max", "min": 10, "max": 60}});
    let (status, proposed) = server.post(buyer, "/api/v1/change-requests", json!({"kind": "replenishment_policy", "change": change, "reason": "steady seller"})).await;
    assert_eq!(status, 201, "{proposed}");
    let approve = format!("/api/v1/change-requests/{}/approve", proposed["id"].as_str().unwrap());
    assert_eq!(server.post(buyer, &approve, json!({})).await.0, 403, "nobody approves their own change");
    let (status, approved) = server.post(checker, &approve, json!({})).await;
    assert_eq!(status, 200, "{approved}");
    let (_, prices) = server.get(buyer, "/api/v1/supplier-skus?sku=MUG-1").await;
    assert_eq!(prices, json!([{"supplier": "potter", "sku": "MUG-1", "unit_cost": "4.00", "currency": "EUR", "moq": 24, "pack_size": 12, "preferred": true, "lead_time_days": 7}]));
    let (_, policies) = server.get(buyer, "/api/v1/replenishment/policies").await;
    assert_eq!(policies, json!([{"scope": "sku:MUG-1", "policy": {"kind": "min_max", "min": 10, "max": 60}}]));
}

async fn from_proposal_to_bill(server: Server) {
    shop(&server, 0).await;
    let buyer = server.token(Role::Procurement).await;
    let checker = server.ordo.access().create_token(Role::Procurement, "second buyer", &ordo_app::Actor::system()).await.unwrap().token;
    let warehouse = server.token(Role::Warehouse).await;
    let finance = server.token(Role::Finance).await;
    supplier_and_policy(&server, &buyer, &checker).await;
    // Three mugs sold with none in stock: they wait.
    for n in 0..3 {
        let body = order(&format!("P-{n}"), json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]));
        assert_eq!(server.post(&server.admin, "/api/v1/orders", body).await.0, 201);
    }

    let (status, refused) = server.get(&buyer, "/api/v1/replenishment/proposals?status=maybe").await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("status")), "a filter names a real status: {refused}");
    let (status, proposals) = server.post(&buyer, "/api/v1/replenishment/proposals", json!({})).await;
    assert_eq!(status, 201, "{proposals}");
    let proposal = &proposals[0];
    // Position: nothing on hand or on order, three backordered: -3, below the minimum of 10;
    // up to 60 is 63, rounded to whole packs of 12 above the minimum order of 24: 72.
    let numbers = &proposal["explanation"]["numbers"];
    assert_eq!((numbers["position"].as_i64(), numbers["raw_quantity"].as_i64(), proposal["quantity"].as_i64()), (Some(-3), Some(63), Some(72)), "{proposal}");
    assert_eq!(proposal["supplier"], "potter");
    assert!(proposal["explanation"]["method"].is_string(), "{proposal}");

    let approve = json!({"proposals": [{"id": proposal["id"]}]});
    assert_eq!(server.post(&warehouse, "/api/v1/replenishment/proposals/approve", approve.clone()).await.0, 403);
    let (status, orders) = server.post(&buyer, "/api/v1/replenishment/proposals/approve", approve).await;
    assert_eq!(status, 201, "{orders}");
    let po = &orders[0];
    assert_eq!((po["status"].as_str(), po["total"].as_str(), po["lines"][0]["quantity"].as_i64()), (Some("draft"), Some("288.00"), Some(72)), "{po}");
    let id = po["id"].as_str().unwrap().to_owned();
    let at = |what: &str| format!("/api/v1/purchase-orders/{id}/{what}");
    let exposure = server.ordo.procurement().procurement_exposure().await.unwrap();
    assert_eq!((exposure[0].open_orders, exposure[0].value.as_str(), exposure[0].currency.as_str()), (1, "288.00", "EUR"));

    let (status, refused) = server.post(&warehouse, &at("receipts"), json!({"lines": [{"line": 1, "quantity": 1}]})).await;
    assert_eq!((status, refused["error"]["current_state"].as_str()), (409, Some("draft")), "a draft is not received against: {refused}");
    for step in ["approved", "sent"] {
        let (status, moved) = server.post(&buyer, &at("status"), json!({"status": step})).await;
        assert_eq!((status, moved["status"].as_str()), (200, Some(step)), "{moved}");
    }

    let (inventory0, grni0) = (balance(&server, "1200").await, balance(&server, "2100").await);
    let (status, partly) = server.post(&warehouse, &at("receipts"), json!({"lines": [{"line": 1, "quantity": 40}]})).await;
    assert_eq!((status, partly["status"].as_str()), (200, Some("partially_received")), "{partly}");
    assert_eq!(balance(&server, "1200").await - inventory0, 16_000, "inventory at the order's price");
    assert_eq!(balance(&server, "2100").await - grni0, -16_000, "owed once the bill comes");
    let (_, stock) = server.get(&server.admin, "/api/v1/inventory?sku=MUG-1").await;
    let central = stock.as_array().unwrap().iter().find(|l| l["location"] == "central").unwrap().clone();
    assert_eq!((central["on_hand"].as_i64(), central["reserved"].as_i64()), (Some(40), Some(3)), "the receipt filled the backorders: {stock}");

    // A line named twice cannot slip past the limit.
    let (status, refused) = server.post(&warehouse, &at("receipts"), json!({"lines": [{"line": 1, "quantity": 30}, {"line": 1, "quantity": 30}]})).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines[1].line")), "{refused}");
    // 5% over the 72 ordered is the most: 75 in all.
    let (status, refused) = server.post(&warehouse, &at("receipts"), json!({"lines": [{"line": 1, "quantity": 36}]})).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines[0].quantity")), "{refused}");
    let (status, received) = server.post(&warehouse, &at("receipts"), json!({"lines": [{"line": 1, "quantity": 32}]})).await;
    assert_eq!((status, received["status"].as_str()), (200, Some("received")), "{received}");

    // Billed 2.5% dearer than ordered: the payable is what the bill says, the difference is
    // purchase price variance, and finance gets the dispute.
    let (payable0, ppv0, grni1) = (balance(&server, "2000").await, balance(&server, "5500").await, balance(&server, "2100").await);
    let bill = json!({"invoice": "INV-77", "lines": [{"line": 1, "quantity": 72, "unit_cost": "4.10"}]});
    assert_eq!(server.post(&buyer, &at("bills"), bill.clone()).await.0, 403, "bills are finance's");
    let (status, billed) = server.post(&finance, &at("bills"), bill).await;
    assert_eq!(status, 200, "{billed}");
    assert_eq!((billed["status"].as_str(), billed["bills"][0]["status"].as_str(), billed["bills"][0]["total"].as_str()), (Some("billed"), Some("disputed"), Some("295.20")));
    assert_eq!(balance(&server, "2100").await - grni1, 28_800, "goods received not invoiced is cleared");
    assert_eq!(balance(&server, "2000").await - payable0, -29_520);
    assert_eq!(balance(&server, "5500").await - ppv0, 720);
    let (_, disputes) = server.get(&finance, "/api/v1/exceptions?kind=procurement&status=open").await;
    assert_eq!(disputes[0]["owner_role"], "finance", "{disputes}");
    assert!(disputes[0]["details"]["problems"][0].as_str().unwrap().contains("billed at 4.10 but ordered at 4.00"), "{disputes}");

    assert_eq!(server.post(&buyer, &at("status"), json!({"status": "closed"})).await.1["status"], "closed");
    assert!(server.ordo.ledger().check_ledger().await.unwrap().holds());
    assert!(server.ordo.inventory().stock_discrepancies().await.unwrap().is_empty());
}
on_both_engines!(from_proposal_to_bill, from_proposal_to_bill_on_sqlite, from_proposal_to_bill_on_postgres);

/// Two replenishment runs at once (the nightly one and a buyer's) leave one proposal per SKU.
async fn replenishment_runs_at_once_propose_each_sku_once(server: Server) {
    shop(&server, 0).await;
    let buyer = server.token(Role::Procurement).await;
    let checker = server.ordo.access().create_token(Role::Procurement, "second buyer", &ordo_app::Actor::system()).await.unwrap().token;
    supplier_and_policy(&server, &buyer, &checker).await;
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (client, base, token) = (server.client.clone(), server.base.clone(), buyer.clone());
        runs.spawn(async move {
            let answer = client.post(format!("{base}/api/v1/replenishment/proposals")).bearer_auth(&token).json(&json!({})).send().await.unwrap();
            assert_eq!(answer.status().as_u16(), 201, "{}", answer.text().await.unwrap_or_default());
        });
    }
    while let Some(run) = runs.join_next().await {
        run.unwrap();
    }
    let (_, open) = server.get(&buyer, "/api/v1/replenishment/proposals?status=proposed").await;
    let skus: Vec<&str> = open.as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["MUG-1"], "{open}");
}

on_both_engines!(
    replenishment_runs_at_once_propose_each_sku_once,
    replenishment_runs_at_once_on_sqlite,
    replenishment_runs_at_once_on_postgres
);

/// Buyers drafting purchase orders at once each get a number of their own.
async fn purchase_orders_drafted_at_once_get_numbers_of_their_own(server: Server) {
    shop(&server, 0).await;
    let supplier = json!({"code": "potter", "name": "The Potter", "currency": "EUR", "lead_time_days": 7});
    assert_eq!(server.post(&server.admin, "/api/v1/suppliers", supplier).await.0, 201);
    let mut drafts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, base, token) = (server.client.clone(), server.base.clone(), server.admin.clone());
        drafts.spawn(async move {
            let body = json!({"supplier": "potter", "lines": [{"sku": "MUG-1", "quantity": 24, "unit_cost": "4.00"}]});
            let answer = client.post(format!("{base}/api/v1/purchase-orders")).bearer_auth(&token).json(&body).send().await.unwrap();
            let status = answer.status().as_u16();
            let po: Value = answer.json().await.unwrap();
            assert_eq!(status, 201, "{po}");
            po["number"].as_str().unwrap().to_owned()
        });
    }
    let mut numbers = std::collections::BTreeSet::new();
    while let Some(number) = drafts.join_next().await {
        numbers.insert(number.unwrap());
    }
    let expected: std::collections::BTreeSet<String> = (1..=8).map(|n| format!("PO-{n:06}")).collect();
    assert_eq!(numbers, expected);
}

on_both_engines!(
    purchase_orders_drafted_at_once_get_numbers_of_their_own,
    purchase_orders_numbered_at_once_on_sqlite,
    purchase_orders_numbered_at_once_on_postgres
);

/// Purchase orders of two lines, their lines in either order, received at either location
/// while orders for the same two SKUs come in and ship from central: every request succeeds,
/// and the stock and the books add up.
async fn receipts_of_several_lines_while_orders_ship_never_deadlock(server: Server) {
    shop(&server, 1000).await;
    let t = &server.admin;
    let vases = json!({"sku": "VASE-1", "location": "central", "quantity": 1000, "kind": "receipt", "reason": "opening"});
    assert_eq!(server.post(t, "/api/v1/inventory/movements", vases).await.0, 201);
    let supplier = json!({"code": "potter", "name": "The Potter", "currency": "EUR", "lead_time_days": 7});
    assert_eq!(server.post(t, "/api/v1/suppliers", supplier).await.0, 201);
    let mut purchases = Vec::new();
    for n in 0..12 {
        let (mug, vase) = (json!({"sku": "MUG-1", "quantity": 5, "unit_cost": "4.00"}), json!({"sku": "VASE-1", "quantity": 5, "unit_cost": "8.50"}));
        let lines = if n % 2 == 0 { json!([mug, vase]) } else { json!([vase, mug]) };
        let location = if n % 4 < 2 { "central" } else { "overflow" };
        let (status, po) = server.post(t, "/api/v1/purchase-orders", json!({"supplier": "potter", "location": location, "lines": lines})).await;
        assert_eq!(status, 201, "{po}");
        let id = po["id"].as_str().unwrap().to_owned();
        for step in ["approved", "sent"] {
            assert_eq!(server.post(t, &format!("/api/v1/purchase-orders/{id}/status"), json!({"status": step})).await.0, 200);
        }
        purchases.push(id);
    }

    let mut tasks = tokio::task::JoinSet::new();
    for (task, mine) in purchases.chunks(3).enumerate() {
        let (client, base, token, mine) = (server.client.clone(), server.base.clone(), server.admin.clone(), mine.to_vec());
        tasks.spawn(async move {
            for (n, id) in mine.iter().enumerate() {
                // Received in the order's line order, or against it.
                let lines = if (task + n) % 2 == 0 { json!([{"line": 1, "quantity": 5}, {"line": 2, "quantity": 5}]) } else { json!([{"line": 2, "quantity": 5}, {"line": 1, "quantity": 5}]) };
                let answer = client.post(format!("{base}/api/v1/purchase-orders/{id}/receipts")).bearer_auth(&token).json(&json!({"lines": lines})).send().await.unwrap();
                let status = answer.status();
                assert_eq!(status, 200, "receipt: {}", answer.text().await.unwrap_or_default());
            }
        });
    }
    for task in 0..4 {
        let (client, base, token) = (server.client.clone(), server.base.clone(), server.admin.clone());
        tasks.spawn(async move {
            for n in 0..6 {
                let (mug, vase) = (json!({"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}), json!({"sku": "VASE-1", "quantity": 1, "unit_price": "25.00"}));
                let lines = if (task + n) % 2 == 0 { json!([mug, vase]) } else { json!([vase, mug]) };
                let placed = client.post(format!("{base}/api/v1/orders")).bearer_auth(&token).json(&order(&format!("R-{task}-{n}"), lines)).send().await.unwrap();
                let status = placed.status();
                assert_eq!(status, 201, "order: {}", placed.text().await.unwrap_or_default());
                let id = placed.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
                let parcel = json!({"location": "central", "carrier": "ups", "tracking_number": format!("1Z-{task}-{n}")});
                let answer = client.post(format!("{base}/api/v1/orders/{id}/shipments")).bearer_auth(&token).json(&parcel).send().await.unwrap();
                let status = answer.status();
                assert_eq!(status, 201, "shipment: {}", answer.text().await.unwrap_or_default());
            }
        });
    }
    while let Some(task) = tasks.join_next().await {
        task.unwrap();
    }

    // Six orders of five to each location, 24 shipped from central.
    for sku in ["MUG-1", "VASE-1"] {
        let (_, levels) = server.get(t, &format!("/api/v1/inventory?sku={sku}")).await;
        let on_hand = |location: &str| levels.as_array().unwrap().iter().find(|l| l["location"] == location).map(|l| (l["on_hand"].as_i64(), l["reserved"].as_i64()));
        assert_eq!(on_hand("central"), Some((Some(1000 + 30 - 24), Some(0))), "{sku}: {levels}");
        assert_eq!(on_hand("overflow"), Some((Some(30), Some(0))), "{sku}: {levels}");
    }
    assert!(server.ordo.ledger().check_ledger().await.unwrap().holds());
    assert!(server.ordo.inventory().stock_discrepancies().await.unwrap().is_empty());
}

on_both_engines!(
    receipts_of_several_lines_while_orders_ship_never_deadlock,
    receipts_while_orders_ship_never_deadlock_on_sqlite,
    receipts_while_orders_ship_never_deadlock_on_postgres
);

/// A role approves only up to its limit; bad policies, receipts and bills are refused naming
/// why; a late order and a SKU's forecast are there to see.
#[tokio::test]
async fn limits_bad_input_late_orders_and_forecasts() {
    let server = Server::start().await;
    shop(&server, 5).await;
    let buyer = server.token(Role::Procurement).await;
    let checker = server.ordo.access().create_token(Role::Procurement, "second buyer", &ordo_app::Actor::system()).await.unwrap().token;
    supplier_and_policy(&server, &buyer, &checker).await;

    let big = json!({"supplier": "potter", "lines": [{"sku": "MUG-1", "quantity": 10_000, "unit_cost": "4.00"}]});
    let (status, po) = server.post(&buyer, "/api/v1/purchase-orders", big).await;
    assert_eq!(status, 201, "{po}");
    let id = po["id"].as_str().unwrap().to_owned();
    let (status, refused) = server.post(&buyer, &format!("/api/v1/purchase-orders/{id}/status"), json!({"status": "approved"})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (403, Some("forbidden")), "40,000.00 is over procurement's 25,000.00: {refused}");
    let ops = server.token(Role::Ops).await;
    assert_eq!(server.post(&ops, &format!("/api/v1/purchase-orders/{id}/status"), json!({"status": "approved"})).await.0, 200);
    assert_eq!(server.post(&ops, &format!("/api/v1/purchase-orders/{id}/status"), json!({"status": "sent"})).await.0, 200);

    // Past its expected date (seven days), the order is a procurement exception.
    let later = server.ordo.with_clock(ordo_app::Clock::simulated(Utc::now() + chrono::Duration::days(8)));
    assert_eq!(later.procurement().watch_purchase_orders().await.unwrap(), 1);
    assert_eq!(later.procurement().watch_purchase_orders().await.unwrap(), 0, "raised once");

    for (policy, field) in [
        (json!({"kind": "reorder_point", "service_level": 1.5, "cover_days": 14}), "change.policy.service_level"),
        (json!({"kind": "reorder_point", "service_level": 0.95, "cover_days": 0}), "change.policy.cover_days"),
        (json!({"kind": "min_max", "min": 5, "max": 2}), "change.policy.max"),
        (json!({"kind": "guess"}), "change.policy"),
    ] {
        let change = json!({"kind": "replenishment_policy", "change": {"scope": "class:A", "policy": policy}, "reason": "try"});
        let (status, refused) = server.post(&buyer, "/api/v1/change-requests", change).await;
        assert_eq!((status, refused["error"]["field"].as_str()), (422, Some(field)), "{refused}");
    }
    let late = json!({"code": "slow", "name": "Slow Ltd", "currency": "EUR", "lead_time_days": -3});
    let (status, refused) = server.post(&server.admin, "/api/v1/suppliers", late).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lead_time_days")), "{refused}");
    for spread in ["-1", "1.55", "x", ""] {
        let (status, refused) = server.put(&buyer, "/api/v1/suppliers/potter/terms", json!({"lead_time_sd_days": spread, "payment_terms_days": 30})).await;
        assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lead_time_sd_days")), "{spread}: {refused}");
    }
    let unknown = "/api/v1/purchase-orders/01900000-0000-7000-8000-000000000000/bills";
    let finance = server.token(Role::Finance).await;
    let (status, _) = server.post(&finance, unknown, json!({"invoice": "X-1", "lines": [{"line": 1, "quantity": 1, "unit_cost": "1.00"}]})).await;
    assert_eq!(status, 404);
    let (status, refused) = server.put(&buyer, "/api/v1/suppliers/potter/skus/MUG-1", json!({"unit_cost": "4.00", "pack_size": 0})).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("pack_size")), "{refused}");

    let body = order("F-1", json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}]));
    assert_eq!(server.post(&server.admin, "/api/v1/orders", body).await.0, 201);
    let (status, forecast) = server.get(&buyer, "/api/v1/forecasts/MUG-1").await;
    assert_eq!(status, 200, "{forecast}");
    assert_eq!(forecast["forecast"].as_array().unwrap().len(), 56);
    assert!(forecast["method"].is_string() && forecast["backtest"].is_object(), "{forecast}");
    // One day of sales is too little to back-test: the declining rate alone, and why.
    assert_eq!((forecast["chosen_because"].as_str(), forecast["pooled"].clone(), forecast["backtest_needs_days"].as_u64()), (Some("untested"), json!(["decline"]), Some(56)), "{forecast}");
    assert_eq!(forecast["recent"].as_array().unwrap().iter().map(|d| d.as_i64().unwrap()).sum::<i64>(), 2, "{forecast}");
    assert_eq!(server.get(&buyer, "/api/v1/forecasts/NOPE").await.0, 404);
}

/// A buyer works the procurement page without JavaScript: approves a proposal at an edited
/// quantity, moves the order on, and reads a SKU's forecast chart.
#[tokio::test]
async fn a_buyer_works_proposals_and_orders_from_the_dashboard() {
    let server = Server::start().await;
    shop(&server, 0).await;
    let buyer = server.token(Role::Procurement).await;
    let checker = server.ordo.access().create_token(Role::Procurement, "second buyer", &ordo_app::Actor::system()).await.unwrap().token;
    supplier_and_policy(&server, &buyer, &checker).await;
    let body = order("W-1", json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}]));
    assert_eq!(server.post(&server.admin, "/api/v1/orders", body).await.0, 201);
    let (_, proposals) = server.post(&buyer, "/api/v1/replenishment/proposals", json!({})).await;
    let id = proposals[0]["id"].as_str().unwrap().to_owned();

    let pia = crate::common::Browserless::log_in(&server, "pia", Role::Procurement).await;
    let (status, page) = pia.get("/dashboard/procurement").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"proposals\"") && page.contains("position -2"), "{page}");
    let quantity = format!("quantity_{id}");
    let (status, at) = pia.post("/dashboard/procurement/proposals", &[("ids", &id), (&quantity, "96"), ("action", "approve")]).await;
    assert_eq!((status, at.as_str()), (303, "/dashboard/procurement"));
    let orders = server.ordo.procurement().purchase_orders(None).await.unwrap();
    assert_eq!(orders[0].lines[0].quantity, 96, "the edited quantity");
    let order_page = format!("/dashboard/procurement/orders/{}", orders[0].id);
    assert_eq!(pia.post(&order_page, &[("action", "move"), ("status", "approved")]).await.0, 303);
    let (_, page) = pia.get(&order_page).await;
    assert!(page.contains("id=\"po-status\">approved<"), "{page}");
    let (_, page) = pia.get("/dashboard/procurement").await;
    assert!(page.contains("<td class=\"num\">384.00 EUR</td>"), "96 mugs at 4.00 still to arrive: {page}");

    let (status, chart) = pia.get("/dashboard/procurement/forecast/MUG-1").await;
    assert_eq!(status, 200);
    assert!(chart.contains("<svg") && chart.contains("<polyline") && chart.contains("id=\"backtest\""), "{chart}");
    assert!(chart.contains("decline alone: a back-test needs 56 days from the first sale"), "{chart}");
}

/// A SKU with months of sales is forecast by the mean of its three best methods in back-test,
/// and the forecast says which, with each one's parameters.
#[test]
fn a_sku_with_months_of_sales_gets_the_pool_of_its_best_methods() {
    // 120 days with a weekend lift, never out of stock.
    let days: Vec<f64> = (0..120).map(|d| if d % 7 >= 5 { 9.0 } else { 4.0 } + f64::from(d % 3)).collect();
    let f = ordo_app::forecast_history("MUG-1", days, vec![false; 120]).unwrap();
    assert_eq!((f.chosen_because.as_str(), f.pooled.len(), f.backtest_needs_days), ("pooled", 3, 56), "{f:?}");
    assert_eq!(f.method, f.pooled.join(" + "));
    assert!(f.pooled.iter().all(|m| f.backtest[m].is_some() && m != "croston" && m != "croston_sba"), "{f:?}");
    assert!(f.parameters.keys().all(|k| f.pooled.iter().any(|m| k.starts_with(&format!("{m}.")))), "{f:?}");
    assert!(f.daily_demand > 4.0 && f.daily_demand < 9.0, "{f:?}");
}

/// The promotion calendar marks the days a forecast must read differently; demand by day shows
/// sales, stockout days and promoted days, per channel or all; the accuracy report scores the
/// forecasts against days they had not seen.
#[tokio::test]
async fn demand_history_promotions_and_forecast_accuracy() {
    let server = Server::start().await;
    shop(&server, 0).await;
    let t = &server.admin;
    for n in 0..3 {
        let body = order(&format!("D-{n}"), json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}]));
        assert_eq!(server.post(t, "/api/v1/orders", body).await.0, 201);
    }
    let promotion = json!({"name": "Black Friday", "sku": "MUG-1", "starts_on": "2026-11-20", "ends_on": "2026-11-21"});
    let (status, made) = server.post(t, "/api/v1/promotions", promotion).await;
    assert_eq!(status, 201, "{made}");
    let (status, refused) = server.post(t, "/api/v1/promotions", json!({"name": "x", "starts_on": "2026-11-21", "ends_on": "2026-11-20"})).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("ends_on")), "{refused}");
    let (status, refused) = server.post(t, "/api/v1/promotions", json!({"name": "x", "sku": "NOPE", "starts_on": "2026-11-20", "ends_on": "2026-11-20"})).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("sku")), "{refused}");

    let (status, days) = server.get(t, "/api/v1/demand/MUG-1?days=30").await;
    assert_eq!(status, 200, "{days}");
    let sale = days.as_array().unwrap().iter().find(|d| d["day"] == "2026-11-20").unwrap().clone();
    assert_eq!((sale["units"].as_i64(), sale["promoted"].as_bool(), sale["stockout"].as_bool()), (Some(6), Some(true), Some(true)), "sold while none was in stock: {sale}");
    let (_, on_amazon) = server.get(t, "/api/v1/demand/MUG-1?days=30&channel=web").await;
    assert_eq!(on_amazon.as_array().unwrap().iter().map(|d| d["units"].as_i64().unwrap()).sum::<i64>(), 6);
    assert_eq!(server.get(t, "/api/v1/demand/MUG-1?days=30&channel=nope").await.0, 422);

    let (status, report) = server.get(t, "/api/v1/forecasts/accuracy?holdout=7").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["holdout_days"], 7);
    assert!(report["skus"].is_array(), "{report}");
    assert_eq!(server.get(t, "/api/v1/forecasts/accuracy?holdout=0").await.0, 422);
}

/// However many servers look at the clock, the night's proposals are made once a day, and not
/// before two in the morning.
async fn the_nightly_run_happens_once_a_day(server: Server) {
    let today = Utc::now().date_naive();
    let at = |day: chrono::NaiveDate, hour: u32| server.ordo.with_clock(ordo_app::Clock::simulated(day.and_hms_opt(hour, 0, 0).unwrap().and_utc()));
    let system = ordo_app::Actor::system();
    assert!(at(today, 1).procurement().nightly_replenishment(&system).await.unwrap().is_none(), "too early");
    let (one, other) = (at(today, 3), at(today, 3));
    let (first, second) = tokio::join!(one.procurement().nightly_replenishment(&system), other.procurement().nightly_replenishment(&system));
    assert_eq!([first.unwrap().is_some(), second.unwrap().is_some()].iter().filter(|ran| **ran).count(), 1);
    assert!(at(today, 4).procurement().nightly_replenishment(&system).await.unwrap().is_none(), "once a day");
    assert!(at(today.succ_opt().unwrap(), 2).procurement().nightly_replenishment(&system).await.unwrap().is_some(), "and again the next night");
}
on_both_engines!(the_nightly_run_happens_once_a_day, nightly_once_on_sqlite, nightly_once_on_postgres);

/// Rejecting from the dashboard rejects every ticked proposal at once and keeps what each
/// proposed; a proposal already decided cannot be rejected again.
#[tokio::test]
async fn rejected_proposals_keep_their_numbers() {
    let server = Server::start().await;
    shop(&server, 0).await;
    let buyer = server.token(Role::Procurement).await;
    let checker = server.ordo.access().create_token(Role::Procurement, "second buyer", &ordo_app::Actor::system()).await.unwrap().token;
    supplier_and_policy(&server, &buyer, &checker).await;
    let body = order("X-1", json!([{"sku": "MUG-1", "quantity": 3, "unit_price": "12.90"}]));
    assert_eq!(server.post(&server.admin, "/api/v1/orders", body).await.0, 201);
    let (_, proposals) = server.post(&buyer, "/api/v1/replenishment/proposals", json!({})).await;
    let id = proposals[0]["id"].as_str().unwrap().to_owned();
    let quantity = proposals[0]["quantity"].as_i64().unwrap();

    let pia = crate::common::Browserless::log_in(&server, "pia", Role::Procurement).await;
    assert_eq!(pia.post("/dashboard/procurement/proposals", &[("ids", &id), ("action", "reject")]).await.0, 303);
    let (_, rejected) = server.get(&buyer, "/api/v1/replenishment/proposals?status=rejected").await;
    assert_eq!((rejected[0]["id"].as_str(), rejected[0]["quantity"].as_i64()), (Some(id.as_str()), Some(quantity)), "{rejected}");
    let (status, refused) = server.post(&buyer, &format!("/api/v1/replenishment/proposals/{id}/reject"), json!({})).await;
    assert_eq!((status, refused["error"]["current_state"].as_str()), (409, Some("decided")), "{refused}");
}

/// Sends `csv` to the API as sales history from before Ordo.
async fn import_sales_history(server: &Server, token: &str, query: &str, csv: &str) -> (u16, Value) {
    crate::settlements::post_text(server, token, &format!("/api/v1/sales-history{query}"), csv.to_owned()).await
}

/// MUG-1's units sold over the last two years, as its demand chart shows them (`query` may
/// name a channel).
async fn units_sold(server: &Server, token: &str, query: &str) -> i64 {
    let (_, days) = server.get(token, &format!("/api/v1/demand/MUG-1?days=730{query}")).await;
    days.as_array().unwrap().iter().map(|d| d["units"].as_i64().unwrap()).sum()
}

/// A business moving to Ordo brings the sales its old system kept: imported, a SKU's forecast
/// is back-tested at once instead of weeks later, its demand chart shows them, and Ordo's own
/// sales count from their first day on, never twice.
async fn sales_history_from_before_ordo_gives_a_forecast_its_back_test(server: Server) {
    shop(&server, 100).await;
    let buyer = server.token(Role::Procurement).await;
    // Ordo's first sale of MUG-1 was ten days ago.
    let first_own = Utc::now().date_naive() - chrono::Duration::days(10);
    let mut body = order("H-1", json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}]));
    body["placed_at"] = format!("{first_own}T10:00:00Z").into();
    assert_eq!(server.post(&server.admin, "/api/v1/orders", body).await.0, 201);
    let untested = server.get(&buyer, "/api/v1/forecasts/MUG-1").await.1;
    assert_eq!(untested["chosen_because"], "untested", "{untested}");

    // A bad file imports nothing, and says which line and field is wrong.
    let (before, after) = (first_own - chrono::Duration::days(30), first_own + chrono::Duration::days(2));
    let bad = format!("sku,date,quantity\nNOPE-1,{before},1\nMUG-1,{after},3\nMUG-1,{before},2.5\nMUG-1,{before},1\n");
    let (status, refused) = import_sales_history(&server, &buyer, "", &bad).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("sku")), "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("3 of 4 rows refused, nothing imported: line 2: sku: no product has SKU \"NOPE-1\"; "), "{message}");
    assert!(message.contains(&format!("; line 3: date: must be before {first_own}")) && message.contains("; line 4: quantity: "), "{message}");
    assert_eq!(server.get(&buyer, "/api/v1/demand/MUG-1?days=730").await.1.as_array().unwrap().iter().map(|d| d["units"].as_i64().unwrap()).sum::<i64>(), 2);
    let (status, empty) = import_sales_history(&server, &buyer, "", "sku,date,quantity\n").await;
    assert_eq!((status, empty["rows"].as_u64(), empty["imported"].as_u64()), (200, Some(0), Some(0)), "{empty}");
    let (_, header) = import_sales_history(&server, &buyer, "", "sku,day,quantity\n").await;
    assert_eq!(header["error"]["field"], "header", "{header}");
    let too_large = format!("sku,date,quantity\n{}", "MUG-1,2020-01-01,1\n".repeat(2 * 1024 * 1024));
    assert_eq!(import_sales_history(&server, &buyer, "", &too_large).await.0, 413, "over 32 MiB: the command line takes it");
    let viewer = server.token(Role::Viewer).await;
    assert_eq!(import_sales_history(&server, &viewer, "", &bad).await.0, 403);
    // Told to, it imports the good row and lists the others.
    let (status, skipped) = import_sales_history(&server, &buyer, "?skip_invalid=true", &bad).await;
    assert_eq!((status, skipped["rows"].as_u64(), skipped["imported"].as_u64()), (200, Some(4), Some(1)), "{skipped}");
    assert_eq!(skipped["skipped"][0], "line 2: sku: no product has SKU \"NOPE-1\"", "{skipped}");
    assert_eq!(skipped["skipped"].as_array().map(Vec::len), Some(3), "{skipped}");
    assert_eq!(server.get(&buyer, "/api/v1/forecasts/MUG-1").await.1["chosen_because"], "untested");

    // 150 days before Ordo, a weekly pattern; the first day in two rows and with a return.
    let week = [3, 1, 0, 2, 4, 0, 1];
    let mut csv = String::from("sku,date,quantity\n");
    for i in 0..150 {
        let day = first_own - chrono::Duration::days(150 - i);
        csv += &format!("MUG-1,{day},{}\n", week[i as usize % 7]);
    }
    csv += &format!("MUG-1,{},2\nMUG-1,{},-1\n", first_own - chrono::Duration::days(150), first_own - chrono::Duration::days(150));
    let (status, report) = import_sales_history(&server, &buyer, "", &csv).await;
    assert_eq!((status, report["rows"].as_u64(), report["imported"].as_u64()), (200, Some(152), Some(152)), "{report}");
    assert_eq!(report["skipped"], json!([]));

    let (status, forecast) = server.get(&buyer, "/api/v1/forecasts/MUG-1").await;
    assert_eq!(status, 200, "{forecast}");
    assert_eq!(forecast["chosen_because"], "pooled", "{forecast}");
    assert_eq!(forecast["pooled"].as_array().unwrap().len(), 3, "{forecast}");
    assert_eq!(forecast["history_days"], 160, "150 days imported and 10 in Ordo: {forecast}");
    // About 11 units a week before Ordo, and quiet since.
    let daily = forecast["daily_demand"].as_f64().unwrap();
    assert!((0.3..2.0).contains(&daily), "{forecast}");

    let (status, days) = server.get(&buyer, "/api/v1/demand/MUG-1?days=730").await;
    assert_eq!(status, 200, "{days}");
    let days = days.as_array().unwrap();
    let on = |date: chrono::NaiveDate| days.iter().find(|d| d["day"] == date.to_string()).unwrap();
    let opening = on(first_own - chrono::Duration::days(150));
    assert_eq!((opening["units"].as_i64(), opening["stockout"].as_bool()), (Some(4), Some(false)), "rows summed, the return taken off: {opening}");
    assert_eq!(on(first_own)["units"], 2, "Ordo's own sale");
    let imported: i64 = days.iter().filter(|d| d["day"].as_str().unwrap() < first_own.to_string().as_str()).map(|d| d["units"].as_i64().unwrap()).sum();
    assert_eq!(imported, (0..150).map(|i| week[i % 7]).sum::<i64>() + 1);
    // The web channel's own history has none of them: they name no channel.
    assert_eq!(units_sold(&server, &buyer, "&channel=web").await, 2);

    // A row may name its channel: it shows in that channel's demand as well as the SKU's. The
    // day is imported again, so what it had is replaced.
    let day = first_own - chrono::Duration::days(5);
    let had = week[(150 - 5) % 7];
    let (status, refused) = import_sales_history(&server, &buyer, "", &format!("sku,date,quantity,channel\nMUG-1,{day},5,nope\n")).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("channel")), "{refused}");
    let by_channel = format!("sku,date,quantity,channel\nMUG-1,{day},5,web\nMUG-1,{day},1,\n");
    assert_eq!(import_sales_history(&server, &buyer, "", &by_channel).await.1["imported"], 2);
    assert_eq!(units_sold(&server, &buyer, "&channel=web").await, 2 + 5);
    assert_eq!(units_sold(&server, &buyer, "").await, imported + 2 - had + 6);

    // Imported again without channels, a day is replaced on every channel, not added to.
    assert_eq!(import_sales_history(&server, &buyer, "", &csv).await.1["imported"], 152);
    assert_eq!(units_sold(&server, &buyer, "").await, imported + 2);
    assert_eq!(units_sold(&server, &buyer, "&channel=web").await, 2);
    let (_, audit) = server.get(&server.admin, "/api/v1/audit?action=sales_history.import").await;
    assert_eq!(audit.as_array().map(Vec::len), Some(4), "each import audited once: {audit}");
}

on_both_engines!(
    sales_history_from_before_ordo_gives_a_forecast_its_back_test,
    sales_history_gives_a_back_test_on_sqlite,
    sales_history_gives_a_back_test_on_postgres
);

/// The demo business moved to Ordo with half a year of its old system's sales: three days
/// into trading its forecasts are already back-tested pools, and its demand chart shows the
/// old sales as sales, not as days out of stock.
#[tokio::test]
async fn the_demo_brings_its_old_sales_so_its_forecasts_are_back_tested() {
    let (server, summary) = Server::start_demo_trading(None, 3).await;
    assert_eq!(summary.trading.old_sales.days, 180);
    assert!(summary.trading.old_sales.units > 10_000, "{:?}", summary.trading.old_sales);
    let products = server.ordo.master_data().products(None, 500, 0).await.unwrap().products;
    let a = products.iter().find(|p| p.active && p.abc_class == ordo_app::domain::master::AbcClass::A).unwrap();
    let buyer = server.token(Role::Procurement).await;

    let (status, forecast) = server.get(&buyer, &format!("/api/v1/forecasts/{}", a.sku)).await;
    assert_eq!(status, 200, "{forecast}");
    assert_eq!((forecast["chosen_because"].as_str(), forecast["pooled"].as_array().map(Vec::len)), (Some("pooled"), Some(3)), "{forecast}");
    assert!(forecast["history_days"].as_u64().unwrap() > 150, "{forecast}");

    let (_, days) = server.get(&buyer, &format!("/api/v1/demand/{}?days=200", a.sku)).await;
    let opened = (Utc::now().date_naive() - chrono::Duration::days(3)).to_string();
    let before: Vec<&serde_json::Value> = days.as_array().unwrap().iter().filter(|d| d["day"].as_str().unwrap() < opened.as_str()).collect();
    let sold_before = |days: &serde_json::Value| -> i64 {
        days.as_array().unwrap().iter().filter(|d| d["day"].as_str().unwrap() < opened.as_str()).map(|d| d["units"].as_i64().unwrap()).sum()
    };
    let total = sold_before(&days);
    assert!(total > 100, "an A item sells most days");
    assert!(before.iter().all(|d| d["stockout"] == false), "before Ordo its stock was not Ordo's to know");
    // The old sales name their channels, so each channel's chart shows its own part of them.
    let mut parts = Vec::new();
    for channel in ["amazon", "wayfair", "web", "b2b"] {
        let (status, days) = server.get(&buyer, &format!("/api/v1/demand/{}?days=200&channel={channel}", a.sku)).await;
        assert_eq!(status, 200, "{days}");
        parts.push(sold_before(&days));
    }
    assert_eq!(parts.iter().sum::<i64>(), total, "{parts:?}");
    assert!(parts.iter().filter(|&&units| units > 0).count() >= 2, "an A item sells on more than one channel: {parts:?}");
}

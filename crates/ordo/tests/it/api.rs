//! The HTTP API against a real server: authentication, permissions, validation that changes
//! nothing, and round trips.

use ordo_app::domain::access::Role;
use serde_json::{json, Value};

use crate::common::{postgres_url, Server};
use crate::common::on_both_engines;

async fn seed_master_data(server: &Server) {
    let t = &server.admin;
    let cases = [
        ("/api/v1/channels", json!({"code": "web", "name": "Web shop", "kind": "web", "currency": "EUR"})),
        ("/api/v1/locations", json!({"code": "central", "name": "Central", "kind": "warehouse", "priority": 1})),
        ("/api/v1/products", json!({"sku": "MUG-1", "name": "Stoneware mug", "unit_cost": "4.20"})),
        ("/api/v1/listings", json!({"channel": "web", "channel_sku": "W-MUG-1", "sku": "MUG-1", "price": "12.90"})),
    ];
    for (path, body) in cases {
        let (status, answer) = server.post(t, path, body).await;
        assert_eq!(status, 201, "{path}: {answer}");
    }
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401_and_the_wrong_role_403() {
    let server = Server::start().await;
    let url = format!("{}/api/v1/channels", server.base);
    let body = json!({"code": "web", "name": "Web", "kind": "web", "currency": "EUR"});

    let response = server.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "unauthorized");

    let (status, _) = server.post("ordo_not-a-real-token", "/api/v1/channels", body.clone()).await;
    assert_eq!(status, 401);
    let response = server.client.get(&url).header("Authorization", "Basic YWRtaW46YWRtaW4=").send().await.unwrap();
    assert_eq!(response.status(), 401);

    let viewer = server.token(Role::Viewer).await;
    let (status, answer) = server.post(&viewer, "/api/v1/channels", body.clone()).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("forbidden")));
    let (status, _) = server.get(&viewer, "/api/v1/channels").await;
    assert_eq!(status, 200, "viewers read");

    let (status, _) = server.post(&server.admin, "/api/v1/channels", body).await;
    assert_eq!(status, 201);
    let (_, channels) = server.get(&viewer, "/api/v1/channels").await;
    assert_eq!(channels.as_array().unwrap().len(), 1, "the 403 wrote nothing, the 201 did");
}

/// Every path and method the OpenAPI document lists under /api/v1 refuses a caller without
/// a token, so no route can be added without its permission check.
#[tokio::test]
async fn every_documented_route_needs_a_token() {
    let server = Server::start().await;
    let doc: Value = server.client.get(format!("{}/api/openapi.json", server.base)).send().await.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 10, "the document lists the API: {paths:?}");
    for (path, operations) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        let concrete = path.replace("{code}", "web").replace("{sku}", "MUG-1");
        for method in operations.as_object().unwrap().keys() {
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let response = server.client.request(method.clone(), format!("{}{concrete}", server.base)).send().await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path}");
        }
    }
    let health = server.client.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

/// The served document is one a generated client can use: every path parameter is in its
/// path and every placeholder declared, query parameters are declared in the query, operation
/// ids are unique, and every schema a route names exists. (CI also runs
/// openapi-spec-validator on it.)
#[tokio::test]
async fn the_openapi_document_declares_its_parameters_where_they_go() {
    let server = Server::start().await;
    let doc: Value = server.client.get(format!("{}/api/openapi.json", server.base)).send().await.unwrap().json().await.unwrap();
    let mut operation_ids = std::collections::HashSet::new();
    let text = doc.to_string();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        let placeholders: std::collections::BTreeSet<&str> =
            path.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect();
        for (method, operation) in operations.as_object().unwrap() {
            let declared: std::collections::BTreeSet<&str> = operation["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            assert_eq!(declared, placeholders, "{method} {path}: path parameters");
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["name"] == "limit" {
                    assert!(parameter["schema"]["maximum"].is_number(), "{method} {path}: limit states its bound");
                }
            }
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(operation_ids.insert(id.to_owned()), "{method} {path}: operationId {id} twice");
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "{name} is named but not described");
    }
    for name in ["PurchaseOrderReceipt", "ReturnReceipt", "ProposalApproval", "RuleApproval"] {
        assert!(schemas.contains_key(name), "each body has its own schema: {name}");
    }
}

#[tokio::test]
async fn bad_input_names_the_field_and_changes_nothing() {
    let server = Server::start().await;
    seed_master_data(&server).await;
    let t = &server.admin;
    let long = "x".repeat(201);
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("/api/v1/products", json!({"sku": "A", "name": "A", "unit_cost": "1.00", "colour": "red"}), 422, "colour"),
        ("/api/v1/products", json!({"sku": "A", "name": "A", "unit_cost": 1.5}), 422, "unit_cost"),
        ("/api/v1/products", json!({"sku": "A", "name": "A", "unit_cost": "1.234"}), 422, "unit_cost"),
        ("/api/v1/products", json!({"sku": "A", "name": "A", "unit_cost": "-1.00"}), 422, "unit_cost"),
        ("/api/v1/products", json!({"sku": "", "name": "A", "unit_cost": "1.00"}), 422, "sku"),
        ("/api/v1/products", json!({"sku": "A B", "name": "A", "unit_cost": "1.00"}), 422, "sku"),
        ("/api/v1/products", json!({"sku": "A", "name": long, "unit_cost": "1.00"}), 422, "name"),
        ("/api/v1/products", json!({"sku": "A", "name": "   ", "unit_cost": "1.00"}), 422, "name"),
        ("/api/v1/products", json!({"sku": "A", "unit_cost": "1.00"}), 422, "name"),
        ("/api/v1/products", json!({"sku": "A", "name": "A", "unit_cost": "1.00", "weight_grams": -5}), 422, "weight_grams"),
        ("/api/v1/products", json!({"sku": "MUG-1", "name": "Again", "unit_cost": "1.00"}), 409, "sku"),
        ("/api/v1/channels", json!({"code": "web", "name": "Web", "kind": "web", "currency": "EUR"}), 409, "code"),
        ("/api/v1/channels", json!({"code": "x", "name": "X", "kind": "fax", "currency": "EUR"}), 422, "kind"),
        ("/api/v1/channels", json!({"code": "x", "name": "X", "kind": "web", "currency": "EURO"}), 422, "currency"),
        ("/api/v1/locations", json!({"code": "y", "name": "Y", "kind": "store", "priority": "high"}), 422, "priority"),
        ("/api/v1/locations", json!({"code": "y", "name": "Y", "kind": "store", "priority": 1, "time_zone": "Moon/Base"}), 422, "time_zone"),
        ("/api/v1/listings", json!({"channel": "web", "channel_sku": "Z", "sku": "NOPE", "price": "1.00"}), 422, "sku"),
        ("/api/v1/listings", json!({"channel": "nope", "channel_sku": "Z", "sku": "MUG-1", "price": "1.00"}), 422, "channel"),
        ("/api/v1/listings", json!({"channel": "web", "channel_sku": "W-MUG-1", "sku": "MUG-1", "price": "1.00"}), 409, "channel_sku"),
        ("/api/v1/customers", json!({"email": "not-an-address", "name": "Ann"}), 422, "email"),
        ("/api/v1/inventory/movements", json!({"sku": "MUG-1", "location": "central", "quantity": -5, "kind": "receipt", "reason": "x"}), 422, "quantity"),
        ("/api/v1/inventory/movements", json!({"sku": "MUG-1", "location": "central", "quantity": -5, "kind": "adjustment", "reason": "x"}), 409, "quantity"),
        ("/api/v1/inventory/movements", json!({"sku": "MUG-1", "location": "mars", "quantity": 5, "kind": "receipt", "reason": "x"}), 422, "location"),
    ];
    let before = server.ordo.master_data().master_data_counts().await.unwrap();
    for (path, body, status, field) in cases {
        let (got, answer) = server.post(t, path, body.clone()).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{path} {body}: {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(server.ordo.master_data().master_data_counts().await.unwrap(), before);
    assert_eq!(server.ordo.inventory().stock_levels(None).await.unwrap(), vec![], "no movement was recorded");

    let url = format!("{}/api/v1/products", server.base);
    let malformed = server.client.post(&url).bearer_auth(t).header("content-type", "application/json").body("{\"sku\":").send().await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(malformed.json::<Value>().await.unwrap()["error"]["code"], "malformed_json");
    let not_json = server.client.post(&url).bearer_auth(t).body("sku=A").send().await.unwrap();
    assert_eq!(not_json.status(), 415);
    let huge = json!({"sku": "A", "name": "x".repeat(100_000), "unit_cost": "1.00"});
    let (status, answer) = server.post(t, "/api/v1/products", huge).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (413, Some("payload_too_large")));
    let (status, answer) = server.get(t, "/api/v1/products?limit=abc").await;
    assert_eq!((status, answer["error"]["field"].as_str()), (422, Some("limit")));
    let (status, answer) = server.get(t, "/api/v1/products?limit=100000").await;
    assert_eq!((status, answer["error"]["field"].as_str()), (422, Some("limit")));
    assert_eq!(server.ordo.master_data().master_data_counts().await.unwrap(), before);
}

async fn round_trip(server: &Server) {
    seed_master_data(server).await;
    let t = &server.admin;
    let (status, mug) = server.get(t, "/api/v1/products/MUG-1").await;
    assert_eq!(status, 200);
    assert_eq!(mug, json!({"sku": "MUG-1", "name": "Stoneware mug", "unit_cost": "4.20", "currency": "EUR",
        "weight_grams": 0, "tax_class": "standard", "abc_class": "C", "active": true}));
    let (status, _) = server.get(t, "/api/v1/products/NOPE").await;
    assert_eq!(status, 404);

    let (status, page) = server.get(t, "/api/v1/products?q=stoneware&limit=10").await;
    assert_eq!(status, 200);
    assert_eq!((page["total"].as_i64(), page["products"][0]["sku"].as_str()), (Some(1), Some("MUG-1")));
    let (_, listings) = server.get(t, "/api/v1/listings?channel=web").await;
    assert_eq!(listings, json!([{"channel": "web", "channel_sku": "W-MUG-1", "sku": "MUG-1", "price": "12.90", "currency": "EUR"}]));
    let (_, location) = server.get(t, "/api/v1/locations").await;
    assert_eq!(location[0]["time_zone"], "UTC");
    assert_eq!(location[0]["cutoff_time"], "16:00");

    let (status, customer) = server.post(t, "/api/v1/customers", json!({"email": "Ann@Example.com", "name": "Ann"})).await;
    assert_eq!((status, customer["email"].as_str()), (201, Some("ann@example.com")));
    let (status, _) = server.post(t, "/api/v1/customers", json!({"email": "ann@example.com", "name": "Ann"})).await;
    assert_eq!(status, 409);
    let (status, _) = server.post(t, "/api/v1/suppliers", json!({"code": "acme", "name": "Acme", "currency": "USD", "lead_time_days": 14})).await;
    assert_eq!(status, 201);

    let warehouse = server.token(Role::Warehouse).await;
    let receipt = json!({"sku": "MUG-1", "location": "central", "quantity": 10, "kind": "receipt", "reason": "delivery"});
    let (status, level) = server.post(&warehouse, "/api/v1/inventory/movements", receipt).await;
    assert_eq!((status, level["on_hand"].as_i64()), (201, Some(10)));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let count = json!({"sku": "MUG-1", "location": "central", "quantity": 7, "kind": "count", "reason": "cycle count"});
    server.post(&warehouse, "/api/v1/inventory/movements", count).await;
    let (_, stock) = server.get(&warehouse, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(stock, json!([{"sku": "MUG-1", "location": "central", "on_hand": 7, "reserved": 0, "available": 7}]));
    let (status, before) = server.get(&warehouse, &format!("/api/v1/inventory?sku=MUG-1&as_of={between}")).await;
    assert_eq!((status, before[0]["on_hand"].as_i64()), (200, Some(10)), "stock as it stood before the count: {before}");
    let (status, answer) = server.get(&warehouse, &format!("/api/v1/inventory?as_of={between}")).await;
    assert_eq!((status, answer["error"]["field"].as_str()), (422, Some("sku")));
}

#[tokio::test]
async fn master_data_and_stock_round_trip_on_sqlite() {
    round_trip(&Server::start().await).await;
}

#[tokio::test]
async fn master_data_and_stock_round_trip_on_postgres() {
    let Some(url) = postgres_url() else {
        println!("SKIP master_data_and_stock_round_trip_on_postgres: ORDO_TEST_POSTGRES_URL is not set");
        return;
    };
    round_trip(&Server::start_on(Some(&url)).await).await;
}

#[tokio::test]
async fn admins_issue_tokens_that_work_once_shown() {
    let server = Server::start().await;
    let (status, issued) = server.post(&server.admin, "/api/v1/tokens", json!({"role": "finance", "name": "books"})).await;
    assert_eq!(status, 201);
    let token = issued["token"].as_str().unwrap();
    let (status, _) = server.get(token, "/api/v1/inventory").await;
    assert_eq!(status, 200);
    let (status, _) = server.post(token, "/api/v1/tokens", json!({"role": "admin", "name": "escalate"})).await;
    assert_eq!(status, 403, "only admins make tokens");
    let (status, answer) = server.post(&server.admin, "/api/v1/tokens", json!({"role": "root", "name": "x"})).await;
    assert_eq!((status, answer["error"]["field"].as_str()), (422, Some("role")));
}

#[tokio::test]
async fn metrics_are_labelled_by_route_template() {
    let server = Server::start().await;
    seed_master_data(&server).await;
    server.get(&server.admin, "/api/v1/products/MUG-1").await;
    let metrics = server.client.get(format!("{}/metrics", server.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"route="/api/v1/products/{sku}""#), "{metrics}");
    assert!(!metrics.contains("MUG-1"), "raw paths never become labels");
    let unknown = server.client.get(format!("{}/api/v1/nothing", server.base)).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    let wrong_method = server.client.delete(format!("{}/api/v1/channels", server.base)).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.json::<Value>().await.unwrap()["error"]["code"], "method_not_allowed");
}

async fn the_trial_balance_follows_receipts_and_shipments(server: crate::common::Server) {
    crate::orders::shop(&server, 10).await;
    let t = &server.admin;
    let (status, placed) = server
        .post(t, "/api/v1/orders", crate::orders::order("L1", serde_json::json!([{"sku": "W-MUG", "quantity": 2, "unit_price": "12.90", "tax": "4.90"}])))
        .await;
    assert_eq!(status, 201, "{placed}");
    let ship = serde_json::json!({"location": "central", "carrier": "DHL", "tracking_number": "L1"});
    let (status, _) = server.post(t, &format!("/api/v1/orders/{}/shipments", placed["id"].as_str().unwrap()), ship).await;
    assert_eq!(status, 201);

    let (status, balance) = server.get(t, "/api/v1/ledger/trial-balance").await;
    assert_eq!(status, 200, "{balance}");
    assert_eq!(balance["total_debit"], balance["total_credit"]);
    let account = |code: &str| {
        let a = balance["accounts"].as_array().unwrap().iter().find(|a| a["code"] == code).unwrap_or_else(|| panic!("{code}: {balance}"));
        (a["debit"].as_str().unwrap().to_owned(), a["credit"].as_str().unwrap().to_owned())
    };
    // Ten mugs received at 4.20; two shipped for 25.80 plus 4.90 tax.
    assert_eq!(account("1200"), ("42.00".to_owned(), "8.40".to_owned()), "inventory");
    assert_eq!(account("2100"), ("0.00".to_owned(), "42.00".to_owned()), "goods received not invoiced");
    assert_eq!(account("1100-web"), ("30.70".to_owned(), "0.00".to_owned()), "the channel owes price and tax");
    assert_eq!(account("4000"), ("0.00".to_owned(), "25.80".to_owned()), "sales");
    assert_eq!(account("2200"), ("0.00".to_owned(), "4.90".to_owned()), "tax payable");
    assert_eq!(account("5000"), ("8.40".to_owned(), "0.00".to_owned()), "cost of goods sold");
    let viewer = server.token(ordo_app::domain::access::Role::Warehouse).await;
    assert_eq!(server.get(&viewer, "/api/v1/ledger/trial-balance").await.0, 403, "the warehouse does not read the books");
    assert!(server.ordo.ledger().check_ledger().await.unwrap().holds());
}

async fn goods_leave_at_their_moving_average_cost(server: crate::common::Server) {
    crate::orders::shop(&server, 10).await;
    let t = &server.admin;
    // Ten mugs at 4.20 from the shop, ten more at 6.20: the average is 5.20.
    let receipt = serde_json::json!({"sku": "MUG-1", "location": "central", "quantity": 10, "kind": "receipt", "reason": "PO 2", "unit_cost": "6.20"});
    assert_eq!(server.post(t, "/api/v1/inventory/movements", receipt).await.0, 201);
    let costed = serde_json::json!({"sku": "MUG-1", "location": "central", "quantity": -1, "kind": "adjustment", "reason": "x", "unit_cost": "1.00"});
    let (status, refused) = server.post(t, "/api/v1/inventory/movements", costed).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("unit_cost")), "only receipts carry a cost: {refused}");
    let (_, placed) = server.post(t, "/api/v1/orders", crate::orders::order("MA1", serde_json::json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}]))).await;
    let ship = serde_json::json!({"location": "central", "carrier": "DHL", "tracking_number": "MA1"});
    assert_eq!(server.post(t, &format!("/api/v1/orders/{}/shipments", placed["id"].as_str().unwrap()), ship).await.0, 201);
    let lost = serde_json::json!({"sku": "MUG-1", "location": "central", "quantity": -3, "kind": "adjustment", "reason": "broken"});
    assert_eq!(server.post(t, "/api/v1/inventory/movements", lost).await.0, 201);

    let (_, balance) = server.get(t, "/api/v1/ledger/trial-balance").await;
    let account = |code: &str| {
        let a = balance["accounts"].as_array().unwrap().iter().find(|a| a["code"] == code).unwrap();
        (a["debit"].as_str().unwrap().to_owned(), a["credit"].as_str().unwrap().to_owned())
    };
    assert_eq!(account("5000"), ("10.40".to_owned(), "0.00".to_owned()), "two mugs at the 5.20 average");
    assert_eq!(account("5400"), ("15.60".to_owned(), "0.00".to_owned()), "three broken at the average");
    assert_eq!(account("1200"), ("104.00".to_owned(), "26.00".to_owned()), "fifteen left, worth 78.00");
    let check = server.ordo.ledger().check_ledger().await.unwrap();
    assert!(check.holds(), "{check:?}");
    assert_eq!(check.valued_stock, 7_800);
    // The sale and its cost are the mug's, and its buyer's segment's.
    for (by, key) in [("sku", "MUG-1"), ("segment", "consumer")] {
        let (_, report) = server.get(t, &format!("/api/v1/reports/profitability?by={by}")).await;
        let row = report["rows"].as_array().unwrap().iter().find(|r| r["key"] == key).unwrap_or_else(|| panic!("{report}"));
        assert_eq!((&row["revenue"], &row["cost_of_goods"], &row["contribution"]), (&serde_json::json!("25.80"), &serde_json::json!("10.40"), &serde_json::json!("15.40")), "{by}: {report}");
    }
}

async fn a_sale_in_another_currency_is_booked_in_base_at_the_rate_in_force(server: crate::common::Server) {
    crate::orders::shop(&server, 10).await;
    let t = &server.admin;
    let channel = serde_json::json!({"code": "us-web", "name": "US web shop", "kind": "web", "currency": "USD"});
    assert_eq!(server.post(t, "/api/v1/channels", channel).await.0, 201);
    let mut body = crate::orders::order("FX1", serde_json::json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "10.00"}]));
    body["channel"] = serde_json::json!("us-web");
    body["currency"] = serde_json::json!("USD");
    // Without a rate the order is refused, as its settlement would be: nothing is taken that
    // cannot be booked.
    let (status, refused) = server.post(t, "/api/v1/orders", body.clone()).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("currency")), "no rate yet: {refused}");
    let (_, mugs) = server.get(t, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(mugs[0]["reserved"], 0, "the refused order reserved nothing");

    for (rate, field) in [("0", "rate"), ("1.2345678", "rate"), ("abc", "rate")] {
        let (status, answer) = server.put(t, "/api/v1/exchange-rates/USD", serde_json::json!({"rate": rate})).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{rate}: {answer}");
    }
    let (status, set) = server.put(t, "/api/v1/exchange-rates/USD", serde_json::json!({"rate": "0.92"})).await;
    assert_eq!((status, set["rate"].as_str()), (200, Some("0.920000")), "{set}");
    let (status, placed) = server.post(t, "/api/v1/orders", body).await;
    assert_eq!(status, 201, "{placed}");
    let ship = format!("/api/v1/orders/{}/shipments", placed["id"].as_str().unwrap());
    let parcel = serde_json::json!({"location": "central", "carrier": "UPS", "tracking_number": "FX1"});
    let (status, _) = server.post(t, &ship, parcel).await;
    assert_eq!(status, 201);
    let (_, balance) = server.get(t, "/api/v1/ledger/trial-balance").await;
    assert_eq!(balance["currency"], "EUR");
    assert_eq!(balance["total_debit"], balance["total_credit"]);
    let receivable = balance["accounts"].as_array().unwrap().iter().find(|a| a["code"] == "1100-us-web").unwrap();
    assert_eq!(receivable["debit"], "9.20", "10.00 USD at 0.92");
    assert!(server.ordo.ledger().check_ledger().await.unwrap().holds());
}

on_both_engines!(goods_leave_at_their_moving_average_cost, goods_leave_at_their_moving_average_cost_on_sqlite, goods_leave_at_their_moving_average_cost_on_postgres);
on_both_engines!(the_trial_balance_follows_receipts_and_shipments, the_trial_balance_follows_receipts_and_shipments_on_sqlite, the_trial_balance_follows_receipts_and_shipments_on_postgres);

on_both_engines!(a_sale_in_another_currency_is_booked_in_base_at_the_rate_in_force, a_sale_in_another_currency_is_booked_in_base_at_the_rate_in_force_on_sqlite, a_sale_in_another_currency_is_booked_in_base_at_the_rate_in_force_on_postgres);

on_both_engines!(
    finance_opens_accounts_and_posts_balanced_entries_by_hand,
    finance_opens_accounts_and_posts_balanced_entries_by_hand_on_sqlite,
    finance_opens_accounts_and_posts_balanced_entries_by_hand_on_postgres
);

async fn finance_opens_accounts_and_posts_balanced_entries_by_hand(server: crate::common::Server) {
    let finance = server.token(ordo_app::domain::access::Role::Finance).await;
    let warehouse = server.token(ordo_app::domain::access::Role::Warehouse).await;
    let account = serde_json::json!({"code": "6100", "name": "Advertising", "kind": "expense"});
    assert_eq!(server.post(&warehouse, "/api/v1/ledger/accounts", account.clone()).await.0, 403);
    assert_eq!(server.post(&finance, "/api/v1/ledger/accounts", account.clone()).await.0, 201);
    let (status, again) = server.post(&finance, "/api/v1/ledger/accounts", account).await;
    assert_eq!((status, again["error"]["field"].as_str()), (409, Some("code")), "{again}");
    let (status, bad) = server.post(&finance, "/api/v1/ledger/accounts", serde_json::json!({"code": "6200", "name": "X", "kind": "cost"})).await;
    assert_eq!((status, bad["error"]["field"].as_str()), (422, Some("kind")), "{bad}");

    let (_, before) = server.get(&finance, "/api/v1/ledger/trial-balance").await;
    let entry = |lines: serde_json::Value| serde_json::json!({"memo": "October ads", "lines": lines});
    for (lines, field) in [
        (serde_json::json!([{"account": "6100", "debit": "120.00"}, {"account": "1000", "credit": "119.99"}]), "lines"),
        (serde_json::json!([{"account": "6100", "debit": "120.00"}, {"account": "1200", "credit": "120.00"}]), "lines[1].account"),
        (serde_json::json!([{"account": "5999", "debit": "120.00"}, {"account": "1000", "credit": "120.00"}]), "lines[0].account"),
        (serde_json::json!([{"account": "6100", "debit": "1.00", "credit": "1.00"}, {"account": "1000", "credit": "1.00"}]), "lines[0].debit"),
        (serde_json::json!([{"account": "6100", "debit": "1.001"}, {"account": "1000", "credit": "1.001"}]), "lines[0].debit"),
        (serde_json::json!([{"account": "6100", "debit": "1.00"}]), "lines"),
    ] {
        let (status, refused) = server.post(&finance, "/api/v1/ledger/entries", entry(lines.clone())).await;
        assert_eq!((status, refused["error"]["field"].as_str()), (422, Some(field)), "{lines}: {refused}");
    }
    let (_, unchanged) = server.get(&finance, "/api/v1/ledger/trial-balance").await;
    assert_eq!(unchanged, before, "refused entries post nothing");

    let lines = serde_json::json!([{"account": "6100", "debit": "120.00"}, {"account": "1000", "credit": "120.00"}]);
    let (status, posted) = server.post(&finance, "/api/v1/ledger/entries", entry(lines)).await;
    assert_eq!(status, 201, "{posted}");
    assert!(posted["source"].as_str().unwrap().starts_with("manual:"), "{posted}");
    let (_, ads) = server.get(&finance, "/api/v1/ledger/accounts/6100").await;
    assert_eq!((&ads["name"], &ads["closing"], &ads["lines"][0]["memo"]), (&serde_json::json!("Advertising"), &serde_json::json!("120.00"), &serde_json::json!("October ads")), "{ads}");
    assert!(server.ordo.ledger().check_ledger().await.unwrap().holds());
}

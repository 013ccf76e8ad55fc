//! Money bounds: amounts beyond Ordo's documented bounds are refused at the edge with the field
//! named, and no sequence of accepted requests near the bounds makes a report fail or the books
//! come apart.

use serde_json::{json, Value};

use crate::common::{on_both_engines, Server};

/// A small deterministic generator: the same seed drives the same requests on both engines.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % (high - low + 1) as u64) as i64
    }
}

fn decimal(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// Every answer that is not a 5xx, as (status, body).
async fn no_5xx(server: &Server, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, answer) = match method {
        "GET" => server.get(token, path).await,
        _ => server.post(token, path, body).await,
    };
    assert!(status < 500, "{method} {path} answered {status}: {answer}");
    (status, answer)
}

async fn amounts_beyond_the_bounds_are_refused_and_near_them_the_books_hold(server: Server) {
    crate::orders::shop(&server, 10).await;
    let t = &server.admin;
    // The amount that once broke the books: refused with its field named, nothing made.
    for (price, quantity) in [("92233720368547758.07", 1), ("1000000000.01", 1), ("1000000000.00", 101)] {
        let body = crate::orders::order("TOO-BIG", json!([{"sku": "MUG-1", "quantity": quantity, "unit_price": price}]));
        let (status, refused) = server.post(t, "/api/v1/orders", body).await;
        let field = if quantity == 1 { "lines[0].unit_price" } else { "lines[0].quantity" };
        assert_eq!((status, refused["error"]["field"].as_str()), (422, Some(field)), "{price} × {quantity}: {refused}");
    }
    assert_eq!(server.get(t, "/api/v1/channels/web/orders/TOO-BIG").await.0, 404, "nothing was made");
    let (status, refused) = server.post(t, "/api/v1/products", json!({"sku": "X", "name": "X", "unit_cost": "100000000000.01"})).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("unit_cost")), "{refused}");

    // A precious product at the bound, and plenty of it.
    let (status, answer) = server.post(t, "/api/v1/products", json!({"sku": "GOLD-1", "name": "Gold bar", "unit_cost": "900000000.00"})).await;
    assert_eq!(status, 201, "{answer}");
    let receipt = json!({"sku": "GOLD-1", "location": "central", "quantity": 100_000, "kind": "receipt", "reason": "vault"});
    assert_eq!(no_5xx(&server, t, "POST", "/api/v1/inventory/movements", receipt).await.0, 201);

    let mut draw = Draw(0x0bd0_5eed);
    let mut shipped = Vec::new();
    for n in 0..12 {
        // Unit prices in the top tenth of the bound, quantities that bring lines near theirs.
        let lines: Vec<Value> = (0..draw.between(1, 3))
            .map(|_| {
                let price = draw.between(90_000_000_000, 100_000_000_000);
                let quantity = draw.between(1, 100);
                let tax = draw.between(0, 1_000_000_000_000);
                json!({"sku": "GOLD-1", "quantity": quantity, "unit_price": decimal(price), "tax": decimal(tax)})
            })
            .collect();
        let mut body = crate::orders::order(&format!("B{n}"), json!(lines));
        body["shipping_price"] = json!(decimal(draw.between(0, 100_000_000_000)));
        let (status, placed) = no_5xx(&server, t, "POST", "/api/v1/orders", body).await;
        if status == 422 {
            assert_eq!(placed["error"]["field"], "lines", "only the order total may pass its bound: {placed}");
            continue;
        }
        assert_eq!(status, 201, "{placed}");
        let id = placed["id"].as_str().unwrap().to_owned();
        let ship = json!({"location": "central", "carrier": "DHL", "tracking_number": format!("B{n}")});
        let (status, answer) = no_5xx(&server, t, "POST", &format!("/api/v1/orders/{id}/shipments"), ship).await;
        assert_eq!(status, 201, "{answer}");
        // Refund part of the first line, sometimes all of it, and sometimes more than was paid.
        let amount = draw.between(1, 10_000_000_000_000);
        let refund = json!({"lines": [{"line": 1, "amount": decimal(amount)}], "reason": "bounds"});
        let (status, answer) = no_5xx(&server, t, "POST", &format!("/api/v1/orders/{id}/refunds"), refund).await;
        assert!(status == 201 || status == 422, "{answer}");
        shipped.push(format!("B{n}"));
    }
    assert!(shipped.len() >= 3, "enough orders near the bounds were accepted: {shipped:?}");

    // A settlement that pays the shipped orders at the bound, with fees.
    let mut rows = Vec::new();
    let mut total: i64 = 0;
    for id in &shipped {
        let (principal, fee) = (draw.between(1, 10_000_000_000_000), -draw.between(1, 1_000_000_000_000));
        rows.push(("Order", id.as_str(), "ItemPrice", "Principal", principal));
        rows.push(("Order", id.as_str(), "ItemFees", "Commission", fee));
        total += principal + fee;
    }
    let eu = |minor: i64| decimal(minor).replace('.', ",");
    let rows: Vec<(&str, &str, &str, &str, String)> = rows.into_iter().map(|(a, b, c, d, m)| (a, b, c, d, eu(m))).collect();
    let rows: Vec<(&str, &str, &str, &str, &str)> = rows.iter().map(|(a, b, c, d, m)| (*a, *b, *c, *d, m.as_str())).collect();
    let report = crate::settlements::v2_report("B-1", &eu(total), &rows);
    let response = server.client.post(format!("{}/api/v1/channels/web/settlements", server.base)).bearer_auth(t).body(report).send().await.unwrap();
    assert!(response.status().as_u16() < 500, "the settlement: {}", response.text().await.unwrap());

    // Every report answers, and the books balance.
    for path in [
        "/api/v1/ledger/trial-balance",
        "/api/v1/reports/profit-and-loss",
        "/api/v1/reports/profitability?by=channel",
        "/api/v1/reports/profitability?by=sku",
        "/api/v1/reports/profitability?by=segment",
        "/api/v1/reports/returns",
        "/api/v1/ledger/accounts/4000",
        "/api/v1/ledger/accounts/1100-web",
        "/api/v1/ledger/accounts/1200",
        "/api/v1/settlements",
    ] {
        let (status, answer) = no_5xx(&server, t, "GET", path, Value::Null).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let (_, balance) = server.get(t, "/api/v1/ledger/trial-balance").await;
    assert_eq!(balance["total_debit"], balance["total_credit"], "{balance}");
    let check = server.ordo.ledger().check_ledger().await.unwrap();
    assert!(check.holds(), "{check:?}");
}

on_both_engines!(
    amounts_beyond_the_bounds_are_refused_and_near_them_the_books_hold,
    amounts_beyond_the_bounds_are_refused_on_sqlite,
    amounts_beyond_the_bounds_are_refused_on_postgres
);

//! Settlement reconciliation through the API: a marketplace's V2 flat file and a payout are
//! matched to orders, booked, and what does not agree raised for finance.

use ordo_app::domain::access::Role;
use serde_json::{json, Value};

use crate::common::{on_both_engines, Server};

const HEADER: &str = "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\ttransaction-type\torder-id\tmerchant-order-id\tadjustment-id\tshipment-id\tmarketplace-name\tamount-type\tamount-description\tamount\tfulfillment-id\tposted-date\tposted-date-time\torder-item-code\tmerchant-order-item-id\tmerchant-adjustment-item-id\tsku\tquantity-purchased";

/// A V2 report of settlement `id` in EU number format: the summary row, then one row per
/// (transaction type, order, amount type, description, amount).
pub(crate) fn v2_report(id: &str, total: &str, rows: &[(&str, &str, &str, &str, &str)]) -> String {
    let mut text = format!("{HEADER}\n{id}\t06.11.2026\t20.11.2026\t22.11.2026\t{total}\tEUR{}\n", "\t".repeat(17));
    for (transaction, order, amount_type, description, amount) in rows {
        let sku = if order.is_empty() { "" } else { "MUG-1" };
        text.push_str(&format!(
            "{id}\t\t\t\t\t\t{transaction}\t{order}\t\t\t\tAmazon.de\t{amount_type}\t{description}\t{amount}\tMFN\t20.11.2026\t2026-11-20 10:00:00 UTC\t\t\t\t{sku}\t1\n"
        ));
    }
    text
}

/// Posts `body` as it is; returns the status and the JSON answer.
pub(crate) async fn post_text(server: &Server, token: &str, path: &str, body: String) -> (u16, Value) {
    let response = server.client.post(format!("{}{path}", server.base)).bearer_auth(token).body(body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn a_marketplace_settlement_is_matched_booked_and_its_disagreements_raised(server: Server) {
    crate::orders::shop(&server, 10).await;
    let t = &server.admin;
    let channel = json!({"code": "amazon-de", "name": "Amazon DE", "kind": "marketplace", "currency": "EUR"});
    assert_eq!(server.post(t, "/api/v1/channels", channel).await.0, 201);
    for (id, quantity, tax) in [("302-1", 2, "4.90"), ("302-2", 1, "2.45")] {
        let item = format!("{id}-item");
        let mut body = crate::orders::order(id, json!([{"sku": "MUG-1", "quantity": quantity, "unit_price": "12.90", "tax": tax, "item_id": item}]));
        body["channel"] = json!("amazon-de");
        let (status, placed) = server.post(t, "/api/v1/orders", body).await;
        assert_eq!((status, &placed["lines"][0]["item_id"]), (201, &json!(item)), "the channel's line id is kept: {placed}");
    }
    let mut too_long = crate::orders::order("302-3", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "1.00", "item_id": "x".repeat(101)}]));
    too_long["channel"] = json!("amazon-de");
    let (status, refused) = server.post(t, "/api/v1/orders", too_long).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines[0].item_id")), "{refused}");
    // 302-1 as sold with a 12.6% commission; 302-2 paid 2.00 short and charged 40%; an order
    // we never had; a storage fee and a reserve held back.
    let report = v2_report(
        "9001",
        "33,33",
        &[
            ("Order", "302-1", "ItemPrice", "Principal", "25,80"),
            ("Order", "302-1", "ItemPrice", "Tax", "4,90"),
            ("Order", "302-1", "ItemFees", "Commission", "-3,87"),
            ("Order", "302-2", "ItemPrice", "Principal", "10,90"),
            ("Order", "302-2", "ItemPrice", "Tax", "2,45"),
            ("Order", "302-2", "ItemFees", "Commission", "-5,34"),
            ("Order", "999-9", "ItemPrice", "Principal", "9,99"),
            ("other-transaction", "", "other-transaction", "Storage Fee", "-1,50"),
            ("other-transaction", "", "other-transaction", "Current Reserve Amount", "-10,00"),
        ],
    );
    let finance = server.token(Role::Finance).await;
    let warehouse = server.token(Role::Warehouse).await;
    let path = "/api/v1/channels/amazon-de/settlements";
    assert_eq!(post_text(&server, &warehouse, path, report.clone()).await.0, 403, "the warehouse does not book settlements");

    let (status, imported) = post_text(&server, &finance, path, report.clone()).await;
    assert_eq!(status, 201, "{imported}");
    assert_eq!(
        (&imported["format"], &imported["total"], &imported["lines"], &imported["matched"], &imported["unmatched"], &imported["exceptions"]),
        (&json!("amazon-v2"), &json!("33.33"), &json!(9), &json!(6), &json!(1), &json!(3)),
        "{imported}"
    );

    let (_, balance) = server.get(&finance, "/api/v1/ledger/trial-balance").await;
    assert_eq!(balance["total_debit"], balance["total_credit"]);
    let account = |balance: &Value, code: &str| {
        let a = balance["accounts"].as_array().unwrap().iter().find(|a| a["code"] == code).unwrap_or_else(|| panic!("{code}: {balance}"));
        (a["debit"].as_str().unwrap().to_owned(), a["credit"].as_str().unwrap().to_owned())
    };
    assert_eq!(account(&balance, "1000"), ("33.33".into(), "0.00".into()), "the deposit");
    assert_eq!(account(&balance, "1100-amazon-de"), ("0.00".into(), "54.04".into()), "what the buyers paid settles the receivable");
    assert_eq!(account(&balance, "5100"), ("10.71".into(), "0.00".into()), "commissions and the storage fee");
    assert_eq!(account(&balance, "1300"), ("10.00".into(), "0.00".into()), "the reserve held back");
    assert!(server.ordo.ledger().check_ledger().await.unwrap().holds());

    let (_, open) = server.get(&finance, "/api/v1/exceptions?status=open").await;
    let mut found: Vec<String> = open
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "reconciliation")
        .map(|e| {
            assert_eq!(e["owner_role"], "finance");
            e["subject"].as_str().unwrap().rsplit(':').take(2).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(":")
        })
        .collect();
    found.sort();
    assert_eq!(found, ["amount:302-2", "fee:302-2", "order:999-9"]);

    // The same report again changes nothing; another report under its id is refused.
    let (status, again) = post_text(&server, &finance, path, report.clone()).await;
    assert_eq!((status, &again["already_imported"], &again["matched"]), (200, &json!(true), &json!(6)), "{again}");
    let (_, after) = server.get(&finance, "/api/v1/ledger/trial-balance").await;
    assert_eq!(after, balance, "nothing posted twice");
    let (status, refused) = post_text(&server, &finance, path, report.replace("-1,50", "-1,40").replace("33,33", "33,43")).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (409, Some("settlement-id")), "{refused}");

    // Bad reports are refused, naming where, and change nothing.
    let short = v2_report("9002", "10,00", &[("Order", "302-1", "ItemPrice", "Principal", "9,50")]);
    let (status, refused) = post_text(&server, &finance, path, short).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("total-amount")), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("-0.50"), "the difference: {refused}");
    let bad = v2_report("9003", "1,00", &[("Order", "302-1", "ItemPrice", "Principal", "one")]);
    let (status, refused) = post_text(&server, &finance, path, bad).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("line 3, column amount")), "{refused}");
    let missing = v2_report("9004", "1,00", &[("Order", "302-1", "ItemPrice", "Principal", "1,00")]).replace("\tsku\t", "\tseller-sku\t");
    let (status, refused) = post_text(&server, &finance, path, missing).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("sku")), "{refused}");
    let (status, refused) = post_text(&server, &finance, "/api/v1/channels/web/settlements", v2_report("9005", "1,00", &[("Order", "1", "ItemPrice", "Principal", "1,00")]).replace("EUR", "USD")).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("currency")), "{refused}");

    // A Latin-1 file, larger than the API's usual body limit, reads as well.
    let mut rows = vec![("Order", "302-1", "ItemPrice", "Principal", "0,00"); 2_000];
    rows.push(("other-transaction", "", "other-transaction", "Lagergebühr", "-1,00"));
    let big: Vec<u8> = v2_report("9006", "-1,00", &rows).chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect();
    assert!(big.len() > 64 * 1024, "above the test server's limit of other bodies");
    let response = server.client.post(format!("{}{path}", server.base)).bearer_auth(&finance).body(big).send().await.unwrap();
    let (status, imported): (u16, Value) = (response.status().as_u16(), response.json().await.unwrap());
    assert_eq!((status, &imported["lines"], &imported["exceptions"]), (201, &json!(2001), &json!(0)), "{imported}");

    let (status, list) = server.get(&finance, "/api/v1/settlements").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2, "the good reports only: {list}");
    let first = list.as_array().unwrap().iter().find(|s| s["external_id"] == "9001").unwrap();
    assert_eq!((&first["status"], &first["deposit_date"]), (&json!("exceptions"), &json!("2026-11-22")));
    // Its lines, each with what it matched; the unmatched one alone on request.
    let lines_path = format!("/api/v1/settlements/{}/lines", first["id"].as_str().unwrap());
    let (status, lines) = server.get(&finance, &lines_path).await;
    assert_eq!((status, lines["currency"].as_str()), (200, Some("EUR")), "{lines}");
    assert_eq!(lines["lines"].as_array().map(Vec::len), first["lines"].as_u64().map(|n| n as usize), "{lines}");
    let (_, unmatched) = server.get(&finance, &format!("{lines_path}?unmatched=true")).await;
    let unmatched = unmatched["lines"].as_array().unwrap();
    assert!(!unmatched.is_empty() && unmatched.iter().all(|l| l["order_ref"] == "999-9" && l["order_id"].is_null()), "{unmatched:?}");
    let (status, refused) = server.get(&finance, &format!("{lines_path}?limit=0")).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("limit")), "{refused}");
    let (_, after_storage_fee) = server.get(&finance, "/api/v1/ledger/trial-balance").await;
    assert_eq!(account(&after_storage_fee, "5100"), ("11.71".into(), "0.00".into()), "refused reports posted nothing; the Latin-1 one its fee");

    // The settlement's fees count against the channel's contribution, and in the period's P&L.
    let (status, report) = server.get(&finance, "/api/v1/reports/profitability?by=channel").await;
    assert_eq!(status, 200, "{report}");
    let amazon = report["rows"].as_array().unwrap().iter().find(|c| c["key"] == "amazon-de").unwrap();
    assert_eq!((&amazon["fees"], &amazon["contribution"], &amazon["margin_percent"]), (&json!("11.71"), &json!("-11.71"), &Value::Null), "{report}");
    let (status, pnl) = server.get(&finance, "/api/v1/reports/profit-and-loss?from=2000-01-01&to=2999-12-31").await;
    assert_eq!((status, &pnl["total_expenses"], &pnl["net_income"]), (200, &json!("11.71"), &json!("-11.71")), "{pnl}");
    let (_, nothing) = server.get(&finance, "/api/v1/reports/profit-and-loss?from=2000-01-01&to=2000-01-31").await;
    assert_eq!(nothing["total_expenses"], "0.00", "nothing was posted then: {nothing}");
    let (status, bank) = server.get(&finance, "/api/v1/ledger/accounts/1000").await;
    assert_eq!((status, &bank["opening"], &bank["closing"]), (200, &json!("0.00"), &json!("32.33")), "{bank}");
    assert!(bank["lines"][0]["source"].as_str().unwrap().starts_with("settlement:"), "{bank}");
    assert_eq!(server.get(&finance, "/api/v1/ledger/accounts/9999").await.0, 404);
    let (status, refused) = server.get(&finance, "/api/v1/ledger/accounts/1000?limit=0").await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("limit")), "{refused}");
    // By SKU: the commissions on the matched lines are the mug's; the storage fee is no SKU's.
    let (_, by_sku) = server.get(&finance, "/api/v1/reports/profitability?by=sku").await;
    assert_eq!(by_sku["by"], "sku");
    let mug = by_sku["rows"].as_array().unwrap().iter().find(|r| r["key"] == "MUG-1").unwrap_or_else(|| panic!("{by_sku}"));
    assert_eq!(mug["fees"], "9.21", "3.87 + 5.34 in commission: {by_sku}");
    // By segment: Ann is no customer Ordo knows, so a consumer; her orders' commissions are hers.
    let (_, by_segment) = server.get(&finance, "/api/v1/reports/profitability?by=segment").await;
    let consumer = by_segment["rows"].as_array().unwrap().iter().find(|r| r["key"] == "consumer").unwrap_or_else(|| panic!("{by_segment}"));
    assert_eq!(consumer["fees"], "9.21", "{by_segment}");
    for (query, field) in [("from=2026-13-01", "from"), ("from=2026-11-02&to=2026-11-01", "to"), ("by=customer", "by")] {
        let (status, refused) = server.get(&finance, &format!("/api/v1/reports/profitability?{query}")).await;
        assert_eq!((status, refused["error"]["field"].as_str()), (422, Some(field)), "{query}: {refused}");
    }
}

on_both_engines!(
    a_marketplace_settlement_is_matched_booked_and_its_disagreements_raised,
    a_marketplace_settlement_is_matched_booked_and_its_disagreements_raised_on_sqlite,
    a_marketplace_settlement_is_matched_booked_and_its_disagreements_raised_on_postgres
);

on_both_engines!(
    a_shopify_payout_books_charges_fees_refunds_and_the_deposit,
    a_shopify_payout_books_charges_fees_refunds_and_the_deposit_on_sqlite,
    a_shopify_payout_books_charges_fees_refunds_and_the_deposit_on_postgres
);

async fn a_shopify_payout_books_charges_fees_refunds_and_the_deposit(server: Server) {
    crate::orders::shop(&server, 10).await;
    let t = &server.admin;
    let (status, placed) = server.post(t, "/api/v1/orders", crate::orders::order("4501", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "10.00"}]))).await;
    assert_eq!(status, 201, "{placed}");
    let payout = json!({
        "payout": {"id": 623721858, "status": "paid", "date": "2026-11-21", "currency": "EUR", "amount": "5.55"},
        "transactions": [
            {"id": 1, "type": "charge", "amount": "10.00", "fee": "0.59", "net": "9.41", "source_order_id": 4501, "currency": "EUR"},
            {"id": 2, "type": "refund", "amount": "-3.45", "fee": "0.00", "net": "-3.45", "source_order_id": 4501, "currency": "EUR"},
            {"id": 3, "type": "adjustment", "amount": "-0.41", "fee": "0.00", "net": "-0.41", "source_order_id": null, "currency": "EUR"},
            {"id": 4, "type": "payout", "amount": "-5.55", "fee": "0.00", "net": "-5.55", "currency": "EUR"}
        ]
    });
    let (status, imported) = post_text(&server, t, "/api/v1/channels/web/settlements", payout.to_string()).await;
    assert_eq!(status, 201, "{imported}");
    assert_eq!((&imported["format"], &imported["matched"], &imported["unmatched"], &imported["exceptions"]), (&json!("shopify-payout"), &json!(3), &json!(0), &json!(0)), "{imported}");
    let (_, balance) = server.get(t, "/api/v1/ledger/trial-balance").await;
    let account = |code: &str| {
        let a = balance["accounts"].as_array().unwrap().iter().find(|a| a["code"] == code).unwrap_or_else(|| panic!("{code}: {balance}"));
        (a["debit"].as_str().unwrap().to_owned(), a["credit"].as_str().unwrap().to_owned())
    };
    assert_eq!(account("1000"), ("5.55".into(), "0.00".into()));
    assert_eq!(account("4200"), ("3.45".into(), "0.00".into()), "the refund");
    assert_eq!(account("5200"), ("1.00".into(), "0.00".into()), "the charge's fee and the adjustment");
    assert_eq!(account("1100-web"), ("0.00".into(), "10.00".into()));
    assert!(server.ordo.ledger().check_ledger().await.unwrap().holds());
}

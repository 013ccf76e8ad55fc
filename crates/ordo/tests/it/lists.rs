//! The dashboard's lists for real volumes: each searches, pages, and exports what it shows as
//! CSV with the same filters.

use ordo_app::domain::access::Role;
use serde_json::json;

use crate::common::{on_both_engines, Browserless, Server};

/// GETs `path` with the session: the status, the Content-Type and the body.
async fn fetch(session: &Browserless, server: &Server, path: &str) -> (u16, String, String) {
    let answer = reqwest::Client::new().get(format!("{}{path}", server.base)).header("cookie", session.cookie()).send().await.unwrap();
    let status = answer.status().as_u16();
    let kind = answer.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, answer.text().await.unwrap())
}

async fn every_list_pages_and_exports_csv(server: Server) {
    // Two mugs for three orders: the last waits for stock, a stockout for ops.
    crate::orders::shop(&server, 2).await;
    let t = &server.admin;
    let mut ids = Vec::new();
    for (n, name) in ["Ann Berg", "Bob Stone", "Cleo Lind"].iter().enumerate() {
        let mut body = crate::orders::order(&format!("E-{n}"), json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
        body["customer"] = json!({"name": name, "email": format!("{}@example.com", name.split(' ').next().unwrap().to_lowercase())});
        let (status, placed) = server.post(t, "/api/v1/orders", body).await;
        assert_eq!(status, 201, "{placed}");
        ids.push(placed["id"].as_str().unwrap().to_owned());
    }
    let parcel = json!({"location": "central", "carrier": "DHL", "tracking_number": "L1"});
    assert_eq!(server.post(t, &format!("/api/v1/orders/{}/shipments", ids[0]), parcel).await.0, 201);
    let rma = json!({"order_id": ids[0], "lines": [{"line": 1, "quantity": 1, "reason": "damaged"}]});
    assert_eq!(server.post(t, "/api/v1/returns", rma).await.0, 201);
    let wave = json!({"location": "central"});
    assert_eq!(server.post(t, "/api/v1/waves", wave).await.0, 201);
    let ticket = json!({"reason": "billing", "priority": "normal", "subject": "Invoice", "customer_email": "bob@example.com", "body": "Send it again"});
    assert_eq!(server.post(t, "/api/v1/tickets", ticket).await.0, 201);
    let big = json!({"sku": "NOPE", "location": "central", "quantity": 1, "kind": "receipt", "reason": "x"});
    server.post(t, "/api/v1/inventory/movements", big).await;
    // An order held for its payment, a supplier, a rule and a change request, for their lists.
    let mut held = crate::orders::order("H-1", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
    held["payment_status"] = json!("authorized");
    assert_eq!(server.post(t, "/api/v1/orders", held).await.1["status"], "on_hold");
    let supplier = json!({"code": "nordic", "name": "Nordic Ceramics", "currency": "EUR", "lead_time_days": 14});
    assert_eq!(server.post(t, "/api/v1/suppliers", supplier).await.0, 201);
    let (status, po) = server.post(t, "/api/v1/purchase-orders", json!({"supplier": "nordic", "lines": [{"sku": "MUG-1", "quantity": 10, "unit_cost": "4.00"}]})).await;
    assert_eq!(status, 201, "{po}");
    let rule = json!({"name": "big-orders", "kind": "risk_hold", "condition": "order.total_minor > 100000", "action": {"reason": "big"}});
    assert_eq!(server.post(t, "/api/v1/rules", rule).await.0, 201);
    let price = json!({"kind": "price", "change": {"channel": "web", "channel_sku": "W-MUG", "price": "13.50"}, "reason": "cost went up"});
    assert_eq!(server.post(t, "/api/v1/change-requests", price).await.0, 201);

    let admin = Browserless::log_in(&server, "ada", Role::Admin).await;
    // Search orders by customer: the page and its file say the same.
    let (_, _, page) = fetch(&admin, &server, "/dashboard/orders?customer=stone").await;
    assert!(page.contains(">E-1<") && !page.contains(">E-0<") && !page.contains(">E-2<"), "only Bob's order");
    let (status, kind, csv) = fetch(&admin, &server, "/dashboard/orders?customer=stone&format=csv").await;
    assert_eq!((status, kind.starts_with("text/csv")), (200, true));
    assert_eq!(csv.lines().count(), 2, "a header and Bob's order: {csv}");

    for (list, first_column, at_least) in [
        ("/dashboard/orders", "id", 3),
        ("/dashboard/exceptions?owner=any&status=any", "kind", 1),
        ("/dashboard/returns", "requested_at", 1),
        ("/dashboard/fulfilment", "released_at", 1),
        ("/dashboard/helpdesk?status=any", "created_at", 1),
        ("/dashboard/audit", "seq", 5),
        ("/dashboard/notifications", "created_at", 0),
        ("/dashboard/products", "sku", 2),
        ("/dashboard/customers", "email", 0),
        ("/dashboard/inventory", "sku", 1),
        ("/dashboard/changes?status=any", "proposed_at", 1),
        ("/dashboard/holds", "channel", 1),
        ("/dashboard/suppliers", "code", 1),
        ("/dashboard/locations", "code", 1),
        ("/dashboard/channels", "code", 1),
        ("/dashboard/rules", "name", 1),
        ("/dashboard/procurement", "number", 1),
        ("/dashboard/users", "username", 1),
        ("/dashboard/ledger", "account", 2),
        ("/dashboard/ledger/accounts/1200", "posted_at", 1),
    ] {
        let by_cursor = ["/dashboard/orders", "/dashboard/exceptions", "/dashboard/returns", "/dashboard/fulfilment", "/dashboard/helpdesk", "/dashboard/notifications", "/dashboard/changes"]
            .iter()
            .any(|paged| list.split('?').next() == Some(*paged));
        let by_number = ["/dashboard/audit", "/dashboard/products", "/dashboard/customers", "/dashboard/inventory", "/dashboard/holds", "/dashboard/ledger/accounts/1200"].contains(&list);
        let join = if list.contains('?') { '&' } else { '?' };
        let (status, _, page) = fetch(&admin, &server, list).await;
        assert_eq!(status, 200, "{list}");
        assert!(page.contains("format=csv"), "{list} offers its CSV");
        let (status, kind, csv) = fetch(&admin, &server, &format!("{list}{join}format=csv")).await;
        assert_eq!(status, 200, "{list}: {csv}");
        assert!(kind.starts_with("text/csv"), "{list}: {kind}");
        let mut lines = csv.lines();
        assert!(lines.next().unwrap().starts_with(first_column), "{list}: {csv}");
        assert!(lines.count() >= at_least, "{list}: {csv}");
        if list == "/dashboard/procurement" {
            assert!(csv.contains(",nordic,") && csv.contains("10 × MUG-1"), "the purchase order to Nordic: {csv}");
        }
        // A page past the end is an empty page, not an error; a cursor this list did not give
        // out is refused, naming it.
        if !by_cursor && !by_number {
            continue;
        }
        let past = if by_cursor { "cursor=1-00000000000000000000000000000000" } else { "page=9" };
        let (status, _, _) = fetch(&admin, &server, &format!("{list}{join}{past}")).await;
        assert_eq!(status, 200, "{list} {past}");
        if by_cursor {
            let (status, _, page) = fetch(&admin, &server, &format!("{list}{join}cursor=page-2")).await;
            assert_eq!((status, page.contains("cursor")), (400, true), "{list}: {page}");
        }
    }
}
on_both_engines!(every_list_pages_and_exports_csv, every_list_pages_and_exports_csv_on_sqlite, every_list_pages_and_exports_csv_on_postgres);

/// The rows of the table `id` on `page`, as HTML.
fn table_rows(page: &str, id: &str) -> Vec<String> {
    let Some(table) = page.split(&format!("<table id=\"{id}\"")).nth(1) else { return Vec::new() };
    let body = table.split("<tbody>").nth(1).unwrap_or_default().split("</tbody>").next().unwrap_or_default();
    body.split("<tr").skip(1).map(str::to_owned).collect()
}

async fn tickets_returns_and_the_audit_log_are_searched(server: Server) {
    crate::orders::shop(&server, 5).await;
    let t = &server.admin;
    for (path, body) in [
        ("/api/v1/listings", json!({"channel": "web", "channel_sku": "W-VASE", "sku": "VASE-1", "price": "29.00"})),
        ("/api/v1/inventory/movements", json!({"sku": "VASE-1", "location": "central", "quantity": 3, "kind": "receipt", "reason": "opening"})),
    ] {
        assert_eq!(server.post(t, path, body).await.0, 201, "{path}");
    }
    let mut ids = Vec::new();
    for (number, sku, email) in [("S-1", "W-MUG", "ann@example.com"), ("S-2", "W-VASE", "bob@example.com")] {
        let mut body = crate::orders::order(number, json!([{"sku": sku, "quantity": 1, "unit_price": "12.90"}]));
        body["customer"] = json!({"name": "Someone", "email": email});
        let (_, placed) = server.post(t, "/api/v1/orders", body).await;
        let id = placed["id"].as_str().unwrap().to_owned();
        let parcel = json!({"location": "central", "carrier": "DHL", "tracking_number": number});
        assert_eq!(server.post(t, &format!("/api/v1/orders/{id}/shipments"), parcel).await.0, 201, "{number}");
        let rma = json!({"order_id": id, "lines": [{"line": 1, "quantity": 1, "reason": "damaged"}]});
        assert_eq!(server.post(t, "/api/v1/returns", rma).await.0, 201, "{number}");
        ids.push(id);
    }
    for (subject, email, order) in [("Where is S-1?", "ann@example.com", Some(&ids[0])), ("Invoice please", "Bob@Example.com", None)] {
        let ticket = json!({"reason": "billing", "priority": "normal", "subject": subject, "customer_email": email, "order_id": order, "body": "?"});
        assert_eq!(server.post(t, "/api/v1/tickets", ticket).await.0, 201, "{subject}");
    }
    let admin = Browserless::log_in(&server, "ada", Role::Admin).await;
    let today = server.ordo.now().date_naive();
    let tomorrow = today.succ_opt().unwrap();

    // Tickets by the customer's e-mail (any case, a part of it), the order's number and the
    // day opened; the file says the same as the page.
    for (search, subjects) in [
        ("customer=BOB@", vec!["Invoice please"]),
        ("order=S-1", vec!["Where is S-1?"]),
        ("order=S-9", vec![]),
        (&format!("from={today}&to={today}"), vec!["Where is S-1?", "Invoice please"]),
        (&format!("from={tomorrow}"), vec![]),
    ] {
        let (status, _, page) = fetch(&admin, &server, &format!("/dashboard/helpdesk?status=any&{search}")).await;
        assert_eq!(status, 200, "{search}");
        let rows = table_rows(&page, "tickets");
        assert_eq!(rows.len(), subjects.len(), "{search}: {rows:?}");
        assert!(subjects.iter().all(|s| rows.iter().any(|r| r.contains(s))), "{search}: {rows:?}");
        let (_, _, csv) = fetch(&admin, &server, &format!("/dashboard/helpdesk?status=any&{search}&format=csv")).await;
        assert_eq!(csv.lines().count(), subjects.len() + 1, "{search}: {csv}");
    }
    let (status, _, page) = fetch(&admin, &server, &format!("/dashboard/helpdesk?from={tomorrow}&to={today}")).await;
    assert_eq!((status, page.contains("“to” was not accepted: must not be before from")), (400, true), "{page}");

    // Returns by the order's number and by a SKU asked back.
    for (search, order) in [("order=S-1", "web S-1"), ("sku=VASE-1", "web S-2"), ("order=S-1&sku=VASE-1", "")] {
        let (status, _, page) = fetch(&admin, &server, &format!("/dashboard/returns?{search}")).await;
        assert_eq!(status, 200, "{search}");
        let rows = table_rows(&page, "returns");
        assert_eq!(rows.len(), usize::from(!order.is_empty()), "{search}: {rows:?}");
        assert!(rows.iter().all(|r| r.contains(order)), "{search}: {rows:?}");
        let (_, _, csv) = fetch(&admin, &server, &format!("/dashboard/returns?{search}&format=csv")).await;
        assert_eq!(csv.lines().count(), rows.len() + 1, "{search}: {csv}");
    }

    // The audit log by days in the reader's own time zone: fourteen hours ahead of UTC, the
    // day a record falls on is the local one.
    let (status, _) = admin.post("/dashboard/settings", &[("time_zone", "Pacific/Kiritimati")]).await;
    assert_eq!(status, 303);
    let local = (server.ordo.now() + chrono::Duration::hours(14)).date_naive();
    let records = async |from: chrono::NaiveDate, to: chrono::NaiveDate| {
        let (status, _, csv) = fetch(&admin, &server, &format!("/dashboard/audit?action=order.&from={from}&to={to}&format=csv")).await;
        assert_eq!(status, 200, "{csv}");
        csv.lines().count() - 1
    };
    let placed = records(local, local).await;
    assert!(placed >= 2, "the orders placed today, local time: {placed}");
    assert_eq!(records(local.pred_opt().unwrap(), local.pred_opt().unwrap()).await, 0, "nothing the day before, local time");
    assert_eq!(records(local.pred_opt().unwrap(), local).await, placed, "both days included");
    let (_, _, page) = fetch(&admin, &server, &format!("/dashboard/audit?from={local}&to={local}")).await;
    assert!(page.contains("days in Pacific/Kiritimati"), "the page says which zone the days are in");
    let (status, _, _) = fetch(&admin, &server, "/dashboard/audit?from=yesterday").await;
    assert_eq!(status, 400);
}
on_both_engines!(tickets_returns_and_the_audit_log_are_searched, searches_on_sqlite, searches_on_postgres);

/// The link a page's pager gives to the page after, unescaped.
fn next_link(page: &str) -> Option<String> {
    let end = page.find(r#"rel="next""#)?;
    let start = page[..end].rfind("href=\"")? + "href=\"".len();
    Some(page[start..end].trim_end().trim_end_matches('"').replace("&#38;", "&").replace("&amp;", "&"))
}

async fn long_lists_page_by_cursor_without_repeats_or_gaps(server: Server) {
    crate::orders::shop(&server, 100).await;
    let t = &server.admin;
    for n in 0..57 {
        let body = crate::orders::order(&format!("P-{n:03}"), json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
        assert_eq!(server.post(t, "/api/v1/orders", body).await.0, 201);
        let ticket = json!({"reason": "billing", "priority": "normal", "subject": format!("Ticket {n:03}"), "customer_email": "bob@example.com", "body": "?"});
        assert_eq!(server.post(t, "/api/v1/tickets", ticket).await.0, 201);
    }
    let admin = Browserless::log_in(&server, "ada", Role::Admin).await;
    for (list, row) in [("/dashboard/orders?q=P-", ">P-"), ("/dashboard/helpdesk", ">Ticket ")] {
        let (mut seen, mut pages, mut at) = (Vec::new(), 0, Some(list.to_owned()));
        while let Some(path) = at {
            let (status, _, page) = fetch(&admin, &server, &path).await;
            assert_eq!(status, 200, "{path}");
            let rows: Vec<String> = page.match_indices(row).map(|(i, _)| page[i + 1..i + 1 + row.len() + 2].to_owned()).collect();
            assert!(rows.len() <= 50, "{path}: {} rows", rows.len());
            if pages > 0 {
                assert!(page.contains(r#"rel="prev">← First page"#), "{path} leads back to the start");
            }
            seen.extend(rows);
            pages += 1;
            at = next_link(&page);
            // A row written between pages, before where the next page starts, moves no row
            // onto the next page again (as counting rows from the start would).
            if pages == 1 {
                let (path, body) = if row == ">P-" {
                    ("/api/v1/orders", crate::orders::order("P-999", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}])))
                } else {
                    ("/api/v1/tickets", json!({"reason": "billing", "priority": "urgent", "subject": "Ticket 999", "customer_email": "eve@example.com", "body": "!"}))
                };
                assert_eq!(server.post(t, path, body).await.0, 201);
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((pages, seen.len(), unique.len()), (2, 57, 57), "{list}: {seen:?}");
    }
}
on_both_engines!(long_lists_page_by_cursor_without_repeats_or_gaps, lists_page_by_cursor_on_sqlite, lists_page_by_cursor_on_postgres);

/// Posts a dashboard form: refused first (422, the field named in the page, nothing changed),
/// then accepted (303).
async fn refused_then_saved(session: &Browserless, path: &str, bad: &[(&str, &str)], field: &str, good: &[(&str, &str)]) {
    let (status, page) = session.post(path, bad).await;
    assert_eq!(status, 422, "{path}: {page}");
    assert!(page.contains(&format!("{field}: ")) && page.contains("aria-invalid=\"true\""), "{path} names {field}: {page}");
    let (status, at) = session.post(path, good).await;
    assert_eq!(status, 303, "{path}: {at}");
}

async fn master_data_forms_refuse_naming_the_field_and_change_nothing(server: Server) {
    let t = &server.admin;
    let admin = Browserless::log_in(&server, "ada", Role::Admin).await;

    let supplier = |lead: &'static str| vec![("code", "nordic"), ("name", "Nordic Ceramics"), ("currency", "EUR"), ("lead_time_days", lead)];
    refused_then_saved(&admin, "/dashboard/suppliers", &supplier("two weeks"), "lead_time_days", &supplier("14")).await;
    let (_, suppliers) = server.get(t, "/api/v1/suppliers").await;
    assert_eq!(suppliers.as_array().unwrap().len(), 1, "one supplier, from the second post: {suppliers}");

    let customer = |email: &'static str| vec![("email", email), ("name", "Acme GmbH"), ("segment", "business")];
    refused_then_saved(&admin, "/dashboard/customers", &customer("not an address"), "email", &customer("buyer@acme.example")).await;
    let (_, customers) = server.get(t, "/api/v1/customers").await;
    assert_eq!(customers.as_array().map_or(0, Vec::len), 1, "{customers}");

    let rate = |value: &'static str| vec![("currency", "GBP"), ("rate", value)];
    refused_then_saved(&admin, "/dashboard/channels/rates", &rate("-1"), "rate", &rate("1.1650")).await;
    let tax = |percent: &'static str| vec![("country", "DE"), ("tax_class", "standard"), ("percent", percent)];
    refused_then_saved(&admin, "/dashboard/products/tax-rates", &tax("nineteen"), "percent", &tax("19")).await;
    let (_, log) = server.get(t, "/api/v1/audit?action=tax_rate.set").await;
    assert_eq!(log.as_array().unwrap().len(), 1, "one rate set, by the second post: {log}");

    // What the newer forms store reads back on both engines: a safety buffer, supplier terms,
    // another role.
    assert_eq!(server.post(t, "/api/v1/channels", json!({"code": "web", "name": "Web shop", "kind": "web", "currency": "EUR"})).await.0, 201);
    refused_then_saved(&admin, "/dashboard/channels/web/buffers", &[("abc_class", "Z"), ("units", "2")], "abc_class", &[("abc_class", "B"), ("units", "2")]).await;
    assert!(admin.get("/dashboard/channels/web").await.1.contains("class B: 2 units"));
    let terms = |spread: &'static str| vec![("supplier", "nordic"), ("lead_time_sd_days", spread), ("payment_terms_days", "45")];
    refused_then_saved(&admin, "/dashboard/suppliers/terms", &terms("1.55"), "lead_time_sd_days", &terms("1.5")).await;
    let (_, page) = admin.get("/dashboard/suppliers").await;
    assert!(page.contains(r#"<td class="num">1.5</td>"#) && page.contains(r#"<td class="num">45</td>"#), "{page}");
    let _wes = Browserless::log_in(&server, "wes", Role::Warehouse).await;
    refused_then_saved(&admin, "/dashboard/access/role", &[("username", "ada"), ("role", "ops")], "role", &[("username", "wes"), ("role", "ops")]).await;
    assert!(admin.get("/dashboard/users").await.1.contains("<th scope=\"row\">wes</th>\n      <td>ops</td>"));
}
on_both_engines!(
    master_data_forms_refuse_naming_the_field_and_change_nothing,
    master_data_forms_on_sqlite,
    master_data_forms_on_postgres
);

async fn each_reader_sees_times_in_their_own_time_zone(server: Server) {
    crate::orders::shop(&server, 1).await;
    let body = crate::orders::order("TZ-1", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
    let (_, placed) = server.post(&server.admin, "/api/v1/orders", body).await;
    let page = format!("/dashboard/orders/{}", placed["id"].as_str().unwrap());
    let ops = Browserless::log_in(&server, "olga", Role::Ops).await;
    assert!(ops.get(&page).await.1.contains("2026-11-20 10:00 UTC"), "UTC until a zone is chosen");

    refused_then_saved(&ops, "/dashboard/settings", &[("time_zone", "Mars/Olympus")], "time_zone", &[("time_zone", "Europe/Berlin")]).await;
    let (_, shown) = ops.get(&page).await;
    assert!(shown.contains(">2026-11-20 11:00 CET<"), "placed at 10:00 UTC is 11:00 in Berlin: {shown}");
    assert!(shown.contains("title=\"2026-11-20 10:00 UTC\""), "UTC on hover");
    // Another reader keeps theirs.
    let other = Browserless::log_in(&server, "otto", Role::Ops).await;
    assert!(other.get(&page).await.1.contains(">2026-11-20 10:00 UTC<"));

    // Tickets and purchase orders too: each time in Berlin's, with its UTC time on hover.
    let t = &server.admin;
    let call = json!({"channel": "web", "reason": "where_is_my_order", "priority": "normal", "subject": "Where?", "customer_email": "ann@example.com",
        "order_id": placed["id"], "body": "By phone"});
    let (status, ticket) = server.post(t, "/api/v1/tickets", call).await;
    assert_eq!(status, 201, "{ticket}");
    let supplier = json!({"code": "potter", "name": "Potter", "currency": "EUR", "lead_time_days": 14});
    assert_eq!(server.post(t, "/api/v1/suppliers", supplier).await.0, 201);
    let (status, po) = server.post(t, "/api/v1/purchase-orders", json!({"supplier": "potter", "lines": [{"sku": "MUG-1", "quantity": 10, "unit_cost": "4.00"}]})).await;
    assert_eq!(status, 201, "{po}");
    for page in [
        format!("/dashboard/helpdesk/{}", ticket["id"].as_str().unwrap()),
        "/dashboard/helpdesk".to_owned(),
        "/dashboard/procurement".to_owned(),
        format!("/dashboard/procurement/orders/{}", po["id"].as_str().unwrap()),
    ] {
        let (status, shown) = ops.get(&page).await;
        assert_eq!(status, 200, "{page}");
        let times: Vec<&str> = shown.split("<time ").skip(1).map(|t| t.split("</time>").next().unwrap()).collect();
        assert!(!times.is_empty(), "{page} shows its times as <time>: {shown}");
        for time in times {
            assert!(time.contains(" UTC\">") && (time.ends_with(" CET") || time.ends_with(" CEST")), "{page}: local time, UTC on hover: {time}");
        }
    }
}
on_both_engines!(each_reader_sees_times_in_their_own_time_zone, time_zones_on_sqlite, time_zones_on_postgres);

async fn a_location_is_counted_from_its_count_sheet(server: Server) {
    crate::orders::shop(&server, 5).await;
    let bin = ordo_app::domain::wave::BinAssignment { sku: "MUG-1".into(), location: "central".into(), bin: "A-2".into() };
    server.ordo.fulfilment().set_bin(bin, &ordo_app::Actor::system()).await.unwrap();
    let floor = Browserless::log_in(&server, "wes", Role::Warehouse).await;
    let (status, sheet) = floor.get("/dashboard/inventory/count?location=central").await;
    assert_eq!(status, 200);
    assert!(sheet.contains("A-2") && sheet.contains("name=\"count_MUG-1\""), "{sheet}");
    let on_hand = async || server.get(&server.admin, "/api/v1/inventory?sku=MUG-1").await.1[0]["on_hand"].as_i64().unwrap();

    let (status, page) = floor.post("/dashboard/inventory/count", &[("location", "central"), ("count_MUG-1", "three")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("count_MUG-1: must be a whole number"), "{page}");
    assert_eq!(on_hand().await, 5, "nothing recorded");
    let stray = [("location", "central"), ("count_MUG-1", "4"), ("count_VASE-1", "2")];
    let (status, page) = floor.post("/dashboard/inventory/count", &stray).await;
    assert_eq!(status, 422, "VASE-1 is not kept at central");
    assert!(page.contains("count_VASE-1: VASE-1 is not on the count sheet"), "{page}");
    assert_eq!(on_hand().await, 5, "a sheet with a stray line records none of it");
    let (status, _) = floor.post("/dashboard/inventory/count", &[("location", "central"), ("count_MUG-1", "3")]).await;
    assert_eq!(status, 303);
    assert_eq!(on_hand().await, 3, "the count sets what is on hand");
}
on_both_engines!(a_location_is_counted_from_its_count_sheet, count_sheet_on_sqlite, count_sheet_on_postgres);

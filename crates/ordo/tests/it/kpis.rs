//! The operating figures: what the overview and `GET /api/v1/reports/kpis` say follows from
//! the orders, shipments, exceptions and books underneath, today and day by day.

use ordo_app::domain::access::Role;
use serde_json::{json, Value};

use crate::common::{on_both_engines, Browserless, Server};

/// An order for `quantity` mugs placed now, paid or only authorised: its answer.
async fn place(server: &Server, external_id: &str, quantity: i64, paid: bool) -> Value {
    let mut body = crate::orders::order(external_id, json!([{"sku": "W-MUG", "quantity": quantity, "unit_price": "12.90"}]));
    body["placed_at"] = json!(chrono::Utc::now().to_rfc3339());
    if !paid {
        body["payment_status"] = json!("authorized");
    }
    let (status, order) = server.post(&server.admin, "/api/v1/orders", body).await;
    assert_eq!(status, 201, "{order}");
    order
}

async fn the_figures_follow_the_orders_shipments_exceptions_and_books(server: Server) {
    crate::orders::shop(&server, 2).await;
    let shipped = place(&server, "K-1", 1, true).await;
    assert_eq!(shipped["status"], "allocated");
    assert_eq!(place(&server, "K-2", 2, true).await["status"], "backordered");
    assert_eq!(place(&server, "K-3", 1, false).await["status"], "on_hold");
    let parcel = json!({"location": "central", "carrier": "DHL", "tracking_number": "KPI1"});
    let (status, answer) = server.post(&server.admin, &format!("/api/v1/orders/{}/shipments", shipped["id"].as_str().unwrap()), parcel).await;
    assert_eq!(status, 201, "{answer}");

    let (status, kpis) = server.get(&server.token(Role::Finance).await, "/api/v1/reports/kpis").await;
    assert_eq!(status, 200, "{kpis}");
    let days = kpis["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days[29], json!(chrono::Utc::now().date_naive()), "the last day is today");
    let today = |figure: &str| kpis[figure]["trend"][29].clone();
    // K-1 was reserved whole, K-2 was not; K-3 waits for review and is not routed yet.
    assert_eq!((kpis["fill_rate"]["percent"].clone(), today("fill_rate")), (json!("50.00"), json!("50.00")), "{kpis}");
    assert_eq!(kpis["fill_rate"]["trend"][0], Value::Null, "nothing to measure a month ago");
    assert_eq!(kpis["sla_adherence"]["percent"], "100.00", "K-1 left before its ship-by time");
    for level in ["backlog", "blocked_orders"] {
        assert_eq!((kpis[level]["now"].clone(), today(level)), (json!(2), json!(2)), "{level}: K-2 and K-3");
        assert_eq!(kpis[level]["trend"][0], 0, "{level} a month ago");
    }
    let owners = kpis["exceptions_by_owner"].as_array().unwrap();
    let queue = |role: &str| owners.iter().find(|q| q["role"] == role).map_or(0, |q| q["unresolved"].as_i64().unwrap());
    assert_eq!((queue("ops"), queue("finance")), (1, 1), "K-2's stockout for ops, K-3's payment review for finance: {owners:?}");
    let unresolved: i64 = owners.iter().map(|q| q["unresolved"].as_i64().unwrap()).sum();
    assert_eq!((kpis["exceptions"]["now"].as_i64(), today("exceptions").as_i64()), (Some(unresolved), Some(unresolved)));
    assert_eq!(kpis["sync_problems"]["now"], 0);
    let web = kpis["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "web").unwrap().clone();
    assert_eq!(web["orders"][29], 3);
    let revenue = web["revenue"][29].as_str().unwrap();
    assert_eq!(kpis["margin"]["revenue"], revenue, "only web has sold");
    assert!(crate::common::minor(revenue) >= 1290, "K-1's mug is booked: {revenue}");
    assert!(kpis["margin"]["percent"].is_string(), "{kpis}");

    // The warehouse reads the operations figures but not the books.
    let (_, floor) = server.get(&server.token(Role::Warehouse).await, "/api/v1/reports/kpis").await;
    assert_eq!(floor["backlog"]["now"], 2);
    assert!(floor.get("margin").is_none() && floor["channels"][0].get("revenue").is_none(), "{floor}");

    // The overview shows the same figures, with the queue behind each a click away.
    let page = Browserless::log_in(&server, "fiona", Role::Finance).await.get("/dashboard").await.1;
    for shown in ["id=\"kpi-fill-rate\"", "50.00 %", "100.00 %", "id=\"kpi-margin\"", "href=\"/dashboard/holds\"", "/dashboard/exceptions?owner=finance"] {
        assert!(page.contains(shown), "the overview shows {shown}");
    }
    // The trial balance lists each account's balance on its side, not its turnover: stock
    // came into inventory (debits) and a mug left it (a credit), and only the debit balance
    // shows; sales are all credit.
    let finance = Browserless::log_in(&server, "fred", Role::Finance).await;
    let ledger = finance.get("/dashboard/ledger").await.1;
    let cells = |code: &str| -> Vec<String> {
        let row = ledger.split(&format!("<code>{code}</code>")).nth(1).unwrap().split("</tr>").next().unwrap();
        row.split("<td class=\"num\">").skip(1).map(|cell| cell.split("</td>").next().unwrap().to_owned()).collect()
    };
    use ordo_app::domain::ledger::{INVENTORY, SALES};
    assert_eq!(cells(INVENTORY), ["4.20", ""], "received 2 mugs at 4.20, shipped 1");
    assert!(cells(SALES)[0].is_empty() && !cells(SALES)[1].is_empty(), "{:?}", cells(SALES));
    let floor_page = Browserless::log_in(&server, "walt", Role::Warehouse).await.get("/dashboard").await.1;
    assert!(floor_page.contains("id=\"kpi-backlog\"") && !floor_page.contains("kpi-margin"), "no margin for the warehouse");

    // The operating review: weekly and monthly, the same in the dashboard and from the
    // command line's use case. A price change approved by a second person counts as such.
    let proposal = json!({"kind": "price", "change": {"channel": "web", "channel_sku": "W-MUG", "price": "13.50"}, "reason": "cost went up"});
    let (status, proposed) = server.post(&server.admin, "/api/v1/change-requests", proposal).await;
    assert_eq!(status, 201, "{proposed}");
    let approve = format!("/api/v1/change-requests/{}/approve", proposed["id"].as_str().unwrap());
    assert_eq!(server.post(&server.token(Role::Finance).await, &approve, json!({})).await.0, 200);
    let weekly = server.ordo.reports().review(ordo_app::ReviewPeriod::Week).await.unwrap();
    let titles: Vec<&str> = weekly.sections().iter().map(|s| s.title).collect();
    assert_eq!(titles, ["Order backlog", "Stock exceptions", "Return reasons", "Supplier delays", "Reconciliation issues"]);
    assert_eq!((weekly.backlog_now, weekly.stock_exceptions.raised), (2, 1));
    let monthly = server.ordo.reports().review(ordo_app::ReviewPeriod::Month).await.unwrap();
    assert_eq!(monthly.compliance, (1, 1), "the price approved by a second person; the shop's listing made by one");
    assert_eq!((monthly.fill_rate_bp, monthly.sla_bp), (Some(5000), Some(10_000)));
    let review = finance.get("/dashboard/review?period=month").await.1;
    for shown in ["Monthly review", "Profitability by channel", "Process compliance", "1 of 2 (50.00 %)"] {
        assert!(review.contains(shown), "the monthly review shows {shown}");
    }
    let floor_review = Browserless::log_in(&server, "wendy", Role::Warehouse).await.get("/dashboard/review?period=month").await.1;
    assert!(floor_review.contains("Process compliance") && !floor_review.contains("Profitability by channel"), "the books are finance's");

    // The levels are Prometheus gauges too.
    let metrics = reqwest::get(format!("{}/metrics", server.base)).await.unwrap().text().await.unwrap();
    for gauge in ["ordo_orders_backlog", "ordo_orders_blocked", "ordo_exceptions_unresolved{owner=\"finance\"}", "ordo_channel_sync_problems", "ordo_work_queue{queue=\"lines_to_pick\"}"] {
        assert!(metrics.contains(gauge), "/metrics has {gauge}");
    }
}
on_both_engines!(
    the_figures_follow_the_orders_shipments_exceptions_and_books,
    the_figures_follow_the_orders_shipments_exceptions_and_books_on_sqlite,
    the_figures_follow_the_orders_shipments_exceptions_and_books_on_postgres
);

/// The text a person reads on a page: tags (and their attributes, where links keep ids) and
/// what `<code>` and `<details>` hold (record contents shown on purpose) taken out.
fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let tag = &rest[open..];
        let skip_to = ["<code", "<details", "<title", "<script", "<style"].iter().find(|t| tag.starts_with(*t)).map(|t| format!("</{}>", &t[1..]));
        rest = match skip_to {
            Some(close) => tag.find(&close).map_or("", |end| &tag[end + close.len()..]),
            None => tag.find('>').map_or("", |end| &tag[end + 1..]),
        };
    }
    text.push_str(rest);
    text
}

/// The first UUID in `text`, if any.
fn a_uuid(text: &str) -> Option<String> {
    let shape = [8, 4, 4, 4, 12];
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len().saturating_sub(35)).find_map(|start| {
        let candidate: String = chars[start..start + 36].iter().collect();
        let groups: Vec<&str> = candidate.split('-').collect();
        let fits = groups.len() == 5 && groups.iter().zip(shape).all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
        fits.then_some(candidate)
    })
}

async fn no_page_shows_a_bare_uuid_as_a_subject(server: Server) {
    crate::orders::shop(&server, 1).await;
    let t = &server.admin;
    let shipped = place(&server, "N-1", 1, true).await;
    let id = shipped["id"].as_str().unwrap().to_owned();
    place(&server, "N-2", 1, true).await;
    place(&server, "N-3", 1, false).await;
    let parcel = json!({"location": "central", "carrier": "DHL", "tracking_number": "JD0001"});
    assert_eq!(server.post(t, &format!("/api/v1/orders/{id}/shipments"), parcel).await.0, 201);
    let rma = json!({"order_id": id, "lines": [{"line": 1, "quantity": 1, "reason": "damaged"}]});
    let (status, rma) = server.post(t, "/api/v1/returns", rma).await;
    assert_eq!(status, 201, "{rma}");
    let ticket = json!({"channel": "web", "reason": "where_is_my_order", "priority": "high", "subject": "Where is my mug?",
        "customer_email": "ann@example.com", "order_id": id, "body": "Nothing yet."});
    let (status, ticket) = server.post(t, "/api/v1/tickets", ticket).await;
    assert_eq!(status, 201, "{ticket}");
    let about_return = json!({"channel": "web", "reason": "return_request", "priority": "normal", "subject": "My return", "customer_email": "ann@example.com",
        "order_id": id, "return_id": rma["id"], "body": "Sent it back."});
    let (status, about_return) = server.post(t, "/api/v1/tickets", about_return).await;
    assert_eq!(status, 201, "{about_return}");
    let (_, open) = server.get(t, "/api/v1/exceptions?status=unresolved").await;
    let exception = open.as_array().unwrap().iter().find(|e| e["kind"] == "stockout").unwrap()["id"].as_str().unwrap().to_owned();
    let proposal = json!({"kind": "tax_class", "change": {"sku": "MUG-1", "tax_class": "reduced"}, "reason": "it is food-safe tableware"});
    assert_eq!(server.post(t, "/api/v1/change-requests", proposal).await.0, 201);
    let policy = json!({"kind": "replenishment_policy", "change": {"scope": "class:A", "policy": {"kind": "min_max", "min": 2, "max": 9}}, "reason": "steady"});
    assert_eq!(server.post(t, "/api/v1/change-requests", policy).await.0, 201);
    use ordo_app::domain::ledger::{INVENTORY, SALES};

    let admin = Browserless::log_in(&server, "ada", Role::Admin).await;
    let pages = [
        "/dashboard/exceptions?owner=any".to_owned(),
        format!("/dashboard/exceptions/{exception}"),
        "/dashboard/audit".to_owned(),
        "/dashboard/notifications".to_owned(),
        "/dashboard/returns".to_owned(),
        format!("/dashboard/returns/{}", rma["id"].as_str().unwrap()),
        "/dashboard/helpdesk".to_owned(),
        format!("/dashboard/helpdesk/{}", ticket["id"].as_str().unwrap()),
        format!("/dashboard/helpdesk/{}", about_return["id"].as_str().unwrap()),
        "/dashboard/holds".to_owned(),
        "/dashboard/orders".to_owned(),
        "/dashboard/channels/web".to_owned(),
        "/dashboard/inventory".to_owned(),
        "/dashboard/users".to_owned(),
        format!("/dashboard/ledger/accounts/{INVENTORY}"),
        format!("/dashboard/ledger/accounts/{SALES}"),
        "/dashboard/changes?status=any".to_owned(),
        "/dashboard/procurement".to_owned(),
    ];
    for page in pages {
        let (status, html) = admin.get(&page).await;
        assert_eq!(status, 200, "{page}");
        let text = visible_text(&html);
        assert_eq!(a_uuid(&text), None, "{page} shows a bare id: {text}");
    }
    // A ledger line names the parcel it came from and its order, and links to it.
    let (_, page) = admin.get(&format!("/dashboard/ledger/accounts/{SALES}")).await;
    assert!(page.contains("Parcel DHL JD0001, order web N-1"), "{page}");
    let shipment = page.split("href=\"/dashboard/shipments/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert_eq!(admin.get(&format!("/dashboard/shipments/{shipment}")).await.0, 303, "the parcel leads to its order");
    assert_eq!(admin.get(&format!("/dashboard/shipments/{}", uuid::Uuid::nil())).await.0, 404);
    // The audit log names a change request as its page heads it, not by its raw kind and subject.
    let (_, page) = admin.get("/dashboard/audit").await;
    assert!(page.contains("Tax class change request: SKU MUG-1") && page.contains("Replenishment policy change request: Replenishment policy of class A"), "{page}");
    assert!(!page.contains("tax class of sku:") && !page.contains("tax_class sku:"), "{page}");
    // A change request names what it changes; a policy's scope in words.
    let (_, page) = admin.get("/dashboard/changes?status=any").await;
    assert!(page.contains("SKU MUG-1") && page.contains("Replenishment policy of class A"), "{page}");
    // The evidence reads as a table, the order it names by its number and linked.
    let (_, page) = admin.get(&format!("/dashboard/exceptions/{exception}")).await;
    assert!(page.contains("id=\"evidence\"") && page.contains("Order web N-2"), "{page}");
    // A "where is my order" ticket shows the order's status and its parcel's tracking.
    let (_, page) = admin.get(&format!("/dashboard/helpdesk/{}", ticket["id"].as_str().unwrap())).await;
    assert!(page.contains("ticket-order-status") && page.contains("JD0001"), "{page}");
}
on_both_engines!(no_page_shows_a_bare_uuid_as_a_subject, no_bare_uuid_on_sqlite, no_bare_uuid_on_postgres);

/// Each role's overview counts the queues it works from, and not another role's; each count is
/// what the API's own lists hold, and the dashboard and `GET /api/v1/reports/kpis` agree.
async fn each_role_sees_its_own_queues(server: Server) {
    crate::orders::shop(&server, 2).await;
    let t = &server.admin;
    assert_eq!(place(&server, "Q-1", 1, true).await["status"], "allocated");
    place(&server, "Q-2", 1, false).await;
    let (status, wave) = server.post(t, "/api/v1/waves", json!({"location": "central"})).await;
    assert_eq!(status, 201, "{wave}");
    let ticket = json!({"channel": "web", "reason": "where_is_my_order", "priority": "high", "subject": "Where is my mug?",
        "customer_email": "ann@example.com", "body": "Nothing yet."});
    assert_eq!(server.post(t, "/api/v1/tickets", ticket).await.0, 201);

    let count = |list: Value| list.as_array().map_or(0, |rows| rows.len() as i64);
    let server = &server;
    let unresolved = async |kind: &str| count(server.get(&server.admin, &format!("/api/v1/exceptions?kind={kind}&status=unresolved")).await.1);
    let (_, workload) = server.get(t, "/api/v1/workload").await;
    let backlog = |what: &str| workload.as_array().unwrap().iter().map(|l| l["outlook"]["backlog"][what].as_i64().unwrap()).sum::<i64>();
    let (_, stock) = server.get(t, "/api/v1/inventory").await;
    let free = |sku: &str| stock.as_array().unwrap().iter().filter(|l| l["sku"] == sku).map(|l| l["on_hand"].as_i64().unwrap() - l["reserved"].as_i64().unwrap()).sum::<i64>();
    let waves = count(server.get(t, "/api/v1/waves?status=open").await.1) + count(server.get(t, "/api/v1/waves?status=picked").await.1);
    let expected: Vec<(Role, Vec<(&str, i64)>)> = vec![
        (Role::Warehouse, vec![
            ("lines_to_pick", backlog("lines")),
            ("parcels_to_pack", backlog("parcels")),
            ("waves_open", waves),
            ("late_shipments", unresolved("late_shipment").await),
        ]),
        (Role::Service, vec![
            ("tickets_open", count(server.get(t, "/api/v1/tickets").await.1)),
            ("tickets_overdue", 0),
            ("returns_to_receive", count(server.get(t, "/api/v1/returns?status=in_transit").await.1)),
            ("returns_to_inspect", count(server.get(t, "/api/v1/returns?status=received").await.1)),
        ]),
        (Role::Procurement, vec![
            ("purchase_orders_late", 0),
            ("skus_out_of_stock", ["MUG-1", "VASE-1"].iter().filter(|sku| free(sku) <= 0).count() as i64),
            ("skus_to_reorder", 0),
        ]),
        (Role::Finance, vec![("reconciliation_breaks", unresolved("reconciliation").await), ("payment_reviews", unresolved("payment_review").await)]),
        (Role::Integration, vec![("deliveries_waiting", 0), ("channels_failing", 0)]),
    ];
    assert_eq!((expected[0].1[0].1, expected[0].1[2].1), (1, 1), "Q-1's line, in the wave released");
    assert_eq!((expected[1].1[0].1, expected[3].1[1].1), (1, 1), "the ticket; Q-2's payment review");
    assert_eq!(expected[2].1[1].1, 1, "no vase on the shelves");
    for (role, queues) in &expected {
        let (status, kpis) = server.get(&server.token(*role).await, "/api/v1/reports/kpis").await;
        assert_eq!(status, 200, "{kpis}");
        let answered: Vec<(String, i64)> = kpis["queues"].as_array().unwrap().iter().map(|q| (q["queue"].as_str().unwrap().to_owned(), q["count"].as_i64().unwrap())).collect();
        let wanted: Vec<(String, i64)> = queues.iter().map(|(q, n)| ((*q).to_owned(), *n)).collect();
        assert_eq!(answered, wanted, "{role:?}'s queues at the API");
        assert!(kpis["queues"].as_array().unwrap().iter().all(|q| q["role"] == role.as_str()), "{role:?}: {kpis}");

        let page = Browserless::log_in(server, &format!("q{}", role.as_str()), *role).await.get("/dashboard").await.1;
        for (queue, n) in queues {
            let tile = page.split(&format!("id=\"queue-{queue}\"")).nth(1).unwrap_or_else(|| panic!("{role:?} sees {queue}")).split("</li>").next().unwrap();
            assert!(tile.contains(&format!("<span class=\"count\">{n}</span>")) && tile.contains("href=\"/dashboard/"), "{role:?}'s {queue} counts {n}, a click from its queue: {tile}");
        }
        for (other, theirs) in expected.iter().filter(|(other, _)| other != role) {
            for (queue, _) in theirs {
                assert!(!page.contains(&format!("id=\"queue-{queue}\"")), "{role:?} does not see {other:?}'s {queue}");
            }
        }
    }
    let (_, viewer) = server.get(&server.token(Role::Viewer).await, "/api/v1/reports/kpis").await;
    assert_eq!(viewer["queues"], json!([]), "a viewer works no queue");
    let (_, admin) = server.get(t, "/api/v1/reports/kpis").await;
    assert_eq!(admin["queues"].as_array().unwrap().len(), 15, "an administrator sees every queue");
}
on_both_engines!(each_role_sees_its_own_queues, each_role_sees_its_own_queues_on_sqlite, each_role_sees_its_own_queues_on_postgres);

//! Anomalies: a day whose cancellations stand out against the weeks before is raised once, for
//! ops, with its evidence; ordinary days are not.

use chrono::{Duration, Utc};
use ordo_app::Clock;
use serde_json::json;

use crate::common::{on_both_engines, on_both_engines_after_demo, Server};
use crate::orders::{order, shop};

async fn a_day_of_unusual_cancellations_is_raised_once_with_its_evidence(server: Server) {
    shop(&server, 10_000).await;
    let t = &server.admin;
    let today = Utc::now().date_naive();
    // Fifteen ordinary days, 25 orders a day and one of them cancelled; then yesterday, when
    // ten of 25 were.
    for back in (1..=16).rev() {
        let day = today - Duration::days(back);
        let cancelled = if back == 1 { 10 } else { 1 };
        for n in 0..25 {
            let mut body = order(&format!("A-{back}-{n}"), json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
            body["placed_at"] = json!(format!("{day}T10:00:00Z"));
            let (status, placed) = server.post(t, "/api/v1/orders", body).await;
            assert_eq!(status, 201, "{placed}");
            if n < cancelled {
                let id = placed["id"].as_str().unwrap();
                assert_eq!(server.post(t, &format!("/api/v1/orders/{id}/cancel"), json!({"reason": "customer changed mind"})).await.0, 200);
            }
        }
    }

    let scan = server.ordo.anomalies().scan(20).await.unwrap();
    let found: Vec<(&str, &str, bool)> = scan.findings.iter().map(|f| (f.kind, f.subject.as_str(), f.raised)).collect();
    assert_eq!(found, [("cancellation_spike", "channel:web", true), ("cancellation_spike", "sku:MUG-1", true)], "only yesterday stands out: {scan:?}");
    assert_eq!(scan.findings[0].day, today - Duration::days(1));
    assert_eq!(scan.findings[0].observed, "10 of 25 orders cancelled (40.00 %)");

    let (_, raised) = server.get(t, "/api/v1/exceptions?kind=cancellation_spike").await;
    let web = raised.as_array().unwrap().iter().find(|e| e["subject"] == "channel:web").unwrap().clone();
    assert_eq!(web["owner_role"], "ops", "{web}");
    let details = &web["details"];
    assert_eq!(details["observed"], "10 of 25 orders cancelled (40.00 %)", "{details}");
    assert_eq!(details["baseline"], "15 of 375 orders (4.00 %)");
    assert_eq!(details["cancelled_orders"].as_array().map(Vec::len), Some(10), "the orders behind it");
    assert_eq!(details["series"].as_array().map(Vec::len), Some(16), "the days it was judged against, and the day");

    // Its page draws the days it was judged on, the day found marked, and lists the orders.
    let olga = crate::common::Browserless::log_in(&server, "olga", ordo_app::domain::access::Role::Ops).await;
    let (status, page) = olga.get(&format!("/dashboard/exceptions/{}", web["id"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"<figure id="evidence-chart">"#), "{page}");
    assert_eq!(page.matches("<rect ").count(), 16, "one bar a day");
    assert_eq!(page.matches(r#"class="marked""#).count(), 1);
    assert!(page.contains("cancelled orders 1 order") && !page.contains("series 1 day"), "{page}");
    assert!(page.contains("Orders cancelled per 100 placed, over what it was judged against"), "{page}");

    // Found again, it is not raised again; closed as not a problem, it still is not, and the
    // share of findings that were not a problem is reported.
    let again = server.ordo.anomalies().scan(20).await.unwrap();
    assert!(again.findings.iter().all(|f| !f.raised), "{again:?}");
    let id = web["id"].as_str().unwrap();
    let resolve = json!({"code": "not_an_issue", "note": "a promotion ended"});
    assert_eq!(server.post(t, &format!("/api/v1/exceptions/{id}/resolve"), resolve).await.0, 200);
    let later = server.ordo.with_clock(Clock::simulated(Utc::now() + Duration::hours(1)));
    let third = later.anomalies().scan(20).await.unwrap();
    assert!(third.findings.iter().all(|f| !f.raised), "{third:?}");
    let judged = third.kinds.iter().find(|k| k.kind == "cancellation_spike").unwrap();
    assert_eq!((judged.resolved, judged.not_a_problem), (1, 1));
    let (_, all) = server.get(t, "/api/v1/exceptions?kind=cancellation_spike").await;
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");
}
on_both_engines!(a_day_of_unusual_cancellations_is_raised_once_with_its_evidence, cancellation_spikes_on_sqlite, cancellation_spikes_on_postgres);

/// A commission the marketplace gives back on refunds (it did for another order in the same
/// report) but kept on a line Ordo refunded in full before the report's period ended is
/// raised for finance, with that fee's rate drawn beside its type's.
async fn a_commission_kept_on_a_refunded_line_is_raised(server: Server) {
    shop(&server, 100).await;
    let t = &server.admin;
    let channel = json!({"code": "amazon-de", "name": "Amazon DE", "kind": "marketplace", "currency": "EUR"});
    assert_eq!(server.post(t, "/api/v1/channels", channel).await.0, 201);
    let mut ids = std::collections::BTreeMap::new();
    for (id, quantity) in [("302-1", 1), ("302-2", 2), ("302-3", 1)] {
        let mut body = order(id, json!([{"sku": "MUG-1", "quantity": quantity, "unit_price": "12.90", "tax": "0.00"}]));
        body["channel"] = json!("amazon-de");
        body["placed_at"] = json!("2026-11-10T10:00:00Z");
        let (status, placed) = server.post(t, "/api/v1/orders", body).await;
        assert_eq!(status, 201, "{placed}");
        let order_id = placed["id"].as_str().unwrap().to_owned();
        let parcel = json!({"location": "central", "carrier": "DHL", "tracking_number": format!("JD-{id}")});
        assert_eq!(server.post(t, &format!("/api/v1/orders/{order_id}/shipments"), parcel).await.0, 201);
        ids.insert(id, order_id.parse::<uuid::Uuid>().unwrap());
    }
    // 302-1 and 302-3 are refunded in full on 15 November, inside the report's period.
    let then = server.ordo.with_clock(Clock::simulated("2026-11-15T12:00:00Z".parse().unwrap()));
    for id in ["302-1", "302-3"] {
        let refund = ordo_app::NewRefund {
            return_id: None,
            lines: vec![ordo_app::NewRefundLine { line: 1, quantity: 1, amount: None }],
            shipping: None,
            reason: "arrived broken".into(),
            channel_refund: None,
        };
        then.returns().refund(ids[id], refund, &ordo_app::Actor::system()).await.unwrap();
    }
    // Amazon gives 302-3's commission back, and keeps 302-1's.
    let report = crate::settlements::v2_report(
        "9101",
        "32,89",
        &[
            ("Order", "302-1", "ItemPrice", "Principal", "12,90"),
            ("Order", "302-1", "ItemFees", "Commission", "-1,94"),
            ("Order", "302-2", "ItemPrice", "Principal", "25,80"),
            ("Order", "302-2", "ItemFees", "Commission", "-3,87"),
            ("Order", "302-3", "ItemPrice", "Principal", "12,90"),
            ("Order", "302-3", "ItemFees", "Commission", "-1,94"),
            ("Refund", "302-3", "ItemPrice", "Principal", "-12,90"),
            ("Refund", "302-3", "ItemFees", "Commission", "1,94"),
        ],
    );
    let finance = server.token(ordo_app::domain::access::Role::Finance).await;
    let (status, imported) = crate::settlements::post_text(&server, &finance, "/api/v1/channels/amazon-de/settlements", report).await;
    assert_eq!(status, 201, "{imported}");

    // Deposited two weeks ago, imported today: tomorrow's hourly scan of the last two whole
    // days judges it.
    let tomorrow = server.ordo.with_clock(Clock::simulated(Utc::now() + Duration::days(1)));
    let scan = tomorrow.anomalies().scan(2).await.unwrap();
    let fees: Vec<_> = scan.findings.iter().filter(|f| f.kind == "fee_anomaly").collect();
    assert_eq!(fees.len(), 1, "{fees:?}");
    let (_, raised) = server.get(&finance, "/api/v1/exceptions?kind=fee_anomaly").await;
    let raised = raised.as_array().unwrap();
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0]["owner_role"], "finance");
    let lines = raised[0]["details"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "only the commission kept: {lines:?}");
    assert_eq!(lines[0]["order"], ids["302-1"].to_string());
    assert!(lines[0]["found"].as_str().unwrap().contains("1.94 kept on a line refunded in full"), "{lines:?}");
    let series = raised[0]["details"]["series"].as_array().unwrap();
    assert_eq!(series.iter().filter(|p| p["marked"] == true).count(), 1, "{series:?}");
}
on_both_engines!(a_commission_kept_on_a_refunded_line_is_raised, fee_kept_on_refund_on_sqlite, fee_kept_on_refund_on_postgres);

/// The demo's thirty days plant one anomaly of each kind: each is found on its day and
/// nothing else of its kind is, each exception is its owner's, and each page draws the series
/// it was judged on with the point found marked (in Chromium too, where it is installed).
async fn the_demo_s_planted_anomalies_are_found_and_nothing_else((server, demo): (Server, ordo_demo::DemoSummary)) {
    let t = &demo.trading;
    let owners = [
        ("cancellation_spike", "ops"),
        ("stock_variance", "warehouse"),
        ("margin_drop", "finance"),
        ("fee_anomaly", "finance"),
        ("return_spike", "ops"),
    ];
    let mut pages = Vec::new();
    for (kind, owner) in owners {
        let planted: Vec<_> = t.planted.iter().filter(|p| p.kind == kind).collect();
        assert!(!planted.is_empty(), "{kind} is planted in thirty days");
        let findings: Vec<_> = t.anomalies.iter().filter(|f| f.kind == kind).collect();
        for p in &planted {
            assert!(findings.iter().any(|f| f.subject == p.subject && f.day == p.day), "{kind}: {} not found in {findings:?}", p.what);
        }
        let others: Vec<_> = findings.iter().filter(|f| !planted.iter().any(|p| p.subject == f.subject && p.day == f.day)).collect();
        assert!(others.is_empty(), "{kind}: found on clean days too: {others:?}");

        let (_, raised) = server.get(&server.admin, &format!("/api/v1/exceptions?kind={kind}")).await;
        let raised = raised.as_array().unwrap();
        assert_eq!(raised.len(), planted.len(), "{kind}: {raised:?}");
        for exception in raised {
            assert_eq!(exception["owner_role"], owner, "{exception}");
            for fact in ["observed", "baseline", "test", "strength", "series"] {
                assert!(!exception["details"][fact].is_null(), "{kind} lacks its {fact}: {exception}");
            }
            pages.push((kind, owner, exception["id"].as_str().unwrap().to_owned()));
        }
    }

    // The owner opens each: the chart of the series with one point marked, and the evidence.
    let mut people = std::collections::BTreeMap::new();
    for (_, owner, _) in &pages {
        if !people.contains_key(owner) {
            let role = ordo_app::domain::access::Role::parse("role", owner).unwrap();
            people.insert(*owner, crate::common::Browserless::log_in(&server, &format!("{owner}-owner"), role).await);
        }
    }
    for (kind, owner, id) in &pages {
        let person = &people[owner];
        let (status, page) = person.get(&format!("/dashboard/exceptions/{id}")).await;
        assert_eq!(status, 200, "{kind}");
        assert!(page.contains(r#"<figure id="evidence-chart">"#) && page.matches("<rect ").count() > 2, "{kind}: {page}");
        assert_eq!(page.matches(r#"class="marked""#).count(), 1, "{kind}");
        assert!(page.contains(r#"id="acknowledge""#), "{kind}: its owner may act on it");
    }

    if server.ordo.engine() == ordo_app::Engine::Sqlite {
        let test = "the_demo_s_planted_anomalies_are_found_and_nothing_else";
        let Some((_driver, _profile, browser)) = crate::browser::open_browser(test).await else { return };
        server.ordo.access().create_user("ada", ordo_demo::DEMO_PASSWORD, ordo_app::domain::access::Role::Admin, &ordo_app::Actor::system()).await.unwrap();
        crate::browser::log_in(&browser, &server, "ada").await;
        let measure = "const bars = Array.from(document.querySelectorAll('#evidence-chart rect')); \
                       const marked = document.querySelector('#evidence-chart rect.marked').getBoundingClientRect(); \
                       return [bars.length, Math.round(marked.width), Math.round(marked.height), document.querySelector('#evidence-chart figcaption').textContent];";
        for (kind, _, id) in &pages {
            browser.goto(&format!("{}/dashboard/exceptions/{id}", server.base)).await.unwrap();
            let drawn = browser.execute(measure, vec![]).await.unwrap();
            let (bars, width, height) = (drawn[0].as_i64().unwrap(), drawn[1].as_i64().unwrap(), drawn[2].as_i64().unwrap());
            assert!(bars > 2 && width > 0 && height > 0, "{kind}: {drawn}");
        }
        browser.close().await.unwrap();
    }
}

on_both_engines_after_demo!(the_demo_s_planted_anomalies_are_found_and_nothing_else, 30, planted_anomalies_on_sqlite, planted_anomalies_on_postgres);

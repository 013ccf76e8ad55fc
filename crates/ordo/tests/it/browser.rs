//! The dashboard in headless Chromium, driven over WebDriver as a person would use it.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::common::Server;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Headless Chromium under a chromedriver of its own, or `None` (the test is skipped) where
/// they are not installed. The driver and the profile folder live as long as the browser.
pub(crate) async fn open_browser(test: &str) -> Option<(Driver, tempfile::TempDir, Client)> {
    if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
        println!("SKIP {test}: install Debian's chromium and chromium-driver");
        return None;
    }
    let port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--no-first-run".to_owned(),
        "--window-size=1280,900".to_owned(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), json!({"binary": CHROMIUM, "args": args}));
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(client) => return Some((driver, profile, client)),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    panic!("chromedriver does not answer");
}

#[tokio::test]
async fn a_user_logs_in_and_sees_the_products_page() {
    let Some((_driver, _profile, browser)) = open_browser("a_user_logs_in_and_sees_the_products_page").await else {
        return;
    };
    let server = Server::start_demo().await;

    // Asking for a page without a session leads to the log-in form, then back to the page.
    browser.goto(&format!("{}/dashboard/products", server.base)).await.unwrap();
    assert!(browser.current_url().await.unwrap().path().starts_with("/login"));
    browser.find(Locator::Id("username")).await.unwrap().send_keys("ops").await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys("wrong password").await.unwrap();
    browser.find(Locator::Id("login-submit")).await.unwrap().click().await.unwrap();
    let refused = browser.wait().for_element(Locator::XPath("//*[contains(., 'Wrong username or password')]")).await;
    assert!(refused.is_ok(), "a wrong password is refused");

    browser.find(Locator::Id("username")).await.unwrap().clear().await.unwrap();
    browser.find(Locator::Id("username")).await.unwrap().send_keys("ops").await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys(ordo_demo::DEMO_PASSWORD).await.unwrap();
    browser.find(Locator::Id("login-submit")).await.unwrap().click().await.unwrap();
    // The log-in form remembers where the user was going.
    browser.wait().for_url(&format!("{}/dashboard/products", server.base).parse().unwrap()).await.unwrap();
    let heading = browser.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert_eq!(heading, "Products");
    assert_eq!(browser.title().await.unwrap(), "Products · Ordo");
    let rows = browser.find_all(Locator::Css("main table tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 50, "the first page of 300 products");
    let page = browser.source().await.unwrap();
    assert!(page.contains("of 300"), "the pager tells the total");

    // Search narrows the list.
    browser.find(Locator::Id("product-search")).await.unwrap().send_keys("velvet").await.unwrap();
    browser.find(Locator::Css("form[role=search] button")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//caption[contains(., 'velvet')]")).await.unwrap();
    let rows = browser.find_all(Locator::Css("main table tbody tr")).await.unwrap();
    assert!(!rows.is_empty() && rows.len() < 50, "a search for velvet finds some, not all: {}", rows.len());
    for row in rows {
        assert!(row.text().await.unwrap().contains("Velvet"));
    }

    // An order from the web shop: found in the list, its detail tells its story, and a
    // person cancels it.
    let sku = "CUS-LIN-SND";
    let body = json!({
        "channel": "web", "external_id": "WEB-1001", "placed_at": "2026-11-26T09:30:00Z", "currency": "EUR",
        "customer": {"email": "ann@example.com", "name": "Ann Berg"},
        "ship_to": {"name": "Ann Berg", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
        "shipping_method": "standard", "payment_status": "captured",
        "lines": [{"sku": sku, "quantity": 1, "unit_price": "19.99"}],
    });
    let (status, created) = server.post(&server.admin, "/api/v1/orders", body.clone()).await;
    assert_eq!(status, 201, "{created}");
    let expected_status = created["status"].as_str().unwrap().to_owned();
    browser.goto(&format!("{}/dashboard/orders", server.base)).await.unwrap();
    browser.find(Locator::LinkText("WEB-1001")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("order-status")).await.unwrap();
    let heading = browser.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert!(heading.contains("Order WEB-1001"), "{heading}");
    assert_eq!(browser.find(Locator::Id("order-status")).await.unwrap().text().await.unwrap(), expected_status);
    assert!(browser.find_all(Locator::Css("#timeline li")).await.unwrap().len() >= 3, "received, validated, routed");
    browser.find(Locator::Id("cancel-reason")).await.unwrap().send_keys("customer called to cancel").await.unwrap();
    browser.find(Locator::Id("cancel-order")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//*[@id='order-status'][normalize-space()='cancelled']")).await.unwrap();
    let (_, after) = server.get(&server.admin, &format!("/api/v1/orders/{}", created["id"].as_str().unwrap())).await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["timeline"].as_array().unwrap().last().unwrap()["reason"], "customer called to cancel");

    // An unpaid order waits on hold; a reviewer releases it from its page.
    let mut unpaid = body.clone();
    unpaid["external_id"] = json!("WEB-1002");
    unpaid["payment_status"] = json!("authorized");
    let (_, held) = server.post(&server.admin, "/api/v1/orders", unpaid).await;
    assert_eq!(held["status"], "on_hold");
    browser.goto(&format!("{}/dashboard/orders/{}", server.base, held["id"].as_str().unwrap())).await.unwrap();
    assert_eq!(browser.find(Locator::Id("order-status")).await.unwrap().text().await.unwrap(), "on_hold");
    browser.find(Locator::Id("release-reason")).await.unwrap().send_keys("paid by bank transfer").await.unwrap();
    browser.find(Locator::Id("release-order")).await.unwrap().click().await.unwrap();
    browser
        .wait()
        .for_element(Locator::XPath("//*[@id='order-status'][normalize-space()!='on_hold']"))
        .await
        .unwrap();
    let released = browser.find(Locator::Id("order-status")).await.unwrap().text().await.unwrap();
    assert!(released == "allocated" || released == "backordered", "{released}");
    browser.close().await.unwrap();
}

/// Logs `user` in with the demo password and waits for the overview.
pub(crate) async fn log_in(browser: &Client, server: &Server, user: &str) {
    browser.goto(&format!("{}/login", server.base)).await.unwrap();
    browser.find(Locator::Id("username")).await.unwrap().send_keys(user).await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys(ordo_demo::DEMO_PASSWORD).await.unwrap();
    browser.find(Locator::Id("login-submit")).await.unwrap().click().await.unwrap();
    browser.wait().for_url(&format!("{}/dashboard", server.base).parse().unwrap()).await.unwrap();
}

/// The text of each element `css` finds.
async fn texts(browser: &Client, css: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for element in browser.find_all(Locator::Css(css)).await.unwrap() {
        texts.push(element.text().await.unwrap());
    }
    texts
}

/// Waits until nothing matches `css`: the page a form led to has loaded without it.
async fn wait_gone(browser: &Client, css: &str) {
    for _ in 0..100 {
        if browser.find_all(Locator::Css(css)).await.unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} is still on the page");
}

/// An order for the web shop of `lines` (SKU, quantity), paid or not.
fn web_order(external_id: &str, lines: &[(&str, i64)], paid: bool) -> serde_json::Value {
    let lines: Vec<serde_json::Value> =
        lines.iter().map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity, "unit_price": "19.99"})).collect();
    json!({
        "channel": "web", "external_id": external_id, "placed_at": "2026-11-26T09:30:00Z", "currency": "EUR",
        "customer": {"email": "ann@example.com", "name": "Ann Berg"},
        "ship_to": {"name": "Ann Berg", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
        "shipping_method": "standard", "payment_status": if paid { "captured" } else { "authorized" },
        "lines": lines,
    })
}

#[tokio::test]
async fn held_orders_are_decided_and_a_wave_is_picked_packed_and_shipped_in_the_browser() {
    let test = "held_orders_are_decided_and_a_wave_is_picked_packed_and_shipped_in_the_browser";
    let Some((_driver, _profile, browser)) = open_browser(test).await else {
        return;
    };
    let server = Server::start_demo().await;
    let t = &server.admin;

    // Two SKUs with stock at central, binned so that walking order and text order differ.
    let products = server.ordo.master_data().products(None, 50, 0).await.unwrap().products;
    let skus: Vec<String> = products.into_iter().filter(|p| p.active).map(|p| p.sku).take(2).collect();
    let (far, near) = (skus[0].as_str(), skus[1].as_str());
    for (sku, bin) in [(far, "A-10"), (near, "A-2")] {
        let receipt = json!({"sku": sku, "location": "central", "quantity": 20, "kind": "receipt", "reason": "test stock"});
        let (status, answer) = server.post(t, "/api/v1/inventory/movements", receipt).await;
        assert_eq!(status, 201, "{answer}");
        let bin = ordo_app::domain::wave::BinAssignment { sku: sku.into(), location: "central".into(), bin: bin.into() };
        server.ordo.fulfilment().set_bin(bin, &ordo_app::Actor::system()).await.unwrap();
    }
    let mut ids = std::collections::HashMap::new();
    for (external_id, lines, paid) in [
        ("WAVE-1", vec![(far, 2), (near, 1)], true),
        ("WAVE-2", vec![(far, 1)], true),
        ("HOLD-1", vec![(far, 1)], false),
        ("HOLD-2", vec![(far, 1)], false),
    ] {
        let (status, order) = server.post(t, "/api/v1/orders", web_order(external_id, &lines, paid)).await;
        assert_eq!(status, 201, "{order}");
        let expected = if paid { "allocated" } else { "on_hold" };
        assert_eq!(order["status"], expected, "{order}");
        if paid {
            assert_eq!(order["lines"][0]["allocations"][0]["location"], "central", "{order}");
        }
        ids.insert(external_id, order["id"].as_str().unwrap().to_owned());
    }
    log_in(&browser, &server, "ops").await;

    // The holds queue says why each order is held; one is cancelled and one released there,
    // and each time the queue comes back.
    let holds = format!("{}/dashboard/holds", server.base);
    browser.find(Locator::LinkText("Holds")).await.unwrap().click().await.unwrap();
    browser.wait().for_url(&holds.parse().unwrap()).await.unwrap();
    let (hold_1, hold_2) = (&ids["HOLD-1"], &ids["HOLD-2"]);
    for id in [hold_1, hold_2] {
        let row = browser.find(Locator::Id(&format!("held-{id}"))).await.unwrap().text().await.unwrap();
        assert!(row.contains("payment is authorized, not captured"), "{row}");
    }
    browser.find(Locator::Id(&format!("cancel-reason-{hold_2}"))).await.unwrap().send_keys("card declined").await.unwrap();
    browser.find(Locator::Id(&format!("cancel-{hold_2}"))).await.unwrap().click().await.unwrap();
    wait_gone(&browser, &format!("#held-{hold_2}")).await;
    assert_eq!(browser.current_url().await.unwrap().as_str(), holds);
    let (_, cancelled) = server.get(t, &format!("/api/v1/orders/{hold_2}")).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["timeline"].as_array().unwrap().last().unwrap()["reason"], "card declined");
    browser.find(Locator::Id(&format!("release-reason-{hold_1}"))).await.unwrap().send_keys("paid by transfer").await.unwrap();
    browser.find(Locator::Id(&format!("release-{hold_1}"))).await.unwrap().click().await.unwrap();
    wait_gone(&browser, &format!("#held-{hold_1}")).await;
    assert_eq!(browser.current_url().await.unwrap().as_str(), holds);
    let (_, released) = server.get(t, &format!("/api/v1/orders/{hold_1}")).await;
    assert_eq!(released["status"], "allocated", "{released}");

    // A wave released through the form walks the bins in order: A-2 before A-10.
    browser.find(Locator::LinkText("Fulfilment")).await.unwrap().click().await.unwrap();
    browser.find(Locator::Id("wave-location")).await.unwrap().select_by_value("central").await.unwrap();
    browser.find(Locator::Id("wave-shipping-method")).await.unwrap().send_keys("standard").await.unwrap();
    browser.find(Locator::Id("release-wave")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("pick-list")).await.unwrap();
    let wave_url = browser.current_url().await.unwrap();
    assert!(wave_url.path().starts_with("/dashboard/fulfilment/waves/"), "{wave_url}");
    let walk = texts(&browser, "#pick-list tbody tr").await;
    assert_eq!(walk.len(), 2, "{walk:?}");
    assert!(walk[0].starts_with("A-2") && walk[0].contains(near), "{walk:?}");
    assert!(walk[1].starts_with("A-10") && walk[1].contains(far), "{walk:?}");
    let in_wave = texts(&browser, "#wave-orders tbody th").await;
    assert_eq!(in_wave.len(), 3, "both paid orders and the released one: {in_wave:?}");

    // The pick list alone, to print: the same walk without the navigation or any form.
    browser.find(Locator::Id("print-pick-list")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//h1[starts-with(., 'Pick list')]")).await.unwrap();
    assert_eq!(texts(&browser, "#pick-list tbody tr").await, walk);
    assert!(browser.find_all(Locator::Css("nav.site-nav, form")).await.unwrap().is_empty());
    browser.find(Locator::LinkText("← Back to the wave")).await.unwrap().click().await.unwrap();

    // Confirm the pick, pack one order, ship it with its tracking number.
    browser.find(Locator::Id("confirm-pick")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//*[@id='wave-status'][normalize-space()='picked']")).await.unwrap();
    let wave_1 = &ids["WAVE-1"];
    browser.find(Locator::Id(&format!("pack-{wave_1}"))).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id(&format!("carrier-{wave_1}"))).await.unwrap().send_keys("DHL").await.unwrap();
    browser.find(Locator::Id(&format!("tracking-{wave_1}"))).await.unwrap().send_keys("JD014600003SE").await.unwrap();
    browser.find(Locator::Id(&format!("ship-{wave_1}"))).await.unwrap().click().await.unwrap();
    let shipped = format!("//tr[@id='order-{wave_1}']//span[normalize-space()='shipped']");
    browser.wait().for_element(Locator::XPath(&shipped)).await.unwrap();
    let to_pack = browser.find_all(Locator::Css("form[action$='/pack']")).await.unwrap();
    assert_eq!(to_pack.len(), 2, "the other two wait to be packed");

    // The order's page shows the parcel.
    browser.find(Locator::LinkText("WAVE-1")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("shipments")).await.unwrap();
    assert_eq!(browser.find(Locator::Id("order-status")).await.unwrap().text().await.unwrap(), "shipped");
    let parcels = browser.find(Locator::Id("shipments")).await.unwrap().text().await.unwrap();
    assert!(parcels.contains("DHL") && parcels.contains("JD014600003SE") && parcels.contains("central"), "{parcels}");

    // The wave is in the list; inventory shows the SKU's bin and the unit that left.
    browser.find(Locator::LinkText("Fulfilment")).await.unwrap().click().await.unwrap();
    let waves = texts(&browser, "#waves tbody tr").await;
    assert_eq!(waves.len(), 1, "{waves:?}");
    assert!(waves[0].contains("central") && waves[0].contains("picked"), "{waves:?}");
    // Every order at central is in that wave now: the form's answer says so, naming the field.
    browser.find(Locator::Id("wave-location")).await.unwrap().select_by_value("central").await.unwrap();
    browser.find(Locator::Id("release-wave")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//h1[normalize-space()='Bad request']")).await.unwrap();
    let refusal = browser.find(Locator::Css("main .notice")).await.unwrap().text().await.unwrap();
    assert!(refusal.contains("“location”") && refusal.contains("not in a wave already"), "{refusal}");
    browser.find(Locator::LinkText("Inventory")).await.unwrap().click().await.unwrap();
    browser.find(Locator::Id("inventory-search")).await.unwrap().send_keys(near).await.unwrap();
    browser.find(Locator::Css("form[role=search] button")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//caption[contains(., 'containing')]")).await.unwrap();
    let levels = texts(&browser, "#stock-levels tbody tr").await;
    let central = levels.iter().find(|row| row.contains("central")).unwrap();
    assert!(central.contains(near) && central.contains("A-2"), "{levels:?}");
    let sku_link = format!("#stock-levels tbody tr a[href='/dashboard/inventory/{near}']");
    browser.find(Locator::Css(&sku_link)).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("movements")).await.unwrap();
    let movements = texts(&browser, "#movements tbody tr").await;
    assert!(movements[0].contains("shipment") && movements[0].contains("-1"), "newest first: {movements:?}");
    assert!(movements[0].contains("JD014600003SE"), "{movements:?}");

    // The customer sends one unit of the shipped order back: the return starts from the
    // order's page by picking the line, and the return's page names the order.
    browser.goto(&format!("{}/dashboard/orders/{}", server.base, ids["WAVE-1"])).await.unwrap();
    fill(&browser, "return", &[("line-1", "1"), ("reason", "damaged")]).await;
    browser.find(Locator::Id("start-return-submit")).await.unwrap().click().await.unwrap();
    let status = browser.wait().for_element(Locator::Id("return-status")).await.unwrap().text().await.unwrap();
    assert!(!status.is_empty());
    let heading = browser.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert_eq!(heading, "Return of order web WAVE-1");
    let (_, returns) = server.get(t, &format!("/api/v1/returns?order_id={}", ids["WAVE-1"])).await;
    assert_eq!(returns[0]["lines"][0]["quantity"], 1, "{returns}");

    // Ops does not read the books; finance sees the shipment in a trial balance that holds.
    let links = texts(&browser, "nav a").await;
    assert!(!links.iter().any(|l| l == "Ledger"), "{links:?}");
    browser.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    let report = crate::settlements::v2_report("8801", "5,00", &[("Order", "no-such-order", "ItemPrice", "Principal", "5,00")]);
    server.ordo.settlements().import_settlement("amazon", &report, &ordo_app::Actor::system()).await.unwrap();
    log_in(&browser, &server, "finance").await;
    browser.find(Locator::LinkText("Ledger")).await.unwrap().click().await.unwrap();
    let verdict = browser.find(Locator::Css("main p")).await.unwrap().text().await.unwrap();
    assert!(verdict.starts_with("The books hold"), "{verdict}");
    let accounts = texts(&browser, "main table tbody tr").await;
    let sales = accounts.iter().find(|row| row.starts_with("4000")).unwrap();
    assert!(sales.contains("Sales"), "{accounts:?}");
    let totals = texts(&browser, "main table tfoot tr").await;
    let amounts: Vec<&str> = totals[0].split_whitespace().skip(1).collect();
    assert_eq!(amounts.len(), 2, "{totals:?}");
    assert_eq!(amounts[0], amounts[1], "debits equal credits: {totals:?}");
    // Profit and loss: the sale less its cost and the settlement's fee.
    let net = browser.find(Locator::Css("div[aria-labelledby='pnl-caption'] tfoot td")).await.unwrap().text().await.unwrap();
    assert!(!net.is_empty(), "a net income");
    // The shipment's channel has a contribution, drawn as bars; the settlement's fees count.
    let margins = texts(&browser, "div[aria-labelledby='contribution-caption'] tbody tr").await;
    assert!(margins.iter().any(|row| row.starts_with("amazon")), "{margins:?}");
    let bars = browser.find_all(Locator::Css("figure svg rect")).await.unwrap();
    assert_eq!(bars.len(), 2 * margins.len(), "a revenue and a contribution bar per channel");
    // The settlement that named an order Ordo never had waits on finance.
    let settlements = texts(&browser, "div[aria-labelledby='settlements-caption'] tbody tr").await;
    assert_eq!(settlements.len(), 1, "{settlements:?}");
    assert!(settlements[0].contains("amazon") && settlements[0].contains("8801") && settlements[0].contains("exceptions"), "{settlements:?}");
    browser.close().await.unwrap();
}

#[tokio::test]
async fn finance_works_its_queue_in_bulk_and_a_rule_is_approved_from_its_replay_in_the_browser() {
    let test = "finance_works_its_queue_in_bulk_and_a_rule_is_approved_from_its_replay_in_the_browser";
    let Some((_driver, _profile, browser)) = open_browser(test).await else {
        return;
    };
    let server = Server::start_demo().await;
    let t = &server.admin;
    let sku = server.ordo.master_data().products(None, 50, 0).await.unwrap().products.into_iter().find(|p| p.active).unwrap().sku;
    let mut held = Vec::new();
    for external_id in ["Q-1", "Q-2"] {
        let (status, order) = server.post(t, "/api/v1/orders", web_order(external_id, &[(&sku, 1)], false)).await;
        assert_eq!((status, order["status"].as_str()), (201, Some("on_hold")), "{order}");
        let (_, open) = server.get(t, "/api/v1/exceptions?kind=payment_review&status=open").await;
        let id = order["id"].as_str().unwrap();
        let exception = open.as_array().unwrap().iter().find(|e| e["subject"] == format!("order:{id}")).unwrap();
        held.push(exception["id"].as_str().unwrap().to_owned());
    }

    // Finance's queue opens on its own exceptions; two are ticked and resolved at once.
    log_in(&browser, &server, "finance").await;
    browser.find(Locator::LinkText("Exceptions")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("bulk")).await.unwrap();
    for id in &held {
        browser.find(Locator::Id(&format!("pick-{id}"))).await.unwrap().click().await.unwrap();
    }
    browser.find(Locator::Id("bulk-action")).await.unwrap().select_by_value("resolve").await.unwrap();
    browser.find(Locator::Id("bulk-code")).await.unwrap().select_by_value("accepted").await.unwrap();
    browser.find(Locator::Id("bulk-note")).await.unwrap().send_keys("customer paid by phone").await.unwrap();
    browser.find(Locator::Id("bulk-submit")).await.unwrap().click().await.unwrap();
    wait_gone(&browser, &format!("#pick-{}", held[0])).await;
    for id in &held {
        let (_, exception) = server.get(t, &format!("/api/v1/exceptions/{id}")).await;
        assert_eq!((exception["status"].as_str(), exception["resolved_by"].as_str()), (Some("resolved"), Some("user:finance")));
    }

    // The ledger's profit and loss for a chosen period.
    browser.goto(&format!("{}/dashboard/ledger?from=2000-01-01&to=2000-01-31", server.base)).await.unwrap();
    let caption = browser.wait().for_element(Locator::Id("pnl-caption")).await.unwrap().text().await.unwrap();
    assert!(caption.ends_with("2000-01-01 to 2000-01-31"), "{caption}");
    // Contribution by customer segment over all time.
    browser.goto(&format!("{}/dashboard/ledger?by=segment", server.base)).await.unwrap();
    let heading = browser.wait().for_element(Locator::Id("contribution")).await.unwrap().text().await.unwrap();
    assert_eq!(heading, "Contribution by segment");
    // An account's general ledger, from the trial balance: the demo's opening stock is there.
    browser.goto(&format!("{}/dashboard/ledger", server.base)).await.unwrap();
    browser.wait().for_element(Locator::Css("a[href='/dashboard/ledger/accounts/1200']")).await.unwrap().click().await.unwrap();
    let caption = browser.wait().for_element(Locator::Id("gl-caption")).await.unwrap().text().await.unwrap();
    assert!(caption.starts_with("General ledger in EUR, all time; opening balance 0.00"), "{caption}");
    assert!(!texts(&browser, "#main tbody tr").await.is_empty(), "the inventory account has lines");

    // Finance drafts and submits a rule...
    browser.find(Locator::LinkText("Rules")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("new-rule-name")).await.unwrap();
    // The form starts on a risk hold, the kind its example action is for; an action that is
    // not JSON is refused in words, the draft kept in the form.
    let kind = browser.find(Locator::Id("new-rule-kind")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(kind.as_deref(), Some("risk_hold"));
    let draft = [("name", "huge-orders"), ("kind", "risk_hold"), ("condition", "order.total_minor > 1000000"), ("action", "{reason: over 10,000}")];
    fill(&browser, "new-rule", &draft).await;
    let error = refused(&browser, "new-rule", "action").await;
    assert!(error.contains("double quotes"), "{error}");
    fill(&browser, "new-rule", &[("action", r#"{"reason": "over 10,000"}"#)]).await;
    submit(&browser, "new-rule").await;
    browser.wait().for_element(Locator::Id("submit-rule")).await.unwrap().click().await.unwrap();
    wait_gone(&browser, "#submit-rule").await;
    assert_eq!(browser.find(Locator::Id("rule-status")).await.unwrap().text().await.unwrap(), "submitted");
    let rule_page = browser.current_url().await.unwrap();

    // ...and another person approves it from its replay, then puts it in force.
    browser.delete_all_cookies().await.unwrap();
    log_in(&browser, &server, "admin").await;
    browser.goto(rule_page.as_str()).await.unwrap();
    assert!(browser.find_all(Locator::Id("approve-rule")).await.unwrap().is_empty(), "approval is on the replay page only");
    browser.find(Locator::Id("simulate")).await.unwrap().click().await.unwrap();
    let summary = browser.wait().for_element(Locator::Id("replay-summary")).await.unwrap().text().await.unwrap();
    assert!(summary.contains("huge-orders v1 in force. Nothing was changed."), "{summary}");
    browser.find(Locator::Id("approve-rule")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("activate-rule")).await.unwrap().click().await.unwrap();
    wait_gone(&browser, "#activate-rule").await;
    assert_eq!(browser.find(Locator::Id("rule-status")).await.unwrap().text().await.unwrap(), "active");
    // The rule in force replays too: the orders without it, then with it.
    browser.find(Locator::Id("simulate")).await.unwrap().click().await.unwrap();
    let summary = browser.wait().for_element(Locator::Id("replay-summary")).await.unwrap().text().await.unwrap();
    assert!(summary.contains("without huge-orders v1") && summary.contains("what it does"), "{summary}");
    let (_, rules) = server.get(t, "/api/v1/rules?name=huge-orders").await;
    assert_eq!((rules[0]["author"].as_str(), rules[0]["approver"].as_str()), (Some("user:finance"), Some("user:admin")), "{rules}");
    browser.close().await.unwrap();
}

/// Types `values` into the inputs of form `form` (`{form}-{name}`): a drop-down is chosen by
/// value, a text input cleared first.
async fn fill(browser: &Client, form: &str, values: &[(&str, &str)]) {
    for (name, value) in values {
        let input = browser.find(Locator::Id(&format!("{form}-{name}"))).await.unwrap();
        if input.tag_name().await.unwrap() == "select" {
            input.select_by_value(value).await.unwrap();
        } else {
            if input.attr("type").await.unwrap().as_deref() != Some("file") {
                input.clear().await.unwrap();
            }
            input.send_keys(value).await.unwrap();
        }
    }
}

/// Submits form `form` and waits for the page it leads to.
async fn submit(browser: &Client, form: &str) {
    let before = browser.find(Locator::Css("html")).await.unwrap();
    browser.find(Locator::Id(&format!("{form}-submit"))).await.unwrap().click().await.unwrap();
    for _ in 0..100 {
        // The old page's element goes stale once the next page has loaded.
        if before.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{form} led nowhere");
}

/// Submits form `form` with input that is refused: the form comes back with the field named
/// and marked, and the refusal's text.
async fn refused(browser: &Client, form: &str, field: &str) -> String {
    submit(browser, form).await;
    let error = browser.find(Locator::Id(&format!("{form}-error"))).await.unwrap_or_else(|_| panic!("{form} refused nothing")).text().await.unwrap();
    assert!(error.contains(field), "{form}: {error} names {field}");
    let marked = browser.find(Locator::Css(&format!("#{form} [aria-invalid=true]"))).await.unwrap();
    assert!(marked.attr("name").await.unwrap().unwrap().starts_with(field.split('.').next_back().unwrap()), "{form}: {field} is marked");
    error
}

#[tokio::test]
async fn a_new_database_is_set_up_to_its_first_order_entirely_in_the_browser() {
    let test = "a_new_database_is_set_up_to_its_first_order_entirely_in_the_browser";
    let Some((_driver, _profile, browser)) = open_browser(test).await else {
        return;
    };
    // As `ordo init` leaves it: no users, one admin API token.
    let server = Server::start().await;
    let t = &server.admin;
    let count = async |path: &str| server.get(t, path).await.1.as_array().map_or(0, Vec::len);

    // Nobody can log in yet: the log-in page leads to the first administrator's set-up, which
    // takes the admin token.
    browser.goto(&format!("{}/dashboard", server.base)).await.unwrap();
    browser.wait().for_element(Locator::Css("#first-run a")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("setup-token")).await.unwrap().send_keys("ordo_not-the-token").await.unwrap();
    browser.find(Locator::Id("setup-username")).await.unwrap().send_keys("alex").await.unwrap();
    browser.find(Locator::Id("setup-password")).await.unwrap().send_keys("a long enough password").await.unwrap();
    browser.find(Locator::Id("setup-submit")).await.unwrap().click().await.unwrap();
    let error = browser.wait().for_element(Locator::Id("setup-error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("token"), "{error}");
    assert!(!server.ordo.access().has_users().await.unwrap(), "a wrong token makes nobody");
    browser.find(Locator::Id("setup-token")).await.unwrap().send_keys(t).await.unwrap();
    browser.find(Locator::Id("setup-password")).await.unwrap().send_keys("a long enough password").await.unwrap();
    browser.find(Locator::Id("setup-submit")).await.unwrap().click().await.unwrap();
    browser.wait().for_url(&format!("{}/dashboard", server.base).parse().unwrap()).await.unwrap();

    // The overview is a checklist until the first order; each step leads to its form.
    let todo = texts(&browser, "#first-run li.todo").await;
    assert_eq!(todo.len(), 7, "location, channel, connector, products, stock, users, order: {todo:?}");
    let currency = browser.find(Locator::Id("step-currency")).await.unwrap().text().await.unwrap();
    assert!(currency.contains("ORDO_BASE_CURRENCY") && currency.contains("cannot be changed here"), "the base currency is said to be fixed: {currency}");
    assert!(browser.find_all(Locator::Css("#step-connector a")).await.unwrap().is_empty(), "no channel to connect yet");
    browser.find(Locator::Css("#step-location a")).await.unwrap().click().await.unwrap();

    // A location: a code that is no code is refused and nothing is made; then it is made.
    fill(&browser, "new-location", &[("code", "Central Warehouse!"), ("name", "Central"), ("kind", "warehouse"), ("priority", "1")]).await;
    refused(&browser, "new-location", "code").await;
    assert_eq!(count("/api/v1/locations").await, 0);
    assert_eq!(browser.find(Locator::Id("new-location-name")).await.unwrap().prop("value").await.unwrap().as_deref(), Some("Central"), "what was typed is kept");
    fill(&browser, "new-location", &[("code", "central")]).await;
    submit(&browser, "new-location").await;
    assert!(texts(&browser, "main table tbody tr").await.iter().any(|row| row.contains("central")));

    // A channel: a currency that does not exist is refused.
    browser.goto(&format!("{}/dashboard/channels", server.base)).await.unwrap();
    fill(&browser, "new-channel", &[("code", "web"), ("name", "Web shop"), ("kind", "web"), ("currency", "EURO")]).await;
    refused(&browser, "new-channel", "currency").await;
    assert_eq!(count("/api/v1/channels").await, 0);
    fill(&browser, "new-channel", &[("currency", "EUR")]).await;
    submit(&browser, "new-channel").await;
    assert!(texts(&browser, "main table tbody tr").await.iter().any(|row| row.contains("Web shop")));

    // Its connector, from the checklist: an address without https:// is refused and nothing
    // is saved; then the step is done (paused here, as there is no real shop to poll).
    browser.goto(&format!("{}/dashboard", server.base)).await.unwrap();
    browser.find(Locator::Css("#step-connector a")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("connector-title")).await.unwrap();
    let connector = [("kind", "shopify"), ("base_url", "first-shop.myshopify.com"), ("webhook_secret", "shpss_first-shop-secret")];
    fill(&browser, "connector", &connector).await;
    refused(&browser, "connector", "base_url").await;
    assert_eq!(server.get(t, "/api/v1/channels/web/connector").await.0, 404, "nothing saved");
    fill(&browser, "connector", &[("base_url", "https://first-shop.myshopify.com"), ("webhook_secret", "shpss_first-shop-secret")]).await;
    submit(&browser, "connector").await;
    assert_eq!(server.get(t, "/api/v1/channels/web/connector").await.0, 200);
    browser.find(Locator::Css("#connector-state button")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//form[@id='connector-state']//button[@value='resume']")).await.unwrap();
    browser.goto(&format!("{}/dashboard", server.base)).await.unwrap();
    let step = browser.find(Locator::Id("step-connector")).await.unwrap();
    assert_eq!(step.attr("class").await.unwrap().as_deref(), Some("done"), "{}", step.text().await.unwrap());

    // Products from a CSV file: a file with a wrong row imports nothing and names the row.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "sku,name,unit_cost\nMUG-1,Stoneware mug,4.20\nVASE-1,Glass vase,nine\n").unwrap();
    browser.goto(&format!("{}/dashboard/products", server.base)).await.unwrap();
    fill(&browser, "import-products", &[("file", bad.to_str().unwrap())]).await;
    let error = refused(&browser, "import-products", "file").await;
    assert!(error.contains("line 3") && error.contains("unit_cost"), "{error}");
    assert_eq!(server.ordo.master_data().products(None, 10, 0).await.unwrap().total, 0, "nothing imported");
    let good = dir.path().join("products.csv");
    std::fs::write(&good, "sku,name,unit_cost\nMUG-1,Stoneware mug,4.20\nVASE-1,Glass vase,9.00\n").unwrap();
    fill(&browser, "import-products", &[("file", good.to_str().unwrap())]).await;
    submit(&browser, "import-products").await;
    assert_eq!(texts(&browser, "main table tbody tr").await.len(), 2);
    // And one by one: a cost with more decimals than the currency has is refused.
    fill(&browser, "new-product", &[("sku", "BOWL-1"), ("name", "Salad bowl"), ("unit_cost", "6.505")]).await;
    refused(&browser, "new-product", "unit_cost").await;
    fill(&browser, "new-product", &[("unit_cost", "6.50")]).await;
    submit(&browser, "new-product").await;
    assert_eq!(server.ordo.master_data().products(None, 10, 0).await.unwrap().total, 3);

    // The mugs' sales from the shop's previous system, for their forecast: a day not yet over
    // is refused and nothing comes in; then a week does.
    browser.goto(&format!("{}/dashboard/procurement", server.base)).await.unwrap();
    let today = chrono::Utc::now().date_naive();
    let history = dir.path().join("sales.csv");
    std::fs::write(&history, format!("sku,date,quantity\nMUG-1,{today},3\n")).unwrap();
    fill(&browser, "import-sales-history", &[("file", history.to_str().unwrap())]).await;
    let error = refused(&browser, "import-sales-history", "file").await;
    assert!(error.contains("line 2: date: must be before today"), "{error}");
    let week: String = (1..=7).map(|back| format!("MUG-1,{},{back}\n", today - chrono::Duration::days(back))).collect();
    std::fs::write(&history, format!("sku,date,quantity\n{week}")).unwrap();
    fill(&browser, "import-sales-history", &[("file", history.to_str().unwrap())]).await;
    submit(&browser, "import-sales-history").await;
    let said = browser.find(Locator::Id("sales-history-imported")).await.unwrap().text().await.unwrap();
    assert!(said.starts_with("7 rows of sales history imported"), "{said}");
    let (_, demand) = server.get(t, "/api/v1/demand/MUG-1?days=7").await;
    assert_eq!(demand.as_array().unwrap().iter().map(|d| d["units"].as_i64().unwrap()).sum::<i64>(), 28, "{demand}");

    // Stock: a receipt of a SKU that does not exist is refused; then ten mugs arrive.
    browser.goto(&format!("{}/dashboard/inventory", server.base)).await.unwrap();
    fill(&browser, "stock-movement", &[("kind", "receipt"), ("sku", "MUG-9"), ("location", "central"), ("quantity", "10"), ("reason", "delivery note 4711")]).await;
    refused(&browser, "stock-movement", "sku").await;
    fill(&browser, "stock-movement", &[("sku", "MUG-1")]).await;
    submit(&browser, "stock-movement").await;
    let (_, levels) = server.get(t, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(levels[0]["on_hand"], 10, "{levels}");

    // A user for the warehouse: a short password is refused.
    browser.goto(&format!("{}/dashboard/users", server.base)).await.unwrap();
    fill(&browser, "new-user", &[("username", "walt"), ("role", "warehouse"), ("password", "short")]).await;
    refused(&browser, "new-user", "password").await;
    fill(&browser, "new-user", &[("password", "a long enough password")]).await;
    submit(&browser, "new-user").await;
    assert!(texts(&browser, "#users tbody tr").await.iter().any(|row| row.contains("walt") && row.contains("warehouse")));

    // The first order, taken by phone: an unknown SKU is refused, then the order is taken,
    // reserved at central, and its page opens.
    browser.goto(&format!("{}/dashboard/orders", server.base)).await.unwrap();
    let order = [
        ("channel", "web"), ("external_id", "PHONE-1"), ("customer_name", "Ann Berg"), ("email", "ann@example.com"), ("line1", "Hauptstr. 1"),
        ("postal_code", "10115"), ("city", "Berlin"), ("country", "DE"), ("payment_status", "captured"), ("sku_1", "MUG-9"), ("quantity_1", "2"),
        ("unit_price_1", "12.90"),
    ];
    fill(&browser, "new-order", &order).await;
    refused(&browser, "new-order", "sku_1").await;
    assert_eq!(server.get(t, "/api/v1/orders").await.1["total"], 0, "no order from a refused form");
    fill(&browser, "new-order", &[("sku_1", "MUG-1")]).await;
    submit(&browser, "new-order").await;
    assert_eq!(browser.find(Locator::Id("order-status")).await.unwrap().text().await.unwrap(), "allocated");
    let (_, taken) = server.get(t, "/api/v1/channels/web/orders/PHONE-1").await;
    assert_eq!(taken["lines"][0]["allocations"][0]["location"], "central", "{taken}");

    // The customer calls: a ticket linked to the order by its number shows where it stands.
    browser.goto(&format!("{}/dashboard/helpdesk", server.base)).await.unwrap();
    let call = [("customer_email", "ann@example.com"), ("subject", "Where is my mug?"), ("reason", "where_is_my_order"), ("channel", "web"), ("order", "PHONE-9"), ("body", "Ordered today")];
    fill(&browser, "new-ticket", &call).await;
    refused(&browser, "new-ticket", "order").await;
    fill(&browser, "new-ticket", &[("order", "PHONE-1")]).await;
    submit(&browser, "new-ticket").await;
    assert_eq!(browser.find(Locator::Id("ticket-order-status")).await.unwrap().text().await.unwrap(), "allocated");

    // With an order in, the overview shows the figures instead of the checklist.
    browser.goto(&format!("{}/dashboard", server.base)).await.unwrap();
    assert!(browser.find_all(Locator::Id("first-run")).await.unwrap().is_empty());
    let fill_rate = browser.find(Locator::Css("#kpi-fill-rate .value")).await.unwrap().text().await.unwrap();
    assert_eq!(fill_rate, "100.00 %");
    browser.close().await.unwrap();
}

#[tokio::test]
async fn a_price_change_is_proposed_and_applies_only_when_another_person_approves_it_in_the_browser() {
    let test = "a_price_change_is_proposed_and_applies_only_when_another_person_approves_it_in_the_browser";
    let Some((_driver, _profile, browser)) = open_browser(test).await else {
        return;
    };
    let server = Server::start().await;
    crate::orders::shop(&server, 5).await;
    for (name, role) in [("olga", ordo_app::domain::access::Role::Ops), ("fiona", ordo_app::domain::access::Role::Finance)] {
        server.ordo.access().create_user(name, ordo_demo::DEMO_PASSWORD, role, &ordo_app::Actor::system()).await.unwrap();
    }
    let price = async || server.get(&server.admin, "/api/v1/listings?channel=web").await.1[0]["price"].as_str().unwrap().to_owned();
    assert_eq!(price().await, "12.90");

    // Ops proposes; a price with too many decimals is refused, naming the price.
    log_in(&browser, &server, "olga").await;
    browser.find(Locator::LinkText("Change requests")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("no-changes")).await.unwrap();
    let proposal = [("channel", "web"), ("channel_sku", "W-MUG"), ("price", "13.505"), ("reason", "supplier raised the cost")];
    fill(&browser, "propose-price", &proposal).await;
    refused(&browser, "propose-price", "price").await;
    fill(&browser, "propose-price", &[("price", "13.50")]).await;
    submit(&browser, "propose-price").await;
    assert_eq!(browser.find(Locator::Id("change-status")).await.unwrap().text().await.unwrap(), "pending");
    let changed = texts(&browser, "#diff tr.changed").await;
    assert_eq!(changed, ["price 12.90 13.50"], "before and after, side by side");
    assert_eq!(price().await, "12.90", "nothing applies before approval");
    let page = browser.current_url().await.unwrap();

    // The proposer cannot decide it: Ordo refuses and says why.
    browser.find(Locator::Id("approve-change")).await.unwrap().click().await.unwrap();
    let error = browser.wait().for_element(Locator::Id("decision-error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("another person"), "{error}");
    assert_eq!(price().await, "12.90");

    // Finance approves, and the price is the new one.
    browser.delete_all_cookies().await.unwrap();
    log_in(&browser, &server, "fiona").await;
    browser.goto(page.as_str()).await.unwrap();
    browser.find(Locator::Id("approve-change")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//*[@id='change-status'][normalize-space()='approved']")).await.unwrap();
    assert_eq!(price().await, "13.50");
    assert_eq!(texts(&browser, "#diff thead th").await.last().map(String::as_str), Some("After"));

    // Ops proposes again: another price, a tax class (an unknown SKU refused, naming it, what
    // was typed kept), and a replenishment policy from the procurement page (a service level
    // above one refused, naming it).
    browser.delete_all_cookies().await.unwrap();
    log_in(&browser, &server, "olga").await;
    let open = async |path: &str| browser.goto(&format!("{}{path}", server.base)).await.unwrap();
    open("/dashboard/changes").await;
    fill(&browser, "propose-price", &[("channel", "web"), ("channel_sku", "W-MUG"), ("price", "14.00"), ("reason", "round it up")]).await;
    submit(&browser, "propose-price").await;
    let second = browser.current_url().await.unwrap();
    let tax_class = async || server.get(&server.admin, "/api/v1/products/MUG-1").await.1["tax_class"].clone();
    let tax_before = tax_class().await;
    open("/dashboard/changes").await;
    fill(&browser, "propose-tax-class", &[("sku", "MUG-9"), ("tax_class", "zero"), ("reason", "sold as a medical aid")]).await;
    refused(&browser, "propose-tax-class", "sku").await;
    let kept = browser.find(Locator::Id("propose-tax-class-tax_class")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("zero"), "what was typed is kept");
    fill(&browser, "propose-tax-class", &[("sku", "MUG-1")]).await;
    submit(&browser, "propose-tax-class").await;
    assert_eq!(browser.find(Locator::Id("change-status")).await.unwrap().text().await.unwrap(), "pending");
    assert_eq!(texts(&browser, "#diff tr.changed").await.len(), 1, "the tax class, before and after");
    assert_eq!(tax_class().await, tax_before, "nothing applies before approval");

    open("/dashboard/procurement").await;
    let policy = [("scope", "class:A"), ("policy", "reorder_point"), ("service_level", "1.5"), ("cover_days", "14"), ("reason", "fewer stockouts")];
    fill(&browser, "propose-policy", &policy).await;
    refused(&browser, "propose-policy", "service_level").await;
    fill(&browser, "propose-policy", &[("scope", "class:D"), ("service_level", "0.95")]).await;
    refused(&browser, "propose-policy", "scope").await;
    fill(&browser, "propose-policy", &[("scope", "class:A")]).await;
    submit(&browser, "propose-policy").await;
    assert_eq!(browser.find(Locator::Id("change-status")).await.unwrap().text().await.unwrap(), "pending");
    let heading = browser.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert!(heading.starts_with("Replenishment policy change"), "{heading}");
    assert_eq!(server.get(&server.admin, "/api/v1/replenishment/policies").await.1, json!([]), "nothing applies before approval");

    // Finance rejects the second price, saying why (a blank reason is refused): nothing applies.
    browser.delete_all_cookies().await.unwrap();
    log_in(&browser, &server, "fiona").await;
    browser.goto(second.as_str()).await.unwrap();
    browser.find(Locator::Id("reject-reason")).await.unwrap().send_keys("   ").await.unwrap();
    browser.find(Locator::Id("reject-change")).await.unwrap().click().await.unwrap();
    let error = browser.wait().for_element(Locator::Id("decision-error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("reason"), "{error}");
    assert_eq!(browser.find(Locator::Id("change-status")).await.unwrap().text().await.unwrap(), "pending");
    browser.find(Locator::Id("reject-reason")).await.unwrap().send_keys("not before the catalogue is printed").await.unwrap();
    browser.find(Locator::Id("reject-change")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//*[@id='change-status'][normalize-space()='rejected']")).await.unwrap();
    let said = browser.find(Locator::Id("change-summary")).await.unwrap().text().await.unwrap();
    assert!(said.contains("fiona") && said.contains("not before the catalogue is printed"), "{said}");
    assert_eq!(price().await, "13.50", "a rejected price changes nothing");
    assert!(browser.find_all(Locator::Id("approve-change")).await.unwrap().is_empty(), "a decided request is not decided again");
    open("/dashboard/changes?status=rejected").await;
    let rows = texts(&browser, "#changes tbody tr").await;
    assert!(rows.len() == 1 && rows[0].contains("Listing web/W-MUG") && rows[0].contains("rejected"), "{rows:?}");
    browser.close().await.unwrap();
}

#[tokio::test]
async fn stock_is_sent_between_locations_a_kit_is_made_and_a_supplier_priced_in_the_browser() {
    let test = "stock_is_sent_between_locations_a_kit_is_made_and_a_supplier_priced_in_the_browser";
    let Some((_driver, _profile, browser)) = open_browser(test).await else {
        return;
    };
    let server = Server::start().await;
    let t = &server.admin;
    crate::orders::shop(&server, 10).await;
    for (path, body) in [
        ("/api/v1/products", serde_json::json!({"sku": "GIFT-1", "name": "Gift set", "unit_cost": "13.00"})),
        ("/api/v1/suppliers", serde_json::json!({"code": "nordic", "name": "Nordic Ceramics", "currency": "EUR", "lead_time_days": 14})),
    ] {
        assert_eq!(server.post(t, path, body).await.0, 201, "{path}");
    }
    for (name, role) in [("olga", ordo_app::domain::access::Role::Ops), ("pia", ordo_app::domain::access::Role::Procurement)] {
        server.ordo.access().create_user(name, ordo_demo::DEMO_PASSWORD, role, &ordo_app::Actor::system()).await.unwrap();
    }
    let on_hand = async |location: &str| {
        let (_, levels) = server.get(t, "/api/v1/inventory?sku=MUG-1").await;
        levels.as_array().unwrap().iter().find(|l| l["location"] == location).map_or(0, |l| l["on_hand"].as_i64().unwrap())
    };

    // Ops sends four mugs to the overflow site: more than central has is refused.
    log_in(&browser, &server, "olga").await;
    browser.goto(&format!("{}/dashboard/inventory", server.base)).await.unwrap();
    fill(&browser, "transfer", &[("sku", "MUG-1"), ("from", "central"), ("to", "overflow"), ("quantity", "11"), ("reason", "rebalancing")]).await;
    refused(&browser, "transfer", "quantity").await;
    assert_eq!(on_hand("central").await, 10, "nothing moved");
    fill(&browser, "transfer", &[("quantity", "4")]).await;
    submit(&browser, "transfer").await;
    assert_eq!(on_hand("central").await, 6);
    let rows = texts(&browser, "#transfers-table tbody tr").await;
    assert!(rows.len() == 1 && rows[0].contains("MUG-1") && rows[0].contains("overflow"), "{rows:?}");
    browser.find(Locator::Css("#transfers-table button")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//section[@id='transfers']/p[contains(., 'No stock is on its way')]")).await.unwrap();
    assert_eq!(on_hand("overflow").await, 4);

    // The gift set becomes a kit of two mugs and a vase: an unknown component is refused.
    browser.goto(&format!("{}/dashboard/inventory/GIFT-1", server.base)).await.unwrap();
    fill(&browser, "kit", &[("components", "MUG-1 = 2\nCUP-9 = 1")]).await;
    refused(&browser, "kit", "components").await;
    assert_eq!(server.get(t, "/api/v1/products/GIFT-1/components").await.1["components"], serde_json::json!([]));
    fill(&browser, "kit", &[("components", "MUG-1 = 2\nVASE-1 = 1")]).await;
    submit(&browser, "kit").await;
    assert_eq!(texts(&browser, "#kit-components li").await, ["2 × MUG-1", "1 × VASE-1"]);
    assert_eq!(server.get(t, "/api/v1/products/GIFT-1/components").await.1["components"][0]["quantity"], 2);

    // Procurement sets the supplier's terms and its price for mugs.
    browser.delete_all_cookies().await.unwrap();
    log_in(&browser, &server, "pia").await;
    browser.goto(&format!("{}/dashboard/suppliers", server.base)).await.unwrap();
    fill(&browser, "supplier-terms", &[("supplier", "nordic"), ("lead_time_sd_days", "1.55"), ("payment_terms_days", "45")]).await;
    refused(&browser, "supplier-terms", "lead_time_sd_days").await;
    fill(&browser, "supplier-terms", &[("lead_time_sd_days", "1.5")]).await;
    submit(&browser, "supplier-terms").await;
    let price = [("supplier", "nordic"), ("sku", "MUG-1"), ("unit_cost", "3.805"), ("moq", "24"), ("pack_size", "6"), ("preferred", "yes")];
    fill(&browser, "supplier-sku", &price).await;
    refused(&browser, "supplier-sku", "unit_cost").await;
    assert_eq!(server.get(t, "/api/v1/supplier-skus?sku=MUG-1").await.1, serde_json::json!([]), "nothing saved");
    fill(&browser, "supplier-sku", &[("unit_cost", "3.80")]).await;
    submit(&browser, "supplier-sku").await;
    let row = texts(&browser, "#suppliers tbody tr").await;
    assert_eq!(row, ["nordic Nordic Ceramics EUR 14 1.5 45 1"]);
    let (_, offered) = server.get(t, "/api/v1/supplier-skus?sku=MUG-1").await;
    assert_eq!((offered[0]["unit_cost"].as_str(), offered[0]["moq"].as_i64(), offered[0]["preferred"].as_bool()), (Some("3.80"), Some(24), Some(true)), "{offered}");
    browser.close().await.unwrap();
}

#[tokio::test]
async fn every_table_fits_a_laptop_screen_on_the_demo() {
    let test = "every_table_fits_a_laptop_screen_on_the_demo";
    let Some((_driver, _profile, browser)) = open_browser(test).await else {
        return;
    };
    let server = Server::start_demo().await;
    let http = std::sync::Arc::new(ordo_connectors::Http::new().unwrap());
    ordo_demo::build_demo(&server.ordo, 3, None, http, &ordo_app::NoProgress).await.unwrap();
    server.ordo.access().create_user("ada", ordo_demo::DEMO_PASSWORD, ordo_app::domain::access::Role::Admin, &ordo_app::Actor::system()).await.unwrap();
    log_in(&browser, &server, "ada").await;
    let (_, ticket) = server.get(&server.admin, "/api/v1/tickets?status=open&limit=1").await;
    let (_, order) = server.get(&server.admin, "/api/v1/orders?limit=1").await;
    let mut pages: Vec<String> = [
        "/dashboard", "/dashboard/review", "/dashboard/orders", "/dashboard/holds", "/dashboard/fulfilment", "/dashboard/inventory",
        "/dashboard/exceptions?owner=any", "/dashboard/returns", "/dashboard/helpdesk", "/dashboard/notifications", "/dashboard/procurement",
        "/dashboard/ledger", "/dashboard/ledger/accounts/1200", "/dashboard/audit", "/dashboard/rules", "/dashboard/channels", "/dashboard/channels/web",
        "/dashboard/locations", "/dashboard/products", "/dashboard/suppliers", "/dashboard/customers", "/dashboard/changes", "/dashboard/users",
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(id) = ticket[0]["id"].as_str() {
        pages.push(format!("/dashboard/helpdesk/{id}"));
    }
    if let Some(id) = order["orders"][0]["id"].as_str() {
        pages.push(format!("/dashboard/orders/{id}"));
    }
    let measure = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth, \
                   Array.from(document.querySelectorAll('.table-wrap')).map(w => [w.getAttribute('aria-labelledby') || '', w.scrollWidth, w.clientWidth, \
                   Array.from(w.querySelectorAll('thead th')).map(th => th.textContent.trim() + ' ' + Math.round(th.getBoundingClientRect().width)).join(', ')])]";
    let mut too_wide = Vec::new();
    for page in &pages {
        browser.goto(&format!("{}{page}", server.base)).await.unwrap();
        let found = browser.execute(measure, vec![]).await.unwrap();
        let (page_width, screen) = (found[0].as_i64().unwrap(), found[1].as_i64().unwrap());
        if page_width > screen {
            too_wide.push(format!("{page}: the page is {page_width} px in {screen} px"));
        }
        for table in found[2].as_array().unwrap() {
            let (name, wide, room) = (table[0].as_str().unwrap(), table[1].as_i64().unwrap(), table[2].as_i64().unwrap());
            if wide > room + 1 {
                too_wide.push(format!("{page} {name}: {wide} px in {room} px; columns {}", table[3].as_str().unwrap()));
            }
        }
    }
    assert!(too_wide.is_empty(), "tables wider than the screen at 1280 px:\n{}", too_wide.join("\n"));
    browser.close().await.unwrap();
}

#[tokio::test]
async fn a_channel_is_connected_and_people_given_roles_and_leads_in_the_browser() {
    let test = "a_channel_is_connected_and_people_given_roles_and_leads_in_the_browser";
    let Some((_driver, _profile, browser)) = open_browser(test).await else {
        return;
    };
    use ordo_app::domain::access::Role;
    let server = Server::start().await;
    let t = &server.admin;
    crate::orders::shop(&server, 5).await;
    for (name, role) in [("ada", Role::Admin), ("fiona", Role::Finance), ("olga", Role::Ops)] {
        server.ordo.access().create_user(name, ordo_demo::DEMO_PASSWORD, role, &ordo_app::Actor::system()).await.unwrap();
    }
    log_in(&browser, &server, "ada").await;

    // The web shop's connector: an address without https:// is refused; an admin's applies.
    browser.goto(&format!("{}/dashboard/channels/web", server.base)).await.unwrap();
    let connector = [("kind", "shopify"), ("base_url", "ordo-test.myshopify.com"), ("webhook_secret", "shpss_the-shops-signing-secret")];
    fill(&browser, "connector", &connector).await;
    refused(&browser, "connector", "base_url").await;
    assert_eq!(server.get(t, "/api/v1/channels/web/connector").await.0, 404, "nothing saved");
    fill(&browser, "connector", &[("base_url", "https://ordo-test.myshopify.com"), ("webhook_secret", "shpss_the-shops-signing-secret")]).await;
    submit(&browser, "connector").await;
    let (status, view) = server.get(t, "/api/v1/channels/web/connector").await;
    assert_eq!((status, view["webhook_secrets"].as_u64(), view["paused"].as_bool()), (200, Some(1), Some(false)), "{view}");
    browser.find(Locator::Css("#connector-state button")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//form[@id='connector-state']//button[@value='resume']")).await.unwrap();
    assert_eq!(server.get(t, "/api/v1/channels/web/connector").await.1["paused"], true);

    // Its return policy and safety buffer.
    fill(&browser, "return-policy", &[("window_days", "30"), ("auto_reasons", "damaged"), ("ship_back_days", "0")]).await;
    refused(&browser, "return-policy", "ship_back_days").await;
    fill(&browser, "return-policy", &[("ship_back_days", "21")]).await;
    submit(&browser, "return-policy").await;
    assert_eq!(server.get(t, "/api/v1/channels/web/return-policy").await.1["ship_back_days"], 21);
    fill(&browser, "buffer", &[("abc_class", "A"), ("units", "-3")]).await;
    refused(&browser, "buffer", "units").await;
    fill(&browser, "buffer", &[("units", "2")]).await;
    submit(&browser, "buffer").await;
    assert!(browser.find(Locator::Css("dl.facts")).await.unwrap().text().await.unwrap().contains("class A: 2 units"));

    // People: the finance lead, another role, a new password.
    browser.goto(&format!("{}/dashboard/users", server.base)).await.unwrap();
    fill(&browser, "role-lead", &[("role", "finance"), ("username", "olga")]).await;
    refused(&browser, "role-lead", "username").await;
    fill(&browser, "role-lead", &[("username", "fiona")]).await;
    submit(&browser, "role-lead").await;
    assert!(browser.find(Locator::Id("role-leads")).await.unwrap().text().await.unwrap().contains("finance\nfiona"));
    fill(&browser, "user-role", &[("username", "ada"), ("role", "ops")]).await;
    let error = refused(&browser, "user-role", "role").await;
    assert!(error.contains("last administrator"), "{error}");
    fill(&browser, "user-role", &[("username", "olga"), ("role", "warehouse")]).await;
    submit(&browser, "user-role").await;
    assert!(texts(&browser, "#users tbody tr").await.iter().any(|row| row.contains("olga") && row.contains("warehouse")));
    fill(&browser, "user-password", &[("username", "olga"), ("password", "short")]).await;
    refused(&browser, "user-password", "password").await;
    fill(&browser, "user-password", &[("password", "another long password")]).await;
    submit(&browser, "user-password").await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(crate::common::post_login(&client, &server.base, "olga", "another long password").await.status(), 303, "the new password works");

    // A ticket opened without its order is linked to it by the order's number.
    let placed = crate::orders::order("L-1", json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]));
    assert_eq!(server.post(t, "/api/v1/orders", placed).await.0, 201);
    let call = json!({"reason": "where_is_my_order", "priority": "normal", "subject": "My mug?", "customer_email": "ann@example.com", "body": "By phone"});
    let ticket = server.post(t, "/api/v1/tickets", call).await.1["id"].as_str().unwrap().to_owned();
    browser.goto(&format!("{}/dashboard/helpdesk/{ticket}", server.base)).await.unwrap();
    fill(&browser, "ticket-link", &[("channel", "web"), ("order", "L-9")]).await;
    submit(&browser, "ticket-link").await;
    let error = browser.find(Locator::Id("ticket-error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("order") && error.contains("L-9"), "{error}");
    fill(&browser, "ticket-link", &[("order", "L-1")]).await;
    submit(&browser, "ticket-link").await;
    assert_eq!(browser.find(Locator::Id("ticket-order-status")).await.unwrap().text().await.unwrap(), "allocated");

    // A reply to the customer: a blank one is refused, naming the body, the choice to send
    // it kept; then it is sent and the ticket waits on the customer.
    let comments = async || server.get(t, &format!("/api/v1/tickets/{ticket}")).await.1["comments"].as_array().map_or(0, Vec::len);
    let before = comments().await;
    browser.find(Locator::Id("comment-body")).await.unwrap().send_keys("   ").await.unwrap();
    browser.find(Locator::Id("comment-reply")).await.unwrap().click().await.unwrap();
    submit(&browser, "comment").await;
    let error = browser.find(Locator::Id("ticket-error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("body"), "{error}");
    assert_eq!(browser.find(Locator::Id("comment-body")).await.unwrap().attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
    assert!(browser.find(Locator::Id("comment-reply")).await.unwrap().is_selected().await.unwrap(), "the choice to send it is kept");
    assert_eq!(comments().await, before, "nothing added");
    fill(&browser, "comment", &[("body", "It left today with DHL.")]).await;
    submit(&browser, "comment").await;
    assert!(texts(&browser, "#ticket-comments li").await.iter().any(|c| c.contains("It left today with DHL.") && !c.contains("internal note")));
    let (_, shown) = server.get(t, &format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!((comments().await, shown["status"].as_str()), (before + 1, Some("pending")), "{shown}");
    browser.close().await.unwrap();
}

#[tokio::test]
async fn master_data_tokens_rules_counts_returns_and_settings_are_kept_from_the_browser() {
    let test = "master_data_tokens_rules_counts_returns_and_settings_are_kept_from_the_browser";
    let Some((_driver, _profile, browser)) = open_browser(test).await else {
        return;
    };
    let server = Server::start().await;
    let t = &server.admin;
    crate::orders::shop(&server, 5).await;
    server.ordo.access().create_user("ada", ordo_demo::DEMO_PASSWORD, ordo_app::domain::access::Role::Admin, &ordo_app::Actor::system()).await.unwrap();
    assert_eq!(server.post(t, "/api/v1/customers", json!({"email": "buyer@acme.example", "name": "Acme", "segment": "business"})).await.0, 201);
    let (_, placed) = server.post(t, "/api/v1/orders", crate::orders::order("R-1", json!([{"sku": "W-MUG", "quantity": 2, "unit_price": "12.90"}]))).await;
    let order = placed["id"].as_str().unwrap().to_owned();
    let parcel = json!({"location": "central", "carrier": "DHL", "tracking_number": "R1"});
    assert_eq!(server.post(t, &format!("/api/v1/orders/{order}/shipments"), parcel).await.0, 201);
    log_in(&browser, &server, "ada").await;
    let open = async |path: &str| browser.goto(&format!("{}{path}", server.base)).await.unwrap();

    // A customer whose e-mail is taken is refused; another is added.
    open("/dashboard/customers").await;
    fill(&browser, "new-customer", &[("email", "buyer@acme.example"), ("name", "Acme again"), ("segment", "business")]).await;
    refused(&browser, "new-customer", "email").await;
    fill(&browser, "new-customer", &[("email", "desk@nordic.example"), ("name", "Nordic Desk")]).await;
    submit(&browser, "new-customer").await;
    assert_eq!(server.get(t, "/api/v1/customers").await.1.as_array().map(Vec::len), Some(2));

    // A supplier, a tax rate and an exchange rate, each refused once.
    open("/dashboard/suppliers").await;
    fill(&browser, "new-supplier", &[("code", "nordic"), ("name", "Nordic Ceramics"), ("currency", "EUR"), ("lead_time_days", "-5")]).await;
    refused(&browser, "new-supplier", "lead_time_days").await;
    fill(&browser, "new-supplier", &[("lead_time_days", "14")]).await;
    submit(&browser, "new-supplier").await;
    assert_eq!(server.get(t, "/api/v1/suppliers").await.1[0]["lead_time_days"], 14);
    open("/dashboard/products").await;
    fill(&browser, "tax-rate", &[("country", "DE"), ("tax_class", "standard"), ("percent", "nineteen")]).await;
    refused(&browser, "tax-rate", "percent").await;
    fill(&browser, "tax-rate", &[("percent", "19")]).await;
    submit(&browser, "tax-rate").await;
    open("/dashboard/channels").await;
    fill(&browser, "exchange-rate", &[("currency", "GBP"), ("rate", "-1")]).await;
    refused(&browser, "exchange-rate", "rate").await;
    fill(&browser, "exchange-rate", &[("rate", "1.1650")]).await;
    submit(&browser, "exchange-rate").await;
    let (_, log) = server.get(t, "/api/v1/audit?action=tax_rate.set").await;
    assert_eq!(log.as_array().map(Vec::len), Some(1), "{log}");

    // An API token, shown once, then revoked.
    open("/dashboard/users").await;
    fill(&browser, "new-token", &[("name", "erp-sync"), ("role", "integration")]).await;
    submit(&browser, "new-token").await;
    let token = browser.find(Locator::Id("issued-token-value")).await.unwrap().text().await.unwrap();
    assert_eq!(server.get(&token, "/api/v1/orders?limit=1").await.0, 200, "the token works");
    browser.find(Locator::Css("#tokens form button")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::XPath("//table[@id='tokens']//td[contains(., 'revoked')]")).await.unwrap();
    assert_eq!(server.get(&token, "/api/v1/orders?limit=1").await.0, 401, "revoked");

    // A rule draft: a bad action is refused, naming it; a draft whose condition does not
    // parse yet is kept as work in progress, and says it cannot be submitted.
    open("/dashboard/rules").await;
    let rule = [("name", "big-orders"), ("kind", "risk_hold"), ("condition", "order.total_minor >"), ("action", r#"{"why": "big"}"#)];
    fill(&browser, "new-rule", &rule).await;
    refused(&browser, "new-rule", "action").await;
    assert_eq!(server.get(t, "/api/v1/rules?name=big-orders").await.1, json!([]), "nothing drafted");
    fill(&browser, "new-rule", &[("action", r#"{"reason": "big"}"#)]).await;
    submit(&browser, "new-rule").await;
    let problem = browser.find(Locator::Id("rule-problem")).await.unwrap().text().await.unwrap();
    assert!(problem.contains("Cannot be submitted"), "{problem}");
    assert_eq!(server.get(t, "/api/v1/rules?name=big-orders").await.1[0]["status"], "draft");

    // The count sheet records what the shelf holds.
    open("/dashboard/inventory/count?location=central").await;
    browser.find(Locator::Id("count-MUG-1")).await.unwrap().send_keys("7").await.unwrap();
    // Waits for the page the sheet leads to, not the sheet still showing.
    submit(&browser, "count").await;
    let (_, levels) = server.get(t, "/api/v1/inventory?sku=MUG-1").await;
    assert_eq!(levels[0]["on_hand"], 7, "{levels}");

    // A correction and a single count through the stock form, each refused once, naming the
    // quantity, with nothing recorded.
    let on_hand = async || server.get(t, "/api/v1/inventory?sku=MUG-1").await.1[0]["on_hand"].as_i64().unwrap();
    open("/dashboard/inventory").await;
    let broken = [("kind", "adjustment"), ("sku", "MUG-1"), ("location", "central"), ("quantity", "-20"), ("reason", "broken in the aisle")];
    fill(&browser, "stock-movement", &broken).await;
    refused(&browser, "stock-movement", "quantity").await;
    assert_eq!(on_hand().await, 7, "nothing recorded");
    let kept = browser.find(Locator::Id("stock-movement-reason")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("broken in the aisle"));
    fill(&browser, "stock-movement", &[("quantity", "-2")]).await;
    submit(&browser, "stock-movement").await;
    assert_eq!(on_hand().await, 5);
    fill(&browser, "stock-movement", &[("kind", "count"), ("sku", "MUG-1"), ("location", "central"), ("quantity", "-1"), ("reason", "shelf count")]).await;
    refused(&browser, "stock-movement", "quantity").await;
    assert_eq!(on_hand().await, 5, "nothing recorded");
    fill(&browser, "stock-movement", &[("quantity", "6")]).await;
    submit(&browser, "stock-movement").await;
    assert_eq!(on_hand().await, 6, "the count sets what is on hand");

    // A return started from the order's page by picking its line.
    open(&format!("/dashboard/orders/{order}")).await;
    submit(&browser, "start-return").await;
    let error = browser.find(Locator::Id("start-return-error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("quantity") || error.contains("line"), "nothing picked is refused: {error}");
    assert_eq!(server.get(t, &format!("/api/v1/returns?order_id={order}")).await.1, json!([]));
    open(&format!("/dashboard/orders/{order}")).await;
    let line = browser.find(Locator::Id("return-line-1")).await.unwrap();
    line.clear().await.unwrap();
    line.send_keys("1").await.unwrap();
    submit(&browser, "start-return").await;
    assert_eq!(server.get(t, &format!("/api/v1/returns?order_id={order}")).await.1[0]["lines"][0]["quantity"], 1);

    // Times in the reader's own zone.
    open("/dashboard/settings").await;
    fill(&browser, "time-zone", &[("time_zone", "Mars/Olympus")]).await;
    refused(&browser, "time-zone", "time_zone").await;
    fill(&browser, "time-zone", &[("time_zone", "Europe/Berlin")]).await;
    submit(&browser, "time-zone").await;
    open(&format!("/dashboard/orders/{order}")).await;
    let placed_at = browser.find(Locator::Css("time")).await.unwrap().text().await.unwrap();
    assert!(placed_at.ends_with("CET"), "{placed_at}");
    browser.close().await.unwrap();
}

#[tokio::test]
async fn routing_shipping_methods_and_notification_endpoints_are_set_in_the_browser() {
    let test = "routing_shipping_methods_and_notification_endpoints_are_set_in_the_browser";
    let Some((_driver, _profile, browser)) = open_browser(test).await else {
        return;
    };
    use ordo_app::domain::access::Role;
    let server = Server::start().await;
    let t = &server.admin;
    crate::orders::shop(&server, 5).await;
    server.ordo.access().create_user("olga", ordo_demo::DEMO_PASSWORD, Role::Ops, &ordo_app::Actor::system()).await.unwrap();
    log_in(&browser, &server, "olga").await;
    let audited = async |action: &str| server.get(t, &format!("/api/v1/audit?action={action}")).await.1.as_array().unwrap().clone();

    // The web shop's routing: a location that does not exist is refused, naming it, what was
    // typed kept and nothing changed; then only the overflow location ships its orders whole.
    browser.goto(&format!("{}/dashboard/channels/web", server.base)).await.unwrap();
    fill(&browser, "routing", &[("locations", "overflow, nowhere"), ("allow_split", "yes")]).await;
    let error = refused(&browser, "routing", "locations").await;
    assert!(error.contains("nowhere"), "{error}");
    assert_eq!(browser.find(Locator::Id("routing-locations")).await.unwrap().prop("value").await.unwrap().as_deref(), Some("overflow, nowhere"));
    assert!(audited("channel.set_routing").await.is_empty(), "nothing changed");
    fill(&browser, "routing", &[("locations", "overflow"), ("allow_split", "no")]).await;
    submit(&browser, "routing").await;
    let log = audited("channel.set_routing").await;
    assert_eq!(log.len(), 1, "{log:?}");
    let after: serde_json::Value = serde_json::from_str(log[0]["after"].as_str().unwrap()).unwrap();
    assert_eq!(after, serde_json::json!({"allow_split": false, "locations": ["overflow"]}), "{log:?}");
    // The form shows the routing in force.
    browser.goto(&format!("{}/dashboard/channels/web", server.base)).await.unwrap();
    let value = async |id: &str| browser.find(Locator::Id(id)).await.unwrap().prop("value").await.unwrap();
    assert_eq!((value("routing-locations").await.as_deref(), value("routing-allow_split").await.as_deref()), (Some("overflow"), Some("no")));
    // Orders now wait for stock at overflow, though central has mugs.
    let (status, placed) = server.post(t, "/api/v1/orders", crate::orders::order("R-1", serde_json::json!([{"sku": "W-MUG", "quantity": 1, "unit_price": "12.90"}]))).await;
    assert_eq!((status, placed["status"].as_str()), (201, Some("backordered")), "{placed}");

    // Central's shipping methods: a method that is no code is refused, naming it; then set.
    browser.goto(&format!("{}/dashboard/locations", server.base)).await.unwrap();
    fill(&browser, "shipping-methods", &[("location", "central"), ("methods", "standard, next day!")]).await;
    refused(&browser, "shipping-methods", "methods").await;
    assert_eq!(browser.find(Locator::Id("shipping-methods-methods")).await.unwrap().prop("value").await.unwrap().as_deref(), Some("standard, next day!"));
    assert!(audited("location.set_shipping_methods").await.is_empty(), "nothing changed");
    fill(&browser, "shipping-methods", &[("methods", "standard, express")]).await;
    submit(&browser, "shipping-methods").await;
    let log = audited("location.set_shipping_methods").await;
    assert_eq!((log.len(), log[0]["subject"].as_str(), log[0]["after"].as_str()), (1, Some("location:central"), Some(r#"["standard","express"]"#)), "{log:?}");
    // The locations list shows what each location ships by.
    browser.goto(&format!("{}/dashboard/locations", server.base)).await.unwrap();
    let listed = browser.source().await.unwrap();
    assert!(listed.contains("<td>express, standard</td>") && listed.contains("<td>every method</td>"), "{listed}");

    // A notification endpoint: a webhook without an address is refused, naming it; then it is
    // added, its secret shown once, and switched off.
    browser.goto(&format!("{}/dashboard/notifications", server.base)).await.unwrap();
    fill(&browser, "new-endpoint", &[("code", "crm"), ("transport", "webhook"), ("topics", "order_confirmed, order_dispatched")]).await;
    refused(&browser, "new-endpoint", "url").await;
    assert_eq!(browser.find(Locator::Id("new-endpoint-topics")).await.unwrap().prop("value").await.unwrap().as_deref(), Some("order_confirmed, order_dispatched"));
    assert_eq!(server.get(t, "/api/v1/notification-endpoints").await.1, serde_json::json!([]), "nothing added");
    fill(&browser, "new-endpoint", &[("url", "http://127.0.0.1:9/hook"), ("topics", "order_confirmed, order_shipped")]).await;
    refused(&browser, "new-endpoint", "topics").await;
    assert_eq!(server.get(t, "/api/v1/notification-endpoints").await.1, serde_json::json!([]), "nothing added");
    fill(&browser, "new-endpoint", &[("topics", "order_confirmed, order_dispatched")]).await;
    submit(&browser, "new-endpoint").await;
    let secret = browser.find(Locator::Id("endpoint-secret")).await.unwrap().text().await.unwrap();
    assert!(secret.len() >= 16, "{secret}");
    let (_, endpoints) = server.get(t, "/api/v1/notification-endpoints").await;
    assert_eq!((endpoints[0]["code"].as_str(), endpoints[0]["active"].as_bool()), (Some("crm"), Some(true)), "{endpoints}");
    assert_eq!(endpoints[0]["topics"], serde_json::json!(["order_confirmed", "order_dispatched"]));
    browser.find(Locator::Css("#endpoint-crm button[value=off]")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Css("#endpoint-crm button[value=on]")).await.unwrap();
    assert_eq!(server.get(t, "/api/v1/notification-endpoints").await.1[0]["active"], false);
    assert!(browser.find_all(Locator::Id("endpoint-secret")).await.unwrap().is_empty(), "the secret is shown once");

    // Each form is behind the API's permission: finance may neither route, nor set methods,
    // nor manage endpoints.
    let finance = crate::common::Browserless::log_in(&server, "fred", Role::Finance).await;
    for (path, form) in [
        ("/dashboard/channels/web/routing", &[("locations", "central"), ("allow_split", "yes")][..]),
        ("/dashboard/locations/shipping-methods", &[("location", "central"), ("methods", "")][..]),
        ("/dashboard/notifications/endpoints", &[("code", "x"), ("transport", "log")][..]),
        ("/dashboard/notifications/endpoints/crm", &[("action", "on")][..]),
    ] {
        assert_eq!(finance.post(path, form).await.0, 403, "{path}");
    }
    assert_eq!(audited("channel.set_routing").await.len(), 1);
    assert_eq!(server.get(t, "/api/v1/notification-endpoints").await.1[0]["active"], false);
    browser.close().await.unwrap();
}

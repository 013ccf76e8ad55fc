//! The dashboard in headless Chromium, driven over WebDriver as a person would use it.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

use crate::common::Server;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn a_user_logs_in_and_sees_the_products_page() {
    if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
        println!("SKIP a_user_logs_in_and_sees_the_products_page: install Debian's chromium and chromium-driver");
        return;
    }
    let server = Server::start_demo().await;
    let port = free_port();
    let _driver = Driver(
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
    let mut browser = None;
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(client) => {
                browser = Some(client);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let browser = browser.expect("chromedriver answers");

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
    browser.find(Locator::Id("password")).await.unwrap().send_keys(ordo_app::demo::DEMO_PASSWORD).await.unwrap();
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

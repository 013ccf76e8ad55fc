//! The `ordo` binary as an operator runs it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::{json, Value};

pub(crate) fn ordo(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ordo"));
    command.current_dir(dir).env_remove("ORDO_DATABASE_URL").env_remove("ORDO_CONFIG").env("ORDO_LOG", "warn");
    command
}

fn run(dir: &Path, args: &[&str]) -> Output {
    ordo(dir).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a served shop needs to take the mug orders of [`one_mug_order`]: a US web shop, a
/// warehouse and a million mugs, as (path, body) to post.
pub(crate) fn mug_shop() -> Vec<(&'static str, Value)> {
    vec![
        ("/api/v1/channels", json!({"code": "web", "name": "Web shop", "kind": "web", "currency": "USD"})),
        ("/api/v1/locations", json!({"code": "central", "name": "Central", "kind": "warehouse", "priority": 1})),
        ("/api/v1/products", json!({"sku": "MUG-1", "name": "Mug", "unit_cost": "4.20"})),
        ("/api/v1/inventory/movements", json!({"sku": "MUG-1", "location": "central", "quantity": 1_000_000, "kind": "receipt", "reason": "opening"})),
    ]
}

/// An order for one mug from the web shop of [`mug_shop`], known there as `id`.
pub(crate) fn one_mug_order(id: &str) -> Value {
    json!({
        "channel": "web", "external_id": id, "placed_at": "2026-12-01T10:00:00Z", "currency": "USD",
        "customer": {"email": "ann@example.com", "name": "Ann"},
        "ship_to": {"name": "Ann", "line1": "Main St 1", "city": "Austin", "postal_code": "78701", "country": "US"},
        "shipping_method": "standard", "payment_status": "captured",
        "lines": [{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]
    })
}

/// `ordo serve` on a free port; stopped when dropped.
pub(crate) struct Serving(pub(crate) Child, pub(crate) String);

impl Serving {
    pub(crate) fn start(dir: &Path, database: &str) -> Serving {
        Serving::start_with(dir, database, &[])
    }

    /// As [`Serving::start`], with these environment variables besides.
    pub(crate) fn start_with(dir: &Path, database: &str, env: &[(&str, &str)]) -> Serving {
        let mut child = ordo(dir)
            .envs(env.iter().copied())
            .args(["serve", "--database", database, "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{line}");
        Serving(child, base)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn init_then_serve_answers_401_201_403_and_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("shop.db").display());
    let out = run(dir.path(), &["init", "--database", &database, "--token-file", "admin.token"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let admin = std::fs::read_to_string(dir.path().join("admin.token")).unwrap().trim().to_owned();
    assert!(admin.starts_with("ordo_"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("admin.token")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is the owner's alone");
    }
    // A second init migrates and issues nothing new.
    let again = run(dir.path(), &["init", "--database", &database]);
    assert!(again.status.success());
    assert!(text(&again.stdout).trim().is_empty(), "no second bootstrap token");

    let viewer = run(dir.path(), &["token", "create", "--database", &database, "--role", "viewer", "--name", "wall screen"]);
    assert!(viewer.status.success(), "{}", text(&viewer.stderr));
    let viewer = text(&viewer.stdout).trim().to_owned();

    let server = Serving::start(dir.path(), &database);
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/channels", server.1);
    let body = json!({"code": "web", "name": "Web shop", "kind": "web", "currency": "USD"});
    assert_eq!(client.post(&url).json(&body).send().await.unwrap().status(), 401);
    assert_eq!(client.post(&url).bearer_auth(&admin).json(&body).send().await.unwrap().status(), 201);
    assert_eq!(client.post(&url).bearer_auth(&viewer).json(&body).send().await.unwrap().status(), 403);
    let doc: Value = client.get(format!("{}/api/openapi.json", server.1)).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/api/v1/channels"]["post"].is_object());
    assert_eq!(client.get(format!("{}/healthz", server.1)).send().await.unwrap().status(), 200);
    let answer = client.get(format!("{}/api/v1/products", server.1)).bearer_auth(&admin).send().await.unwrap();
    assert!(answer.headers().contains_key("x-request-id"), "every answer carries its request id");
}

#[test]
fn a_database_that_cannot_be_opened_is_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["sqlite:///nonexistent-folder/x/ordo.db", "mysql://localhost/ordo", "postgres://nobody:secret@127.0.0.1:1/none"] {
        let out = run(dir.path(), &["init", "--database", url]);
        assert_eq!(out.status.code(), Some(2), "{url}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(!stderr.contains("secret"), "passwords are not echoed: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = run(dir.path(), &["serve", "--listen", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("listen"), "the bad option is named");
}

#[test]
fn the_demo_builds_the_reference_business_and_can_be_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["demo", "--days", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    for expected in [
        "web, amazon, wayfair, b2b",
        "central, overflow",
        "300 SKUs",
        "trading    3 days",
        "fill rate",
        "waves",
        "left by their ship-by time",
        "oversells  0",
        "inventory account equals stock at cost: yes",
        "settled    2 marketplace settlements",
        "margin     contribution by channel in USD: amazon ",
        "reconciliation exceptions found",
        "exceptions ",
        "serve --database sqlite://ordo.db",
        "/login",
    ] {
        assert!(summary.contains(expected), "{expected:?} missing from:\n{summary}");
    }
    assert!(dir.path().join("ordo.db").exists(), "the default database is ordo.db in the current folder");
    // The summary counts the waves that were released, no more.
    let said: usize = summary.split(" waves,").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ordo.db").display());
    // The channels' deliveries came through the webhook endpoints and the Amazon client: the
    // summary's counts are the database's.
    let channels = summary.lines().find(|l| l.contains("signed webhook deliveries")).unwrap();
    let figures: Vec<u64> = channels.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
    let [deliveries, duplicates, polled, pages, mapped, waiting_for_a_fix] = figures[..] else { panic!("{channels}") };
    assert!(deliveries > 100 && duplicates > 0 && polled > 10 && pages > 0 && mapped > polled, "{channels}");
    assert_eq!(waiting_for_a_fix, 2, "the unknown SKU and the missing address: {channels}");
    let (released, receiver, waiting) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let ordo = ordo_app::Ordo::open(&url, &ordo_app::StorageOptions::default(), ordo_app::Settings::default()).await.unwrap();
        let connections = ordo.channels().channel_connections().await.unwrap();
        let failed: i64 = connections.iter().map(|c| c.failed).sum();
        // Webhook duplicates; the Amazon connector's are what each poll's overlap read again.
        let pushed = connections.iter().filter(|c| ["web", "b2b"].contains(&c.channel.code.as_str()));
        let dropped: i64 = pushed.filter_map(|c| c.connector.as_ref()).map(|c| c.duplicates_dropped).sum();
        assert_eq!((failed, dropped), (2, i64::try_from(duplicates).unwrap()), "{channels}");
        let endpoints = ordo.outbox().endpoints().await.unwrap();
        let receiver = endpoints.into_iter().find(|e| e.code == ordo_demo::RECEIVER_ENDPOINT).unwrap();
        let pending = ordo_app::OutboxQuery {
            status: Some(ordo_app::domain::notification::DeliveryStatus::Pending),
            endpoint: Some(receiver.code.clone()),
            limit: 1000,
            ..Default::default()
        };
        let (_, waiting) = ordo.outbox().list(pending).await.unwrap();
        (ordo.fulfilment().waves(None, None).await.unwrap().len(), receiver, waiting)
    });
    assert_eq!(said, released, "{summary}");
    // The demo's receiver stops with it: a server on the database does not write to it.
    assert!(!receiver.active, "{receiver:?}");
    assert_eq!(waiting, 0, "nothing is left to retry into dead letters");
    // The two web deliveries that could not be mapped are replayed: still failing, then the
    // one whose SKU gets a listing becomes its order.
    let replayed = run(dir.path(), &["channel", "replay", "web"]);
    assert_eq!(replayed.status.code(), Some(1), "deliveries failing again fail the command");
    assert!(text(&replayed.stdout).contains("web: 2 deliveries replayed; processed 0, ignored 0, failed again 2"), "{}", text(&replayed.stdout));
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let ordo = ordo_app::Ordo::open(&url, &ordo_app::StorageOptions::default(), ordo_app::Settings::default()).await.unwrap();
        let listed = ordo.master_data().listings(Some("web")).await.unwrap().remove(0);
        let listing = ordo_app::domain::master::NewListing {
            channel: "web".into(),
            channel_sku: "WEB-DISCONTINUED".into(),
            sku: listed.sku,
            price: listed.price.to_decimal_string(),
        };
        ordo.master_data().create_listing(listing, &ordo_app::Actor::system()).await.unwrap();
    });
    let replayed = run(dir.path(), &["channel", "replay", "web"]);
    assert!(text(&replayed.stdout).contains("web: 2 deliveries replayed; processed 1, ignored 0, failed again 1"), "{}", text(&replayed.stdout));
    let again = run(dir.path(), &["demo", "--days", "2"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains("trading    2 days"), "{}", text(&again.stdout));
    assert!(summary.contains("oversells  0"), "{summary}");

    // A database with real data is never wiped by the demo.
    let real = format!("sqlite://{}", dir.path().join("real.db").display());
    assert!(run(dir.path(), &["init", "--database", &real]).status.success());
    let refused = run(dir.path(), &["demo", "--database", &real]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("did not make"), "{}", text(&refused.stderr));
}

#[tokio::test]
async fn users_created_at_the_command_line_can_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());
    assert!(run(dir.path(), &["init", "--database", &database]).status.success());
    let mut child = ordo(dir.path())
        .args(["user", "create", "--database", &database, "--username", "fiona", "--role", "finance"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let short = ordo(dir.path())
        .args(["user", "create", "--database", &database, "--username", "sam", "--role", "ops"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = short.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an empty password is refused");
    assert!(text(&out.stderr).contains("password"));

    let server = Serving::start(dir.path(), &database);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = |password: &'static str| crate::common::post_login(&client, &server.1, "fiona", password);
    let ok = login("a long enough password").await;
    assert_eq!(ok.status(), 303);
    assert!(ok.headers()["set-cookie"].to_str().unwrap().contains("HttpOnly"));
    assert_eq!(login("wrong password!!").await.status(), 401);
}

#[test]
fn a_settlement_file_is_imported_once_at_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());
    assert!(run(dir.path(), &["init", "--database", &database]).status.success());
    std::fs::write(dir.path().join("channels.csv"), "code,name,kind,currency\namazon-us,Amazon US,marketplace,USD\n").unwrap();
    let out = run(dir.path(), &["import", "channels", "channels.csv", "--database", &database]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = crate::settlements::v2_report("7001", "12,00", &[("Order", "111-1", "ItemPrice", "Principal", "12,00")]).replace("\tEUR\t", "\tUSD\t");
    std::fs::write(dir.path().join("settlement.tsv"), report).unwrap();

    let args = ["settlement", "import", "--database", &database, "--channel", "amazon-us", "settlement.tsv"];
    let out = run(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("settlement 7001 (amazon-v2): 1 line, total 12.00 USD; matched 0, unmatched 1, exceptions raised 1"), "{printed}");
    let again = run(dir.path(), &args);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains("imported before: nothing changed"), "{}", text(&again.stdout));

    let gl = run(dir.path(), &["report", "gl", "--database", &database, "--account", "1000"]);
    assert!(gl.status.success(), "{}", text(&gl.stderr));
    let gl = text(&gl.stdout);
    assert!(gl.starts_with("posted_at,source,memo,debit,credit,balance,currency\n,opening balance,,,,0.00,USD\n"), "{gl}");
    assert!(gl.lines().nth(2).is_some_and(|l| l.contains(",settlement:") && l.ends_with(",12.00,0.00,12.00,USD")), "{gl}");
    let profitability = run(dir.path(), &["report", "profitability", "--database", &database]);
    assert!(text(&profitability.stdout).starts_with("channel,revenue,refunds,cost_of_goods,fees,shipping_cost,contribution,margin_percent,currency\n"));

    std::fs::write(dir.path().join("short.tsv"), crate::settlements::v2_report("7002", "1,00", &[]).replace("\tEUR\t", "\tUSD\t")).unwrap();
    let refused = run(dir.path(), &["settlement", "import", "--database", &database, "--channel", "amazon-us", "short.tsv"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stdout));
    assert!(text(&refused.stderr).contains("a difference of -1.00"), "{}", text(&refused.stderr));
}

#[tokio::test]
async fn tokens_are_listed_and_revoked_at_the_command_line_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());
    assert!(run(dir.path(), &["init", "--database", &database]).status.success());
    let out = run(dir.path(), &["token", "create", "--database", &database, "--role", "integration", "--name", "shop", "--expires-in-days", "30"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    let server = Serving::start(dir.path(), &database);
    let client = reqwest::Client::new();
    let products = || client.get(format!("{}/api/v1/products", server.1)).bearer_auth(&token).send();
    assert_eq!(products().await.unwrap().status(), 200);

    let listed = text(&run(dir.path(), &["token", "list", "--database", &database]).stdout);
    let shop = listed.lines().find(|l| l.contains("shop")).unwrap_or_else(|| panic!("{listed}"));
    assert!(shop.contains("integration") && !shop.contains(&token), "{listed}");
    let out = run(dir.path(), &["token", "revoke", "--database", &database, "--name", "shop"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(products().await.unwrap().status(), 401, "the running server refuses it at once");
    let out = run(dir.path(), &["token", "revoke", "--database", &database, "--name", "shop"]);
    assert!(!out.status.success(), "nothing left to revoke");
    let listed = text(&run(dir.path(), &["token", "list", "--database", &database]).stdout);
    let shop = listed.lines().find(|l| l.contains("shop")).unwrap();
    assert!(!shop.trim_end().ends_with('-'), "revoked shows its time: {shop}");
}

#[tokio::test]
async fn a_database_never_initialised_is_refused_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let typo = format!("sqlite://{}", dir.path().join("shpo.db").display());
    for args in [
        vec!["serve", "--database", &typo, "--listen", "127.0.0.1:0"],
        vec!["audit", "verify", "--database", &typo],
        vec!["token", "list", "--database", &typo],
    ] {
        let out = run(dir.path(), &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out.stderr).contains("ordo init"), "{args:?}: {}", text(&out.stderr));
    }
    assert!(!dir.path().join("shpo.db").exists(), "no empty database was made");
    if let Some(base) = crate::common::postgres_url() {
        let empty = ordo_storage::testing::create_postgres_database(&base).await.unwrap();
        let out = run(dir.path(), &["token", "list", "--database", &empty]);
        assert!(!out.status.success() && text(&out.stderr).contains("ordo init"), "{}", text(&out.stderr));
        assert!(run(dir.path(), &["init", "--database", &empty]).status.success());
        assert!(run(dir.path(), &["token", "list", "--database", &empty]).status.success(), "initialised now");
    }
}

/// Every benchmark the README names runs on a fresh database, whatever the base currency, and
/// reports a figure rather than a run of refusals.
#[test]
fn each_benchmark_runs_on_a_fresh_database_in_any_base_currency() {
    let dir = tempfile::tempdir().unwrap();
    for (n, args) in [
        vec!["bench", "ingest", "--clients", "4", "--orders", "40"],
        vec!["bench", "webhooks", "--clients", "4", "--deliveries", "40"],
        vec!["bench", "settlement", "--lines", "200"],
        vec!["bench", "replay", "--orders", "60"],
        vec!["bench", "workload", "--orders", "60", "--weeks", "4"],
    ]
    .into_iter()
    .enumerate()
    {
        let database = format!("sqlite://{}", dir.path().join(format!("bench-{n}.db")).display());
        let output = ordo(dir.path()).args(&args).args(["--database", &database]).env("ORDO_BASE_CURRENCY", "EUR").output().unwrap();
        assert!(output.status.success(), "{args:?}: {}{}", text(&output.stdout), text(&output.stderr));
        assert!(text(&output.stdout).contains(" on sqlite:"), "{args:?}: {}", text(&output.stdout));
    }
}

#[test]
fn ticket_triage_is_scored_on_the_held_out_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let holdout = concat!(env!("CARGO_MANIFEST_DIR"), "/../triage/data/holdout.csv");
    let out = run(dir.path(), &["tickets", "evaluate", "--csv", holdout, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let scores: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((scores["tickets"].as_u64(), scores["trained_on"].as_str()), (Some(902), Some("shipped")));
    assert_eq!(scores["intent"]["labels"].as_array().map(Vec::len), Some(27));
    assert_eq!(scores["category"]["labels"].as_array().map(Vec::len), Some(11));
    let category_f1 = scores["category"]["macro_f1"].as_f64().unwrap();
    assert!(category_f1 >= 0.90, "macro-F1 by category on tickets it never learned from: {category_f1}");

    // Trained on another file, read as people read it; a file without the columns is refused.
    let train = concat!(env!("CARGO_MANIFEST_DIR"), "/../triage/data/train.csv");
    let out = run(dir.path(), &["tickets", "evaluate", "--csv", holdout, "--train", train]);
    let report = text(&out.stdout);
    assert!(report.contains("by category") && report.contains("macro-F1") && report.contains("cancel_order"), "{report}");
    std::fs::write(dir.path().join("bad.csv"), "instruction,intent\nwhere is it,track_order\n").unwrap();
    let out = run(dir.path(), &["tickets", "evaluate", "--csv", "bad.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no column category"), "{}", text(&out.stderr));
}

#[test]
fn forecasts_are_scored_on_a_tsf_file_and_on_series_date_quantity_rows() {
    let dir = tempfile::tempdir().unwrap();
    // Two years of months for two SKUs, one dying.
    let mut csv = String::from("series,date,quantity\n");
    for month in 0..24 {
        let date = format!("{}-{:02}-15", 2023 + month / 12, month % 12 + 1);
        csv.push_str(&format!("MUG,{date},{}\nVASE,{date},{}\n", 10 + month % 3, if month < 12 { 8 } else { month % 2 }));
    }
    std::fs::write(dir.path().join("sales.csv"), &csv).unwrap();
    let out = run(dir.path(), &["forecast", "evaluate", "--csv", "sales.csv", "--period", "month", "--horizon", "6", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["series"].as_u64(), report["period"].as_str(), report["horizon"].as_u64()), (Some(2), Some("month"), Some(6)));
    let methods: Vec<&str> = report["methods"].as_array().unwrap().iter().map(|m| m["method"].as_str().unwrap()).collect();
    assert!(methods.contains(&"imapa") && methods.contains(&"tsb") && methods.ends_with(&["per-series choice", "combination of suited methods"]), "{methods:?}");
    assert!(report["methods"].as_array().unwrap().iter().all(|m| m["rmsse"].is_number() && m["mase"].is_number()), "{report}");
    let against = &report["against_best_reference"];
    assert!(["imapa", "adida", "tsb", "ets"].contains(&against["reference"].as_str().unwrap_or_default()), "{report}");
    assert!(against["low"].as_f64() <= against["rmsse_difference"].as_f64() && against["rmsse_difference"].as_f64() <= against["high"].as_f64(), "{report}");
    assert!(["better", "worse", "not told apart"].contains(&against["verdict"].as_str().unwrap_or_default()), "{report}");

    let tsf = "@relation sales\n@attribute series_name string\n@frequency monthly\n@missing false\n@equallength true\n@data\nT1:1,2,3,4,5,6,7,8,9,10,11,12,13,14\n";
    std::fs::write(dir.path().join("sales.tsf"), tsf).unwrap();
    let out = run(dir.path(), &["forecast", "evaluate", "--tsf", "sales.tsf", "--horizon", "3"]);
    let table = text(&out.stdout);
    assert!(out.status.success() && table.contains("MASE") && table.contains("per-series choice"), "{table}{}", text(&out.stderr));

    // The same months summed into quarters; a quarterly file is read as quarters, and a
    // frequency Ordo does not forecast is refused rather than taken for months.
    let out = run(dir.path(), &["forecast", "evaluate", "--csv", "sales.csv", "--period", "quarter", "--horizon", "2", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!((report["period"].as_str(), report["series"].as_u64()), (Some("quarter"), Some(2)), "{report}{}", text(&out.stderr));
    std::fs::write(dir.path().join("quarters.tsf"), tsf.replace("monthly", "quarterly")).unwrap();
    let out = run(dir.path(), &["forecast", "evaluate", "--tsf", "quarters.tsf", "--horizon", "3", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(report["period"].as_str(), Some("quarter"), "{report}{}", text(&out.stderr));
    std::fs::write(dir.path().join("years.tsf"), tsf.replace("monthly", "yearly")).unwrap();
    let out = run(dir.path(), &["forecast", "evaluate", "--tsf", "years.tsf", "--horizon", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("@frequency yearly"), "{}", text(&out.stderr));

    // Bad input names what is wrong, and nothing is scored.
    std::fs::write(dir.path().join("bad.csv"), "series,date,quantity\nMUG,15/01/2024,3\n").unwrap();
    let out = run(dir.path(), &["forecast", "evaluate", "--csv", "bad.csv", "--period", "day"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("line 2: date"), "{}", text(&out.stderr));
    let out = run(dir.path(), &["forecast", "evaluate", "--csv", "sales.csv"]);
    assert_eq!(out.status.code(), Some(2), "a CSV needs its period");
}

#[test]
fn output_read_by_a_reader_that_stops_early_ends_the_command_quietly() {
    // `ordo forecast evaluate … | head -0`: the pipe's reading end is gone before the first line.
    let dir = tempfile::tempdir().unwrap();
    let tsf = "@relation sales\n@attribute series_name string\n@frequency monthly\n@missing false\n@equallength true\n@data\nT1:1,2,3,4,5,6,7,8,9,10,11,12,13,14\n";
    std::fs::write(dir.path().join("sales.tsf"), tsf).unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = ordo(dir.path()).args(["forecast", "evaluate", "--tsf", "sales.tsf", "--horizon", "3"]).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{:?}: {}", out.status, text(&out.stderr));
}

#[test]
fn anomalies_are_scanned_and_workload_forecast_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());
    assert!(run(dir.path(), &["init", "--database", &database]).status.success());
    let out = run(dir.path(), &["anomalies", "scan", "--database", &database, "--days", "7", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let scan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((scan["kinds"].as_array().map(Vec::len), scan["findings"].as_array().map(Vec::len)), (Some(5), Some(0)), "{scan}");
    let out = run(dir.path(), &["anomalies", "scan", "--database", &database, "--days", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(dir.path(), &["workload", "--database", &database, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let workloads: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(workloads.as_array().map(Vec::len), Some(0), "a new business has no location yet: {workloads}");

    // A mistyped database is refused, not made anew and found empty.
    let typo = format!("sqlite://{}", dir.path().join("odro.db").display());
    for command in [&["anomalies", "scan", "--database", &typo][..], &["workload", "--database", &typo][..]] {
        let out = run(dir.path(), command);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {}", text(&out.stderr));
    }
    assert!(!dir.path().join("odro.db").exists());
}

#[tokio::test]
async fn a_command_that_only_reads_runs_while_another_process_holds_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());
    assert!(run(dir.path(), &["init", "--database", &database]).status.success());
    // A long write elsewhere, as a busy `ordo serve` may hold: SQLite's one writer is taken.
    use sqlx::Connection;
    let mut writer = sqlx::SqliteConnection::connect(&database).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE; INSERT INTO meta (key, value) VALUES ('busy', 'yes')").execute(&mut writer).await.unwrap();
    let (dir_path, url) = (dir.path().to_owned(), database.clone());
    let out = tokio::task::spawn_blocking(move || run(&dir_path, &["workload", "--database", &url, "--json"])).await.unwrap();
    assert!(out.status.success(), "it reads, so it need not wait for the writer: {}", text(&out.stderr));
    sqlx::raw_sql("ROLLBACK").execute(&mut writer).await.unwrap();
}

#[test]
fn the_workload_forecast_and_the_rate_test_are_scored_on_files() {
    let dir = tempfile::tempdir().unwrap();
    // Eleven weeks of a London shop: weekdays bring an order of two lines at 9:00, 10:00 and
    // 11:00; from the eighth week on, every day brings twice as many.
    let mut lines = String::from("order,time,units\n");
    let mut counts = String::from("subject,date,events,trials\n");
    let monday = chrono::NaiveDate::from_ymd_opt(2011, 1, 3).unwrap();
    for day in (0..77).map(|n| monday + chrono::Duration::days(n)).filter(|d| chrono::Datelike::weekday(d).num_days_from_monday() < 5) {
        let copies = if day >= monday + chrono::Duration::weeks(7) { 2 } else { 1 };
        for (hour, copy) in (9..12).flat_map(|h| (0..copies).map(move |c| (h, c))) {
            lines.push_str(&format!("{day}-{hour}-{copy},{day} {hour:02}:05,3\n{day}-{hour}-{copy},{day} {hour:02}:05:30,1\n"));
        }
        // Cancellations: 1 in 40 a day, and 12 in 40 on the last day.
        let cancelled = if day == monday + chrono::Duration::days(74) { 12 } else { 1 };
        counts.push_str(&format!("channel:web,{day},{cancelled},40\n"));
    }
    std::fs::write(dir.path().join("lines.csv"), &lines).unwrap();
    std::fs::write(dir.path().join("counts.csv"), &counts).unwrap();

    let out = run(dir.path(), &["workload", "evaluate", "--csv", "lines.csv", "--zone", "Europe/London", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let evaluation = &report["evaluation"];
    // The days from nine weeks after the first, to the day before the last.
    assert_eq!((report["orders"].as_u64(), evaluation["days"].as_u64()), (Some(3 * 5 * 7 + 6 * 5 * 4), Some(77 - 62 - 1 - 2)), "{report}");
    let lines_error = |forecast: &str, per: &str| {
        evaluation["scores"].as_array().unwrap().iter().find(|s| s["forecast"] == forecast && s["per"] == per && s["days_ahead"] == 1).unwrap()["wape_bp"]["lines"].as_i64().unwrap()
    };
    assert!(lines_error("ordo", "day") < lines_error("weekday mean of the profile's weeks", "day"), "the level follows the doubling: {report}");
    assert_eq!(lines_error("same weekday last week", "day"), 0, "the last weeks repeat themselves: {report}");
    let table = text(&run(dir.path(), &["workload", "evaluate", "--csv", "lines.csv"]).stdout);
    assert!(table.contains("same hour last week") && table.contains("2011-03"), "{table}");
    // The location's calendar, as the API takes it.
    let calendar = r#"{"closed_weekdays": ["saturday", "sunday"], "closed_dates": [{"date": "2011-04-22", "name": "Good Friday"}]}"#;
    std::fs::write(dir.path().join("calendar.json"), calendar).unwrap();
    let out = run(dir.path(), &["workload", "evaluate", "--csv", "lines.csv", "--calendar", "calendar.json", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["closed_dates"], 1);
    std::fs::write(dir.path().join("bad-calendar.json"), r#"{"closed_dates": [{"date": "2011-02-30"}]}"#).unwrap();

    let out = run(dir.path(), &["anomalies", "evaluate", "--csv", "counts.csv", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(&str, &str)> = report["findings"].as_array().unwrap().iter().map(|f| (f["subject"].as_str().unwrap(), f["day"].as_str().unwrap())).collect();
    assert_eq!(found, [("channel:web", "2011-03-18")], "{report}");

    // Bad input names its line and field, and a zone that is none is refused.
    std::fs::write(dir.path().join("bad.csv"), "order,time,units\nA,2011-01-03 09:00,-2\n").unwrap();
    for (args, said) in [
        (&["workload", "evaluate", "--csv", "bad.csv"][..], "line 2: units"),
        (&["workload", "evaluate", "--csv", "lines.csv", "--zone", "Mars/Olympus"][..], "--zone"),
        (&["workload", "evaluate", "--csv", "lines.csv", "--calendar", "bad-calendar.json"][..], "closed_dates[0].date"),
        (&["anomalies", "evaluate", "--csv", "lines.csv"][..], "no column subject"),
    ] {
        let out = run(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(said), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn the_demo_plants_anomalies_and_the_scan_finds_them_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["demo", "--days", "8"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    let lines: Vec<&str> = summary.lines().filter(|l| l.trim_start().starts_with("anomalies")).collect();
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l.split_whitespace().nth(1)).collect();
    assert_eq!(kinds, ["cancellation_spike:", "stock_variance:", "fee_anomaly:", "fee_anomaly:"], "eight days leave history for these\n{summary}");
    assert!(lines.iter().all(|l| l.contains(" was found (") && l.ends_with("; 0 other findings")), "{summary}");
}

#[test]
fn the_operating_review_is_printed_for_a_week_and_a_month() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["demo", "--days", "8"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());

    let out = run(dir.path(), &["report", "review", "--period", "week", "--database", &database]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let week = text(&out.stdout);
    assert!(week.starts_with("Weekly review, "), "{week}");
    let sections: Vec<&str> = week.lines().filter(|l| !l.is_empty() && !l.starts_with(' ') && !l.starts_with("Weekly")).collect();
    assert_eq!(sections, ["Order backlog", "Stock exceptions", "Return reasons", "Supplier delays", "Reconciliation issues"], "{week}");
    // The backlog it prints is the database's: orders received, validated, held, allocated,
    // backordered or partly shipped.
    let line = week.lines().find(|l| l.trim_start().starts_with("Orders to ship: ")).unwrap_or_else(|| panic!("{week}"));
    let printed: i64 = line.trim_start().trim_start_matches("Orders to ship: ").split(' ').next().unwrap().parse().unwrap();
    let backlog = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let ordo = ordo_app::Ordo::open(&database, &ordo_app::StorageOptions::default(), ordo_app::Settings::default()).await.unwrap();
        let mut backlog = 0;
        for status in ["received", "validated", "on_hold", "allocated", "backordered", "partially_shipped"] {
            backlog += ordo.orders().list(None, Some(status), None, 1, 0).await.unwrap().1;
        }
        backlog
    });
    assert!(backlog > 0, "the demo leaves orders to ship");
    assert_eq!(printed, backlog, "{line}");

    let out = run(dir.path(), &["report", "review", "--period", "month", "--database", &database]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let month = text(&out.stdout);
    assert!(month.starts_with("Monthly review, "), "{month}");
    for section in ["\nProfitability by channel\n", "\nForecast accuracy\n", "\nService performance\n", "\nProcess compliance\n"] {
        assert!(month.contains(section), "{section:?} missing from:\n{month}");
    }
    for figure in ["  Fill rate: ", "  Shipped on time: ", "  Changes approved by a second person: ", "  Exceptions solved within their SLA: "] {
        assert!(month.contains(figure), "{figure:?} missing from:\n{month}");
    }
    let out = run(dir.path(), &["report", "review", "--period", "year", "--database", &database]);
    assert_eq!(out.status.code(), Some(2), "a period is a week or a month: {}", text(&out.stderr));
}

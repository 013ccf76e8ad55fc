//! Rules as versioned code: a condition that does not check out cannot be submitted (the
//! error points at its position), nobody approves their own rule, an approved version goes
//! into force at its time and retires the one before, and intake's risk review follows the
//! rules in force, naming the rule and version that held an order.

use chrono::{Duration, Utc};
use ordo_app::domain::access::Role;
use ordo_app::{Actor, Clock};
use serde_json::{json, Value};

use crate::common::{on_both_engines, Server};
use crate::orders::{order, shop};

fn rule(condition: &str) -> Value {
    json!({
        "name": "big-de", "kind": "risk_hold", "description": "large orders shipped to Germany",
        "condition": condition, "action": {"reason": "large order to Germany"}
    })
}

fn error(answer: &Value) -> (Option<&str>, &str) {
    (answer["error"]["field"].as_str(), answer["error"]["message"].as_str().unwrap_or_default())
}

async fn status_of(server: &Server, external_id: &str, price: &str) -> (String, String) {
    let body = order(external_id, json!([{"sku": "MUG-1", "quantity": 1, "unit_price": price}]));
    let (status, placed) = server.post(&server.admin, "/api/v1/orders", body).await;
    assert_eq!(status, 201, "{placed}");
    let why = placed["timeline"].as_array().and_then(|t| t.last()).map(|e| e["reason"].as_str().unwrap_or_default().to_owned());
    (placed["status"].as_str().unwrap().to_owned(), why.unwrap_or_default())
}

async fn a_rule_goes_from_draft_to_force_under_two_people(server: Server) {
    shop(&server, 100).await;
    let author = server.ordo.access().create_token(Role::Finance, "finance-ana", &Actor::system()).await.unwrap().token;
    let checker = server.ordo.access().create_token(Role::Finance, "finance-ben", &Actor::system()).await.unwrap().token;
    let ops = server.token(Role::Ops).await;
    let warehouse = server.token(Role::Warehouse).await;

    // A draft is saved even when its condition is wrong, but cannot be submitted.
    let (status, draft) = server.post(&author, "/api/v1/rules", rule("order.total_minor >")).await;
    assert_eq!((status, draft["version"].as_i64(), draft["status"].as_str()), (201, Some(1), Some("draft")), "{draft}");
    assert_eq!((draft["problem"]["line"].as_i64(), draft["problem"]["column"].as_i64()), (Some(1), Some(20)), "{draft}");
    let (status, refused) = server.post(&author, &format!("/api/v1/rules/{}/submit", draft["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(status, 422, "{refused}");
    let (field, message) = error(&refused);
    assert_eq!(field, Some("condition"));
    assert!(message.contains("line 1, column 20: the condition stops too early"), "{message}");

    let (_, unknown) = server.post(&author, "/api/v1/rules", rule("order.totl > 1")).await;
    let (status, refused) = server.post(&author, &format!("/api/v1/rules/{}/submit", unknown["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(status, 422);
    assert!(error(&refused).1.contains("line 1, column 6: unknown fact order.totl"), "{refused}");

    let (_, good) = server.post(&author, "/api/v1/rules", rule("order.total_minor > 100000 && order.ship_country == 'DE'")).await;
    let id = good["id"].as_str().unwrap().to_owned();
    assert_eq!(good["version"], 3);
    assert!(good.get("problem").is_none(), "{good}");
    let at = |action: &str| format!("/api/v1/rules/{id}/{action}");
    let (status, submitted) = server.post(&author, &at("submit"), json!({})).await;
    assert_eq!((status, submitted["status"].as_str()), (200, Some("submitted")), "{submitted}");

    // Nobody approves their own rule; approval needs rules.approve and a role owning the kind.
    let (status, refused) = server.post(&author, &at("approve"), json!({})).await;
    assert_eq!(status, 403, "{refused}");
    assert!(error(&refused).1.contains("another person"), "{refused}");
    assert_eq!(server.post(&warehouse, &at("approve"), json!({})).await.0, 403);
    let (status, refused) = server.post(&ops, &at("approve"), json!({})).await;
    assert_eq!(status, 403);
    assert!(error(&refused).1.contains("finance or admin"), "{refused}");

    let tomorrow = Utc::now() + Duration::days(1);
    let (status, approved) = server.post(&checker, &at("approve"), json!({"effective_from": tomorrow})).await;
    assert_eq!((status, approved["status"].as_str(), approved["approver"].as_str()), (200, Some("approved"), Some("token:finance-ben")));
    let (status, early) = server.post(&checker, &at("activate"), json!({})).await;
    assert_eq!((status, early["error"]["current_state"].as_str()), (409, Some("approved")), "{early}");

    // Not yet in force: a large order to Germany goes ahead.
    assert_eq!(status_of(&server, "R-1", "1500.00").await.0, "allocated");
    let later = server.ordo.with_clock(Clock::simulated(tomorrow + Duration::minutes(1)));
    assert_eq!(later.rules().activate_due_rules().await.unwrap(), 1);
    let (status, why) = status_of(&server, "R-2", "1500.00").await;
    assert_eq!(status, "on_hold");
    assert!(why.contains("large order to Germany (rule big-de v3)"), "{why}");
    assert_eq!(status_of(&server, "R-3", "15.00").await.0, "allocated");

    // The next version replaces it in one step; the earlier stays readable.
    let (_, next) = server.post(&author, "/api/v1/rules", rule("order.total_minor > 200000 && order.ship_country == 'DE'")).await;
    let next_id = next["id"].as_str().unwrap().to_owned();
    assert_eq!(server.post(&author, &format!("/api/v1/rules/{next_id}/submit"), json!({})).await.0, 200);
    assert_eq!(server.post(&checker, &format!("/api/v1/rules/{next_id}/approve"), json!({})).await.0, 200);
    let (status, active) = server.post(&checker, &format!("/api/v1/rules/{next_id}/activate"), json!({})).await;
    assert_eq!((status, active["status"].as_str(), active["version"].as_i64()), (200, Some("active"), Some(4)), "{active}");
    let (_, versions) = server.get(&warehouse, "/api/v1/rules?name=big-de").await;
    let statuses: Vec<(i64, &str)> =
        versions.as_array().unwrap().iter().map(|v| (v["version"].as_i64().unwrap(), v["status"].as_str().unwrap())).collect();
    assert_eq!(statuses, [(4, "active"), (3, "retired"), (2, "draft"), (1, "draft")]);
    assert_eq!(status_of(&server, "R-4", "1500.00").await.0, "allocated", "v4 holds only above 2,000.00");

    let (status, retired) = server.post(&checker, &format!("/api/v1/rules/{next_id}/retire"), json!({"reason": "season over"})).await;
    assert_eq!((status, retired["status"].as_str()), (200, Some("retired")));
    assert_eq!(status_of(&server, "R-5", "2500.00").await.0, "allocated", "no rule in force");

    let (_, log) = server.get(&server.admin, "/api/v1/audit?subject=rule:big-de&limit=500").await;
    let mut actions: Vec<&str> = log.as_array().unwrap().iter().filter_map(|r| r["action"].as_str()).collect();
    actions.reverse();
    assert_eq!(
        actions,
        ["rule.draft", "rule.draft", "rule.draft", "rule.submit", "rule.approve", "rule.activate", "rule.draft", "rule.submit", "rule.approve", "rule.activate", "rule.retire"]
    );
    let activated = log.as_array().unwrap().iter().find(|r| r["action"] == "rule.activate").unwrap();
    assert_eq!((activated["before"].as_str(), activated["after"].as_str()), (Some(r#"{"active_version":3}"#), Some(r#"{"active_version":4}"#)));
}

on_both_engines!(a_rule_goes_from_draft_to_force_under_two_people, rule_life_cycle_on_sqlite, rule_life_cycle_on_postgres);

/// Authors drafting versions of one rule at once each get a version number of their own.
async fn drafts_of_one_rule_written_at_once_get_versions_of_their_own(server: Server) {
    shop(&server, 0).await;
    let mut drafts = tokio::task::JoinSet::new();
    for n in 0..8 {
        let (client, base, token) = (server.client.clone(), server.base.clone(), server.admin.clone());
        drafts.spawn(async move {
            let body = rule(&format!("order.total_minor > {}", 100_000 + n));
            let answer = client.post(format!("{base}/api/v1/rules")).bearer_auth(&token).json(&body).send().await.unwrap();
            let status = answer.status().as_u16();
            let draft: Value = answer.json().await.unwrap();
            assert_eq!(status, 201, "{draft}");
            draft["version"].as_i64().unwrap()
        });
    }
    let mut versions = Vec::new();
    while let Some(version) = drafts.join_next().await {
        versions.push(version.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<i64>>());
}

on_both_engines!(
    drafts_of_one_rule_written_at_once_get_versions_of_their_own,
    rule_drafts_at_once_on_sqlite,
    rule_drafts_at_once_on_postgres
);

#[tokio::test]
async fn bad_rules_are_refused_naming_the_field_and_nothing_is_saved() {
    let server = Server::start().await;
    let t = &server.admin;
    let long = format!("order.units > 0{}", " && order.units > 0".repeat(120));
    for (body, field) in [
        (json!({"name": "x", "kind": "magic", "condition": "true", "action": {}}), "kind"),
        (json!({"name": "x", "kind": "risk_hold", "condition": "true", "action": {}}), "action.reason"),
        (json!({"name": "x", "kind": "routing", "condition": "true", "action": {"locations": []}}), "action.locations"),
        (json!({"name": "", "kind": "risk_hold", "condition": "true", "action": {"reason": "r"}}), "name"),
        (json!({"name": "x", "kind": "risk_hold", "condition": long, "action": {"reason": "r"}}), "condition"),
    ] {
        let (status, answer) = server.post(t, "/api/v1/rules", body).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{answer}");
    }
    let (_, none) = server.get(t, "/api/v1/rules?name=x").await;
    assert_eq!(none.as_array().map(Vec::len), Some(0), "{none}");

    // Deep nesting and heavy list macros are stopped before they can run long.
    for (condition, says) in [
        (format!("{}true{}", "(".repeat(40), ")".repeat(40)), "nests deeper"),
        ("order.lines.all(a, order.lines.all(b, order.lines.all(c, a.quantity > 0)))".to_owned(), "too many list macros"),
        ("sleep(1000)".to_owned(), "unknown function sleep"),
        ("order.total_minor > 'lots'".to_owned(), "compares a number with text"),
    ] {
        let (_, draft) = server.post(t, "/api/v1/rules", json!({"name": "y", "kind": "risk_hold", "condition": condition, "action": {"reason": "r"}})).await;
        let (status, refused) = server.post(t, &format!("/api/v1/rules/{}/submit", draft["id"].as_str().unwrap()), json!({})).await;
        assert_eq!(status, 422, "{refused}");
        assert!(error(&refused).1.contains(says), "{condition}: {refused}");
    }
}

async fn a_routing_rule_in_force_chooses_the_locations(server: Server) {
    shop(&server, 20).await;
    let receipt = json!({"sku": "MUG-1", "location": "overflow", "quantity": 20, "kind": "receipt", "reason": "stock"});
    assert_eq!(server.post(&server.admin, "/api/v1/inventory/movements", receipt).await.0, 201);
    let author = server.ordo.access().create_token(Role::Ops, "ops-ana", &Actor::system()).await.unwrap().token;
    let checker = server.ordo.access().create_token(Role::Ops, "ops-ben", &Actor::system()).await.unwrap().token;
    let draft = json!({
        "name": "express-from-overflow", "kind": "routing",
        "condition": "order.shipping_method == 'express'",
        "action": {"locations": ["overflow"], "allow_split": false}
    });
    let (_, drafted) = server.post(&author, "/api/v1/rules", draft).await;
    let at = |action: &str| format!("/api/v1/rules/{}/{action}", drafted["id"].as_str().unwrap());
    assert_eq!(server.post(&author, &at("submit"), json!({})).await.0, 200);
    assert_eq!(server.post(&checker, &at("approve"), json!({})).await.0, 200);
    assert_eq!(server.post(&checker, &at("activate"), json!({})).await.0, 200);

    let place = |id: &str, method: &str| {
        let mut body = order(id, json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}]));
        body["shipping_method"] = json!(method);
        body
    };
    let (_, express) = server.post(&server.admin, "/api/v1/orders", place("X-1", "express")).await;
    assert_eq!(express["lines"][0]["allocations"][0]["location"], "overflow", "{express}");
    let (_, shown) = server.get(&server.admin, &format!("/api/v1/orders/{}", express["id"].as_str().unwrap())).await;
    assert_eq!(shown["routing"][0]["decider"], "rule express-from-overflow v1", "{shown}");
    let (_, standard) = server.post(&server.admin, "/api/v1/orders", place("S-1", "standard")).await;
    assert_eq!(standard["lines"][0]["allocations"][0]["location"], "central", "{standard}");
}

on_both_engines!(a_routing_rule_in_force_chooses_the_locations, routing_rules_route_on_sqlite, routing_rules_route_on_postgres);

/// Every row of each table of the SQLite file behind `url`, hashed per table: equal before and
/// after means nothing was written, and where not, the tables that differ are named.
async fn checksum(url: &str) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest;
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetch_all(&pool).await.unwrap();
    let mut hashes = std::collections::BTreeMap::new();
    for table in tables {
        // A token's last use is noted beside the requests that use it, whenever that lands.
        if table == "api_tokens" {
            continue;
        }
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT name FROM pragma_table_info('{table}')")))
            .fetch_all(&pool)
            .await
            .unwrap();
        let row = columns.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || ',' || ");
        let sql = format!("SELECT COALESCE(group_concat(r, char(10)), '') FROM (SELECT {row} AS r FROM \"{table}\" ORDER BY rowid)");
        let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&pool).await.unwrap();
        let hash = sha2::Sha256::digest(rows.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        hashes.insert(table, hash);
    }
    pool.close().await;
    hashes
}

#[tokio::test]
async fn a_replay_changes_nothing_and_foretells_what_activating_does() {
    let server = Server::start().await;
    shop(&server, 200).await;
    let receipt = json!({"sku": "MUG-1", "location": "overflow", "quantity": 200, "kind": "receipt", "reason": "stock"});
    assert_eq!(server.post(&server.admin, "/api/v1/inventory/movements", receipt).await.0, 201);
    let yesterday = (Utc::now() - Duration::days(1)).to_rfc3339();
    let body = |id: String, price: &str, method: &str| {
        let mut body = order(&id, json!([{"sku": "MUG-1", "quantity": 1, "unit_price": price}]));
        body["shipping_method"] = json!(method);
        body["placed_at"] = json!(yesterday);
        body
    };
    // Four large orders (one of them express), three small express ones, five small standard.
    let mix = [("1500.00", "standard"), ("1500.00", "standard"), ("2500.00", "standard"), ("1800.00", "express")]
        .into_iter()
        .chain([("15.00", "express"); 3])
        .chain([("15.00", "standard"); 5]);
    let orders: Vec<(String, &str, &str)> = mix.enumerate().map(|(n, (price, method))| (format!("M-{n}"), price, method)).collect();
    for (id, price, method) in &orders {
        assert_eq!(server.post(&server.admin, "/api/v1/orders", body(id.clone(), price, method)).await.0, 201);
    }

    let author = server.ordo.access().create_token(Role::Admin, "admin-ana", &Actor::system()).await.unwrap().token;
    let draft = |name: &str, kind: &str, condition: &str, action: Value| json!({"name": name, "kind": kind, "condition": condition, "action": action});
    let (_, risk) = server.post(&author, "/api/v1/rules", draft("big-de", "risk_hold", "order.total_minor > 100000 && order.ship_country == 'DE'", json!({"reason": "large"}))).await;
    let (_, route) = server.post(&author, "/api/v1/rules", draft("express-overflow", "routing", "order.shipping_method == 'express'", json!({"locations": ["overflow"]}))).await;
    let versions = [risk["id"].as_str().unwrap().to_owned(), route["id"].as_str().unwrap().to_owned()];

    let viewer = server.token(Role::Viewer).await;
    let before = checksum(&server.ordo_url()).await;
    let (status, simulation) = server.post(&viewer, "/api/v1/rules/simulate", json!({"versions": versions, "days": 7})).await;
    assert_eq!(status, 200, "{simulation}");
    assert_eq!(simulation["orders"], 12);
    assert_eq!(simulation["newly_held"]["count"], 4, "{simulation}");
    assert_eq!(simulation["routed_elsewhere"]["count"], 3, "{simulation}");
    assert_eq!(simulation["routed_elsewhere"]["examples"][0]["after"], "overflow (rule express-overflow v1)", "{simulation}");
    assert_eq!(simulation["no_longer_held"]["count"], 0);
    let out = crate::cli::ordo(std::path::Path::new("."))
        .args(["rules", "simulate", "--database", &server.ordo_url(), "--version", &versions[0], "--version", &versions[1], "--days", "7"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && printed.contains("newly held: 4\n") && printed.contains("routed elsewhere: 3\n"),
        "{}: {printed}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let after = checksum(&server.ordo_url()).await;
    let written: Vec<&String> = after.keys().filter(|table| before.get(*table) != after.get(*table)).collect();
    assert!(written.is_empty(), "a replay writes nothing, but these tables changed: {written:?}");

    // Put both in force, send the same orders again: the replay's figures come true.
    let checker = server.ordo.access().create_token(Role::Admin, "admin-ben", &Actor::system()).await.unwrap().token;
    for id in &versions {
        assert_eq!(server.post(&author, &format!("/api/v1/rules/{id}/submit"), json!({})).await.0, 200);
        assert_eq!(server.post(&checker, &format!("/api/v1/rules/{id}/approve"), json!({})).await.0, 200);
        assert_eq!(server.post(&checker, &format!("/api/v1/rules/{id}/activate"), json!({})).await.0, 200);
    }
    let (mut held, mut overflow) = (0, 0);
    for (id, price, method) in &orders {
        let (_, again) = server.post(&server.admin, "/api/v1/orders", body(format!("{id}-again"), price, method)).await;
        held += i32::from(again["status"] == "on_hold");
        overflow += i32::from(again["lines"][0]["allocations"][0]["location"] == "overflow");
    }
    assert_eq!((held, overflow), (4, 3));
}

/// Also the replay's reads on each engine: the page of orders after an id, their lines.
async fn a_tagging_rule_in_force_tags_the_orders_it_holds_for(server: Server) {
    shop(&server, 50).await;
    let author = server.ordo.access().create_token(Role::Ops, "ops-ana", &Actor::system()).await.unwrap().token;
    let draft = json!({
        "name": "bulk-buyers", "kind": "tagging",
        "condition": "order.lines.exists(l, l.quantity >= 3)", "action": {"tag": "bulk"}
    });
    let (_, drafted) = server.post(&author, "/api/v1/rules", draft).await;
    let at = |action: &str| format!("/api/v1/rules/{}/{action}", drafted["id"].as_str().unwrap());

    // Before: a replay tells which of yesterday's orders it would tag.
    let mut earlier = order("E-1", json!([{"sku": "MUG-1", "quantity": 4, "unit_price": "12.90"}]));
    earlier["placed_at"] = json!((Utc::now() - Duration::days(1)).to_rfc3339());
    assert_eq!(server.post(&server.admin, "/api/v1/orders", earlier).await.0, 201);
    let (_, replay) = server.post(&author, "/api/v1/rules/simulate", json!({"versions": [drafted["id"]], "days": 3})).await;
    assert_eq!(replay["tags_changed"]["count"], 1, "{replay}");
    assert_eq!(replay["tags_changed"]["examples"][0]["after"], "bulk");

    assert_eq!(server.post(&author, &at("submit"), json!({})).await.0, 200);
    assert_eq!(server.post(&server.admin, &at("approve"), json!({})).await.0, 200);
    assert_eq!(server.post(&server.admin, &at("activate"), json!({})).await.0, 200);

    let (_, big) = server.post(&server.admin, "/api/v1/orders", order("T-1", json!([{"sku": "MUG-1", "quantity": 3, "unit_price": "12.90"}]))).await;
    assert_eq!(big["tags"], json!([{"tag": "bulk", "rule": "rule bulk-buyers v1"}]), "{big}");
    let (_, stored) = server.get(&server.admin, &format!("/api/v1/orders/{}", big["id"].as_str().unwrap())).await;
    assert_eq!(stored["tags"], big["tags"]);
    let (_, small) = server.post(&server.admin, "/api/v1/orders", order("T-2", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]))).await;
    assert_eq!(small["tags"], json!([]), "{small}");
}

on_both_engines!(a_tagging_rule_in_force_tags_the_orders_it_holds_for, tagging_rules_tag_on_sqlite, tagging_rules_tag_on_postgres);

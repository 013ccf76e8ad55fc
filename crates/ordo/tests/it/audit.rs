//! The audit log: changes through the API are recorded with who, what, before and after and
//! the request; the chain holds under concurrent writers; `ordo audit verify` finds a record
//! edited, removed, moved or cut off in the database file itself.

use std::path::Path;

use ordo_app::domain::access::Role;
use ordo_app::AuditVerdict;
use serde_json::{json, Value};

use crate::cli::ordo;
use crate::common::{on_both_engines, Server};

async fn changes_through_the_api_are_recorded_with_before_and_after(server: Server) {
    let t = &server.admin;
    let channel = json!({"code": "web", "name": "Web shop", "kind": "web", "currency": "EUR"});
    assert_eq!(server.post(t, "/api/v1/channels", channel).await.0, 201);
    let location = json!({"code": "central", "name": "Central", "kind": "warehouse", "priority": 1});
    assert_eq!(server.post(t, "/api/v1/locations", location).await.0, 201);
    let routing = json!({"allow_split": false, "locations": ["central"]});
    assert_eq!(server.put(t, "/api/v1/channels/web/routing", routing).await.0, 200);

    let finance = server.token(Role::Finance).await;
    let (status, records) = server.get(&finance, "/api/v1/audit?subject=channel:web").await;
    assert_eq!(status, 200, "{records}");
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    let routed = &records[0];
    assert_eq!(routed["action"], "channel.set_routing");
    assert_eq!(routed["actor"], "token:bootstrap admin");
    assert_eq!(routed["before"], r#"{"allow_split":true,"locations":[]}"#);
    assert_eq!(routed["after"], r#"{"allow_split":false,"locations":["central"]}"#);
    assert!(routed["request_id"].as_str().is_some_and(|id| id.len() == 36), "{routed}");
    assert_eq!(records[1]["action"], "channel.create");
    assert!(records[0]["seq"].as_i64() > records[1]["seq"].as_i64(), "newest first");
    let (_, previous) = server.get(&finance, &format!("/api/v1/audit?limit=1&before={}", routed["seq"])).await;
    assert_eq!(routed["prev_hash"], previous[0]["hash"], "each record links to the one before");

    let (_, created) = server.get(&finance, "/api/v1/audit?action=location.").await;
    assert_eq!(created.as_array().unwrap().len(), 1, "{created}");
    let (_, page) = server.get(&finance, "/api/v1/audit?limit=1").await;
    let newest = page[0]["seq"].as_i64().unwrap();
    let (_, older) = server.get(&finance, &format!("/api/v1/audit?limit=2&before={newest}")).await;
    assert_eq!(older[0]["seq"].as_i64(), Some(newest - 1), "{older}");

    let warehouse = server.token(Role::Warehouse).await;
    assert_eq!(server.get(&warehouse, "/api/v1/audit").await.0, 403);
    let (status, refused) = server.get(&finance, "/api/v1/audit?limit=0").await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("limit")), "{refused}");
    assert!(matches!(server.ordo.verify_audit().await.unwrap(), AuditVerdict::Intact { .. }));
}

on_both_engines!(
    changes_through_the_api_are_recorded_with_before_and_after,
    api_changes_are_audited_on_sqlite,
    api_changes_are_audited_on_postgres
);

/// Orders, receipts and master data written at once from many tasks: every change is in the
/// chain once, and the chain holds.
async fn concurrent_writers_keep_one_unbroken_chain(server: Server) {
    let t = server.admin.clone();
    for body in [
        json!({"code": "web", "name": "Web shop", "kind": "web", "currency": "EUR"}),
        json!({"code": "central", "name": "Central", "kind": "warehouse", "priority": 1}),
        json!({"sku": "MUG-1", "name": "Mug", "unit_cost": "2.00"}),
    ] {
        let path = if body.get("sku").is_some() {
            "/api/v1/products"
        } else if body.get("priority").is_some() {
            "/api/v1/locations"
        } else {
            "/api/v1/channels"
        };
        assert_eq!(server.post(&t, path, body).await.0, 201);
    }
    let server = std::sync::Arc::new(server);
    let mut tasks = Vec::new();
    for n in 0..60 {
        let (server, t) = (server.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let (path, body) = if n % 3 == 0 {
                let receipt = json!({"sku": "MUG-1", "location": "central", "quantity": 2, "kind": "receipt", "reason": "delivery"});
                ("/api/v1/inventory/movements", receipt)
            } else {
                ("/api/v1/orders", order(&format!("W-{n}")))
            };
            let (status, answer) = server.post(&t, path, body).await;
            assert_eq!(status, 201, "{answer}");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let finance = server.token(Role::Finance).await;
    let (_, received) = server.get(&finance, "/api/v1/audit?action=order.receive&limit=500").await;
    assert_eq!(received.as_array().unwrap().len(), 40, "one record per order");
    let (_, moved) = server.get(&finance, "/api/v1/audit?action=stock.move&limit=500").await;
    assert_eq!(moved.as_array().unwrap().len(), 20, "one record per receipt");
    match server.ordo.verify_audit().await.unwrap() {
        // The bootstrap token, three master records, 60 writes, the finance token, and a
        // backorder filled by a receipt for some of the orders.
        AuditVerdict::Intact { records } => assert!(records >= 65, "{records}"),
        broken => panic!("{broken:?}"),
    }
}

fn order(external_id: &str) -> Value {
    json!({
        "channel": "web", "external_id": external_id, "placed_at": "2026-11-27T10:00:00Z", "currency": "EUR",
        "customer": {"email": "ana@example.com", "name": "Ana"},
        "ship_to": {"name": "Ana", "line1": "Main St 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        "shipping_method": "standard", "payment_status": "captured",
        "lines": [{"sku": "MUG-1", "quantity": 1, "unit_price": "9.90"}]
    })
}

on_both_engines!(
    concurrent_writers_keep_one_unbroken_chain,
    concurrent_writers_keep_the_chain_on_sqlite,
    concurrent_writers_keep_the_chain_on_postgres
);

/// A database made at the command line with a few records in its audit log, and a clean copy
/// of the file for each way of tampering with it.
fn audited_database(dir: &Path) -> String {
    let database = format!("sqlite://{}", dir.join("ordo.db").display());
    assert!(ordo(dir).args(["init", "--database", &database]).output().unwrap().status.success());
    let csv = "code,name,kind,currency\nweb,Web shop,web,EUR\namz,Amazon,marketplace,EUR\nb2b,B2B portal,b2b,EUR\n";
    std::fs::write(dir.join("channels.csv"), csv).unwrap();
    let out = ordo(dir).args(["import", "channels", "channels.csv", "--database", &database]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    database
}

/// Moves everything committed into the database file itself, so a copy of the file holds it.
async fn checkpoint(database: &str) {
    run_sql(database, &["PRAGMA wal_checkpoint(TRUNCATE)"]).await;
}

fn verify(dir: &Path, database: &str) -> (Option<i32>, String) {
    let out = ordo(dir).args(["audit", "verify", "--database", database]).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `sql` on the SQLite file behind `database` directly, as someone with the file would.
async fn run_sql(database: &str, sql: &[&str]) {
    let pool = sqlx::SqlitePool::connect(database).await.unwrap();
    for statement in sql {
        sqlx::query(sqlx::AssertSqlSafe(*statement)).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

#[tokio::test]
async fn audit_verify_names_the_first_record_edited_removed_swapped_or_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let clean = audited_database(dir.path());
    // The three initial rules, the bootstrap token and three channels.
    assert_eq!(verify(dir.path(), &clean), (Some(0), "audit log intact: 7 records\n".into()));

    let cases: [(&str, &[&str], &str); 4] = [
        (
            "edited",
            &[r#"UPDATE audit_log SET after_state = '{"code":"web","name":"Someone else"}' WHERE seq = 2"#],
            "audit log broken at record 2: its content does not match its hash (edited)",
        ),
        ("removed", &["DELETE FROM audit_log WHERE seq = 2"], "audit log broken at record 3: expected record 2 here"),
        (
            "swapped",
            &[
                "UPDATE audit_log SET seq = -1 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = -1",
            ],
            "audit log broken at record 2: it does not link to the record before it",
        ),
        ("cut off", &["DELETE FROM audit_log WHERE seq = 7"], "audit log broken at record 7: the log ends before record 7"),
    ];
    checkpoint(&clean).await;
    let pool = sqlx::SqlitePool::connect(&clean).await.unwrap();
    let refused = sqlx::query("DELETE FROM audit_log WHERE seq = 2").execute(&pool).await.unwrap_err();
    assert!(refused.to_string().contains("the audit log is append-only"), "{refused}");
    pool.close().await;
    let source = dir.path().join("ordo.db");
    for (how, sql, expected) in cases {
        let copy = dir.path().join(format!("{}.db", how.replace(' ', "-")));
        std::fs::copy(&source, &copy).unwrap();
        let database = format!("sqlite://{}", copy.display());
        // The schema refuses edits and deletes; someone with the file drops its guards first.
        run_sql(&database, &["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"]).await;
        run_sql(&database, sql).await;
        let (code, printed) = verify(dir.path(), &database);
        assert_eq!(code, Some(1), "{how}: {printed}");
        assert!(printed.starts_with(expected), "{how}: {printed}");
    }
    assert_eq!(verify(dir.path(), &clean).0, Some(0), "the original is untouched");
}

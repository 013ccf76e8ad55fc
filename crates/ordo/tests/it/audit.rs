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
    assert!(matches!(server.ordo.audit().verify_audit().await.unwrap(), AuditVerdict::Intact { .. }));
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
    match server.ordo.audit().verify_audit().await.unwrap() {
        // The bootstrap token, three master records, 60 writes, the finance token, and a
        // backorder filled by a receipt for some of the orders.
        AuditVerdict::Intact { records, .. } => assert!(records >= 65, "{records}"),
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
    let (code, printed) = verify(dir.path(), &clean);
    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.starts_with("audit log intact: 7 records\n  7 records are hashed without the audit key"), "{printed}");

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

/// The audit key the keyed tests configure, as an operator would in the environment.
const AUDIT_KEY: &str = "an audit key of at least thirty-two characters";

fn keyed(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = ordo(dir).env("ORDO_AUDIT_KEY", AUDIT_KEY).args(args).output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Every record, in chain order, as the file holds it.
async fn records(database: &str) -> Vec<ordo_app::domain::audit::AuditRecord> {
    let pool = sqlx::SqlitePool::connect(database).await.unwrap();
    type Row = (i64, chrono::DateTime<chrono::Utc>, String, String, String, Option<String>, Option<String>, Option<String>, Option<String>, String, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, at, actor, action, subject, before_state, after_state, reason, request_id, prev_hash, hash FROM audit_log ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.into_iter()
        .map(|(seq, at, actor, action, subject, before, after, reason, request_id, prev_hash, hash)| ordo_app::domain::audit::AuditRecord {
            seq, at, actor, action, subject, before, after, reason, request_id, prev_hash, hash,
        })
        .collect()
}

/// Rewrites the whole log as `records`, with the head at its end, as someone with the file
/// and the (public) hashing rules would.
async fn rewrite(database: &str, records: &[ordo_app::domain::audit::AuditRecord]) {
    let pool = sqlx::SqlitePool::connect(database).await.unwrap();
    for statement in ["DROP TRIGGER IF EXISTS audit_log_no_update", "DROP TRIGGER IF EXISTS audit_log_no_delete", "DROP TRIGGER IF EXISTS audit_log_head", "DELETE FROM audit_log"] {
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&pool).await.unwrap();
    }
    for r in records {
        sqlx::query("INSERT INTO audit_log (seq, at, actor, action, subject, before_state, after_state, reason, request_id, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
            .bind(r.seq).bind(r.at).bind(&r.actor).bind(&r.action).bind(&r.subject).bind(&r.before).bind(&r.after).bind(&r.reason).bind(&r.request_id).bind(&r.prev_hash).bind(&r.hash)
            .execute(&pool).await.unwrap();
    }
    let last = records.last().unwrap();
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2").bind(last.seq).bind(&last.hash).execute(&pool).await.unwrap();
    pool.close().await;
}

/// Links `records` again from the first on and hashes each as anyone can: plain SHA-256.
fn rehash(records: &mut [ordo_app::domain::audit::AuditRecord]) {
    let mut prev = ordo_app::domain::audit::GENESIS.to_owned();
    for (i, record) in records.iter_mut().enumerate() {
        record.seq = i as i64 + 1;
        record.prev_hash = prev.clone();
        record.hash = record.expected_hash();
        prev.clone_from(&record.hash);
    }
}

#[tokio::test]
async fn signed_checkpoints_find_cut_tails_rewound_heads_rehashing_and_renumbering() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());
    assert!(keyed(dir.path(), &["init", "--database", &database]).0 == Some(0));
    std::fs::write(dir.path().join("channels.csv"), "code,name,kind,currency\nweb,Web shop,web,EUR\namz,Amazon,marketplace,EUR\nb2b,B2B portal,b2b,EUR\n").unwrap();
    assert_eq!(keyed(dir.path(), &["import", "channels", "channels.csv", "--database", &database]).0, Some(0));
    let (code, printed) = keyed(dir.path(), &["audit", "checkpoint", "--database", &database, "--dir", "checkpoints"]);
    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.contains("checkpoint of record 7"), "{printed}");
    // More happens after the checkpoint.
    std::fs::write(dir.path().join("more.csv"), "code,name,kind,currency\nsoc,Social,social,EUR\n").unwrap();
    assert_eq!(keyed(dir.path(), &["import", "channels", "more.csv", "--database", &database]).0, Some(0));
    let (code, printed) = keyed(dir.path(), &["audit", "verify", "--database", &database, "--checkpoints", "checkpoints"]);
    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.contains("intact: 8 records") && printed.contains("1 signed checkpoint found unchanged") && !printed.contains("without the audit key"), "{printed}");
    checkpoint(&database).await;
    let clean = records(&database).await;
    assert!(clean.iter().all(|r| r.hash.starts_with("hmac:")), "keyed when a key is configured");

    let source = dir.path().join("ordo.db");
    let tamper = |how: &str| {
        let copy = dir.path().join(format!("{how}.db"));
        std::fs::copy(&source, &copy).unwrap();
        format!("sqlite://{}", copy.display())
    };
    // 1. The tail cut off and the head moved back with it: the chain alone looks whole.
    let cut = tamper("cut");
    rewrite(&cut, &clean[..5]).await;
    let (code, printed) = keyed(dir.path(), &["audit", "verify", "--database", &cut]);
    assert_eq!(code, Some(0), "without checkpoints a consistent cut passes: {printed}");
    let (code, printed) = keyed(dir.path(), &["audit", "verify", "--database", &cut, "--checkpoints", "checkpoints"]);
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains("broken at record 7") && printed.contains("checkpoint"), "{printed}");

    // 2. A record edited and every later hash recomputed the way anyone can.
    let edited = tamper("edited");
    let mut forged = clean.clone();
    forged[2].after = Some(r#"{"code":"web","name":"Someone else"}"#.to_owned());
    rehash(&mut forged);
    rewrite(&edited, &forged).await;
    let (code, printed) = keyed(dir.path(), &["audit", "verify", "--database", &edited, "--checkpoints", "checkpoints"]);
    assert_eq!(code, Some(1), "{printed}");
    // Unkeyed rehashing of a keyed chain is plain to see; the checkpoint would find it too.
    let (code, printed) = verify(dir.path(), &edited);
    assert_eq!(code, Some(0), "without the key the rewritten chain looks whole: {printed}");

    // 3. A record removed and the rest renumbered and rehashed.
    let renumbered = tamper("renumbered");
    let mut forged = clean.clone();
    forged.remove(3);
    rehash(&mut forged);
    rewrite(&renumbered, &forged).await;
    let (code, printed) = keyed(dir.path(), &["audit", "verify", "--database", &renumbered, "--checkpoints", "checkpoints"]);
    assert_eq!(code, Some(1), "{printed}");

    // A forged checkpoint is refused, and so is one signed with another key.
    let forged_dir = dir.path().join("forged");
    std::fs::create_dir(&forged_dir).unwrap();
    let mut fake = ordo_app::domain::audit::Checkpoint::sign(7, &forged[6].hash, chrono::Utc::now(), &ordo_app::domain::audit::ChainKey::from_text("a key the attacker made up, thirty-two chars").unwrap());
    std::fs::write(forged_dir.join("c.json"), serde_json::to_string(&fake).unwrap()).unwrap();
    let (code, printed) = keyed(dir.path(), &["audit", "verify", "--database", &renumbered, "--checkpoints", "forged"]);
    assert_ne!(code, Some(0), "{printed}");
    assert!(printed.contains("another key"), "{printed}");
    fake.public_key = ordo_app::domain::audit::ChainKey::from_text(AUDIT_KEY).unwrap().public_key();
    std::fs::write(forged_dir.join("c.json"), serde_json::to_string(&fake).unwrap()).unwrap();
    let (code, printed) = keyed(dir.path(), &["audit", "verify", "--database", &renumbered, "--checkpoints", "forged"]);
    assert_ne!(code, Some(0), "{printed}");
    assert!(printed.contains("signature"), "{printed}");
    let (code, _) = keyed(dir.path(), &["audit", "verify", "--database", &database, "--checkpoints", "checkpoints"]);
    assert_eq!(code, Some(0), "the original is untouched");
}

#[tokio::test]
async fn a_checkpoint_can_be_sent_to_another_system() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());
    assert_eq!(keyed(dir.path(), &["init", "--database", &database]).0, Some(0));
    let (url, got) = crate::common::receiver("/anchors").await;
    let (code, printed) = {
        let (dir, database, url) = (dir.path().to_owned(), database.clone(), url.clone());
        tokio::task::spawn_blocking(move || keyed(&dir, &["audit", "checkpoint", "--database", &database, "--url", &url])).await.unwrap()
    };
    assert_eq!(code, Some(0), "{printed}");
    let body = got.lock().unwrap().first().cloned().expect("the checkpoint was posted");
    let checkpoint: ordo_app::domain::audit::Checkpoint = serde_json::from_str(&body).unwrap();
    assert_eq!(checkpoint.verify(&ordo_app::domain::audit::ChainKey::from_text(AUDIT_KEY).unwrap()), Ok(()), "signed");
    // What the other system kept proves the log later, like a file does.
    std::fs::create_dir(dir.path().join("kept")).unwrap();
    std::fs::write(dir.path().join("kept/c.json"), &body).unwrap();
    assert_eq!(keyed(dir.path(), &["audit", "verify", "--database", &database, "--checkpoints", "kept"]).0, Some(0));
    let (code, _) = keyed(dir.path(), &["audit", "checkpoint", "--database", &database]);
    assert_ne!(code, Some(0), "a place to put it is needed");
}

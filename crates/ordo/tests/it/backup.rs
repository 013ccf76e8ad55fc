//! `ordo backup` while `ordo serve` takes orders, then `ordo restore` into an empty database:
//! the restored database verifies, and holds every order acknowledged before the backup began.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;


use crate::cli::{ordo, Serving};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn backup_under_load_restores_every_acknowledged_order(source: String, target: String) {
    backup_under_load_restores_in(source, target, None).await;
}

/// As above, with `format` for ORDO_BACKUP_FORMAT (`export`: Ordo's own, without pg_dump).
async fn backup_under_load_restores_in(source: String, target: String, format: Option<&'static str>) {
    let dir = tempfile::tempdir().unwrap();
    let out = ordo(dir.path()).args(["init", "--database", &source, "--token-file", "admin.token"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let admin = std::fs::read_to_string(dir.path().join("admin.token")).unwrap().trim().to_owned();
    let server = Serving::start(dir.path(), &source);
    let client = reqwest::Client::new();
    for (path, body) in crate::cli::mug_shop() {
        let answer = client.post(format!("{}{path}", server.1)).bearer_auth(&admin).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), 201, "{path}: {}", answer.text().await.unwrap());
    }

    // Four clients place orders without pause; each acknowledged order is noted.
    let acknowledged: Arc<Mutex<Vec<(String, std::time::Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (client, base, admin, acknowledged, stop) = (client.clone(), server.1.clone(), admin.clone(), acknowledged.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let id = format!("B-{c}-{n}");
                    let order = crate::cli::one_mug_order(&id);
                    let answer = client.post(format!("{base}/api/v1/orders")).bearer_auth(&admin).json(&order).send().await.unwrap();
                    if answer.status() == 201 {
                        acknowledged.lock().unwrap().push((id, std::time::Instant::now()));
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;

    let began = std::time::Instant::now();
    let file = dir.path().join("shop.backup");
    let out = {
        let (dir, source, file) = (dir.path().to_owned(), source.clone(), file.clone());
        tokio::task::spawn_blocking(move || {
            let mut command = ordo(&dir);
            if let Some(format) = format {
                command.env("ORDO_BACKUP_FORMAT", format);
            }
            command.args(["backup", "--database", &source, "--to"]).arg(&file).output().unwrap()
        })
        .await
        .unwrap()
    };
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("backup of"), "{}", text(&out.stdout));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    drop(server);
    let before: Vec<String> = acknowledged.lock().unwrap().iter().filter(|(_, at)| *at < began).map(|(id, _)| id.clone()).collect();
    assert!(before.len() >= 20, "enough orders before the backup: {}", before.len());

    let again = ordo(dir.path()).args(["backup", "--database", &source, "--to"]).arg(&file).output().unwrap();
    assert!(!again.status.success(), "a backup never overwrites");

    let out = ordo(dir.path()).args(["restore"]).arg(&file).args(["--database", &target]).output().unwrap();
    let printed = text(&out.stdout);
    assert!(out.status.success(), "{printed}{}", text(&out.stderr));
    assert!(printed.contains("every table as the manifest says") && printed.contains("audit log intact"), "{printed}");
    let out = ordo(dir.path()).args(["restore"]).arg(&file).args(["--database", &target]).output().unwrap();
    assert!(!out.status.success(), "a restore never writes over a database");

    let restored = ordo_app::Ordo::open_initialised(&target, &ordo_app::StorageOptions::default(), ordo_app::Settings::default()).await.unwrap();
    for id in &before {
        assert!(restored.orders().order_by_external_id("web", id).await.is_ok(), "order {id}, acknowledged before the backup began, is in the restored database");
    }
    assert!(restored.ledger().check_ledger().await.unwrap().holds());
    restored.close().await;
}

#[tokio::test]
async fn a_sqlite_backup_under_load_restores_every_acknowledged_order() {
    let dir = tempfile::tempdir().unwrap();
    let source = format!("sqlite://{}", dir.path().join("shop.db").display());
    let target = format!("sqlite://{}", dir.path().join("restored.db").display());
    backup_under_load_restores_every_acknowledged_order(source, target).await;
}

#[tokio::test]
async fn a_postgres_backup_under_load_restores_every_acknowledged_order() {
    let Some(base) = crate::common::postgres_url() else {
        eprintln!("skipped: set ORDO_TEST_POSTGRES_URL to back up and restore PostgreSQL");
        return;
    };
    let source = ordo_storage::testing::create_postgres_database(&base).await.unwrap();
    let target = ordo_storage::testing::create_postgres_database(&base).await.unwrap();
    backup_under_load_restores_every_acknowledged_order(source, target).await;
}

#[tokio::test]
async fn serve_backs_up_on_a_schedule_and_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("shop.db").display());
    assert!(ordo(dir.path()).args(["init", "--database", &database]).output().unwrap().status.success());
    let mut child = ordo(dir.path())
        .args(["serve", "--database", &database, "--listen", "127.0.0.1:0", "--backup-every", "1s", "--backup-dir", "nightly", "--keep", "2"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let folder = dir.path().join("nightly");
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let taken: Vec<String> = std::fs::read_dir(&folder).map(|e| e.filter_map(|e| e.ok()).map(|e| e.file_name().into_string().unwrap()).collect()).unwrap_or_default();
        if taken.iter().filter(|n| n.ends_with(".backup")).count() >= 2 {
            // A few more turns, so the oldest must have been deleted.
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let backups: Vec<String> = std::fs::read_dir(&folder).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name().into_string().unwrap()).collect();
    let files = backups.iter().filter(|n| n.ends_with(".backup")).count();
    let manifests = backups.iter().filter(|n| n.ends_with(".manifest.json")).count();
    assert!(files == 2 && manifests == 2, "the newest two are kept, each with its manifest: {backups:?}");
}

#[tokio::test]
async fn a_postgres_backup_without_pg_dump_is_ordos_own_export_and_restores_the_same() {
    let Some(base) = crate::common::postgres_url() else {
        eprintln!("skipped: set ORDO_TEST_POSTGRES_URL to export and restore PostgreSQL");
        return;
    };
    let source = ordo_storage::testing::create_postgres_database(&base).await.unwrap();
    let target = ordo_storage::testing::create_postgres_database(&base).await.unwrap();
    backup_under_load_restores_in(source, target, Some("export")).await;
}

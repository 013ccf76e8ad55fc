//! `ordo backup` and `ordo restore`: a consistent copy of the whole database while it serves,
//! with a manifest of what it holds, and a restore into an empty database that checks the
//! copy against the manifest, the audit chain and the books before saying it is good.
//!
//! SQLite is copied with `VACUUM INTO` (the database as of one read snapshot; writers go on).
//! PostgreSQL is dumped with `pg_dump` in the custom format, on a snapshot exported from a
//! transaction that also counts the rows, so the manifest and the dump describe one moment.
//! Where `pg_dump` is not installed (or `ORDO_BACKUP_FORMAT=export` asks for it), the same
//! transaction writes Ordo's own export instead: every table's rows as JSON, parents first.

use std::path::{Path, PathBuf};

use ordo_app::{AuditVerdict, Ordo, Settings};
use ordo_storage::{Db, Inventory, StorageOptions};

/// What a backup wrote.
#[derive(Debug)]
pub struct Backup {
    pub file: PathBuf,
    pub manifest: PathBuf,
    pub inventory: Inventory,
}

/// The manifest kept beside a backup `file`.
pub fn manifest_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".manifest.json");
    file.with_file_name(name)
}

/// Backs `url` up to `to` (which must not exist) and writes its manifest beside it.
pub async fn backup(url: &str, storage: &StorageOptions, to: &Path) -> Result<Backup, String> {
    if to.exists() {
        return Err(format!("{} exists already: a backup never overwrites a file", to.display()));
    }
    let db = Db::open_initialised(url, storage).await.map_err(|e| e.to_string())?;
    let partial = to.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let inventory = match db.engine() {
        ordo_storage::Engine::Sqlite => {
            db.sqlite_copy_to(&partial).await.map_err(|e| format!("cannot copy the database: {e}"))?;
            // The copy itself is counted: the manifest describes exactly the file.
            let copy = Db::open_initialised(&format!("sqlite://{}", partial.display()), storage).await.map_err(|e| e.to_string())?;
            let inventory = copy.read().await.map_err(|e| e.to_string())?.inventory().await.map_err(|e| e.to_string())?;
            copy.close().await;
            inventory
        }
        ordo_storage::Engine::Postgres if !use_pg_dump() => {
            let (mut snapshot, _) = db.exported_snapshot().await.map_err(|e| e.to_string())?;
            let inventory = snapshot.inventory().await.map_err(|e| e.to_string())?;
            let version = db.schema_version().await.map_err(|e| e.to_string())?;
            let mut out = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(|e| format!("cannot write {}: {e}", partial.display()))?);
            let mut write = |line: &str| -> Result<(), String> {
                use std::io::Write;
                out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")).map_err(|e| format!("cannot write {}: {e}", partial.display()))
            };
            write(ordo_storage::EXPORT_HEADER)?;
            write(&serde_json::json!({"schema_version": version}).to_string())?;
            for table in ordo_storage::ALL_TABLES.iter().rev() {
                let rows = snapshot.export_table(table).await.map_err(|e| e.to_string())?;
                write(&serde_json::json!({"table": table, "rows": rows.len()}).to_string())?;
                for row in rows {
                    write(&row)?;
                }
            }
            std::io::Write::flush(&mut out).map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
            inventory
        }
        ordo_storage::Engine::Postgres => {
            let (mut snapshot, name) = db.exported_snapshot().await.map_err(|e| e.to_string())?;
            let inventory = snapshot.inventory().await.map_err(|e| e.to_string())?;
            let (url, partial) = (url.to_owned(), partial.clone());
            let dumped = tokio::task::spawn_blocking(move || {
                std::process::Command::new("pg_dump")
                    .args(["--format=custom", "--no-owner", "--no-privileges", "--snapshot", &name, "--file"])
                    .arg(&partial)
                    .arg(&url)
                    .output()
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot run pg_dump (install the PostgreSQL client tools): {e}"))?;
            drop(snapshot);
            if !dumped.status.success() {
                return Err(format!("pg_dump failed: {}", String::from_utf8_lossy(&dumped.stderr).trim()));
            }
            inventory
        }
    };
    db.close().await;
    sync(&partial)?;
    std::fs::rename(&partial, to).map_err(|e| format!("cannot name the backup {}: {e}", to.display()))?;
    let manifest = manifest_path(to);
    let text = serde_json::to_string_pretty(&inventory).map_err(|e| e.to_string())?;
    std::fs::write(&manifest, text).map_err(|e| format!("cannot write {}: {e}", manifest.display()))?;
    sync(&manifest)?;
    Ok(Backup { file: to.to_owned(), manifest, inventory })
}

/// Whether PostgreSQL is backed up with `pg_dump` (installed, and not told otherwise).
fn use_pg_dump() -> bool {
    if std::env::var("ORDO_BACKUP_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("export")) {
        return false;
    }
    std::process::Command::new("pg_dump").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Each table of an export with its rows, as JSON lines.
type ExportedTables = Vec<(String, Vec<String>)>;

/// Reads Ordo's own export: the schema version it was made at, and each table's rows.
fn read_export(file: &Path) -> Result<(i64, ExportedTables), String> {
    use std::io::BufRead;
    let bad = |what: &str| format!("{} is not a whole Ordo export: {what}", file.display());
    let reader = std::io::BufReader::new(std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?);
    let mut lines = reader.lines();
    let mut next = || lines.next().transpose().map_err(|e| format!("cannot read {}: {e}", file.display()));
    if next()?.as_deref() != Some(ordo_storage::EXPORT_HEADER) {
        return Err(bad("no header"));
    }
    let head: serde_json::Value = serde_json::from_str(&next()?.ok_or_else(|| bad("no schema version"))?).map_err(|_| bad("schema version"))?;
    let version = head["schema_version"].as_i64().ok_or_else(|| bad("schema version"))?;
    let mut tables = Vec::new();
    while let Some(line) = next()? {
        let table: serde_json::Value = serde_json::from_str(&line).map_err(|_| bad("a table's heading"))?;
        let (Some(name), Some(count)) = (table["table"].as_str(), table["rows"].as_u64()) else { return Err(bad("a table's heading")) };
        let mut rows = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1_000_000));
        for _ in 0..count {
            rows.push(next()?.ok_or_else(|| bad("it ends inside a table"))?);
        }
        tables.push((name.to_owned(), rows));
    }
    Ok((version, tables))
}

fn sync(path: &Path) -> Result<(), String> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| format!("cannot flush {}: {e}", path.display()))
}

/// What a restore found when it checked the restored database.
#[derive(Debug)]
pub struct Restored {
    /// Tables whose row count differs from the manifest: (table, manifest, restored).
    pub count_mismatches: Vec<(String, i64, i64)>,
    /// Whether the manifest was found beside the file.
    pub had_manifest: bool,
    pub tables: usize,
    pub rows: i64,
    pub audit: AuditVerdict,
    pub books_balance: bool,
}

impl Restored {
    pub fn holds(&self) -> bool {
        self.count_mismatches.is_empty() && matches!(self.audit, AuditVerdict::Intact { .. }) && self.books_balance
    }
}

/// Restores the backup `file` into the empty database `url`, then checks it.
pub async fn restore(file: &Path, url: &str, storage: &StorageOptions, settings: Settings) -> Result<Restored, String> {
    let mut head = [0u8; 16];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let n = f.read(&mut head).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        if n < 5 {
            return Err(format!("{} is not an Ordo backup", file.display()));
        }
    }
    let sqlite_file = head.starts_with(b"SQLite format 3\0");
    let pg_dump = head.starts_with(b"PGDMP");
    let export = head.starts_with(ordo_storage::EXPORT_HEADER.as_bytes());
    let manifest: Option<Inventory> = match std::fs::read_to_string(manifest_path(file)) {
        Ok(text) => Some(serde_json::from_str(&text).map_err(|e| format!("{} is not a backup manifest: {e}", manifest_path(file).display()))?),
        Err(_) => None,
    };
    if url.starts_with("sqlite:") {
        if !sqlite_file {
            return Err(format!("{} is not a SQLite backup; restore it into PostgreSQL", file.display()));
        }
        let path = sqlite_path(url)?;
        if path.exists() && std::fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(true) {
            return Err(format!("{} exists already: restore into a database that does not exist yet", path.display()));
        }
        let partial = path.with_extension("restoring");
        std::fs::copy(file, &partial).map_err(|e| format!("cannot copy the backup to {}: {e}", partial.display()))?;
        sync(&partial)?;
        std::fs::rename(&partial, &path).map_err(|e| format!("cannot name {}: {e}", path.display()))?;
    } else {
        if !pg_dump && !export {
            return Err(format!("{} is not a PostgreSQL backup; restore it into SQLite", file.display()));
        }
        let target = Db::open(url, storage).await.map_err(|e| e.to_string())?;
        let empty = target.is_empty().await.map_err(|e| e.to_string())?;
        if !empty {
            target.close().await;
            return Err("the database is not empty: restore into a new, empty database".to_owned());
        }
        if export {
            let (version, tables) = read_export(file)?;
            target.migrate().await.map_err(|e| e.to_string())?;
            let made = target.schema_version().await.map_err(|e| e.to_string())?;
            if made != version {
                target.close().await;
                return Err(format!(
                    "the export was made at schema version {version} and this Ordo makes {made}: restore it with the Ordo that made it, then upgrade"
                ));
            }
            let imported = target.import_tables(&tables).await.map_err(|e| format!("cannot load the export: {e}"));
            target.close().await;
            imported?;
        } else {
            target.close().await;
            let (file, url) = (file.to_owned(), url.to_owned());
            let restored = tokio::task::spawn_blocking(move || {
                std::process::Command::new("pg_restore")
                    .args(["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname"])
                    .arg(&url)
                    .arg(&file)
                    .output()
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot run pg_restore (install the PostgreSQL client tools): {e}"))?;
            if !restored.status.success() {
                return Err(format!("pg_restore failed: {}", String::from_utf8_lossy(&restored.stderr).trim()));
            }
        }
    }
    // Counted before Ordo opens it (and perhaps brings its schema up to date).
    let db = Db::open_initialised(url, storage).await.map_err(|e| e.to_string())?;
    let inventory = db.read().await.map_err(|e| e.to_string())?.inventory().await.map_err(|e| e.to_string())?;
    db.close().await;
    let count_mismatches = match &manifest {
        Some(kept) => kept
            .tables
            .iter()
            .filter_map(|(table, count)| {
                let restored = inventory.tables.get(table).copied().unwrap_or(0);
                (restored != *count).then(|| (table.clone(), *count, restored))
            })
            .collect(),
        None => Vec::new(),
    };
    let ordo = Ordo::open_initialised(url, storage, settings).await.map_err(|e| e.to_string())?;
    let audit = ordo.audit().verify_audit().await.map_err(|e| e.to_string())?;
    let books_balance = ordo.ledger().check_ledger().await.map_err(|e| e.to_string())?.holds();
    ordo.close().await;
    Ok(Restored {
        count_mismatches,
        had_manifest: manifest.is_some(),
        tables: inventory.tables.len(),
        rows: inventory.tables.values().sum(),
        audit,
        books_balance,
    })
}

/// The file behind a `sqlite://PATH` URL.
fn sqlite_path(url: &str) -> Result<PathBuf, String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(format!("{url} names no file to restore into"));
    }
    Ok(PathBuf::from(path))
}

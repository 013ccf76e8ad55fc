//! Test support: a fresh, empty database per test run on either engine.

use crate::{Db, StorageError, StorageOptions};

/// A migrated database that nothing else uses, and the URL it lives at. On SQLite a file in
/// `dir`; on PostgreSQL (when `postgres_url` is given) a new database created next to the
/// one the URL names.
pub async fn fresh_database(dir: &std::path::Path, postgres_url: Option<&str>) -> Result<(Db, String), StorageError> {
    let (db, url) = empty_database(dir, postgres_url).await?;
    db.migrate().await?;
    Ok((db, url))
}

/// [`fresh_database`] with its schema as migration `version` left it, for upgrade tests:
/// fill it as an older Ordo would have, then [`Db::migrate`].
pub async fn database_at_version(
    dir: &std::path::Path,
    postgres_url: Option<&str>,
    version: i64,
) -> Result<(Db, String), StorageError> {
    let (db, url) = empty_database(dir, postgres_url).await?;
    match &db {
        Db::Sqlite(pool, ..) => crate::SQLITE_MIGRATIONS.run_to(version, pool).await?,
        Db::Postgres(pool, _) => crate::POSTGRES_MIGRATIONS.run_to(version, pool).await?,
    }
    Ok((db, url))
}

async fn empty_database(dir: &std::path::Path, postgres_url: Option<&str>) -> Result<(Db, String), StorageError> {
    let url = match postgres_url {
        None => format!("sqlite://{}", dir.join("ordo-test.db").display()),
        Some(base) => create_postgres_database(base).await?,
    };
    Ok((Db::open(&url, &StorageOptions::default()).await?, url))
}

/// Creates an empty PostgreSQL database beside the one `base` names; returns its URL.
pub async fn create_postgres_database(base: &str) -> Result<String, StorageError> {
    let admin = Db::open(base, &StorageOptions { max_connections: 1, ..StorageOptions::default() }).await?;
    let name = format!("ordo_test_{}", uuid::Uuid::now_v7().simple());
    if let Db::Postgres(pool, _) = &admin {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(pool).await?;
    }
    admin.close().await;
    let (prefix, rest) = base.rsplit_once('/').unwrap_or((base, ""));
    let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    Ok(format!("{prefix}/{name}{query}"))
}

/// The PostgreSQL URL tests should use, or `None` with a printed skip line.
pub fn postgres_url_or_skip(suite: &str) -> Option<String> {
    match std::env::var("ORDO_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("SKIP {suite} on PostgreSQL: ORDO_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

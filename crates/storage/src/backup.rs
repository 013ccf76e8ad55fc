//! What a backup needs of the database: a consistent copy of a SQLite file (`VACUUM INTO`, a
//! read transaction's snapshot, so writers go on), a PostgreSQL snapshot other sessions (such
//! as `pg_dump`) can share, and the row count of every table in one snapshot.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{on_engine, Db, StorageError, Tx, TxInner, ALL_TABLES};

/// Row counts by table, and where the audit chain ended: what a restore is checked against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Inventory {
    pub tables: BTreeMap<String, i64>,
    pub audit_seq: i64,
    pub audit_hash: String,
}

impl Db {
    /// Writes a consistent copy of this SQLite database to `to`, which must not exist, while
    /// other connections go on writing: the copy is the database as of the moment it began.
    pub async fn sqlite_copy_to(&self, to: &Path) -> Result<(), StorageError> {
        let Db::Sqlite(pool, ..) = self else {
            return Err(StorageError::Unavailable("a file copy is for SQLite; PostgreSQL is dumped with pg_dump".into()));
        };
        let target = to.to_str().ok_or_else(|| StorageError::Unavailable(format!("{} is not a UTF-8 path", to.display())))?;
        sqlx::query("VACUUM INTO $1").bind(target).execute(pool).await?;
        Ok(())
    }

    /// A read-only transaction on a snapshot other sessions can import (`pg_dump --snapshot`),
    /// and the snapshot's name. Keep the transaction open while they read.
    pub async fn exported_snapshot(&self) -> Result<(Tx, String), StorageError> {
        let Db::Postgres(pool, key) = self else {
            return Err(StorageError::Unavailable("exported snapshots are PostgreSQL's".into()));
        };
        let mut tx = pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let name: String = sqlx::query_scalar("SELECT pg_export_snapshot()").fetch_one(&mut *tx).await?;
        let tx = Tx { inner: TxInner::Postgres(crate::Conn::Transaction(tx)), _writer_turn: None, audit_key: key.clone() };
        Ok((tx, name))
    }

    /// Whether the database holds no table at all: what a restore may write into.
    pub async fn is_empty(&self) -> Result<bool, StorageError> {
        let tables: i64 = match self {
            Db::Sqlite(pool, ..) => sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetch_one(pool).await?,
            Db::Postgres(pool, _) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()").fetch_one(pool).await?
            }
        };
        Ok(tables == 0)
    }
}

impl Tx {
    /// Every table's row count and the audit head, as this transaction sees them.
    pub async fn inventory(&mut self) -> Result<Inventory, StorageError> {
        let mut tables = BTreeMap::new();
        for table in ALL_TABLES {
            // Table names come from the code, never from input.
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let count: i64 = on_engine!(self, |conn| sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(conn).await?);
            tables.insert((*table).to_owned(), count);
        }
        let (audit_seq, audit_hash) = self.audit_head().await?;
        Ok(Inventory { tables, audit_seq, audit_hash })
    }
}

/// The first line of Ordo's own PostgreSQL export, which names it and the schema it fits.
pub const EXPORT_HEADER: &str = "ordo export v1";

impl Db {
    /// The number of the last migration the database has run.
    pub async fn schema_version(&self) -> Result<i64, StorageError> {
        let sql = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations";
        Ok(match self {
            Db::Sqlite(pool, ..) => sqlx::query_scalar(sql).fetch_one(pool).await?,
            Db::Postgres(pool, _) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        })
    }

    /// Loads Ordo's own export (what [`Tx::export_table`] gave, table by table, parents first)
    /// into this PostgreSQL database, whose schema is already made: in one transaction, the
    /// rows the schema seeded replaced, identity counters moved past the rows loaded.
    pub async fn import_tables(&self, tables: &[(String, Vec<String>)]) -> Result<(), StorageError> {
        let Db::Postgres(pool, _) = self else {
            return Err(StorageError::Unavailable("Ordo's own export is restored into PostgreSQL".into()));
        };
        let mut tx = pool.begin().await?;
        // The rows are loaded as they were: the triggers that derive rows (the change feed, the
        // audit head) stay off until the end, and the seeded rows go first.
        for (table, _) in tables {
            known_table(table)?;
            sqlx::query(sqlx::AssertSqlSafe(format!("ALTER TABLE {table} DISABLE TRIGGER USER"))).execute(&mut *tx).await?;
        }
        for (table, _) in tables.iter().rev() {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
        }
        for (table, rows) in tables {
            for chunk in rows.chunks(1000) {
                let array = format!("[{}]", chunk.join(","));
                let sql = format!("INSERT INTO {table} OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_recordset(NULL::{table}, $1::json)");
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(array).execute(&mut *tx).await?;
            }
            let identities: Vec<String> = sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'",
            )
            .bind(table)
            .fetch_all(&mut *tx)
            .await?;
            for column in identities {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
            }
        }
        for (table, _) in tables {
            sqlx::query(sqlx::AssertSqlSafe(format!("ALTER TABLE {table} ENABLE TRIGGER USER"))).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A table Ordo knows, so its name may go into SQL.
fn known_table(table: &str) -> Result<(), StorageError> {
    if ALL_TABLES.contains(&table) {
        Ok(())
    } else {
        Err(StorageError::Corrupt(format!("the export names a table Ordo does not have: {table:?}")))
    }
}

impl Tx {
    /// Every row of `table` as JSON text, on PostgreSQL: Ordo's own export when `pg_dump` is
    /// not at hand.
    pub async fn export_table(&mut self, table: &str) -> Result<Vec<String>, StorageError> {
        known_table(table)?;
        let TxInner::Postgres(conn) = &mut self.inner else {
            return Err(StorageError::Unavailable("Ordo's own export is of PostgreSQL; SQLite is copied whole".into()));
        };
        let sql = format!("SELECT row_to_json(t)::text FROM {table} t");
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **conn).await?)
    }
}

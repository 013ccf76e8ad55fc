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

//! The audit log: records appended to the hash chain in the transaction of the change they
//! describe, and read back in chain order to verify or to show.

use chrono::{DateTime, Utc};
use ordo_domain::audit::{AuditEntry, AuditRecord};
use sqlx::AssertSqlSafe;

use crate::{on_engine, Engine, StorageError, Tx};

/// Which records to show, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// Actions starting with this: `order.` for everything done to orders.
    pub action: Option<String>,
    pub subject: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only records older than this one: the next page.
    pub before_seq: Option<i64>,
    pub limit: i64,
}

const COLUMNS: &str = "seq, at, actor, action, subject, before_state, after_state, reason, request_id, prev_hash, hash";

type Row = (i64, DateTime<Utc>, String, String, String, Option<String>, Option<String>, Option<String>, Option<String>, String, String);

fn record(row: Row) -> AuditRecord {
    let (seq, at, actor, action, subject, before, after, reason, request_id, prev_hash, hash) = row;
    AuditRecord { seq, at, actor, action, subject, before, after, reason, request_id, prev_hash, hash }
}

/// Rows per statement when appending: well inside both engines' parameter limits.
const CHUNK: usize = 1000;

impl Tx {
    /// Appends `entries` to the chain, in order: two statements whatever their number. Takes
    /// the head of the chain until the transaction ends (on PostgreSQL by locking it, on SQLite
    /// by being the one writer), so appenders queue here and the chain has one order whatever
    /// the number of servers.
    pub async fn append_audit(&mut self, entries: &[AuditEntry]) -> Result<(), StorageError> {
        if entries.is_empty() {
            return Ok(());
        }
        let head = match self.engine() {
            Engine::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
            Engine::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        };
        let (mut seq, mut hash): (i64, String) = on_engine!(self, |conn| sqlx::query_as(head).fetch_one(conn).await?);
        let mut records = Vec::with_capacity(entries.len());
        for entry in entries {
            seq += 1;
            let record = AuditRecord::chain(&hash, seq, entry, self.audit_key.as_deref());
            hash.clone_from(&record.hash);
            records.push(record);
        }
        for chunk in records.chunks(CHUNK) {
            let sql = format!("INSERT INTO audit_log ({COLUMNS}) {}", crate::values(self.engine(), chunk.len(), 11));
            on_engine!(self, |conn| {
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for r in chunk {
                    query = query
                        .bind(r.seq)
                        .bind(r.at)
                        .bind(&r.actor)
                        .bind(&r.action)
                        .bind(&r.subject)
                        .bind(&r.before)
                        .bind(&r.after)
                        .bind(&r.reason)
                        .bind(&r.request_id)
                        .bind(&r.prev_hash)
                        .bind(&r.hash);
                }
                query.execute(conn).await?.rows_affected()
            });
        }
        // The head moved with each row (a trigger).
        Ok(())
    }

    /// The hash of record `seq`, if the log holds it.
    pub async fn audit_hash(&mut self, seq: i64) -> Result<Option<String>, StorageError> {
        let sql = "SELECT hash FROM audit_log WHERE seq = $1";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(seq).fetch_optional(conn).await?))
    }

    /// Where the chain ends: the last record's number and hash.
    pub async fn audit_head(&mut self) -> Result<(i64, String), StorageError> {
        let sql = "SELECT seq, hash FROM audit_head WHERE id = 1";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_one(conn).await?))
    }

    /// Up to `limit` records in chain order, starting after `after_seq`: for walking the chain.
    pub async fn audit_records_after(&mut self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows: Vec<Row> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(after_seq).bind(limit).fetch_all(conn).await?);
        Ok(rows.into_iter().map(record).collect())
    }

    /// The records `query` selects, newest first.
    pub async fn audit_records(&mut self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StorageError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log \
             WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action LIKE $2) AND ($3 IS NULL OR subject = $3) \
               AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) AND ($6 IS NULL OR seq < $6) \
             ORDER BY seq DESC LIMIT $7"
        );
        let action = query.action.as_ref().map(|a| format!("{}%", a.replace('%', "")));
        let rows: Vec<Row> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql))
            .bind(&query.actor)
            .bind(&action)
            .bind(&query.subject)
            .bind(query.since)
            .bind(query.until)
            .bind(query.before_seq)
            .bind(query.limit)
            .fetch_all(conn)
            .await?);
        Ok(rows.into_iter().map(record).collect())
    }
}

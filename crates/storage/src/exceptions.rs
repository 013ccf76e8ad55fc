//! The exceptions queue: raised once per kind and subject while open, resolved with a reason.

use chrono::{DateTime, Utc};
use ordo_domain::exception::Exception;
use sqlx::types::Json;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx};

impl Tx {
    /// Raises an exception unless the same kind is already open for the same subject;
    /// `false` then, and nothing is written.
    #[allow(clippy::too_many_arguments)]
    pub async fn raise_exception(
        &mut self,
        kind: &str,
        subject: &str,
        owner_role: &str,
        due_at: DateTime<Utc>,
        details: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "INSERT INTO exceptions (id, kind, subject, owner_role, due_at, status, details, created_at) \
                   VALUES ($1, $2, $3, $4, $5, 'open', $6, $7) ON CONFLICT DO NOTHING";
        let inserted = on_engine!(self, |conn| sqlx::query(sql)
            .bind(Uuid::now_v7())
            .bind(kind)
            .bind(subject)
            .bind(owner_role)
            .bind(due_at)
            .bind(Json(details))
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(inserted == 1)
    }

    /// Exceptions in one status (or all), most urgent first.
    pub async fn exceptions(&mut self, status: Option<&str>) -> Result<Vec<Exception>, StorageError> {
        let sql = "SELECT id, kind, subject, owner_role, due_at, status, details, created_at FROM exceptions \
                   WHERE ($1 IS NULL OR status = $1) ORDER BY due_at, created_at LIMIT 1000";
        type Row = (Uuid, String, String, String, DateTime<Utc>, String, Json<serde_json::Value>, DateTime<Utc>);
        let rows: Vec<Row> = on_engine!(self, |conn| sqlx::query_as(sql).bind(status).fetch_all(conn).await?);
        Ok(rows
            .into_iter()
            .map(|(id, kind, subject, owner_role, due_at, status, Json(details), created_at)| Exception {
                id,
                kind,
                subject,
                owner_role,
                due_at,
                status,
                details,
                created_at,
            })
            .collect())
    }

    /// Resolves the open exception of `kind` about `subject`, if there is one.
    pub async fn resolve_exception(
        &mut self,
        kind: &str,
        subject: &str,
        resolution: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "UPDATE exceptions SET status = 'resolved', resolved_at = $3, resolution = $4 \
                   WHERE kind = $1 AND subject = $2 AND status <> 'resolved'";
        let changed = on_engine!(self, |conn| sqlx::query(sql)
            .bind(kind)
            .bind(subject)
            .bind(now)
            .bind(resolution)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(changed > 0)
    }
}

impl Tx {
    /// How many exceptions there are of each kind: (kind, open ones, all).
    pub async fn exception_counts(&mut self) -> Result<Vec<(String, i64, i64)>, StorageError> {
        let sql = "SELECT kind, CAST(SUM(CASE WHEN status <> 'resolved' THEN 1 ELSE 0 END) AS BIGINT), COUNT(*) \
                   FROM exceptions GROUP BY kind ORDER BY kind";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }
}

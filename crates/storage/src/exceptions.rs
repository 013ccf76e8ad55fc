//! The exceptions queue: raised once per kind and subject while unresolved, acknowledged,
//! commented on, escalated past due, and resolved with a code.

use chrono::{DateTime, Utc};
use ordo_domain::exception::{Exception, ExceptionComment, ExceptionCount, ExceptionStatus};
use sqlx::types::Json;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx, TxInner};

/// Which exceptions to list, most urgent first.
#[derive(Debug, Clone, Default)]
pub struct ExceptionQuery {
    /// One status; `None` for all.
    pub status: Option<String>,
    /// Everything not yet resolved (open, acknowledged or escalated); with `status`, ignored.
    pub unresolved: bool,
    pub kind: Option<String>,
    pub owner_role: Option<String>,
    /// With `owner_role`: also the exceptions of these kinds, whoever owns them now (the
    /// kinds the role owns, escalated past it).
    pub owned_kinds: Vec<&'static str>,
    /// Only those due before this time.
    pub due_before: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
    /// After the exception this names (its due time and id), for the next page.
    pub after: Option<ordo_domain::field::PageCursor>,
}

const COLUMNS: &str = "id, kind, subject, owner_role, due_at, status, details, created_at, escalations, assigned_to, \
                       acknowledged_by, acknowledged_at, resolved_by, resolved_at, resolution_code, resolution";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    kind: String,
    subject: String,
    owner_role: String,
    due_at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    status: ExceptionStatus,
    details: Json<serde_json::Value>,
    created_at: DateTime<Utc>,
    escalations: i64,
    assigned_to: Option<String>,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<DateTime<Utc>>,
    resolved_by: Option<String>,
    resolved_at: Option<DateTime<Utc>>,
    resolution_code: Option<String>,
    resolution: Option<String>,
}

fn exception(row: Row) -> Exception {
    Exception {
        status: row.status,
        id: row.id,
        kind: row.kind,
        subject: row.subject,
        owner_role: row.owner_role,
        due_at: row.due_at,
        details: row.details.0,
        created_at: row.created_at,
        escalations: row.escalations,
        assigned_to: row.assigned_to,
        acknowledged_by: row.acknowledged_by,
        acknowledged_at: row.acknowledged_at,
        resolved_by: row.resolved_by,
        resolved_at: row.resolved_at,
        resolution_code: row.resolution_code,
        resolution: row.resolution,
    }
}

impl Tx {
    /// Raises an exception unless the same kind is already unresolved for the same subject;
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

    /// The exceptions `query` selects, earliest due first, and how many it selects in all.
    pub async fn exceptions(&mut self, query: &ExceptionQuery) -> Result<(Vec<Exception>, i64), StorageError> {
        // The kinds are the domain's own names, never input.
        let owned = if query.owned_kinds.is_empty() {
            String::new()
        } else {
            format!(" OR kind IN ({})", query.owned_kinds.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", "))
        };
        let filter = format!(
            "WHERE ($1 IS NULL OR status = $1) AND ($2 = 0 OR status <> 'resolved') \
             AND ($3 IS NULL OR kind = $3) AND ($4 IS NULL OR owner_role = $4{owned}) AND ($5 IS NULL OR due_at < $5)"
        );
        let unresolved = i64::from(query.unresolved && query.status.is_none());
        let sql = format!("SELECT {COLUMNS} FROM exceptions {filter} AND ($8 IS NULL OR (due_at, id) > ($8, $9)) ORDER BY due_at, id LIMIT $6 OFFSET $7");
        let rows: Vec<Row> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql))
            .bind(&query.status)
            .bind(unresolved)
            .bind(&query.kind)
            .bind(&query.owner_role)
            .bind(query.due_before)
            .bind(query.limit)
            .bind(query.offset)
            .bind(query.after.map(|c| c.at))
            .bind(query.after.map(|c| c.id))
            .fetch_all(conn)
            .await?);
        let count = format!("SELECT COUNT(*) FROM exceptions {filter}");
        let total: i64 = on_engine!(self, |conn| sqlx::query_scalar(AssertSqlSafe(count))
            .bind(&query.status)
            .bind(unresolved)
            .bind(&query.kind)
            .bind(&query.owner_role)
            .bind(query.due_before)
            .fetch_one(conn)
            .await?);
        Ok((rows.into_iter().map(exception).collect(), total))
    }

    pub async fn exception(&mut self, id: Uuid) -> Result<Option<Exception>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM exceptions WHERE id = $1");
        let row: Option<Row> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?);
        Ok(row.map(exception))
    }

    /// The comments on an exception, oldest first.
    pub async fn exception_comments(&mut self, id: Uuid) -> Result<Vec<ExceptionComment>, StorageError> {
        let sql = "SELECT at, author, body FROM exception_comments WHERE exception_id = $1 ORDER BY at, id";
        let rows: Vec<(DateTime<Utc>, String, String)> = on_engine!(self, |conn| sqlx::query_as(sql).bind(id).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(at, author, body)| ExceptionComment { at, author, body }).collect())
    }

    pub async fn add_exception_comment(&mut self, id: Uuid, author: &str, body: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "INSERT INTO exception_comments (id, exception_id, at, author, body) VALUES ($1, $2, $3, $4, $5)";
        on_engine!(self, |conn| sqlx::query(sql).bind(Uuid::now_v7()).bind(id).bind(now).bind(author).bind(body).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// Marks an open or escalated exception acknowledged by `who`; `false` when it was not
    /// open or escalated (nothing changed).
    pub async fn acknowledge_exception(&mut self, id: Uuid, who: &str, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE exceptions SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = $3 \
                   WHERE id = $1 AND status IN ('open', 'escalated')";
        let changed = on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(who).bind(now).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Resolves one exception with `code` and a note; `false` when it was resolved already.
    pub async fn resolve_exception_by_id(
        &mut self,
        id: Uuid,
        code: &str,
        note: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "UPDATE exceptions SET status = 'resolved', resolution_code = $2, resolution = $3, resolved_by = $4, resolved_at = $5 \
                   WHERE id = $1 AND status <> 'resolved'";
        let changed =
            on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(code).bind(note).bind(who).bind(now).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Whether an exception of `kind` about `subject` is still unresolved.
    pub async fn has_unresolved_exception(&mut self, kind: &str, subject: &str) -> Result<bool, StorageError> {
        let sql = "SELECT COUNT(*) FROM exceptions WHERE kind = $1 AND subject = $2 AND status <> 'resolved'";
        let count: i64 = on_engine!(self, |conn| sqlx::query_scalar(sql).bind(kind).bind(subject).fetch_one(conn).await?);
        Ok(count > 0)
    }

    /// Resolves the unresolved exception of `kind` about `subject`, if there is one: Ordo saw
    /// its cause go away, and says how in `resolution`.
    pub async fn resolve_exception(
        &mut self,
        kind: &str,
        subject: &str,
        resolution: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "UPDATE exceptions SET status = 'resolved', resolved_at = $3, resolution = $4, \
                   resolution_code = 'automatic', resolved_by = 'system' \
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

    /// Locks every unresolved exception due by `now`, in id order, the order every batch
    /// acts in. The escalation sweep meets them by due time: without this it took their locks
    /// in that order, and a batch on the same exceptions deadlocked with it on PostgreSQL (a
    /// 503). SQLite's writer holds every row already.
    pub async fn lock_overdue_exceptions(&mut self, now: DateTime<Utc>) -> Result<(), StorageError> {
        if let TxInner::Postgres(tx) = &mut self.inner {
            let sql = "SELECT id FROM exceptions WHERE status <> 'resolved' AND due_at <= $1 ORDER BY id FOR UPDATE";
            sqlx::query(sql).bind(now).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Moves an exception past its due time from `from` to `to`, marked escalated and due
    /// again at `due_at`. `false` when another process escalated or resolved it first.
    pub async fn escalate_exception(
        &mut self,
        id: Uuid,
        from: &str,
        to: &str,
        assigned_to: Option<&str>,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "UPDATE exceptions SET owner_role = $3, assigned_to = $6, status = 'escalated', escalations = escalations + 1, due_at = $4 \
                   WHERE id = $1 AND owner_role = $2 AND status <> 'resolved' AND due_at <= $5";
        let changed = on_engine!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(from)
            .bind(to)
            .bind(due_at)
            .bind(now)
            .bind(assigned_to)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    /// The lead of each role that has one and whose account is not disabled, by role.
    pub async fn role_leads(&mut self) -> Result<Vec<(String, String)>, StorageError> {
        let sql = "SELECT l.role, l.username FROM role_leads l JOIN users u ON u.username = l.username \
                   WHERE u.disabled_at IS NULL ORDER BY l.role";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }

    /// Makes `username` the lead of `role`, or leaves the role without one.
    pub async fn set_role_lead(&mut self, role: &str, username: Option<&str>) -> Result<(), StorageError> {
        match username {
            Some(username) => {
                let sql = "INSERT INTO role_leads (role, username) VALUES ($1, $2) ON CONFLICT (role) DO UPDATE SET username = $2";
                on_engine!(self, |conn| sqlx::query(sql).bind(role).bind(username).execute(conn).await?.rows_affected());
            }
            None => {
                on_engine!(self, |conn| sqlx::query("DELETE FROM role_leads WHERE role = $1").bind(role).execute(conn).await?.rows_affected());
            }
        }
        Ok(())
    }

    /// How many exceptions there are of each kind, by kind.
    pub async fn exception_counts(&mut self) -> Result<Vec<ExceptionCount>, StorageError> {
        let sql = "SELECT kind, CAST(SUM(CASE WHEN status <> 'resolved' THEN 1 ELSE 0 END) AS BIGINT), COUNT(*) \
                   FROM exceptions GROUP BY kind ORDER BY kind";
        let rows: Vec<(String, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(kind, unresolved, all)| ExceptionCount { kind, unresolved, all }).collect())
    }
}

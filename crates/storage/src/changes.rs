//! Change requests, and the master data updates approving one applies.

use chrono::{DateTime, Utc};
use ordo_domain::change::{ChangeRequest, ChangeStatus};
use ordo_domain::field::PageCursor;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx};

const COLUMNS: &str = "id, kind, subject, change, before_state, after_state, reason, status, proposed_by, proposed_at, \
                       decided_by, decided_at, decision_reason";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    kind: String,
    subject: String,
    change: String,
    before_state: String,
    after_state: Option<String>,
    reason: String,
    status: String,
    proposed_by: String,
    proposed_at: DateTime<Utc>,
    decided_by: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    decision_reason: Option<String>,
}

fn request(row: Row) -> Result<ChangeRequest, StorageError> {
    let json = |text: &str| serde_json::from_str(text).map_err(|_| crate::error::corrupt("change_requests"));
    Ok(ChangeRequest {
        id: row.id,
        kind: row.kind,
        subject: row.subject,
        change: json(&row.change)?,
        before: json(&row.before_state)?,
        after: row.after_state.as_deref().map(json).transpose()?,
        reason: row.reason,
        status: ChangeStatus::parse("status", &row.status).map_err(|_| crate::error::corrupt("change_requests.status"))?,
        proposed_by: row.proposed_by,
        proposed_at: row.proposed_at,
        decided_by: row.decided_by,
        decided_at: row.decided_at,
        decision_reason: row.decision_reason,
    })
}

impl Tx {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_change_request(
        &mut self,
        id: Uuid,
        kind: &str,
        subject: &str,
        change: &serde_json::Value,
        before: &serde_json::Value,
        reason: &str,
        proposed_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let sql = "INSERT INTO change_requests (id, kind, subject, change, before_state, reason, status, proposed_by, proposed_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(kind)
            .bind(subject)
            .bind(change.to_string())
            .bind(before.to_string())
            .bind(reason)
            .bind(proposed_by)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn change_request(&mut self, id: Uuid) -> Result<Option<ChangeRequest>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM change_requests WHERE id = $1");
        let row: Option<Row> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?);
        row.map(request).transpose()
    }

    /// Change requests in `status` (or all), newest first.
    pub async fn change_requests(&mut self, status: Option<&str>) -> Result<Vec<ChangeRequest>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM change_requests WHERE ($1 IS NULL OR status = $1) ORDER BY proposed_at DESC, id LIMIT 1000");
        let rows: Vec<Row> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(status).fetch_all(conn).await?);
        rows.into_iter().map(request).collect()
    }

    /// Change requests in `status` (or all), newest first, `limit` of them after the one `after`
    /// names (its proposal time and id) when given: a page of a list that has no end.
    pub async fn change_requests_page(&mut self, status: Option<&str>, limit: i64, after: Option<PageCursor>) -> Result<Vec<ChangeRequest>, StorageError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM change_requests WHERE ($1 IS NULL OR status = $1) \
             AND ($2 IS NULL OR (proposed_at, id) < ($2, $3)) ORDER BY proposed_at DESC, id DESC LIMIT $4"
        );
        let (at, id) = (after.map(|c| c.at), after.map(|c| c.id));
        let rows: Vec<Row> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(status).bind(at).bind(id).bind(limit).fetch_all(conn).await?);
        rows.into_iter().map(request).collect()
    }

    /// Records the decision on a pending request; `false` when it was decided already.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_change_request(
        &mut self,
        id: Uuid,
        status: ChangeStatus,
        before: &serde_json::Value,
        after: Option<&serde_json::Value>,
        decided_by: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "UPDATE change_requests SET status = $2, before_state = $3, after_state = $4, decided_by = $5, decision_reason = $6, \
                   decided_at = $7 WHERE id = $1 AND status = 'pending'";
        let changed = on_engine!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(status.as_str())
            .bind(before.to_string())
            .bind(after.map(|a| a.to_string()))
            .bind(decided_by)
            .bind(reason)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    pub async fn set_listing_price(&mut self, channel: &str, channel_sku: &str, price_minor: i64) -> Result<bool, StorageError> {
        let sql = "UPDATE listings SET price_minor = $3 WHERE channel = $1 AND channel_sku = $2";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(channel).bind(channel_sku).bind(price_minor).execute(conn).await?.rows_affected()) == 1)
    }

    /// Points a listing at `sku` for `price_minor`, making it when the channel has none by that id.
    pub async fn upsert_listing(
        &mut self,
        channel: &str,
        channel_sku: &str,
        sku: &str,
        price_minor: i64,
        currency: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let sql = "INSERT INTO listings (channel, channel_sku, sku, price_minor, currency, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (channel, channel_sku) DO UPDATE SET sku = excluded.sku, price_minor = excluded.price_minor, currency = excluded.currency";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(channel)
            .bind(channel_sku)
            .bind(sku)
            .bind(price_minor)
            .bind(currency)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn set_product_tax_class(&mut self, sku: &str, tax_class: &str) -> Result<bool, StorageError> {
        let sql = "UPDATE products SET tax_class = $2 WHERE sku = $1";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(sku).bind(tax_class).execute(conn).await?.rows_affected()) == 1)
    }

    pub async fn set_product_active(&mut self, sku: &str, active: bool) -> Result<bool, StorageError> {
        let sql = "UPDATE products SET active = $2 WHERE sku = $1";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(sku).bind(active).execute(conn).await?.rows_affected()) == 1)
    }

    pub async fn set_location_priority(&mut self, location: &str, priority: i64) -> Result<bool, StorageError> {
        let sql = "UPDATE locations SET priority = $2 WHERE code = $1";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(location).bind(priority).execute(conn).await?.rows_affected()) == 1)
    }
}

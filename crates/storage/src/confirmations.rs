//! What Ordo must tell the channels about orders it decided: parcels that left, orders it
//! cancelled, money it gave back. Written in the transaction that ships or cancels; a pusher claims a channel's
//! due confirmations for a while, tells the channel, and closes each with its answer or
//! lets it go to be tried again later.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::{on_engine, Engine, StorageError, Tx};

/// What a confirmation tells the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationKind {
    Shipment(Uuid),
    Cancellation,
    Refund(Uuid),
}

/// A confirmation a pusher claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedConfirmation {
    pub id: Uuid,
    pub order_id: Uuid,
    pub kind: String,
    pub shipment_id: Option<Uuid>,
    pub refund_id: Option<Uuid>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    /// Failed tries before this one.
    pub attempts: i64,
}

/// One channel's outbound confirmation figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfirmationStats {
    /// Confirmations the channel has not taken yet.
    pub pending: i64,
    pub oldest_pending_since: Option<DateTime<Utc>>,
    /// Pending confirmations that failed at least `failing_after` times in a row.
    pub failing: i64,
    /// Confirmations the channel refused, since the time asked for.
    pub refused: i64,
    /// The latency of each confirmation the channel took since the time asked for.
    pub latencies_ms: Vec<i64>,
}

impl Tx {
    /// Writes a confirmation for `channel` about `order`, due at once.
    pub async fn insert_confirmation(&mut self, channel: &str, order: Uuid, kind: ConfirmationKind, reason: &str, now: DateTime<Utc>) -> Result<Uuid, StorageError> {
        let id = Uuid::now_v7();
        let (kind, shipment, refund) = match kind {
            ConfirmationKind::Shipment(shipment) => ("shipment", Some(shipment), None),
            ConfirmationKind::Cancellation => ("cancellation", None, None),
            ConfirmationKind::Refund(refund) => ("refund", None, Some(refund)),
        };
        let sql = "INSERT INTO channel_confirmations (id, channel, order_id, kind, shipment_id, refund_id, reason, created_at, due_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(channel)
            .bind(order)
            .bind(kind)
            .bind(shipment)
            .bind(refund)
            .bind(reason)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(id)
    }

    /// Claims up to `limit` of `channel`'s due confirmations until `lease_until`: a pusher
    /// that dies leaves them to be claimed again then. Oldest first.
    pub async fn claim_confirmations(&mut self, channel: &str, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: i64) -> Result<Vec<ClaimedConfirmation>, StorageError> {
        let lock = match self.engine() {
            Engine::Sqlite => "",
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE channel_confirmations SET lease_until = $1 WHERE id IN \
             (SELECT id FROM channel_confirmations WHERE channel = $2 AND done_at IS NULL AND due_at <= $3 \
              AND (lease_until IS NULL OR lease_until < $3) ORDER BY due_at LIMIT $4{lock}) \
             RETURNING id, order_id, kind, shipment_id, refund_id, reason, created_at, attempts"
        );
        let mut claimed: Vec<ClaimedConfirmation> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(lease_until).bind(channel).bind(now).bind(limit).fetch_all(conn).await?);
        claimed.sort_by_key(|c| (c.created_at, c.id));
        Ok(claimed)
    }

    /// Closes a confirmation with the channel's answer: `confirmed` when it took it, else
    /// refused.
    pub async fn close_confirmation(&mut self, id: Uuid, confirmed: bool, answer: Option<&str>, now: DateTime<Utc>, latency_ms: Option<i64>) -> Result<(), StorageError> {
        let sql = "UPDATE channel_confirmations SET outcome = $2, last_error = $3, done_at = $4, latency_ms = $5, lease_until = NULL WHERE id = $1";
        let outcome = if confirmed { "confirmed" } else { "refused" };
        on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(outcome).bind(answer).bind(now).bind(latency_ms).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// Lets go of a confirmation not taken this time, to be tried again at `due_at`; `failed`
    /// counts the try as a failure (a channel asking Ordo to slow down is none).
    pub async fn release_confirmation(&mut self, id: Uuid, due_at: DateTime<Utc>, error: &str, failed: bool) -> Result<(), StorageError> {
        let sql = "UPDATE channel_confirmations SET lease_until = NULL, due_at = $2, last_error = $3, attempts = attempts + $4 WHERE id = $1";
        on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(due_at).bind(error).bind(i64::from(failed)).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// Makes `channel`'s refused confirmations (of `order` only, when given) due again, once
    /// someone fixed what the channel refused; the refusal counts as a failed try. Returns how
    /// many.
    pub async fn resend_refused_confirmations(&mut self, channel: &str, order: Option<Uuid>, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let sql = "UPDATE channel_confirmations SET outcome = NULL, done_at = NULL, lease_until = NULL, due_at = $3, attempts = attempts + 1 \
                   WHERE channel = $1 AND outcome = 'refused' AND ($2 IS NULL OR order_id = $2)";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(channel).bind(order).bind(now).execute(conn).await?.rows_affected()))
    }

    /// `channel`'s outbound confirmation figures: what waits, since when, what keeps failing,
    /// and what the channel answered since `since`.
    pub async fn confirmation_stats(&mut self, channel: &str, failing_after: i64, since: DateTime<Utc>) -> Result<ConfirmationStats, StorageError> {
        let counts = "SELECT COUNT(*), MIN(created_at), COALESCE(SUM(CASE WHEN attempts >= $2 THEN 1 ELSE 0 END), 0) \
                      FROM channel_confirmations WHERE channel = $1 AND done_at IS NULL";
        let (pending, oldest_pending_since, failing): (i64, Option<DateTime<Utc>>, i64) =
            on_engine!(self, |conn| sqlx::query_as(counts).bind(channel).bind(failing_after).fetch_one(conn).await?);
        let refused = "SELECT COUNT(*) FROM channel_confirmations WHERE channel = $1 AND done_at >= $2 AND outcome = 'refused'";
        let refused: i64 = on_engine!(self, |conn| sqlx::query_scalar(refused).bind(channel).bind(since).fetch_one(conn).await?);
        let latencies = "SELECT latency_ms FROM channel_confirmations WHERE channel = $1 AND done_at >= $2 AND latency_ms IS NOT NULL";
        let latencies_ms: Vec<i64> = on_engine!(self, |conn| sqlx::query_scalar(latencies).bind(channel).bind(since).fetch_all(conn).await?);
        Ok(ConfirmationStats { pending, oldest_pending_since, failing, refused, latencies_ms })
    }
}

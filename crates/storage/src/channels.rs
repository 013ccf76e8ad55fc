//! Channel connectors and their inbox: how Ordo reaches each channel, every delivery and
//! polled record as it was received, and the newest version of each channel order applied.
//! Processors claim due deliveries; on PostgreSQL several share the inbox without taking the
//! same row (`FOR UPDATE SKIP LOCKED`), on SQLite the one writer claims in turn.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx};

/// A connector as stored: its secrets and credentials sealed, never in the clear.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectorRecord {
    pub channel: String,
    pub kind: String,
    pub base_url: Option<String>,
    pub webhook_secrets: Option<String>,
    pub credentials: Option<String>,
    pub poll_interval_s: i64,
    pub sync_lag_threshold_s: i64,
    pub paused: bool,
    pub updated_at: DateTime<Utc>,
    /// Deliveries the channel sent again, dropped.
    pub duplicates_dropped: i64,
}

/// A delivery to keep: the exact bytes and headers received.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub id: Uuid,
    pub channel: &'a str,
    pub source: &'a str,
    pub delivery_id: &'a str,
    pub topic: &'a str,
    /// The channel's id of the order the delivery is about, where the payload names one.
    pub order_key: Option<&'a str>,
    /// JSON object of the headers kept (never the signature's secret, which is not sent).
    pub headers: &'a str,
    pub body: &'a [u8],
    pub received_at: DateTime<Utc>,
}

/// Where a delivery ended, to record.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    pub id: Uuid,
    pub end: DeliveryEnd,
    pub external_id: Option<&'a str>,
    pub outcome: &'a str,
    /// The field and the message, when it could not be mapped.
    pub error: Option<(&'a str, &'a str)>,
}

/// The version (the channel's `updated_at`) of a channel's order that Ordo applied.
#[derive(Debug, Clone, Copy)]
pub struct OrderVersion<'a> {
    pub channel: &'a str,
    pub external_id: &'a str,
    pub updated_at: DateTime<Utc>,
}

/// A delivery in the inbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub channel: String,
    pub source: String,
    pub delivery_id: String,
    pub topic: String,
    pub headers: String,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub status: ordo_domain::connector::InboxStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub external_id: Option<String>,
    pub outcome: Option<String>,
    pub error_field: Option<String>,
    pub error: Option<String>,
    pub processed_at: Option<DateTime<Utc>>,
}

/// Where a delivery ends: processed into Ordo, ignored (nothing to do), or failed (it could
/// not be mapped; it waits for a fix and a replay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryEnd {
    Processed,
    Ignored,
    Failed,
}

impl DeliveryEnd {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryEnd::Processed => "processed",
            DeliveryEnd::Ignored => "ignored",
            DeliveryEnd::Failed => "failed",
        }
    }
}

/// A channel's inbox at a glance.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct InboxStats {
    pub last_received_at: Option<DateTime<Utc>>,
    pub pending: i64,
    pub failed: i64,
    pub received_since: i64,
}

const DELIVERY_COLUMNS: &str = "id, channel, source, delivery_id, topic, headers, body, received_at, status, attempts, \
                                next_attempt_at, external_id, outcome, error_field, error, processed_at";

impl Tx {
    pub async fn upsert_connector(&mut self, c: &ConnectorRecord) -> Result<(), StorageError> {
        let sql = "INSERT INTO channel_connectors (channel, kind, base_url, webhook_secrets, credentials, poll_interval_s, paused, updated_at, sync_lag_threshold_s) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                   ON CONFLICT (channel) DO UPDATE SET kind = excluded.kind, base_url = excluded.base_url, \
                   webhook_secrets = excluded.webhook_secrets, credentials = excluded.credentials, \
                   poll_interval_s = excluded.poll_interval_s, \
                   paused = excluded.paused, updated_at = excluded.updated_at, sync_lag_threshold_s = excluded.sync_lag_threshold_s";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(&c.channel)
            .bind(&c.kind)
            .bind(&c.base_url)
            .bind(&c.webhook_secrets)
            .bind(&c.credentials)
            .bind(c.poll_interval_s)
            .bind(c.paused)
            .bind(c.updated_at)
            .bind(c.sync_lag_threshold_s)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn connector(&mut self, channel: &str) -> Result<Option<ConnectorRecord>, StorageError> {
        let sql = "SELECT channel, kind, base_url, webhook_secrets, credentials, poll_interval_s, sync_lag_threshold_s, paused, \
                   updated_at, duplicates_dropped FROM channel_connectors WHERE channel = $1";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(channel).fetch_optional(conn).await?))
    }

    pub async fn connectors(&mut self) -> Result<Vec<ConnectorRecord>, StorageError> {
        let sql = "SELECT channel, kind, base_url, webhook_secrets, credentials, poll_interval_s, sync_lag_threshold_s, paused, \
                   updated_at, duplicates_dropped FROM channel_connectors ORDER BY channel";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }

    /// Pauses or resumes a connector; `false` when the channel has none.
    pub async fn set_connector_paused(&mut self, channel: &str, paused: bool, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE channel_connectors SET paused = $1, updated_at = $2 WHERE channel = $3";
        let changed = on_engine!(self, |conn| sqlx::query(sql).bind(paused).bind(now).bind(channel).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Keeps a delivery; `false` when the channel sent this delivery before (nothing changes).
    pub async fn insert_delivery(&mut self, d: &NewDelivery<'_>) -> Result<bool, StorageError> {
        Ok(self.insert_deliveries(std::slice::from_ref(d)).await?.first().copied().unwrap_or(false))
    }

    /// Keeps deliveries in one statement per hundred; for each, `false` when the channel sent
    /// it before (that one changes nothing).
    pub async fn insert_deliveries(&mut self, deliveries: &[NewDelivery<'_>]) -> Result<Vec<bool>, StorageError> {
        const CHUNK: usize = 100;
        let mut kept: HashSet<Uuid> = HashSet::with_capacity(deliveries.len());
        for chunk in deliveries.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO channel_inbox (id, channel, source, delivery_id, topic, headers, body, received_at, next_attempt_at, order_key, status) \
                 {} ON CONFLICT (channel, source, delivery_id) DO NOTHING RETURNING id",
                crate::values(self.engine(), chunk.len(), 11)
            );
            let ids: Vec<Uuid> = on_engine!(self, |conn| {
                let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
                for d in chunk {
                    query = query
                        .bind(d.id)
                        .bind(d.channel)
                        .bind(d.source)
                        .bind(d.delivery_id)
                        .bind(d.topic)
                        .bind(d.headers)
                        .bind(d.body)
                        .bind(d.received_at)
                        .bind(d.received_at)
                        .bind(d.order_key)
                        .bind("pending");
                }
                query.fetch_all(conn).await?
            });
            kept.extend(ids);
        }
        let stored: Vec<bool> = deliveries.iter().map(|d| kept.contains(&d.id)).collect();
        for (d, _) in deliveries.iter().zip(&stored).filter(|(_, stored)| !**stored) {
            let count = "UPDATE channel_connectors SET duplicates_dropped = duplicates_dropped + 1 WHERE channel = $1";
            on_engine!(self, |conn| sqlx::query(count).bind(d.channel).execute(conn).await?.rows_affected());
        }
        Ok(stored)
    }

    /// Claims up to `limit` due deliveries until `lease_until`: a processor that dies
    /// mid-way leaves them to be claimed again then, never lost. Oldest first.
    pub async fn claim_deliveries(&mut self, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: i64) -> Result<Vec<Delivery>, StorageError> {
        // Not a delivery about an order another processor holds a delivery of (or one waiting
        // to be tried again): one order's deliveries go one at a time, in the order received.
        let pick = "SELECT id FROM channel_inbox c WHERE status = 'pending' AND next_attempt_at <= $2 \
                    AND (order_key IS NULL OR NOT EXISTS (SELECT 1 FROM channel_inbox o WHERE o.channel = c.channel \
                         AND o.order_key = c.order_key AND o.status = 'pending' AND o.next_attempt_at > $2)) \
                    ORDER BY next_attempt_at, received_at LIMIT $3";
        let lock = match self.engine() {
            crate::Engine::Sqlite => "",
            crate::Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        // SQLite's one writer claims in turn already; on PostgreSQL claims take turns too, so
        // two processors never each take a delivery about the same order.
        if self.engine() == crate::Engine::Postgres {
            on_engine!(self, |conn| sqlx::query("SELECT pg_advisory_xact_lock(72010015)").execute(conn).await?.rows_affected());
        }
        let sql = format!(
            "UPDATE channel_inbox SET next_attempt_at = $1, attempts = attempts + 1 WHERE id IN ({pick}{lock}) RETURNING {DELIVERY_COLUMNS}"
        );
        let mut rows: Vec<Delivery> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(lease_until).bind(now).bind(limit).fetch_all(conn).await?);
        rows.sort_by_key(|d| (d.received_at, d.id));
        Ok(rows)
    }

    /// Records where a delivery ended.
    pub async fn finish_delivery(
        &mut self,
        id: Uuid,
        end: DeliveryEnd,
        external_id: Option<&str>,
        outcome: &str,
        error: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.finish_deliveries(&[Finished { id, end, external_id, outcome, error }], now).await
    }

    /// Records where each delivery ended, in one statement per hundred.
    pub async fn finish_deliveries(&mut self, finished: &[Finished<'_>], now: DateTime<Utc>) -> Result<(), StorageError> {
        const CHUNK: usize = 100;
        for chunk in finished.chunks(CHUNK) {
            let sql = format!(
                "UPDATE channel_inbox SET status = v.column2, external_id = COALESCE(v.column3, channel_inbox.external_id), \
                 outcome = v.column4, error_field = v.column5, error = v.column6, processed_at = v.column7 \
                 FROM ({}) AS v WHERE channel_inbox.id = v.column1",
                crate::values(self.engine(), chunk.len(), 7)
            );
            on_engine!(self, |conn| {
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for f in chunk {
                    query = query
                        .bind(f.id)
                        .bind(f.end.as_str())
                        .bind(f.external_id)
                        .bind(f.outcome)
                        .bind(f.error.map(|e| e.0))
                        .bind(f.error.map(|e| e.1))
                        .bind(now);
                }
                query.execute(conn).await?.rows_affected()
            });
        }
        Ok(())
    }

    /// Leaves a delivery pending, to be tried again at `next_attempt_at`, with why it failed.
    pub async fn retry_delivery(&mut self, id: Uuid, next_attempt_at: DateTime<Utc>, error: &str) -> Result<(), StorageError> {
        let sql = "UPDATE channel_inbox SET next_attempt_at = $1, error = $2 WHERE id = $3 AND status = 'pending'";
        on_engine!(self, |conn| sqlx::query(sql).bind(next_attempt_at).bind(error).bind(id).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// Sets a delivery of a paused connector aside until `until`; the look does not count as
    /// an attempt.
    pub async fn defer_delivery(&mut self, id: Uuid, until: DateTime<Utc>, why: &str) -> Result<(), StorageError> {
        let sql = "UPDATE channel_inbox SET next_attempt_at = $1, error = $2, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END \
                   WHERE id = $3 AND status = 'pending'";
        on_engine!(self, |conn| sqlx::query(sql).bind(until).bind(why).bind(id).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// Makes every delivery of `channel` still waiting due at `now` (its connector resumed);
    /// how many.
    pub async fn make_deliveries_due(&mut self, channel: &str, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let sql = "UPDATE channel_inbox SET next_attempt_at = $1 WHERE channel = $2 AND status = 'pending' AND next_attempt_at > $1";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(now).bind(channel).execute(conn).await?.rows_affected()))
    }

    /// Puts a delivery back in the queue, due now; `false` when there is no such delivery.
    pub async fn replay_delivery(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE channel_inbox SET status = 'pending', next_attempt_at = $1, error_field = NULL, error = NULL, \
                   outcome = NULL, processed_at = NULL WHERE id = $2";
        let changed = on_engine!(self, |conn| sqlx::query(sql).bind(now).bind(id).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }

    pub async fn delivery(&mut self, id: Uuid) -> Result<Option<Delivery>, StorageError> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM channel_inbox WHERE id = $1");
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?))
    }

    /// The newest deliveries of a channel, optionally in one status.
    pub async fn deliveries(&mut self, channel: &str, status: Option<&str>, limit: i64) -> Result<Vec<Delivery>, StorageError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM channel_inbox WHERE channel = $1 AND ($2 IS NULL OR status = $2) \
             ORDER BY received_at DESC, id DESC LIMIT $3"
        );
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(channel).bind(status).bind(limit).fetch_all(conn).await?))
    }

    /// The inbox of a channel at a glance; `since` bounds the count of deliveries received.
    pub async fn inbox_stats(&mut self, channel: &str, since: DateTime<Utc>) -> Result<InboxStats, StorageError> {
        let sql = "SELECT MAX(received_at) AS last_received_at, \
                   COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending, \
                   COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS failed, \
                   COALESCE(SUM(CASE WHEN received_at >= $2 THEN 1 ELSE 0 END), 0) AS received_since \
                   FROM channel_inbox WHERE channel = $1";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(channel).bind(since).fetch_one(conn).await?))
    }

    /// Milliseconds from receipt to processing of every processed delivery of a channel.
    pub async fn delivery_times_ms(&mut self, channel: &str) -> Result<Vec<i64>, StorageError> {
        let sql = "SELECT received_at, processed_at FROM channel_inbox WHERE channel = $1 AND processed_at IS NOT NULL";
        let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> = on_engine!(self, |conn| sqlx::query_as(sql).bind(channel).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(received, processed)| (processed - received).num_milliseconds()).collect())
    }

    /// When Ordo last applied a version of the channel's order, as the channel dated it.
    pub async fn channel_order_version(&mut self, channel: &str, external_id: &str) -> Result<Option<DateTime<Utc>>, StorageError> {
        let sql = "SELECT updated_at FROM channel_order_versions WHERE channel = $1 AND external_id = $2";
        let row: Option<(DateTime<Utc>,)> = on_engine!(self, |conn| sqlx::query_as(sql).bind(channel).bind(external_id).fetch_optional(conn).await?);
        Ok(row.map(|r| r.0))
    }

    /// Records the version applied; an older one never replaces a newer.
    pub async fn set_channel_order_version(&mut self, channel: &str, external_id: &str, updated_at: DateTime<Utc>) -> Result<(), StorageError> {
        self.set_channel_order_versions(&[OrderVersion { channel, external_id, updated_at }]).await
    }

    /// Records the versions of the channels' orders now applied, each only where it is newer
    /// than the one recorded; of one order named twice the newer counts.
    pub async fn set_channel_order_versions(&mut self, versions: &[OrderVersion<'_>]) -> Result<(), StorageError> {
        const CHUNK: usize = 100;
        let mut newest: Vec<&OrderVersion> = Vec::with_capacity(versions.len());
        for v in versions {
            match newest.iter_mut().find(|n| n.channel == v.channel && n.external_id == v.external_id) {
                Some(n) if n.updated_at < v.updated_at => *n = v,
                Some(_) => {}
                None => newest.push(v),
            }
        }
        for chunk in newest.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO channel_order_versions (channel, external_id, updated_at) {} \
                 ON CONFLICT (channel, external_id) DO UPDATE SET updated_at = excluded.updated_at \
                 WHERE channel_order_versions.updated_at < excluded.updated_at",
                crate::values(self.engine(), chunk.len(), 3)
            );
            on_engine!(self, |conn| {
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for v in chunk {
                    query = query.bind(v.channel).bind(v.external_id).bind(v.updated_at);
                }
                query.execute(conn).await?.rows_affected()
            });
        }
        Ok(())
    }
}

/// Where a poller got to on one of a channel's streams.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CursorRecord {
    pub stream: String,
    pub position: Option<String>,
    pub lease_holder: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub polled_at: Option<DateTime<Utc>>,
}

impl Tx {
    /// Takes (or keeps) the lease on a channel's stream until `lease_until`, unless another
    /// poller holds it still: `Some(position)` when this `holder` may poll now.
    pub async fn claim_cursor(
        &mut self,
        channel: &str,
        stream: &str,
        holder: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Option<String>>, StorageError> {
        let insert = "INSERT INTO channel_cursors (channel, stream) VALUES ($1, $2) ON CONFLICT (channel, stream) DO NOTHING";
        on_engine!(self, |conn| sqlx::query(insert).bind(channel).bind(stream).execute(conn).await?.rows_affected());
        let claim = "UPDATE channel_cursors SET lease_holder = $3, lease_until = $4 \
                     WHERE channel = $1 AND stream = $2 AND (lease_holder IS NULL OR lease_holder = $3 OR lease_until < $5) \
                     RETURNING position";
        let row: Option<(Option<String>,)> = on_engine!(self, |conn| sqlx::query_as(claim)
            .bind(channel)
            .bind(stream)
            .bind(holder)
            .bind(lease_until)
            .bind(now)
            .fetch_optional(conn)
            .await?);
        Ok(row.map(|r| r.0))
    }

    /// Moves the stream's position on, and its lease, if `holder` still holds it: `false` when
    /// another poller took over meanwhile (the caller then rolls back what it wrote).
    pub async fn advance_cursor(
        &mut self,
        channel: &str,
        stream: &str,
        holder: &str,
        position: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "UPDATE channel_cursors SET position = $4, polled_at = $5, lease_until = $6 \
                   WHERE channel = $1 AND stream = $2 AND lease_holder = $3";
        let changed = on_engine!(self, |conn| sqlx::query(sql)
            .bind(channel)
            .bind(stream)
            .bind(holder)
            .bind(position)
            .bind(now)
            .bind(lease_until)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    /// Lets go of the stream's lease, so another poller need not wait for it to run out.
    pub async fn release_cursor(&mut self, channel: &str, stream: &str, holder: &str) -> Result<(), StorageError> {
        let sql = "UPDATE channel_cursors SET lease_holder = NULL, lease_until = NULL WHERE channel = $1 AND stream = $2 AND lease_holder = $3";
        on_engine!(self, |conn| sqlx::query(sql).bind(channel).bind(stream).bind(holder).execute(conn).await?.rows_affected());
        Ok(())
    }

    pub async fn cursors(&mut self, channel: &str) -> Result<Vec<CursorRecord>, StorageError> {
        let sql = "SELECT stream, position, lease_holder, lease_until, polled_at FROM channel_cursors WHERE channel = $1 ORDER BY stream";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(channel).fetch_all(conn).await?))
    }
}

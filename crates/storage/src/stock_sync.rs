//! What the connected channels have been told of their listings' available-to-sell. The
//! database marks a listing when its SKU's stock changes (triggers in the migrations); a
//! pusher claims the marked listings of a channel for a while, tells the channel, and records
//! the mark it told, so a change that came in meanwhile stays marked.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use crate::{on_engine, Engine, StorageError, Tx};

/// A listing whose channel must be told its available-to-sell.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StockMark {
    pub channel_sku: String,
    pub sku: String,
    /// The mark this claim answers for: the channel is told the stock of at least this change.
    pub wanted: i64,
    /// The first change the channel has not been told of.
    pub pending_since: Option<DateTime<Utc>>,
    /// What the channel was last told, if anything.
    pub pushed_quantity: Option<i64>,
    /// Failed tries before this one.
    pub attempts: i64,
}

/// A listing the channel now has the available-to-sell of, to record.
#[derive(Debug, Clone, Copy)]
pub struct StockPushed<'a> {
    pub channel_sku: &'a str,
    pub wanted: i64,
    pub quantity: i64,
    pub latency_ms: Option<i64>,
}

/// One channel's outbound stock figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockSyncStats {
    /// Listings with a change the channel has not been told of.
    pub pending: i64,
    pub oldest_pending_since: Option<DateTime<Utc>>,
    /// Pending listings whose pushes failed at least `failing_after` times in a row.
    pub failing: i64,
    /// The latency of each listing's last push in the window asked for, in milliseconds.
    pub latencies_ms: Vec<i64>,
}

impl Tx {
    /// Claims up to `limit` of `channel`'s marked listings that are due, until `lease_until`:
    /// a pusher that dies leaves them to be claimed again then. Oldest change first.
    pub async fn claim_stock_marks(&mut self, channel: &str, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: i64) -> Result<Vec<StockMark>, StorageError> {
        let lock = match self.engine() {
            Engine::Sqlite => "",
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE channel_stock_sync SET lease_until = $1 WHERE channel = $2 AND channel_sku IN \
             (SELECT channel_sku FROM channel_stock_sync WHERE channel = $2 AND wanted > pushed \
              AND (next_attempt_at IS NULL OR next_attempt_at <= $3) AND (lease_until IS NULL OR lease_until < $3) \
              ORDER BY pending_since LIMIT $4{lock}) \
             RETURNING channel_sku, sku, wanted, pending_since, pushed_quantity, attempts"
        );
        let mut marks: Vec<StockMark> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(lease_until).bind(channel).bind(now).bind(limit).fetch_all(conn).await?);
        marks.sort_by(|a, b| a.pending_since.cmp(&b.pending_since).then_with(|| a.channel_sku.cmp(&b.channel_sku)));
        Ok(marks)
    }

    /// Records what the channel now has, a hundred listings a statement. A change that came
    /// after the claim keeps the listing marked, pending since `now`.
    pub async fn record_stock_pushed(&mut self, channel: &str, pushed: &[StockPushed<'_>], now: DateTime<Utc>) -> Result<(), StorageError> {
        const CHUNK: usize = 100;
        for chunk in pushed.chunks(CHUNK) {
            let sql = format!(
                "UPDATE channel_stock_sync SET pushed = v.column2, pushed_quantity = v.column3, pushed_at = v.column4, latency_ms = v.column5, \
                 attempts = 0, next_attempt_at = NULL, lease_until = NULL, last_error = NULL, \
                 pending_since = CASE WHEN channel_stock_sync.wanted > v.column2 THEN v.column4 ELSE NULL END \
                 FROM ({}) AS v WHERE channel_stock_sync.channel = v.column6 AND channel_stock_sync.channel_sku = v.column1",
                crate::values(self.engine(), chunk.len(), 6)
            );
            on_engine!(self, |conn| {
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for p in chunk {
                    query = query.bind(p.channel_sku).bind(p.wanted).bind(p.quantity).bind(now).bind(p.latency_ms).bind(channel);
                }
                query.execute(conn).await?.rows_affected()
            });
        }
        Ok(())
    }

    /// Lets go of listings not pushed this time, to be tried again at `next_attempt_at`;
    /// `failed` counts the try as a failure (a channel asking Ordo to slow down is none).
    pub async fn release_stock_marks(&mut self, channel: &str, channel_skus: &[&str], next_attempt_at: DateTime<Utc>, error: &str, failed: bool) -> Result<(), StorageError> {
        let sql = "UPDATE channel_stock_sync SET lease_until = NULL, next_attempt_at = $1, last_error = $2, \
                   attempts = attempts + $3 WHERE channel = $4 AND channel_sku = $5";
        for channel_sku in channel_skus {
            on_engine!(self, |conn| sqlx::query(sql)
                .bind(next_attempt_at)
                .bind(error)
                .bind(i64::from(failed))
                .bind(channel)
                .bind(*channel_sku)
                .execute(conn)
                .await?
                .rows_affected());
        }
        Ok(())
    }

    /// Marks every listing of `channel` (on a connected channel) to be told again: its buffer
    /// or its locations changed, or a person asked for a full resync.
    pub async fn mark_channel_stock(&mut self, channel: &str, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let sql = "INSERT INTO channel_stock_sync (channel, channel_sku, sku, pending_since) \
                   SELECT l.channel, l.channel_sku, l.sku, $2 FROM listings l \
                   WHERE l.channel = $1 AND EXISTS (SELECT 1 FROM channel_connectors c WHERE c.channel = l.channel) \
                   ON CONFLICT (channel, channel_sku) DO UPDATE SET wanted = channel_stock_sync.wanted + 1, \
                   pending_since = COALESCE(channel_stock_sync.pending_since, excluded.pending_since)";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(channel).bind(now).execute(conn).await?.rows_affected()))
    }

    /// Marks these listings of `channel` to be told again, whatever Ordo thinks the channel
    /// has: the channel was found to show something else. Returns the listings marked.
    pub async fn mark_listings_drifted(&mut self, channel: &str, channel_skus: &[&str], now: DateTime<Utc>) -> Result<u64, StorageError> {
        let sql = "UPDATE channel_stock_sync SET wanted = wanted + 1, pushed_quantity = NULL, next_attempt_at = NULL, \
                   pending_since = COALESCE(pending_since, $3) WHERE channel = $1 AND channel_sku = $2";
        let mut marked = 0;
        for channel_sku in channel_skus {
            marked += on_engine!(self, |conn| sqlx::query(sql).bind(channel).bind(*channel_sku).bind(now).execute(conn).await?.rows_affected());
        }
        Ok(marked)
    }

    /// Forgets what `channel` was told, so the next push tells it every listing at once,
    /// whether its stock moved or not and however long a failing one was to wait. Returns the
    /// listings it has.
    pub async fn forget_pushed_stock(&mut self, channel: &str) -> Result<u64, StorageError> {
        let sql = "UPDATE channel_stock_sync SET pushed_quantity = NULL, next_attempt_at = NULL WHERE channel = $1";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(channel).execute(conn).await?.rows_affected()))
    }

    /// `channel`'s outbound stock figures: what waits, since when, what keeps failing, and
    /// the latency of the pushes since `since`.
    pub async fn stock_sync_stats(&mut self, channel: &str, failing_after: i64, since: DateTime<Utc>) -> Result<StockSyncStats, StorageError> {
        let counts = "SELECT COUNT(*), MIN(pending_since), COALESCE(SUM(CASE WHEN attempts >= $2 THEN 1 ELSE 0 END), 0) \
                      FROM channel_stock_sync WHERE channel = $1 AND wanted > pushed";
        let (pending, oldest, failing): (i64, Option<String>, i64) = match self.engine() {
            Engine::Sqlite => on_engine!(self, |conn| sqlx::query_as(counts).bind(channel).bind(failing_after).fetch_one(conn).await?),
            Engine::Postgres => {
                let sql = counts.replace("MIN(pending_since)", "to_char(MIN(pending_since) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
                on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(channel).bind(failing_after).fetch_one(conn).await?)
            }
        };
        let oldest_pending_since = oldest
            .map(|text| DateTime::parse_from_rfc3339(&text).map(|t| t.with_timezone(&Utc)))
            .transpose()
            .map_err(|e| StorageError::Corrupt(format!("a pending stock change's time: {e}")))?;
        let latencies = "SELECT latency_ms FROM channel_stock_sync WHERE channel = $1 AND pushed_at >= $2 AND latency_ms IS NOT NULL";
        let latencies_ms: Vec<i64> = on_engine!(self, |conn| sqlx::query_scalar(latencies).bind(channel).bind(since).fetch_all(conn).await?);
        Ok(StockSyncStats { pending, oldest_pending_since, failing, latencies_ms })
    }

    /// Stock changes marked on `channel`'s listings since they were first marked: what one
    /// call per change would have cost.
    pub async fn stock_changes_marked(&mut self, channel: &str) -> Result<i64, StorageError> {
        let sql = "SELECT CAST(COALESCE(SUM(wanted), 0) AS BIGINT) FROM channel_stock_sync WHERE channel = $1";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(channel).fetch_one(conn).await?))
    }
}

/// One hour of pushes to a channel.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PushHour {
    pub hour: DateTime<Utc>,
    pub pushes: i64,
    pub latency_ms_sum: i64,
    pub latency_ms_max: i64,
    /// Pushes that took longer than two seconds.
    pub slow: i64,
}

impl Tx {
    /// Adds a round's pushes to `channel`'s hour of `at`: each one's latency in milliseconds.
    pub async fn add_push_hour(&mut self, channel: &str, at: DateTime<Utc>, latencies_ms: &[i64]) -> Result<(), StorageError> {
        if latencies_ms.is_empty() {
            return Ok(());
        }
        use chrono::DurationRound;
        let hour = at.duration_trunc(chrono::TimeDelta::hours(1)).unwrap_or(at);
        let sql = "INSERT INTO channel_push_hours (channel, hour, pushes, latency_ms_sum, latency_ms_max, slow) VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (channel, hour) DO UPDATE SET pushes = channel_push_hours.pushes + excluded.pushes, \
                   latency_ms_sum = channel_push_hours.latency_ms_sum + excluded.latency_ms_sum, \
                   latency_ms_max = CASE WHEN excluded.latency_ms_max > channel_push_hours.latency_ms_max THEN excluded.latency_ms_max ELSE channel_push_hours.latency_ms_max END, \
                   slow = channel_push_hours.slow + excluded.slow";
        let pushes = latencies_ms.len() as i64;
        let sum: i64 = latencies_ms.iter().sum();
        let max = latencies_ms.iter().copied().max().unwrap_or(0);
        let slow = latencies_ms.iter().filter(|ms| **ms > 2000).count() as i64;
        on_engine!(self, |conn| sqlx::query(sql).bind(channel).bind(hour).bind(pushes).bind(sum).bind(max).bind(slow).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// `channel`'s hours of pushes since `since`, oldest first.
    pub async fn push_hours(&mut self, channel: &str, since: DateTime<Utc>) -> Result<Vec<PushHour>, StorageError> {
        let sql = "SELECT hour, pushes, latency_ms_sum, latency_ms_max, slow FROM channel_push_hours WHERE channel = $1 AND hour >= $2 ORDER BY hour";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(channel).bind(since).fetch_all(conn).await?))
    }
}

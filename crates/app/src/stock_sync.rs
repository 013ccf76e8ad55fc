//! Available-to-sell out: each connected channel is told the stock Ordo can sell of each of
//! its listings. The database marks a listing whenever its SKU's stock changes; a round
//! claims a channel's marked listings under a lease, reads their available-to-sell as it is
//! now, skips those the channel already has (the last value it confirmed), and pushes the
//! rest through the channel's [`StockPusher`], in the batches its API takes. Since a mark is
//! a key and the value is read at push time, a burst of changes costs one call, and a retry
//! always carries the latest value; one push per listing is in flight at a time (the lease
//! outlasts a call), so an older value never lands after a newer one.
//!
//! Sync times (pending since, latency) are the wall clock's, as the database's triggers see
//! it, whatever clock the use cases run on.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use ordo_domain::audit::Change;
use ordo_domain::connector::ConnectorKind;
use ordo_domain::exception::ExceptionKind;
use ordo_storage::StockPushed;
use serde::Serialize;

use crate::pollers::PollTarget;
use crate::inbox::{OutboundFigures, OutboundHealth};
use crate::{Actor, AppError, AppResult, Channels};

/// How long a round holds the listings it claimed: longer than one call to a channel may
/// take, so no two pushes of one listing are ever in flight.
pub const PUSH_LEASE: Duration = Duration::from_secs(90);
/// The most listings one round claims.
const MAX_CLAIM: i64 = 200;
/// Failed tries in a row before a person is told (a `sync_failure` exception).
pub const FAILING_AFTER: i64 = 5;
/// The longest wait between tries of a listing the channel keeps refusing.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// A listing's available-to-sell, to tell its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingLevel {
    pub channel_sku: String,
    pub quantity: i64,
}

/// Why a call to tell a channel its stock did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The channel asked Ordo to slow down: nothing failed, the call waits this long.
    #[error("the channel asked to slow down for {0:?}")]
    Throttled(Duration),
    /// The channel refused the credentials: a person must fix them.
    #[error("the channel refused the credentials: {0}")]
    Unauthorized(String),
    /// Anything else (a timeout, a 5xx): tried again later.
    #[error("{0}")]
    Failed(String),
}

/// A channel's stock API, as an adapter speaks it. Each call is tried once: the round
/// decides when to try again, so a slow retry cannot outlive the lease.
pub trait StockPusher: Send + Sync {
    /// The most listings one call carries.
    fn batch_size(&self) -> usize;
    /// Tells the channel each level; per level, in order, whether the channel took it and,
    /// if not, why.
    fn push(&self, levels: &[ListingLevel]) -> impl Future<Output = Result<Vec<Result<(), String>>, PushError>> + Send;
}

/// How one round of pushes went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushRound {
    pub claimed: usize,
    /// Listings the channel now has the latest available-to-sell of.
    pub pushed: usize,
    /// Listings whose available-to-sell had not moved from what the channel has: no call.
    pub unchanged: usize,
    pub failed: usize,
    /// Calls made to the channel.
    pub calls: usize,
    /// The channel asked to slow down.
    pub throttled: bool,
    /// For each listing the channel took, from the first change it had not been told of to
    /// the channel's answer.
    pub latencies_ms: Vec<i64>,
}

impl Channels<'_> {
    /// The connectors whose channels Ordo tells their stock: not paused, of a kind Ordo can
    /// push to, with credentials.
    pub async fn push_targets(self) -> AppResult<Vec<PollTarget>> {
        let targets = self.connector_targets().await?;
        Ok(targets.into_iter().filter(|t| t.kind.pushes_stock() && !t.credentials.is_empty()).collect())
    }

    /// One round for `channel`: claims its marked listings, and tells the channel through
    /// `pusher` the available-to-sell of those whose stock moved since it was last told.
    pub async fn push_stock<P: StockPusher>(self, channel: &str, pusher: &P) -> AppResult<PushRound> {
        let started = Utc::now();
        let lease = chrono::Duration::from_std(PUSH_LEASE).unwrap_or(chrono::Duration::seconds(90));
        let marks = {
            let mut tx = self.db.write().await?;
            let marks = tx.claim_stock_marks(channel, started, started + lease, MAX_CLAIM).await?;
            tx.commit().await?;
            marks
        };
        let mut round = PushRound { claimed: marks.len(), ..PushRound::default() };
        if marks.is_empty() {
            return Ok(round);
        }
        let skus: Vec<String> = marks.iter().map(|m| m.sku.clone()).collect();
        let available: std::collections::HashMap<String, i64> = self.db.read().await?.available_to_sell(channel, &skus).await?.into_iter().collect();
        let level = |sku: &str| available.get(sku).copied().unwrap_or(0);

        // What the channel has already needs no call.
        let (same, moved): (Vec<_>, Vec<_>) = marks.iter().partition(|m| m.pushed_quantity == Some(level(&m.sku)));
        let mut done: Vec<StockPushed> = same
            .iter()
            .map(|m| StockPushed { channel_sku: &m.channel_sku, wanted: m.wanted, quantity: level(&m.sku), latency_ms: None })
            .collect();
        round.unchanged = same.len();
        let mut refused: Vec<(&str, String, i64)> = Vec::new();
        let mut untried: Vec<&str> = Vec::new();
        let mut stopped: Option<PushError> = None;
        let mut out_of_time: Vec<&str> = Vec::new();
        for batch in moved.chunks(pusher.batch_size().max(1)) {
            // What the lease's first half did not reach goes back, due at once, so no call
            // is still in flight when the lease ends.
            if (Utc::now() - started) > lease / 2 {
                out_of_time.extend(batch.iter().map(|m| m.channel_sku.as_str()));
                continue;
            }
            if stopped.is_some() {
                untried.extend(batch.iter().map(|m| m.channel_sku.as_str()));
                continue;
            }
            let levels: Vec<ListingLevel> = batch.iter().map(|m| ListingLevel { channel_sku: m.channel_sku.clone(), quantity: level(&m.sku) }).collect();
            round.calls += 1;
            match pusher.push(&levels).await {
                Ok(answers) => {
                    let answered = Utc::now();
                    for (i, m) in batch.iter().enumerate() {
                        match answers.get(i).cloned().unwrap_or_else(|| Err("the channel's answer left this listing out".to_owned())) {
                            Ok(()) => {
                                let latency_ms = m.pending_since.map(|since| (answered - since).num_milliseconds().max(0));
                                if let Some(ms) = latency_ms {
                                    round.latencies_ms.push(ms);
                                    metrics::histogram!("ordo_channel_push_latency_seconds", "channel" => channel.to_owned()).record(ms as f64 / 1000.0);
                                }
                                done.push(StockPushed { channel_sku: &m.channel_sku, wanted: m.wanted, quantity: levels[i].quantity, latency_ms });
                            }
                            Err(why) => refused.push((&m.channel_sku, why, m.attempts)),
                        }
                    }
                }
                Err(error) => {
                    untried.extend(batch.iter().map(|m| m.channel_sku.as_str()));
                    stopped = Some(error);
                }
            }
        }
        round.pushed = done.len() - round.unchanged;
        round.throttled = matches!(stopped, Some(PushError::Throttled(_)));
        round.failed = refused.len() + if stopped.is_some() && !round.throttled { untried.len() } else { 0 };

        let now = Utc::now();
        let at = self.now();
        let mut tx = self.db.write().await?;
        tx.record_stock_pushed(channel, &done, now).await?;
        tx.add_push_hour(channel, now, &round.latencies_ms).await?;
        // Only a listing that failed before can have a failure to resolve.
        let failed_before: std::collections::HashSet<&str> = marks.iter().filter(|m| m.attempts > 0).map(|m| m.channel_sku.as_str()).collect();
        for pushed in done.iter().filter(|p| failed_before.contains(p.channel_sku)) {
            tx.resolve_exception(ExceptionKind::SyncFailure.as_str(), &listing_subject(channel, pushed.channel_sku), "the channel took the stock", at).await?;
        }
        for (channel_sku, why, attempts) in &refused {
            tx.release_stock_marks(channel, &[channel_sku], now + backoff(*attempts), why, true).await?;
            if attempts + 1 >= FAILING_AFTER {
                raise_sync_failure(&mut tx, channel, channel_sku, why, attempts + 1, at).await?;
            }
        }
        tx.release_stock_marks(channel, &out_of_time, now, "left for the next round", false).await?;
        match &stopped {
            Some(PushError::Throttled(wait)) => {
                let until = now + chrono::Duration::from_std(*wait).unwrap_or(chrono::Duration::seconds(60));
                tx.release_stock_marks(channel, &untried, until, "the channel asked to slow down", false).await?;
            }
            Some(error) => {
                let attempts = marks.iter().filter(|m| untried.contains(&m.channel_sku.as_str())).map(|m| m.attempts).max().unwrap_or(0);
                tx.release_stock_marks(channel, &untried, now + backoff(attempts), &error.to_string(), true).await?;
                if attempts + 1 >= FAILING_AFTER {
                    for channel_sku in &untried {
                        raise_sync_failure(&mut tx, channel, channel_sku, &error.to_string(), attempts + 1, at).await?;
                    }
                }
            }
            None => {}
        }
        tx.commit().await?;
        let labels = [("channel", channel.to_owned())];
        metrics::counter!("ordo_channel_stock_pushed_total", &labels).increment(round.pushed as u64);
        metrics::counter!("ordo_channel_stock_unchanged_total", &labels).increment(round.unchanged as u64);
        metrics::counter!("ordo_channel_stock_push_failures_total", &labels).increment(round.failed as u64);
        metrics::counter!("ordo_channel_stock_push_calls_total", &labels).increment(round.calls as u64);
        Ok(round)
    }

    /// Tells `channel` the available-to-sell of every one of its listings again, whether or
    /// not it moved: after the channel's stock was changed by hand, say. Returns the listings
    /// marked.
    pub async fn resync_stock(self, channel: &str, actor: &Actor) -> AppResult<u64> {
        let mut tx = self.db.write().await?;
        if tx.connector(channel).await?.is_none() {
            return Err(AppError::NotFound { what: "connector", key: channel.to_owned() });
        }
        let marked = tx.forget_pushed_stock(channel).await?;
        tx.mark_channel_stock(channel, Utc::now()).await?;
        let change = Change::new("channel.stock_resync", format!("channel:{channel}")).after(serde_json::json!({"listings": marked}));
        crate::audit::record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(marked)
    }
}

impl Channels<'_> {
    /// Each listing of `channel` (its channel SKU) with the stock Ordo can sell of it now.
    pub async fn listings_available(self, channel: &str) -> AppResult<Vec<(String, i64)>> {
        let mut tx = self.db.read().await?;
        let listings = tx.listings(Some(channel)).await?;
        let skus: Vec<String> = listings.iter().map(|l| l.sku.clone()).collect();
        let available: std::collections::HashMap<String, i64> = tx.available_to_sell(channel, &skus).await?.into_iter().collect();
        Ok(listings.into_iter().map(|l| (l.channel_sku, available.get(&l.sku).copied().unwrap_or(0))).collect())
    }

    /// `channel`'s stock figures as they stand: what waits, since when, what keeps failing.
    pub async fn stock_figures(self, channel: &str) -> AppResult<ordo_storage::StockSyncStats> {
        Ok(self.db.read().await?.stock_sync_stats(channel, FAILING_AFTER, Utc::now() - chrono::Duration::hours(24)).await?)
    }

    /// Stock changes marked on `channel`'s listings: what one call per change would have cost.
    pub async fn stock_changes_marked(self, channel: &str) -> AppResult<i64> {
        Ok(self.db.read().await?.stock_changes_marked(channel).await?)
    }

    /// Raises a `sync_lag` exception for `channel` when a stock change has waited longer than
    /// `threshold` to be told to it, and resolves it once the channel has caught up. Returns
    /// how long the oldest waiting change has waited.
    pub async fn watch_stock_lag(self, channel: &str, threshold: Duration) -> AppResult<Option<Duration>> {
        let wall = Utc::now();
        let at = self.now();
        let mut tx = self.db.write().await?;
        let stats = tx.stock_sync_stats(channel, FAILING_AFTER, wall).await?;
        let lag = stats.oldest_pending_since.map(|since| (wall - since).to_std().unwrap_or_default());
        let labels = [("channel", channel.to_owned())];
        metrics::gauge!("ordo_channel_stock_pending", &labels).set(stats.pending as f64);
        metrics::gauge!("ordo_channel_stock_lag_seconds", &labels).set(lag.unwrap_or_default().as_secs_f64());
        let kind = ExceptionKind::SyncLag;
        let subject = format!("channel:{channel}");
        match lag {
            Some(lag) if lag > threshold => {
                let details = serde_json::json!({
                    "channel": channel,
                    "direction": "stock out",
                    "oldest_pending_s": lag.as_secs(),
                    "threshold_s": threshold.as_secs(),
                    "pending": stats.pending,
                    "failing": stats.failing,
                });
                tx.raise_exception(kind.as_str(), &subject, kind.owner_role().as_str(), at + kind.sla(), &details, at).await?;
            }
            _ => {
                tx.resolve_exception(kind.as_str(), &subject, "the channel caught up", at).await?;
            }
        }
        tx.commit().await?;
        Ok(lag)
    }
}

/// What waits to be told to `channel` (its stock, its orders' confirmations), and how
/// telling it went over the last day. A channel Ordo does not call (its connector has no API
/// credentials) has nothing outbound, whatever its listings' marks.
pub(crate) async fn outbound_health(tx: &mut ordo_storage::Tx, channel: &str) -> AppResult<OutboundHealth> {
    let pushed_to = tx
        .connector(channel)
        .await?
        .is_some_and(|c| c.credentials.is_some() && ConnectorKind::parse("kind", &c.kind).is_ok_and(ConnectorKind::pushes_stock));
    if !pushed_to {
        return Ok(OutboundHealth::default());
    }
    let wall = Utc::now();
    let day_ago = wall - chrono::Duration::hours(24);
    let stock = tx.stock_sync_stats(channel, FAILING_AFTER, day_ago).await?;
    let confirmations = tx.confirmation_stats(channel, FAILING_AFTER, day_ago).await?;
    let age = |since: Option<chrono::DateTime<Utc>>| since.map(|since| (wall - since).num_seconds().max(0));
    let mut all: Vec<i64> = stock.latencies_ms.iter().chain(&confirmations.latencies_ms).copied().collect();
    all.sort_unstable();
    let figures = |pending, oldest, mut latencies: Vec<i64>, failed| {
        latencies.sort_unstable();
        OutboundFigures { pending, oldest_pending_age_s: age(oldest), p95_latency_ms: percentile(&latencies, 95), failed }
    };
    Ok(OutboundHealth {
        pending: stock.pending + confirmations.pending,
        oldest_pending_age_s: age(stock.oldest_pending_since.into_iter().chain(confirmations.oldest_pending_since).min()),
        p50_latency_ms: percentile(&all, 50),
        p95_latency_ms: percentile(&all, 95),
        p99_latency_ms: percentile(&all, 99),
        failed: stock.failing + confirmations.failing + confirmations.refused,
        stock: figures(stock.pending, stock.oldest_pending_since, stock.latencies_ms, stock.failing),
        confirmations: figures(confirmations.pending, confirmations.oldest_pending_since, confirmations.latencies_ms, confirmations.failing + confirmations.refused),
    })
}

/// The `p`th percentile of sorted `values` (nearest rank).
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    (!sorted.is_empty()).then(|| sorted[(sorted.len() * p).div_ceil(100).saturating_sub(1)])
}

fn listing_subject(channel: &str, channel_sku: &str) -> String {
    format!("listing:{channel}/{channel_sku}")
}

/// The wait before trying a listing again after `attempts` failures: doubling from two
/// seconds, at most five minutes.
pub(crate) fn backoff(attempts: i64) -> chrono::Duration {
    let wait = Duration::from_secs(2u64.saturating_pow(u32::try_from(attempts.clamp(0, 16)).unwrap_or(16) + 1)).min(MAX_BACKOFF);
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(300))
}

async fn raise_sync_failure(tx: &mut ordo_storage::Tx, channel: &str, channel_sku: &str, why: &str, attempts: i64, now: chrono::DateTime<Utc>) -> AppResult<()> {
    let kind = ExceptionKind::SyncFailure;
    let details = serde_json::json!({"channel": channel, "listing": channel_sku, "attempts": attempts, "last_error": why, "direction": "stock out"});
    tx.raise_exception(kind.as_str(), &listing_subject(channel, channel_sku), kind.owner_role().as_str(), now + kind.sla(), &details, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let waits: Vec<i64> = [0, 1, 2, 3, 7, 8, 40].iter().map(|a| backoff(*a).num_seconds()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 256, 300, 300]);
    }
}

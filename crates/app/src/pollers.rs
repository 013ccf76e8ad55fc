//! Pollers: the channels that do not push (Amazon, eBay) are asked for the orders changed
//! since a cursor, page by page. Each page's orders go into the inbox, and the cursor moves on,
//! in one transaction: a crash mid-way loses nothing, and what is fetched again (the page in
//! flight, the overlap each poll re-reads) is dropped by the inbox as a duplicate. With several
//! `ordo serve` on one database, one poller per channel runs at a time: it holds a lease on the
//! channel's cursor, renewed with every page, which another takes over once it runs out.
//!
//! Talking to the channel is an adapter's job ([`OrderFeed`]); this module only orchestrates.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ordo_domain::connector::ConnectorKind;
use ordo_domain::exception::ExceptionKind;
use ordo_storage::NewDelivery;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{AppError, AppResult, Channels};

/// How long a poller holds a channel's cursor without renewing it (each page renews it): a page
/// of Amazon's, with an item call for each of its orders at Amazon's rate, fits inside it.
pub const POLL_LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// The stretch before the end of each window that the next poll reads again, for orders the
/// channel recorded late.
const OVERLAP: chrono::Duration = chrono::Duration::minutes(5);
/// How far back a channel's first poll reaches.
const FIRST_LOOKBACK: chrono::Duration = chrono::Duration::days(7);
/// The window ends this long before now: Amazon refuses an end that is too recent.
const SETTLE: chrono::Duration = chrono::Duration::minutes(2);
/// The most pages one poll fetches before it lets others have the database.
const MAX_PAGES: usize = 1000;

/// One order as the channel's API gave it.
#[derive(Debug, Clone)]
pub struct PolledOrder {
    /// The channel's id of the order.
    pub external_id: String,
    /// The order's last change as the channel dates it: with the id, the delivery's identity.
    pub version: String,
    /// What the inbox keeps and the mapping reads.
    pub body: Vec<u8>,
}

/// A page of orders and where the next one is.
#[derive(Debug, Clone, Default)]
pub struct PolledPage {
    pub orders: Vec<PolledOrder>,
    /// The token (or address) of the next page; none on the last.
    pub next: Option<String>,
}

/// Why a page could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FeedError {
    /// The channel refused the credentials: a person must fix them.
    #[error("the channel refused the credentials: {0}")]
    Unauthorized(String),
    /// Anything else (a timeout, a 5xx, rate limits that did not ease): tried again next poll.
    #[error("{0}")]
    Failed(String),
}

/// A channel's orders API, as an adapter speaks it.
pub trait OrderFeed: Send + Sync {
    /// The first page of the orders changed between `since` and `until`, or the page `token`
    /// names.
    fn page(&self, since: DateTime<Utc>, until: DateTime<Utc>, token: Option<&str>) -> impl Future<Output = Result<PolledPage, FeedError>> + Send;
}

/// Where a stream's polling stands, as kept in its cursor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Position {
    /// Orders changed from here on are asked for.
    since: DateTime<Utc>,
    /// The window being paged through, and the next page of it.
    #[serde(default)]
    until: Option<DateTime<Utc>>,
    #[serde(default)]
    token: Option<String>,
}

/// A connector a poller works for, its credentials opened.
#[derive(Clone, PartialEq)]
pub struct PollTarget {
    pub channel: String,
    pub kind: ConnectorKind,
    pub base_url: Option<String>,
    pub credentials: serde_json::Map<String, serde_json::Value>,
    pub poll_interval: Duration,
    /// How long a change may wait to be told to the channel before `sync_lag` is raised.
    pub sync_lag_threshold: Duration,
}

impl std::fmt::Debug for PollTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollTarget").field("channel", &self.channel).field("kind", &self.kind).field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// How one poll went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PollRound {
    /// Another poller holds the channel: this one did nothing.
    pub skipped: bool,
    pub pages: usize,
    pub stored: usize,
    pub duplicates: usize,
}

impl Channels<'_> {
    /// The connectors pollers work for (Amazon and eBay, and Shopify and WooCommerce given API
    /// credentials), not paused, credentials opened.
    pub async fn poll_targets(self) -> AppResult<Vec<PollTarget>> {
        let targets = self.connector_targets().await?;
        // A channel that pushes is polled too, to catch what its webhooks missed, once it has
        // API credentials.
        Ok(targets.into_iter().filter(|t| !t.kind.pushes() || !t.credentials.is_empty()).collect())
    }

    /// Every connector not paused, its credentials opened.
    pub(crate) async fn connector_targets(self) -> AppResult<Vec<PollTarget>> {
        let records = self.db.read().await?.connectors().await?;
        let mut targets = Vec::new();
        for record in records.into_iter().filter(|r| !r.paused) {
            let kind = ConnectorKind::parse("kind", &record.kind).map_err(|e| AppError::Storage(ordo_storage::StorageError::Corrupt(e.message)))?;
            let credentials = match (&record.credentials, &self.settings.secret_key) {
                (Some(sealed), Some(key)) => {
                    let text = key.open(sealed).map_err(|e| AppError::Storage(ordo_storage::StorageError::Unavailable(e.to_string())))?;
                    serde_json::from_str(&text).unwrap_or_default()
                }
                _ => serde_json::Map::new(),
            };
            targets.push(PollTarget {
                channel: record.channel,
                kind,
                base_url: record.base_url,
                credentials,
                poll_interval: Duration::from_secs(record.poll_interval_s.unsigned_abs()),
                sync_lag_threshold: Duration::from_secs(record.sync_lag_threshold_s.unsigned_abs()),
            });
        }
        Ok(targets)
    }

    /// Polls `target`'s orders through `feed` as `holder` (a name unique to this process):
    /// page by page from the cursor, each page into the inbox with the cursor moved on.
    pub async fn poll_channel<F: OrderFeed>(self, target: &PollTarget, feed: &F, holder: &str) -> AppResult<PollRound> {
        let stream = "orders";
        let channel = target.channel.as_str();
        let now = self.now();
        let position = {
            let mut tx = self.db.write().await?;
            let claimed = tx.claim_cursor(channel, stream, holder, now, now + POLL_LEASE).await?;
            tx.commit().await?;
            match claimed {
                None => return Ok(PollRound { skipped: true, ..PollRound::default() }),
                Some(position) => position,
            }
        };
        let mut position = position
            .and_then(|p| serde_json::from_str::<Position>(&p).ok())
            .unwrap_or(Position { since: now - FIRST_LOOKBACK, until: None, token: None });
        let mut round = PollRound::default();
        let source = target.kind.as_str();
        // A polled order is the order as it stands: for the channels that push, an update.
        let topic = match target.kind {
            ConnectorKind::Shopify => "orders/updated",
            ConnectorKind::WooCommerce => "order.updated",
            ConnectorKind::Amazon | ConnectorKind::Ebay => "order",
        };
        let mut failed = false;
        while round.pages < MAX_PAGES {
            let until = position.until.unwrap_or_else(|| self.now() - SETTLE);
            if until <= position.since && position.token.is_none() {
                break;
            }
            let page = match feed.page(position.since, until, position.token.as_deref()).await {
                Ok(page) => page,
                Err(error) => {
                    self.poll_failed(channel, &error).await?;
                    failed = true;
                    break;
                }
            };
            round.pages += 1;
            let last = page.next.is_none();
            let next = if last {
                Position { since: (until - OVERLAP).max(position.since), until: None, token: None }
            } else {
                Position { since: position.since, until: Some(until), token: page.next.clone() }
            };
            let received_at = self.now();
            let mut tx = self.db.write().await?;
            for order in &page.orders {
                let delivery_id = format!("{}@{}", order.external_id, order.version);
                let delivery = NewDelivery {
                    id: Uuid::now_v7(),
                    channel,
                    source,
                    delivery_id: &delivery_id,
                    topic,
                    order_key: Some(&order.external_id),
                    headers: "{}",
                    body: &order.body,
                    received_at,
                };
                if tx.insert_delivery(&delivery).await? {
                    round.stored += 1;
                } else {
                    round.duplicates += 1;
                }
            }
            let text = serde_json::to_string(&next).unwrap_or_default();
            if !tx.advance_cursor(channel, stream, holder, &text, received_at, received_at + POLL_LEASE).await? {
                // Another poller took the channel over meanwhile: what this one wrote goes.
                return Ok(PollRound { skipped: true, ..round });
            }
            tx.commit().await?;
            self.inbox.wake.notify_one();
            metrics::counter!("ordo_channel_polled_orders_total", "channel" => channel.to_owned()).increment(page.orders.len() as u64);
            position = next;
            if last {
                break;
            }
        }
        if !failed && round.pages > 0 {
            self.poll_recovered(channel).await?;
        }
        Ok(round)
    }

    /// Lets go of a channel's cursor, for a process that stops.
    pub async fn release_poller(self, channel: &str, holder: &str) -> AppResult<()> {
        let mut tx = self.db.write().await?;
        tx.release_cursor(channel, "orders", holder).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A poll that failed after its tries (credentials refused, or the channel down through
    /// every retry) raises a `sync_failure` about the connector, once while it lasts: the
    /// Channels page shows the channel failing.
    async fn poll_failed(self, channel: &str, error: &FeedError) -> AppResult<()> {
        metrics::counter!("ordo_channel_poll_failures_total", "channel" => channel.to_owned()).increment(1);
        tracing::warn!(channel, %error, "polling the channel failed");
        let (what, message) = match error {
            FeedError::Unauthorized(message) => ("the channel refused the connector's credentials", message),
            FeedError::Failed(message) => ("polling the channel failed after its retries", message),
        };
        let kind = ExceptionKind::SyncFailure;
        let now = self.now();
        let details = serde_json::json!({"channel": channel, "error": message, "what": what});
        let mut tx = self.db.write().await?;
        tx.raise_exception(kind.as_str(), &poll_subject(channel), kind.owner_role().as_str(), now + kind.sla(), &details, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A poll went through: a failure raised by an earlier one is over.
    async fn poll_recovered(self, channel: &str) -> AppResult<()> {
        let kind = ExceptionKind::SyncFailure.as_str();
        let subject = poll_subject(channel);
        if !self.db.read().await?.has_unresolved_exception(kind, &subject).await? {
            return Ok(());
        }
        let mut tx = self.db.write().await?;
        tx.resolve_exception(kind, &subject, "the channel answered the poll again", self.now()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What a poll's failure is raised about: the channel's connector.
fn poll_subject(channel: &str) -> String {
    format!("connector:{channel}")
}

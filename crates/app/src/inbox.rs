//! The channels' inbox: signed webhook deliveries (and, later, polled records) are kept as
//! received in one short transaction and answered at once; processors then make each into an
//! order, a change, a cancellation or a refund. A delivery that cannot be mapped stays in the
//! inbox, raises a `channel_mapping` exception naming the field, and is replayed once the data
//! is fixed; one that fails for a passing reason (the database busy) is tried again later.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ordo_channels::{amazon, ebay, shopify, signature, woocommerce, ChannelRefund, Context, Inbound};
use ordo_domain::access::Role;
use ordo_domain::audit::Change;
use ordo_domain::connector::{ConnectorKind, InboxStatus};
use ordo_domain::exception::ExceptionKind;
use ordo_domain::order::OrderStatus;
use ordo_domain::{Currency, FieldError};
use ordo_storage::{Delivery, DeliveryEnd, Finished, NewDelivery, OrderVersion, Tx};
use serde::Serialize;
use uuid::Uuid;

use crate::intake::Custody;
use crate::returns::{NewRefund, NewRefundLine, NewReturn, NewReturnLine};
use crate::{Actor, AppError, AppResult, Channels};

/// How long a processor holds the deliveries it claimed before another may take them: a
/// round takes well under a second, and what a process that died had claimed waits this long.
const LEASE: chrono::Duration = chrono::Duration::seconds(15);
/// The most deliveries one round claims.
pub const MAX_CLAIM: i64 = 64;
/// Tries for a delivery that keeps failing for a passing reason before a person is told.
const MAX_ATTEMPTS: i64 = 10;

/// The most deliveries one group commit keeps.
const GROUP_LIMIT: usize = 256;
/// How long a connector's opened secrets are kept in memory for checking signatures.
const CONNECTOR_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// A delivery to keep, owned, on its way to the group writer.
struct Keep {
    id: Uuid,
    channel: String,
    source: &'static str,
    delivery_id: String,
    topic: String,
    order_key: Option<String>,
    headers: String,
    body: Vec<u8>,
    received_at: DateTime<Utc>,
}

type Queued = (Keep, tokio::sync::oneshot::Sender<AppResult<bool>>);
/// Each channel's connector as last opened, and when.
type OpenedConnectors = HashMap<String, (std::time::Instant, Option<crate::connectors::OpenConnector>)>;
/// Deliveries about one order of a channel (none when the payload names no order).
type OrderKey = (String, Option<String>);

/// The inbox's side of the application: one writer per process that keeps deliveries in
/// groups (whatever arrives while one group commits joins the next, so a burst of webhooks
/// costs a few commits, not one each), the connectors' secrets kept opened for a second, and
/// the call that wakes the processors.
#[derive(Debug, Clone)]
pub(crate) struct Inbox {
    queue: tokio::sync::mpsc::UnboundedSender<Queued>,
    connectors: std::sync::Arc<std::sync::Mutex<OpenedConnectors>>,
    pub(crate) wake: std::sync::Arc<tokio::sync::Notify>,
}

impl Inbox {
    pub(crate) fn start(db: ordo_storage::Db) -> Inbox {
        let (queue, received) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(keep_groups(db, received));
        Inbox { queue, connectors: Default::default(), wake: Default::default() }
    }

    /// Forgets the opened connectors, when one changed.
    pub(crate) fn forget_connectors(&self) {
        if let Ok(mut cached) = self.connectors.lock() {
            cached.clear();
        }
    }

    async fn keep(&self, delivery: Keep) -> AppResult<bool> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let closed = || AppError::Storage(ordo_storage::StorageError::Unavailable("Ordo is shutting down".into()));
        self.queue.send((delivery, answer)).map_err(|_| closed())?;
        answered.await.map_err(|_| closed())?
    }
}

async fn keep_group(db: &ordo_storage::Db, group: &[Keep]) -> AppResult<Vec<bool>> {
    let deliveries: Vec<NewDelivery> = group
        .iter()
        .map(|d| NewDelivery {
            id: d.id,
            channel: &d.channel,
            source: d.source,
            delivery_id: &d.delivery_id,
            topic: &d.topic,
            order_key: d.order_key.as_deref(),
            headers: &d.headers,
            body: &d.body,
            received_at: d.received_at,
        })
        .collect();
    let mut tx = db.write_first().await?;
    let stored = tx.insert_deliveries(&deliveries).await?;
    tx.commit().await?;
    Ok(stored)
}

async fn keep_groups(db: ordo_storage::Db, mut queue: tokio::sync::mpsc::UnboundedReceiver<Queued>) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < GROUP_LIMIT
            && let Ok(next) = queue.try_recv()
        {
            group.push(next);
        }
        let (deliveries, answers): (Vec<Keep>, Vec<_>) = group.into_iter().unzip();
        match keep_group(&db, &deliveries).await {
            Ok(stored) => {
                for (answer, stored) in answers.into_iter().zip(stored) {
                    let _ = answer.send(Ok(stored));
                }
            }
            // The group rolled back: each is kept on its own, so one cannot fail the others.
            Err(error) => {
                tracing::debug!(%error, deliveries = deliveries.len(), "a group of deliveries rolled back; keeping them one by one");
                for (delivery, answer) in deliveries.iter().zip(answers) {
                    let kept = keep_group(&db, std::slice::from_ref(delivery)).await.map(|s| s.first().copied().unwrap_or(false));
                    let _ = answer.send(kept);
                }
            }
        }
    }
}

/// What became of a webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Kept in the inbox, to be processed.
    Stored(Uuid),
    /// The channel sent this delivery before: nothing changed.
    Duplicate,
    /// Nothing for Ordo (WooCommerce's ping when a webhook is saved).
    Ignored,
}

/// How a processing round went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InboxRound {
    pub claimed: usize,
    pub processed: usize,
    pub ignored: usize,
    pub failed: usize,
    pub retried: usize,
}

/// A delivery as the inbox pages show it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    pub id: Uuid,
    pub channel: String,
    pub source: String,
    pub delivery_id: String,
    pub topic: String,
    pub received_at: DateTime<Utc>,
    pub status: InboxStatus,
    pub attempts: i64,
    pub external_id: Option<String>,
    pub outcome: Option<String>,
    pub error_field: Option<String>,
    pub error: Option<String>,
    pub processed_at: Option<DateTime<Utc>>,
    /// The body exactly as received, as text (lossy where it was not UTF-8).
    pub body: String,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            channel: d.channel,
            source: d.source,
            delivery_id: d.delivery_id,
            topic: d.topic,
            received_at: d.received_at,
            status: d.status,
            attempts: d.attempts,
            external_id: d.external_id,
            outcome: d.outcome,
            error_field: d.error_field,
            error: d.error,
            processed_at: d.processed_at,
            body: String::from_utf8_lossy(&d.body).into_owned(),
        }
    }
}

/// A channel's connection health, as `GET /api/v1/channels/{code}/sync` shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncHealth {
    pub channel: String,
    pub inbound: InboundHealth,
    pub outbound: OutboundHealth,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboundHealth {
    pub last_received_at: Option<DateTime<Utc>>,
    /// When a poller last fetched a page from the channel.
    pub last_polled_at: Option<DateTime<Utc>>,
    /// Deliveries waiting to be processed.
    pub pending: i64,
    /// Deliveries that could not be mapped, waiting for a fix and a replay.
    pub failed: i64,
    /// Deliveries received in the last 24 hours.
    pub received_last_day: i64,
}

/// What Ordo tells the channel of its listings' stock: listings with a change the channel has
/// not been told of, how long the oldest has waited, the 95th percentile of the latency from
/// a change to the channel's answer over the last day (each listing's last push), and
/// listings whose pushes keep failing.
/// What waits to be told to a channel, and how telling it went over the last day: its
/// stock and its orders' confirmations together, and each apart.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboundHealth {
    /// Stock changes and confirmations the channel has not taken yet.
    pub pending: i64,
    pub oldest_pending_age_s: Option<i64>,
    /// From the commit of a change to the channel's 2xx.
    pub p50_latency_ms: Option<i64>,
    pub p95_latency_ms: Option<i64>,
    pub p99_latency_ms: Option<i64>,
    /// Changes the channel failed to take five times in a row and still waiting, and
    /// confirmations it refused.
    pub failed: i64,
    pub stock: OutboundFigures,
    pub confirmations: OutboundFigures,
}

/// One kind of thing told to a channel: pending, oldest, latency and failures.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboundFigures {
    pub pending: i64,
    pub oldest_pending_age_s: Option<i64>,
    pub p95_latency_ms: Option<i64>,
    pub failed: i64,
}

/// Why processing a delivery did not end in Ordo.
enum Failure {
    /// The payload cannot be made into what it asks for: a person must fix the data.
    Mapping(FieldError),
    /// Something passing (the database busy): tried again later.
    Transient(String),
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Storage(e) => Failure::Transient(e.to_string()),
            AppError::Invalid(e) | AppError::Duplicate(e) | AppError::InsufficientStock(e) => Failure::Mapping(e),
            other => Failure::Mapping(FieldError::new("body", other.to_string())),
        }
    }
}

impl From<FieldError> for Failure {
    fn from(error: FieldError) -> Self {
        Failure::Mapping(error)
    }
}

/// What a processed delivery came to.
struct Done {
    end: DeliveryEnd,
    external_id: Option<String>,
    outcome: String,
    /// The version of the channel's order now applied.
    version: Option<DateTime<Utc>>,
}

fn done(end: DeliveryEnd, external_id: Option<&str>, outcome: impl Into<String>) -> Result<Done, Failure> {
    Ok(Done { end, external_id: external_id.map(str::to_owned), outcome: outcome.into(), version: None })
}

fn applied(external_id: &str, version: DateTime<Utc>, outcome: impl Into<String>) -> Result<Done, Failure> {
    Ok(Done { end: DeliveryEnd::Processed, external_id: Some(external_id.to_owned()), outcome: outcome.into(), version: Some(version) })
}

/// Where a claimed delivery got to in a round.
enum Step {
    /// Its connector is paused: kept, and looked at again later.
    Paused,
    Tried(Result<Done, Failure>),
}

/// The versions of the channels' orders applied in this round, not yet written.
type Applied = HashMap<(String, String), DateTime<Utc>>;

/// What processing needs to know of a channel, read once a round.
struct ChannelFacts {
    currency: Currency,
    listed: HashSet<String>,
    paused: bool,
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The carrier a shipment the channel made itself is recorded under.
fn channel_carrier(channel: &str) -> String {
    format!("{channel} (the channel's own fulfilment)")
}

fn channel_actor(channel: &str) -> Actor {
    Actor::system_as(&format!("channel:{channel}"), Role::Integration)
}

impl Channels<'_> {
    /// Takes a webhook delivery from `source` for `channel`: its signature is checked over the
    /// exact bytes against each secret in force before anything is read, then it is kept in
    /// the inbox. A bad or missing signature is [`AppError::BadSignature`] and keeps nothing.
    pub async fn receive_webhook(self, source: ConnectorKind, channel: &str, headers: &[(String, String)], body: &[u8]) -> AppResult<Receipt> {
        let (signature_header, topic_header, id_header, prefix) = match source {
            ConnectorKind::Shopify => ("x-shopify-hmac-sha256", "x-shopify-topic", "x-shopify-webhook-id", "x-shopify-"),
            ConnectorKind::WooCommerce => ("x-wc-webhook-signature", "x-wc-webhook-topic", "x-wc-webhook-delivery-id", "x-wc-"),
            ConnectorKind::Amazon | ConnectorKind::Ebay => return Err(AppError::BadSignature),
        };
        // WooCommerce pings a webhook when it is saved; the ping is no order and changes nothing.
        if source == ConnectorKind::WooCommerce && woocommerce::is_ping(body) {
            return Ok(Receipt::Ignored);
        }
        let connector = self.cached_connector(channel).await?;
        let Some(connector) = connector.filter(|c| c.kind == source) else {
            return Err(AppError::BadSignature);
        };
        let signed = header(headers, signature_header).is_some_and(|s| signature::base64_hmac_matches(body, s, &connector.webhook_secrets));
        if !signed {
            metrics::counter!("ordo_channel_webhooks_refused_total", "channel" => channel.to_owned()).increment(1);
            return Err(AppError::BadSignature);
        }
        let topic = header(headers, topic_header).unwrap_or_default().trim();
        let delivery_id = match header(headers, id_header).map(str::trim).filter(|id| !id.is_empty() && id.len() <= 200) {
            Some(id) => id.to_owned(),
            // No id: the same bytes are the same delivery.
            None => format!("sha256:{}", crate::access::sha256_hex(body)),
        };
        let kept: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with(prefix) || n.eq_ignore_ascii_case("content-type"))
            .map(|(n, v)| (n.to_ascii_lowercase(), serde_json::Value::from(v.as_str())))
            .collect();
        let id = Uuid::now_v7();
        let delivery = Keep {
            id,
            channel: connector.channel.clone(),
            source: source.as_str(),
            delivery_id,
            topic: topic.to_owned(),
            order_key: ordo_channels::order_key(body),
            headers: serde_json::Value::Object(kept).to_string(),
            body: body.to_vec(),
            received_at: self.now(),
        };
        let stored = self.inbox.keep(delivery).await?;
        let labels = [("channel", connector.channel.clone())];
        if !stored {
            metrics::counter!("ordo_channel_webhook_duplicates_total", &labels).increment(1);
            return Ok(Receipt::Duplicate);
        }
        metrics::counter!("ordo_channel_webhooks_received_total", &labels).increment(1);
        self.inbox.wake.notify_one();
        Ok(Receipt::Stored(id))
    }

    /// The channel's connector with its webhook secrets opened, kept for a second.
    async fn cached_connector(self, channel: &str) -> AppResult<Option<crate::connectors::OpenConnector>> {
        if let Ok(cached) = self.inbox.connectors.lock()
            && let Some((at, connector)) = cached.get(channel)
            && at.elapsed() < CONNECTOR_TTL
        {
            return Ok(connector.clone());
        }
        let connector = {
            let mut tx = self.db.read().await?;
            self.open_connector(&mut tx, channel).await?
        };
        if let Ok(mut cached) = self.inbox.connectors.lock() {
            cached.insert(channel.to_owned(), (std::time::Instant::now(), connector.clone()));
        }
        Ok(connector)
    }

    /// Claims up to `limit` due deliveries and processes each. Safe to run in many processes.
    pub async fn process_inbox(self, limit: i64) -> AppResult<InboxRound> {
        let now = self.now();
        let claimed = {
            let mut tx = self.db.write().await?;
            let claimed = tx.claim_deliveries(now, now + LEASE, limit.clamp(1, MAX_CLAIM)).await?;
            tx.commit().await?;
            claimed
        };
        let mut round = InboxRound { claimed: claimed.len(), ..InboxRound::default() };
        if claimed.is_empty() {
            return Ok(round);
        }
        let mut facts: HashMap<String, Option<std::sync::Arc<ChannelFacts>>> = HashMap::new();
        for delivery in &claimed {
            if !facts.contains_key(&delivery.channel) {
                let read = self.channel_facts(&delivery.channel).await?.map(std::sync::Arc::new);
                facts.insert(delivery.channel.clone(), read);
            }
        }
        // Deliveries about one order are processed in turn, in the order received; those
        // about different orders at once, so intake can write them in one group.
        let mut groups: Vec<(OrderKey, Vec<Delivery>)> = Vec::new();
        for delivery in claimed {
            let key = (delivery.channel.clone(), ordo_channels::order_key(&delivery.body));
            match groups.iter_mut().find(|(k, _)| k.1.is_some() && *k == key) {
                Some((_, group)) => group.push(delivery),
                None => groups.push((key, vec![delivery])),
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (_, group) in groups {
            let ordo = self.0.clone();
            let facts = facts.clone();
            tasks.spawn(async move {
                let mut steps = Vec::with_capacity(group.len());
                let mut versions = Applied::new();
                for delivery in group {
                    let channel = facts.get(&delivery.channel).and_then(Option::as_ref);
                    let step = match channel {
                        Some(channel) if channel.paused => Step::Paused,
                        Some(channel) => Step::Tried(ordo.channels().apply_delivery(&delivery, channel, &mut versions).await),
                        None => Step::Tried(Err(Failure::Mapping(FieldError::new("channel", format!("the channel {:?} no longer exists", delivery.channel))))),
                    };
                    steps.push((delivery, step));
                }
                steps
            });
        }
        let mut steps = Vec::new();
        while let Some(done) = tasks.join_next().await {
            steps.extend(done.map_err(|e| AppError::Storage(ordo_storage::StorageError::Unavailable(format!("an inbox task stopped: {e}"))))?);
        }
        // What the round came to, in one transaction.
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut finished = Vec::with_capacity(steps.len());
        let mut versions = Vec::with_capacity(steps.len());
        for (delivery, step) in &steps {
            match step {
                Step::Paused => {
                    tx.defer_delivery(delivery.id, now + chrono::Duration::seconds(60), "the connector is paused").await?;
                    round.retried += 1;
                }
                Step::Tried(Ok(done)) => {
                    match done.end {
                        DeliveryEnd::Ignored => round.ignored += 1,
                        _ => round.processed += 1,
                    }
                    finished.push(Finished { id: delivery.id, end: done.end, external_id: done.external_id.as_deref(), outcome: &done.outcome, error: None });
                    if let (Some(external_id), Some(updated_at)) = (&done.external_id, done.version) {
                        versions.push(OrderVersion { channel: &delivery.channel, external_id, updated_at });
                    }
                    // A delivery that failed before and now went through needs nobody any more.
                    if delivery.attempts > 1 {
                        let subject = format!("delivery:{}", delivery.id);
                        tx.resolve_exception(ExceptionKind::ChannelMapping.as_str(), &subject, "processed after a replay", now).await?;
                    }
                }
                Step::Tried(Err(failure)) => record_failure(&mut tx, delivery, failure, &mut round, now).await?,
            }
        }
        tx.finish_deliveries(&finished, now).await?;
        tx.set_channel_order_versions(&versions).await?;
        tx.commit().await?;
        for (delivery, step) in &steps {
            if let Step::Tried(Ok(_)) = step {
                let latency = (now - delivery.received_at).to_std().unwrap_or_default();
                metrics::histogram!("ordo_channel_delivery_latency_seconds").record(latency.as_secs_f64());
            }
        }
        Ok(round)
    }

    async fn channel_facts(self, code: &str) -> AppResult<Option<ChannelFacts>> {
        let mut tx = self.db.read().await?;
        let Some(channel) = tx.channel(code).await? else { return Ok(None) };
        let listed = tx.listings(Some(code)).await?.into_iter().map(|l| l.channel_sku).collect();
        let paused = tx.connector(code).await?.is_some_and(|c| c.paused);
        Ok(Some(ChannelFacts { currency: channel.currency, listed, paused }))
    }

    /// Makes one delivery into what it asks of Ordo.
    async fn apply_delivery(self, delivery: &Delivery, facts: &ChannelFacts, versions: &mut Applied) -> Result<Done, Failure> {
        let listed = |sku: &str| facts.listed.contains(sku);
        let context = Context { channel: &delivery.channel, currency: facts.currency, listed: &listed };
        let inbound = match delivery.source.as_str() {
            "shopify" => shopify::read(&delivery.topic, &delivery.body, &context)?,
            "woocommerce" => woocommerce::read(&delivery.topic, &delivery.body, &context)?,
            "amazon" => amazon::read(&delivery.body, &context)?,
            "ebay" => ebay::read(&delivery.body, &context)?,
            other => return Err(Failure::Mapping(FieldError::new("source", format!("Ordo cannot read deliveries from {other:?}")))),
        };
        let actor = channel_actor(&delivery.channel);
        let channel = delivery.channel.as_str();
        let payload = String::from_utf8_lossy(&delivery.body);
        match inbound {
            Inbound::Ignored(reason) => done(DeliveryEnd::Ignored, None, reason),
            Inbound::Uninstalled => {
                self.pause_connector(channel, true, &actor).await?;
                done(DeliveryEnd::Processed, None, "the shop removed Ordo's app: the connector is paused")
            }
            Inbound::Cancelled { external_id, updated_at, reason } => {
                if let Some(at) = updated_at
                    && self.is_stale(versions, channel, &external_id, at).await?
                {
                    return done(DeliveryEnd::Ignored, Some(&external_id), "older than the version Ordo has");
                }
                let outcome = self.cancel_from_channel(channel, &external_id, &reason, &actor).await?;
                match updated_at {
                    Some(at) => {
                        versions.insert((channel.to_owned(), external_id.clone()), at);
                        applied(&external_id, at, outcome)
                    }
                    None => done(DeliveryEnd::Processed, Some(&external_id), outcome),
                }
            }
            Inbound::Order(mapped) => {
                let external_id = mapped.order.external_id.clone();
                if self.is_stale(versions, channel, &external_id, mapped.updated_at).await? {
                    return done(DeliveryEnd::Ignored, Some(&external_id), "older than the version Ordo has");
                }
                let existing = self.db.read().await.map_err(AppError::from)?.order_id_by_external_id(channel, &external_id).await.map_err(AppError::from)?;
                let by_channel = mapped.fulfilled_by_channel;
                if by_channel && existing.is_none() && !mapped.cancelled {
                    self.channel_keeps_stock(channel).await?;
                }
                let outcome = match (existing, mapped.cancelled) {
                    (Some(_), true) => self.cancel_from_channel(channel, &external_id, "cancelled by the channel", &actor).await?,
                    (None, true) => "cancelled on the channel before Ordo received it: no order made".to_owned(),
                    // Shipped on the channel before Ordo knew of it: not Ordo's to ship again.
                    (None, false) if mapped.fulfilled && !by_channel => {
                        return done(DeliveryEnd::Ignored, Some(&external_id), "fulfilled on the channel before Ordo received it: no order made");
                    }
                    (Some(id), false) => {
                        let let_go = mapped.waiting_for.is_none() && self.let_go_by_channel(id, &actor).await?;
                        let changed = match self.orders().update_order_from_channel(channel, &external_id, mapped.order, &payload, &actor).await {
                            Ok(order) => format!("order {} is {}", order.id, order.status),
                            // Shipping has started: the channel's change is too late, and is kept here.
                            Err(AppError::InvalidTransition { message, .. }) => format!("not changed: {message}"),
                            Err(e) => return Err(e.into()),
                        };
                        if by_channel && mapped.fulfilled {
                            self.fulfilment().ship_by_channel(id, &channel_carrier(channel), &actor).await?
                        } else if let_go {
                            format!("{changed}; the channel let it go to be shipped")
                        } else {
                            changed
                        }
                    }
                    (None, false) => {
                        let custody = Custody { waiting_for: mapped.waiting_for, by_channel };
                        let intake = self.orders().receive_order_held(mapped.order, custody, &payload, &actor).await?;
                        let made = format!("order {} is {}", intake.order.id, intake.order.status);
                        if by_channel && mapped.fulfilled {
                            format!("{made}; {}", self.fulfilment().ship_by_channel(intake.order.id, &channel_carrier(channel), &actor).await?)
                        } else {
                            made
                        }
                    }
                };
                versions.insert((channel.to_owned(), external_id.clone()), mapped.updated_at);
                applied(&external_id, mapped.updated_at, outcome)
            }
            Inbound::Refund(refund) => {
                let external_id = refund.external_id.clone();
                let outcome = self.refund_from_channel(channel, refund, &actor).await?;
                done(DeliveryEnd::Processed, Some(&external_id), outcome)
            }
        }
    }

    /// A channel that ships orders from its own stock needs a location that stands for that
    /// stock; without one its orders stay in the inbox until one is made.
    async fn channel_keeps_stock(self, channel: &str) -> Result<(), Failure> {
        let locations = self.db.read().await.map_err(AppError::from)?.locations().await.map_err(AppError::from)?;
        if locations.iter().any(|l| l.managed_by.as_deref() == Some(channel)) {
            return Ok(());
        }
        let message = format!(
            "the channel ships this order from its own stock, and no location is managed by {channel}: \
             create one with managed_by {channel:?} (POST /api/v1/locations), then replay"
        );
        Err(Failure::Mapping(FieldError::new("FulfillmentChannel", message)))
    }

    /// The channel no longer holds order `id` back: it may be picked and shipped. `false` when
    /// it was not held.
    async fn let_go_by_channel(self, id: Uuid, actor: &Actor) -> AppResult<bool> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !tx.set_order_waiting(id, None).await? {
            return Ok(false);
        }
        let change = Change::new("order.channel_released", format!("order:{id}")).reason("the channel confirmed the order: it may ship");
        crate::audit::record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Whether Ordo applied a newer version of the order already (in this round or before).
    async fn is_stale(self, versions: &Applied, channel: &str, external_id: &str, updated_at: DateTime<Utc>) -> AppResult<bool> {
        let known = match versions.get(&(channel.to_owned(), external_id.to_owned())) {
            Some(at) => Some(*at),
            None => self.db.read().await?.channel_order_version(channel, external_id).await?,
        };
        // Only strictly older: channels date changes to the second, and two changes may share
        // one; the same version again changes nothing when applied.
        Ok(known.is_some_and(|known| updated_at < known))
    }

    async fn cancel_from_channel(self, channel: &str, external_id: &str, reason: &str, actor: &Actor) -> AppResult<String> {
        let id = self.db.read().await?.order_id_by_external_id(channel, external_id).await?;
        let Some(id) = id else {
            return Ok("no such order in Ordo: nothing to cancel".to_owned());
        };
        let order = self.orders().order(id).await?;
        if order.status == OrderStatus::Cancelled {
            return Ok("cancelled already".to_owned());
        }
        if !order.status.is_open() {
            return Ok(format!("not cancelled: the order is {} already", order.status));
        }
        self.orders().cancel(id, reason, actor, crate::orders::CancelledBy::Channel).await?;
        Ok(format!("order {id} cancelled"))
    }

    /// Books a channel's refund against the order's lines, once per refund id.
    async fn refund_from_channel(self, channel: &str, refund: ChannelRefund, actor: &Actor) -> Result<String, Failure> {
        let id = self.db.read().await.map_err(AppError::from)?.order_id_by_external_id(channel, &refund.external_id).await.map_err(AppError::from)?;
        let id = id.ok_or_else(|| FieldError::new("order_id", format!("no order {:?} from {channel} in Ordo", refund.external_id)))?;
        let order = self.orders().order(id).await?;
        let mut lines = Vec::new();
        for (i, refunded) in refund.lines.iter().enumerate() {
            let line = order.lines.iter().find(|l| l.item_id.as_deref() == Some(refunded.item_id.as_str()) && l.part_of.is_none());
            let line = line.ok_or_else(|| FieldError::new(format!("refund_line_items[{i}].line_item_id"), format!("no line {:?} on the order", refunded.item_id)))?;
            // What the channel gave back for the line before tax, not Ordo's price: a partial
            // refund stays partial (Ordo takes the tax on it in proportion).
            lines.push(NewRefundLine { line: line.line, quantity: refunded.quantity, amount: refunded.amount.map(|a| a.to_decimal_string()) });
        }
        let shipping = (refund.shipping.minor() != 0).then(|| refund.shipping.to_decimal_string());
        if lines.is_empty() && shipping.is_none() {
            if refund.amount.minor() == 0 {
                return Ok("nothing refunded by line or shipping: nothing booked".to_owned());
            }
            // Money given back for no line (goodwill): a person books it against what it was for.
            let message = format!("{} was refunded without naming a line or shipping: book it by hand", refund.amount);
            return Err(Failure::Mapping(FieldError::new("transactions", message)));
        }
        // Lines Shopify restocked as returned come back to a warehouse: a return to receive.
        let returned: Vec<NewReturnLine> = lines
            .iter()
            .zip(&refund.lines)
            .filter(|(_, refunded)| refunded.returned)
            .map(|(line, refunded)| NewReturnLine { line: line.line, quantity: refunded.quantity, reason: "other".to_owned() })
            .collect();
        // Booked once per refund id, in the refund's own transaction.
        let channel_refund = Some((channel.to_owned(), refund.refund_id.clone()));
        let new = NewRefund { return_id: None, lines, shipping, reason: refund.reason.clone(), channel_refund };
        let booked = match self.returns().refund(id, new, actor).await {
            Ok(booked) => booked,
            Err(AppError::Duplicate(_)) => return Ok(format!("refund {} was booked before", refund.refund_id)),
            Err(e) => return Err(e.into()),
        };
        let mut outcome = format!("refund {} booked as {}", refund.refund_id, booked.id);
        if !returned.is_empty() {
            let why = format!("returned through the channel with refund {}", refund.refund_id);
            let new = NewReturn { order_id: id, lines: returned, source: "channel".to_owned(), override_window: Some(why) };
            match self.returns().request_return(new, actor).await {
                Ok(rma) => outcome.push_str(&format!("; return {} to receive", rma.id)),
                // The refund stands; the goods are for a person to follow up.
                Err(e) => outcome.push_str(&format!("; no return made: {e}")),
            }
        }
        Ok(outcome)
    }

    /// Processes the inbox until `stopped` turns true: woken by each new delivery, and every
    /// second for deliveries due again or left by a process that died.
    pub async fn run_inbox(self, mut stopped: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stopped.borrow() {
                return;
            }
            let busy = match self.process_inbox(MAX_CLAIM).await {
                Ok(round) => round.claimed > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "could not process the channels' inbox");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                () = self.inbox.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stopped.changed() => {}
            }
        }
    }

    /// A channel's inbox, newest first.
    pub async fn inbox(self, channel: &str, status: Option<&str>, limit: i64) -> AppResult<Vec<DeliveryView>> {
        if let Some(s) = status {
            InboxStatus::parse("status", s)?;
        }
        let limit = ordo_domain::field::bounded("limit", limit, 1, 500)?;
        let rows = self.db.read().await?.deliveries(channel, status, limit).await?;
        Ok(rows.into_iter().map(DeliveryView::from).collect())
    }

    pub async fn delivery(self, channel: &str, id: Uuid) -> AppResult<DeliveryView> {
        let found = self.db.read().await?.delivery(id).await?.filter(|d| d.channel == channel);
        found.map(DeliveryView::from).ok_or_else(|| AppError::NotFound { what: "delivery", key: id.to_string() })
    }

    /// Puts a delivery back in the queue, to be processed again now (after its listing or
    /// data was fixed). Failed and processed ones alike; a processed order is not made twice.
    pub async fn replay_delivery(self, channel: &str, id: Uuid, actor: &Actor) -> AppResult<DeliveryView> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let delivery = tx.delivery(id).await?.filter(|d| d.channel == channel);
        let delivery = delivery.ok_or_else(|| AppError::NotFound { what: "delivery", key: id.to_string() })?;
        tx.replay_delivery(id, now).await?;
        let change = Change::new("delivery.replay", format!("delivery:{id}"))
            .before(serde_json::json!({"status": delivery.status}))
            .after(serde_json::json!({"status": InboxStatus::Pending}));
        crate::audit::record(&mut tx, actor, now, &[change]).await?;
        let replayed = tx.delivery(id).await?.ok_or_else(|| AppError::NotFound { what: "delivery", key: id.to_string() })?;
        tx.commit().await?;
        self.inbox.wake.notify_one();
        Ok(replayed.into())
    }

    /// Replays every failed delivery of a channel; how many.
    pub async fn replay_failed(self, channel: &str, actor: &Actor) -> AppResult<usize> {
        let failed = self.db.read().await?.deliveries(channel, Some("failed"), 500).await?;
        for delivery in &failed {
            self.replay_delivery(channel, delivery.id, actor).await?;
        }
        Ok(failed.len())
    }

    /// How the channel's connection is doing.
    pub async fn channel_sync(self, channel: &str) -> AppResult<SyncHealth> {
        let mut tx = self.db.read().await?;
        tx.channel(channel).await?.ok_or_else(|| AppError::NotFound { what: "channel", key: channel.to_owned() })?;
        let stats = tx.inbox_stats(channel, self.now() - chrono::Duration::hours(24)).await?;
        let last_polled_at = tx.cursors(channel).await?.into_iter().filter_map(|c| c.polled_at).max();
        let outbound = crate::stock_sync::outbound_health(&mut tx, channel).await?;
        Ok(SyncHealth {
            channel: channel.to_owned(),
            inbound: InboundHealth {
                last_received_at: stats.last_received_at,
                last_polled_at,
                pending: stats.pending,
                failed: stats.failed,
                received_last_day: stats.received_since,
            },
            outbound,
        })
    }

    /// Milliseconds from receipt to processing of every processed delivery of a channel.
    pub async fn delivery_times_ms(self, channel: &str) -> AppResult<Vec<i64>> {
        Ok(self.db.read().await?.delivery_times_ms(channel).await?)
    }
}

/// Records a delivery that did not go through: one that cannot be mapped waits for a person,
/// one that failed for a passing reason is tried again later, until it has failed too often.
async fn record_failure(tx: &mut Tx, delivery: &Delivery, failure: &Failure, round: &mut InboxRound, now: DateTime<Utc>) -> AppResult<()> {
    let subject = format!("delivery:{}", delivery.id);
    match failure {
        Failure::Mapping(error) => {
            round.failed += 1;
            tx.finish_delivery(delivery.id, DeliveryEnd::Failed, None, "could not be mapped", Some((&error.field, &error.message)), now).await?;
            let kind = ExceptionKind::ChannelMapping;
            let details = serde_json::json!({
                "channel": delivery.channel,
                "source": delivery.source,
                "topic": delivery.topic,
                "delivery": delivery.id,
                "delivery_id": delivery.delivery_id,
                "field": error.field,
                "message": error.message,
                "payload": format!("/api/v1/channels/{}/inbox/{}", delivery.channel, delivery.id),
            });
            tx.raise_exception(kind.as_str(), &subject, kind.owner_role().as_str(), now + kind.sla(), &details, now).await?;
            metrics::counter!("ordo_channel_mapping_failures_total", "channel" => delivery.channel.clone()).increment(1);
        }
        Failure::Transient(error) if delivery.attempts < MAX_ATTEMPTS => {
            round.retried += 1;
            let wait = chrono::Duration::seconds(1i64 << delivery.attempts.clamp(0, 8));
            tx.retry_delivery(delivery.id, now + wait, error).await?;
        }
        Failure::Transient(error) => {
            round.failed += 1;
            tx.finish_delivery(delivery.id, DeliveryEnd::Failed, None, "kept failing", Some(("body", error)), now).await?;
            let kind = ExceptionKind::SyncFailure;
            let details = serde_json::json!({"channel": delivery.channel, "delivery": delivery.id, "attempts": delivery.attempts, "last_error": error});
            tx.raise_exception(kind.as_str(), &subject, kind.owner_role().as_str(), now + kind.sla(), &details, now).await?;
        }
    }
    Ok(())
}

//! Notifications through the transactional outbox. [`notify`] writes a message inside the
//! transaction of the event that causes it, one per endpoint that hears its topic; after
//! commit a [`Courier`] claims due messages, sends them and records each try. A message is
//! never lost: one written is delivered, retried, or dead and waiting for a person to replay it.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ordo_domain::audit::Change;
use ordo_domain::exception::ExceptionKind;
use ordo_domain::notification::{self, AfterFailure, DeliveryStatus, Endpoint, Topic, Transport};
use ordo_domain::FieldError;
use ordo_storage::{ClaimedMessage, DeliveryAttempt, EndpointRecord, NewMessage, OutboxMessage, OutboxQuery, Tx};
use uuid::Uuid;

use crate::{Actor, AppError, AppResult, Outbox, audit};

/// The most messages one page of the outbox shows.
pub const MAX_OUTBOX_PAGE: i64 = 500;

/// How long a claimed message stays with the worker that claimed it: longer than a webhook
/// may take to answer, so no two workers send it at once.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// How long a webhook has to answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The most messages one round claims: sent one after another, they all finish within the
/// lease even if every endpoint takes its whole time to answer.
const MAX_CLAIM: i64 = (LEASE.num_seconds() / SEND_TIMEOUT.as_secs() as i64) - 1;

/// The endpoints switched on, read once per transaction that may notify: which topics each
/// hears decides what is written.
pub(crate) struct Listeners(Vec<Endpoint>);

impl Listeners {
    pub(crate) async fn read(tx: &mut Tx) -> AppResult<Listeners> {
        Ok(Listeners(tx.active_endpoints().await?))
    }

    pub(crate) fn hear(&self, topic: Topic) -> bool {
        self.0.iter().any(|e| e.hears(topic))
    }

    /// Writes a message of `topic` for each of `events` (subject, data) to every endpoint that
    /// hears it; `events` is asked for only when one does.
    pub(crate) async fn notify_all(
        &self,
        tx: &mut Tx,
        topic: Topic,
        now: DateTime<Utc>,
        events: impl FnOnce() -> Vec<(String, serde_json::Value)>,
    ) -> AppResult<()> {
        let endpoints: Vec<&str> = self.0.iter().filter(|e| e.hears(topic)).map(|e| e.code.as_str()).collect();
        if endpoints.is_empty() {
            return Ok(());
        }
        let events = events();
        let mut messages = Vec::with_capacity(events.len() * endpoints.len());
        for endpoint in endpoints {
            for (subject, data) in &events {
                let id = Uuid::now_v7();
                let body = notification::message_body(id, topic, subject, now, data);
                messages.push(NewMessage { id, endpoint, topic, subject, body });
            }
        }
        tx.enqueue_messages(&messages, now).await?;
        Ok(())
    }
}

/// Writes a message about `subject` for every endpoint that hears `topic`, inside `tx`.
pub(crate) async fn notify(tx: &mut Tx, topic: Topic, subject: &str, data: serde_json::Value, now: DateTime<Utc>) -> AppResult<()> {
    Listeners::read(tx).await?.notify_all(tx, topic, now, || vec![(subject.to_owned(), data)]).await
}

/// A new endpoint as a person asks for it.
#[derive(Debug, Clone, Default)]
pub struct NewEndpoint {
    pub code: String,
    pub transport: String,
    pub url: Option<String>,
    pub topics: Vec<String>,
    /// Made up by Ordo when not given.
    pub secret: Option<String>,
}

/// An endpoint just made, with its secret: the one time it is shown.
#[derive(Debug, Clone)]
pub struct CreatedEndpoint {
    pub endpoint: Endpoint,
    pub secret: String,
}

/// What one round of delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    pub claimed: usize,
    pub delivered: usize,
    pub failed: usize,
    pub dead: usize,
}

/// A message and every try at delivering it.
#[derive(Debug, Clone)]
pub struct MessageDetail {
    pub message: OutboxMessage,
    pub attempts: Vec<DeliveryAttempt>,
}

/// How a webhook leaves Ordo: one HTTP POST, made by the adapter that speaks HTTP (the
/// application itself does no network I/O). The outbox retries; the client tries once.
pub trait WebhookClient: Send + Sync {
    /// POSTs `body` with `headers` to `url`: what the endpoint answered, or why no answer came.
    fn post<'a>(
        &'a self,
        url: &'a str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<WebhookAnswer, String>> + Send + 'a>>;
}

/// An endpoint's answer to a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookAnswer {
    pub status: u16,
    /// The status's reason phrase, such as `Service Unavailable`.
    pub reason: Option<&'static str>,
}

/// Sends claimed messages: webhooks over HTTP, log lines to a file. One per worker task; on
/// PostgreSQL any number of them, in any number of processes, share the outbox.
#[derive(Clone)]
pub struct Courier {
    /// Names the worker in each try it records.
    name: String,
    client: Arc<dyn WebhookClient>,
    /// Where `log` endpoints' messages are appended as JSON lines; the tracing log without it.
    log: Option<PathBuf>,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier").field("name", &self.name).field("log", &self.log).finish_non_exhaustive()
    }
}

impl Courier {
    pub fn new(name: impl Into<String>, log: Option<PathBuf>, client: Arc<dyn WebhookClient>) -> Courier {
        Courier { name: name.into(), client, log }
    }

    /// Sends one message: `Ok` with the HTTP status when the endpoint took it, `Err` with the
    /// status (when it answered) and why not.
    async fn send(&self, message: &ClaimedMessage) -> Result<Option<u16>, (Option<u16>, String)> {
        match message.transport {
            Transport::Log => self.append_to_log(message).map(|()| None).map_err(|e| (None, e)),
            Transport::Webhook => {
                let url = message.url.as_deref().unwrap_or_default();
                let headers = vec![
                    ("content-type", "application/json".to_owned()),
                    ("user-agent", "Ordo".to_owned()),
                    ("ordo-delivery-id", message.id.to_string()),
                    ("ordo-topic", message.topic.clone()),
                    ("ordo-signature", notification::signature(&message.secret, message.body.as_bytes())),
                ];
                match tokio::time::timeout(SEND_TIMEOUT, self.client.post(url, headers, message.body.clone().into_bytes())).await {
                    Err(_) => Err((None, format!("no answer within {} s", SEND_TIMEOUT.as_secs()))),
                    Ok(Err(e)) => Err((None, format!("could not reach the endpoint: {e}"))),
                    Ok(Ok(answer)) if (200..300).contains(&answer.status) => Ok(Some(answer.status)),
                    Ok(Ok(WebhookAnswer { status, reason })) => {
                        let reason = reason.map(|r| format!(" {r}")).unwrap_or_default();
                        Err((Some(status), format!("the endpoint answered {status}{reason}")))
                    }
                }
            }
        }
    }

    fn append_to_log(&self, message: &ClaimedMessage) -> Result<(), String> {
        let Some(path) = &self.log else {
            tracing::info!(endpoint = %message.endpoint, topic = %message.topic, body = %message.body, "notification");
            return Ok(());
        };
        let line = format!("{{\"endpoint\":{},\"message\":{}}}\n", serde_json::Value::from(message.endpoint.as_str()), message.body);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(line.as_bytes()))
            .map_err(|e| format!("could not write the notification log: {e}"))
    }
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // Jitter only spreads retries; without randomness they still happen, just less spread.
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}


fn validate_endpoint(new: &NewEndpoint) -> AppResult<(Transport, Vec<Topic>)> {
    ordo_domain::field::code("code", &new.code)?;
    let transport = Transport::parse("transport", &new.transport)?;
    match (transport, new.url.as_deref()) {
        (Transport::Webhook, None) => return Err(FieldError::new("url", "a webhook needs an address").into()),
        (Transport::Webhook, Some(url)) => notification::validate_url("url", url)?,
        (Transport::Log, Some(_)) => return Err(FieldError::new("url", "a log endpoint has no address").into()),
        (Transport::Log, None) => {}
    }
    let mut topics = Vec::new();
    for (i, name) in new.topics.iter().enumerate() {
        let topic = Topic::parse(&format!("topics[{i}]"), name)?;
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    if let Some(secret) = &new.secret
        && !(16..=200).contains(&secret.len())
    {
        return Err(FieldError::new("secret", "must be 16 to 200 characters").into());
    }
    Ok((transport, topics))
}

impl Outbox<'_> {
    /// Adds an endpoint; it hears the topics it names (all when none) from now on.
    pub async fn create_endpoint(self, actor: &Actor, new: NewEndpoint) -> AppResult<CreatedEndpoint> {
        let (transport, topics) = validate_endpoint(&new)?;
        let secret = match new.secret {
            Some(secret) => secret,
            None => crate::access::random_secret()?,
        };
        let endpoint = Endpoint { code: new.code, transport, url: new.url, topics, active: true };
        let now = self.now();
        let mut tx = self.db.write().await?;
        let record = EndpointRecord { endpoint: endpoint.clone(), secret: secret.clone(), created_at: now };
        tx.insert_endpoint(&record).await.map_err(|e| match e {
            e if e.is_duplicate() => AppError::Duplicate(FieldError::new("code", "an endpoint with this code exists")),
            e => e.into(),
        })?;
        let after = serde_json::json!({"transport": transport.as_str(), "url": endpoint.url, "topics": new.topics});
        audit::record(&mut tx, actor, now, &[Change::new("endpoint.create", format!("endpoint:{}", endpoint.code)).after(after)]).await?;
        tx.commit().await?;
        Ok(CreatedEndpoint { endpoint, secret })
    }

    /// Switches an endpoint on or off: one switched off gets no new messages; those already
    /// written for it are still delivered.
    pub async fn set_endpoint_active(self, actor: &Actor, code: &str, active: bool) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !tx.set_endpoint_active(code, active).await? {
            return Err(AppError::NotFound { what: "endpoint", key: code.to_owned() });
        }
        let after = serde_json::json!({"active": active});
        audit::record(&mut tx, actor, now, &[Change::new("endpoint.switch", format!("endpoint:{code}")).after(after)]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Retires an endpoint whose receiver is gone for good: switched off, and the messages
    /// still waiting for it given up (dead, saying `reason`) rather than retried into dead
    /// letters one by one. A decision, not a failure: no exception is raised. How many were
    /// given up.
    pub async fn retire_endpoint(self, actor: &Actor, code: &str, reason: &str) -> AppResult<u64> {
        let reason = ordo_domain::field::text("reason", reason)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !tx.set_endpoint_active(code, false).await? {
            return Err(AppError::NotFound { what: "endpoint", key: code.to_owned() });
        }
        let given_up = tx.give_up_pending(code, &reason).await?;
        let after = serde_json::json!({"active": false, "pending_given_up": given_up});
        audit::record(&mut tx, actor, now, &[Change::new("endpoint.retire", format!("endpoint:{code}")).after(after).reason(&reason)]).await?;
        tx.commit().await?;
        Ok(given_up)
    }

    pub async fn endpoints(self) -> AppResult<Vec<Endpoint>> {
        let mut tx = self.db.read().await?;
        Ok(tx.endpoints().await?.into_iter().map(|r| r.endpoint).collect())
    }

    pub async fn list(self, mut query: OutboxQuery) -> AppResult<(Vec<OutboxMessage>, i64)> {
        query.limit = query.limit.clamp(1, MAX_OUTBOX_PAGE);
        query.offset = query.offset.max(0);
        let mut tx = self.db.read().await?;
        Ok(tx.outbox_messages(&query).await?)
    }

    pub async fn outbox_counts(self) -> AppResult<Vec<(String, i64)>> {
        let mut tx = self.db.read().await?;
        Ok(tx.outbox_counts().await?)
    }

    pub async fn outbox_message(self, id: Uuid) -> AppResult<MessageDetail> {
        let mut tx = self.db.read().await?;
        let message = tx.outbox_message(id).await?.ok_or(AppError::NotFound { what: "message", key: id.to_string() })?;
        let attempts = tx.delivery_attempts(id).await?;
        Ok(MessageDetail { message, attempts })
    }

    /// Puts a dead message back in the queue for a fresh set of tries.
    pub async fn replay_message(self, actor: &Actor, id: Uuid) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let message = tx.outbox_message(id).await?.ok_or(AppError::NotFound { what: "message", key: id.to_string() })?;
        if !message.status.can_become(DeliveryStatus::Pending) || !tx.replay_message(id, now).await? {
            let current = message.status.as_str();
            return Err(AppError::InvalidTransition { current, message: format!("only a dead message can be replayed; this one is {current}") });
        }
        let subject = format!("message:{id}");
        let kind = ExceptionKind::SyncFailure;
        tx.resolve_exception(kind.as_str(), &subject, &format!("replayed by {actor}"), now).await?;
        let before = serde_json::json!({"status": "dead", "attempts": message.attempts});
        let after = serde_json::json!({"status": "pending", "attempts": 0});
        audit::record(&mut tx, actor, now, &[Change::new("message.replay", subject).before(before).after(after)]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` due messages (at most [`MAX_CLAIM`] a round), sends them and
    /// records how each went. Safe to run in many workers at once.
    pub async fn deliver_due(self, courier: &Courier, limit: i64) -> AppResult<DeliveryRound> {
        let now = self.now();
        let claimed = {
            let mut tx = self.db.write().await?;
            let claimed = tx.claim_messages(now, now + LEASE, limit.clamp(1, MAX_CLAIM)).await?;
            tx.commit().await?;
            claimed
        };
        let mut round = DeliveryRound { claimed: claimed.len(), ..DeliveryRound::default() };
        for message in claimed {
            let started_at = self.now();
            let clock = Instant::now();
            let sent = courier.send(&message).await;
            let finished_at = self.now();
            metrics::histogram!("ordo_outbox_send_seconds").record(clock.elapsed().as_secs_f64());
            let attempt = i64::from(u32::try_from(message.attempts).unwrap_or(u32::MAX - 1)) + 1;
            let (status_code, error) = match &sent {
                Ok(code) => (*code, None),
                Err((code, why)) => (*code, Some(why.clone())),
            };
            let record = DeliveryAttempt {
                attempt,
                started_at,
                finished_at,
                worker: courier.name.clone(),
                status_code: status_code.map(i64::from),
                error,
            };
            let (status, next) = match &sent {
                Ok(_) => (DeliveryStatus::Delivered, finished_at),
                Err(_) => {
                    let failures = u32::try_from(attempt).unwrap_or(u32::MAX);
                    match self.settings.outbox_retry.after_failure(failures, finished_at, random_u64()) {
                        AfterFailure::RetryAt(at) => (DeliveryStatus::Pending, at),
                        AfterFailure::Dead => (DeliveryStatus::Dead, finished_at),
                    }
                }
            };
            let mut tx = self.db.write().await?;
            let moved = tx.finish_attempt(message.id, &record, status, next, message.lease_until).await?;
            match status {
                DeliveryStatus::Delivered => {
                    round.delivered += 1;
                    metrics::counter!("ordo_outbox_delivered_total").increment(1);
                    let latency = (finished_at - message.created_at).to_std().unwrap_or_default();
                    metrics::histogram!("ordo_outbox_delivery_latency_seconds").record(latency.as_secs_f64());
                }
                DeliveryStatus::Pending => {
                    round.failed += 1;
                    metrics::counter!("ordo_outbox_failures_total").increment(1);
                }
                DeliveryStatus::Dead => {
                    round.dead += 1;
                    metrics::counter!("ordo_outbox_failures_total").increment(1);
                    metrics::counter!("ordo_outbox_dead_total").increment(1);
                    if moved {
                        let kind = ExceptionKind::SyncFailure;
                        let subject = format!("message:{}", message.id);
                        let details = serde_json::json!({
                            "endpoint": message.endpoint,
                            "topic": message.topic,
                            "attempts": attempt,
                            "last_error": record.error,
                        });
                        let due = finished_at + kind.sla();
                        tx.raise_exception(kind.as_str(), &subject, kind.owner_role().as_str(), due, &details, finished_at).await?;
                    }
                }
            }
            tx.commit().await?;
        }
        Ok(round)
    }

    /// When the next message falls due, if any is waiting: a worker with nothing to do sleeps
    /// until then.
    pub async fn next_delivery_due(self) -> AppResult<Option<DateTime<Utc>>> {
        let mut tx = self.db.read().await?;
        Ok(tx.next_message_due().await?)
    }

    /// Delivers until `stop` turns true: claims what is due, and between rounds sleeps until
    /// the next message falls due, at most `idle` at a time so new messages are seen soon.
    pub async fn run_courier(self, courier: Courier, idle: Duration, stop: tokio::sync::watch::Receiver<bool>) {
        let mut stop = stop;
        while !*stop.borrow() {
            let wait = match self.deliver_due(&courier, 32).await {
                Ok(round) if round.claimed > 0 => continue,
                Ok(_) => match self.next_delivery_due().await {
                    Ok(Some(at)) => (at - self.now()).to_std().unwrap_or_default().min(idle),
                    Ok(None) => idle,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox: could not read the next due time");
                        idle
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: delivery round failed");
                    idle
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

//! The outbox: notification endpoints, the messages waiting for them, and every try to deliver
//! one. Workers claim due messages; on PostgreSQL several of them share the queue without
//! taking the same row (`FOR UPDATE SKIP LOCKED`), on SQLite the one writer claims in turn.

use chrono::{DateTime, Utc};
use ordo_domain::notification::{DeliveryStatus, Endpoint, Topic, Transport};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx, TxInner};

/// An endpoint as stored, with the secret its webhooks are signed with.
#[derive(Debug, Clone)]
pub struct EndpointRecord {
    pub endpoint: Endpoint,
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

/// A message to write: the event's topic and subject, the body to send as it is.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub id: Uuid,
    pub endpoint: &'a str,
    pub topic: Topic,
    pub subject: &'a str,
    pub body: String,
}

/// A message a worker claimed: what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    pub id: Uuid,
    pub endpoint: String,
    pub transport: Transport,
    pub url: Option<String>,
    pub secret: String,
    pub topic: String,
    pub body: String,
    /// Tries that ended before this one.
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    /// Until when this worker holds it: its try counts only while it still does.
    pub lease_until: DateTime<Utc>,
}

/// A message as the outbox pages show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxMessage {
    pub id: Uuid,
    pub endpoint: String,
    pub topic: String,
    pub subject: String,
    pub body: String,
    #[sqlx(try_from = "String")]
    pub status: ordo_domain::notification::DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// One try at delivering a message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryAttempt {
    pub attempt: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub worker: String,
    pub status_code: Option<i64>,
    pub error: Option<String>,
}

/// Which messages a page shows.
#[derive(Debug, Clone, Default)]
pub struct OutboxQuery {
    pub status: Option<DeliveryStatus>,
    pub endpoint: Option<String>,
    pub subject: Option<String>,
    pub limit: i64,
    pub offset: i64,
    /// After the message this names (its creation time and id), for the next page.
    pub after: Option<ordo_domain::field::PageCursor>,
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    code: String,
    transport: String,
    url: Option<String>,
    secret: String,
    topics: String,
    active: bool,
    created_at: DateTime<Utc>,
}

fn topics(text: &str) -> Result<Vec<Topic>, StorageError> {
    text.split(',')
        .filter(|t| !t.is_empty())
        .map(|t| Topic::parse("topics", t).map_err(|_| crate::error::corrupt("notification_endpoints.topics")))
        .collect()
}

fn endpoint(row: EndpointRow) -> Result<EndpointRecord, StorageError> {
    let transport = Transport::parse("transport", &row.transport)
        .map_err(|_| crate::error::corrupt("notification_endpoints.transport"))?;
    Ok(EndpointRecord {
        endpoint: Endpoint { code: row.code, transport, url: row.url, topics: topics(&row.topics)?, active: row.active },
        secret: row.secret,
        created_at: row.created_at,
    })
}

const MESSAGE_COLUMNS: &str =
    "id, endpoint, topic, subject, body, status, attempts, next_attempt_at, created_at, delivered_at, last_error";

impl Tx {
    pub async fn insert_endpoint(&mut self, record: &EndpointRecord) -> Result<(), StorageError> {
        let e = &record.endpoint;
        let topics: Vec<&str> = e.topics.iter().map(|t| t.as_str()).collect();
        let sql = "INSERT INTO notification_endpoints (code, transport, url, secret, topics, active, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(&e.code)
            .bind(e.transport.as_str())
            .bind(&e.url)
            .bind(&record.secret)
            .bind(topics.join(","))
            .bind(e.active)
            .bind(record.created_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Gives up the pending messages for `endpoint`: dead, with `reason` as their last error;
    /// how many there were.
    pub async fn give_up_pending(&mut self, endpoint: &str, reason: &str) -> Result<u64, StorageError> {
        let sql = "UPDATE outbox SET status = 'dead', last_error = $2 WHERE endpoint = $1 AND status = 'pending'";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(endpoint).bind(reason).execute(conn).await?.rows_affected()))
    }

    /// Turns an endpoint on or off; `false` when there is no such endpoint.
    pub async fn set_endpoint_active(&mut self, code: &str, active: bool) -> Result<bool, StorageError> {
        let sql = "UPDATE notification_endpoints SET active = $1 WHERE code = $2";
        let changed = on_engine!(self, |conn| sqlx::query(sql).bind(active).bind(code).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }

    pub async fn endpoints(&mut self) -> Result<Vec<EndpointRecord>, StorageError> {
        let sql = "SELECT code, transport, url, secret, topics, active, created_at FROM notification_endpoints ORDER BY code";
        let rows: Vec<EndpointRow> = on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        rows.into_iter().map(endpoint).collect()
    }

    /// The endpoints switched on, without their secrets.
    pub async fn active_endpoints(&mut self) -> Result<Vec<Endpoint>, StorageError> {
        let sql = "SELECT code, transport, url, secret, topics, active, created_at FROM notification_endpoints WHERE active";
        let rows: Vec<EndpointRow> = on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        rows.into_iter().map(|row| endpoint(row).map(|record| record.endpoint)).collect()
    }

    /// Writes `messages`, each due at once.
    pub async fn enqueue_messages(&mut self, messages: &[NewMessage<'_>], now: DateTime<Utc>) -> Result<(), StorageError> {
        // Bounded statements: a few hundred rows each keeps well under both engines' limits on
        // bound parameters.
        for chunk in messages.chunks(200) {
            let mut sql = String::from(
                "INSERT INTO outbox (id, endpoint, topic, subject, body, status, attempts, next_attempt_at, created_at) VALUES ",
            );
            for i in 0..chunk.len() {
                let p = i * 6;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("(${}, ${}, ${}, ${}, ${}, 'pending', 0, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 6));
            }
            on_engine!(self, |conn| {
                let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
                for m in chunk {
                    query = query.bind(m.id).bind(m.endpoint).bind(m.topic.as_str()).bind(m.subject).bind(&m.body).bind(now);
                }
                query.execute(conn).await?.rows_affected()
            });
        }
        Ok(())
    }

    /// Claims up to `limit` messages due at `now` for one try each: their next try moves to
    /// `lease_until`, so no other worker takes them meanwhile, and a worker that dies leaves
    /// them to be claimed again then.
    pub async fn claim_messages(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedMessage>, StorageError> {
        let pick = "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3";
        let returning = "RETURNING id, endpoint, topic, body, attempts, created_at";
        let rows: Vec<(Uuid, String, String, String, i64, DateTime<Utc>)> = match &mut self.inner {
            TxInner::Sqlite(tx) => {
                let sql = format!("UPDATE outbox SET next_attempt_at = $1 WHERE id IN ({pick}) {returning}");
                sqlx::query_as(AssertSqlSafe(sql)).bind(lease_until).bind(now).bind(limit).fetch_all(&mut **tx).await?
            }
            TxInner::Postgres(tx) => {
                let sql = format!("UPDATE outbox SET next_attempt_at = $1 WHERE id IN ({pick} FOR UPDATE SKIP LOCKED) {returning}");
                sqlx::query_as(AssertSqlSafe(sql)).bind(lease_until).bind(now).bind(limit).fetch_all(&mut **tx).await?
            }
        };
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // Where each goes, read once for the round.
        let endpoints = self.endpoints().await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for (id, endpoint, topic, body, attempts, created_at) in rows {
            let Some(to) = endpoints.iter().find(|e| e.endpoint.code == endpoint) else {
                return Err(crate::error::corrupt("outbox.endpoint"));
            };
            claimed.push(ClaimedMessage {
                id,
                transport: to.endpoint.transport,
                url: to.endpoint.url.clone(),
                secret: to.secret.clone(),
                endpoint,
                topic,
                body,
                attempts,
                created_at,
                lease_until,
            });
        }
        // Oldest first: ids follow the order the messages were written in.
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    /// Records a try and where the message goes from it: delivered, due again at
    /// `next_attempt_at`, or dead. Tries are numbered on from the last one kept, replays
    /// included. `false` when the message is no longer this worker's (a person replayed it,
    /// or its lease `lease_until` ran out and another worker took it): only the try is kept.
    pub async fn finish_attempt(
        &mut self,
        id: Uuid,
        attempt: &DeliveryAttempt,
        status: DeliveryStatus,
        next_attempt_at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        // Two workers finishing one message (a lease ran out) number their tries in turn.
        self.take_turn(&format!("ordo outbox attempt of {id}")).await?;
        let sql = "INSERT INTO outbox_attempts (message, attempt, started_at, finished_at, worker, status_code, error) \
                   SELECT $1, COALESCE(MAX(attempt), 0) + 1, $2, $3, $4, $5, $6 FROM outbox_attempts WHERE message = $1";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(attempt.started_at)
            .bind(attempt.finished_at)
            .bind(&attempt.worker)
            .bind(attempt.status_code)
            .bind(&attempt.error)
            .execute(conn)
            .await?
            .rows_affected());
        let delivered_at = (status == DeliveryStatus::Delivered).then_some(attempt.finished_at);
        let sql = "UPDATE outbox SET status = $1, attempts = $2, next_attempt_at = $3, delivered_at = $4, last_error = $5 \
                   WHERE id = $6 AND status = 'pending' AND next_attempt_at = $7";
        let changed = on_engine!(self, |conn| sqlx::query(sql)
            .bind(status.as_str())
            .bind(attempt.attempt)
            .bind(next_attempt_at)
            .bind(delivered_at)
            .bind(&attempt.error)
            .bind(id)
            .bind(lease_until)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    /// Puts a dead message back in the queue, due at `now`, with a fresh set of tries (the
    /// ones made stay on record); `false` when it is not dead.
    pub async fn replay_message(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1 WHERE id = $2 AND status = 'dead'";
        let changed = on_engine!(self, |conn| sqlx::query(sql).bind(now).bind(id).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }

    pub async fn outbox_message(&mut self, id: Uuid) -> Result<Option<OutboxMessage>, StorageError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM outbox WHERE id = $1");
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?))
    }

    /// The tries at delivering message `id`, first first. Attempt numbers restart at 1 after a
    /// replay, so a replayed message's later tries sort by when they started.
    pub async fn delivery_attempts(&mut self, id: Uuid) -> Result<Vec<DeliveryAttempt>, StorageError> {
        let sql = "SELECT attempt, started_at, finished_at, worker, status_code, error FROM outbox_attempts \
                   WHERE message = $1 ORDER BY started_at, attempt";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(id).fetch_all(conn).await?))
    }

    /// The messages `query` selects, newest first, and how many it selects in all.
    pub async fn outbox_messages(&mut self, query: &OutboxQuery) -> Result<(Vec<OutboxMessage>, i64), StorageError> {
        let filter = "($1 IS NULL OR status = $1) AND ($2 IS NULL OR endpoint = $2) AND ($3 IS NULL OR subject = $3)";
        let status = query.status.map(DeliveryStatus::as_str);
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM outbox WHERE {filter} AND ($6 IS NULL OR (created_at, id) < ($6, $7)) \
             ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
        );
        let rows: Vec<OutboxMessage> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql))
            .bind(status)
            .bind(&query.endpoint)
            .bind(&query.subject)
            .bind(query.limit)
            .bind(query.offset)
            .bind(query.after.map(|c| c.at))
            .bind(query.after.map(|c| c.id))
            .fetch_all(conn)
            .await?);
        let sql = format!("SELECT COUNT(*) FROM outbox WHERE {filter}");
        let (total,): (i64,) = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql))
            .bind(status)
            .bind(&query.endpoint)
            .bind(&query.subject)
            .fetch_one(conn)
            .await?);
        Ok((rows, total))
    }

    /// When the earliest pending message falls due.
    pub async fn next_message_due(&mut self) -> Result<Option<DateTime<Utc>>, StorageError> {
        let sql = "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).fetch_one(conn).await?))
    }

    /// How many messages stand in each status.
    pub async fn outbox_counts(&mut self) -> Result<Vec<(String, i64)>, StorageError> {
        let sql = "SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }
}

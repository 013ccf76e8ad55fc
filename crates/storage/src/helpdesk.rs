//! Helpdesk tickets and their comments; documents and what they are attached to.

use chrono::{DateTime, Utc};
use ordo_domain::ticket::{Attachment, Ticket, TicketComment, TicketStatus, TicketTriage};
use sqlx::AssertSqlSafe;
use ordo_domain::field::PageCursor;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx};

const TICKET_COLUMNS: &str = "id, channel, reason, priority, status, subject, customer_email, order_id, return_id, assignee, due_at, \
    created_by, created_at, updated_at, solved_at";

#[derive(sqlx::FromRow)]
struct TicketRow {
    id: Uuid,
    channel: Option<String>,
    reason: String,
    priority: String,
    #[sqlx(try_from = "String")]
    status: TicketStatus,
    subject: String,
    customer_email: String,
    order_id: Option<Uuid>,
    return_id: Option<Uuid>,
    assignee: Option<String>,
    due_at: DateTime<Utc>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    solved_at: Option<DateTime<Utc>>,
}

impl From<TicketRow> for Ticket {
    fn from(r: TicketRow) -> Ticket {
        Ticket {
            id: r.id,
            channel: r.channel,
            reason: r.reason,
            priority: r.priority,
            status: r.status,
            subject: r.subject,
            customer_email: r.customer_email,
            order_id: r.order_id,
            return_id: r.return_id,
            assignee: r.assignee,
            due_at: r.due_at,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            solved_at: r.solved_at,
        }
    }
}

/// An attachment as it is downloaded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AttachmentContent {
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct AttachmentRow {
    id: Uuid,
    subject: String,
    file_name: String,
    content_type: String,
    size: i64,
    sha256: String,
    uploaded_by: String,
    uploaded_at: DateTime<Utc>,
}

/// Which tickets a queue shows.
#[derive(Debug, Clone, Default)]
pub struct TicketQuery {
    /// Only these statuses; all when empty.
    pub statuses: Vec<String>,
    pub priority: Option<String>,
    pub assignee: Option<String>,
    pub order_id: Option<Uuid>,
    pub limit: i64,
    pub offset: i64,
    /// After the ticket this names (its due time and id), for the next page.
    pub after: Option<PageCursor>,
    /// Part of the customer's e-mail, any case.
    pub customer_email: Option<String>,
    /// The channel's number of the order the ticket is about.
    pub order_ref: Option<String>,
    /// Opened at or after this.
    pub created_from: Option<DateTime<Utc>>,
    /// Opened before this.
    pub created_to: Option<DateTime<Utc>>,
}

impl Tx {
    pub async fn insert_ticket(&mut self, t: &Ticket) -> Result<(), StorageError> {
        let sql = format!("INSERT INTO tickets ({TICKET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)");
        on_engine!(self, |conn| sqlx::query(AssertSqlSafe(sql))
            .bind(t.id)
            .bind(&t.channel)
            .bind(&t.reason)
            .bind(&t.priority)
            .bind(t.status.as_str())
            .bind(&t.subject)
            .bind(&t.customer_email)
            .bind(t.order_id)
            .bind(t.return_id)
            .bind(&t.assignee)
            .bind(t.due_at)
            .bind(&t.created_by)
            .bind(t.created_at)
            .bind(t.updated_at)
            .bind(t.solved_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn ticket(&mut self, id: Uuid) -> Result<Option<Ticket>, StorageError> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1");
        let row: Option<TicketRow> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?);
        Ok(row.map(Ticket::from))
    }

    /// Tickets `query` selects, the earliest due first.
    pub async fn tickets(&mut self, query: &TicketQuery) -> Result<Vec<Ticket>, StorageError> {
        // The statuses asked for, one placeholder each, so the queue's (status, due_at) index
        // serves the common case.
        let status_filter = match query.statuses.len() {
            0 => "TRUE".to_owned(),
            n => format!("status IN ({})", (0..n).map(|k| format!("${}", k + 12)).collect::<Vec<_>>().join(", ")),
        };
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE {status_filter} \
             AND ($1 IS NULL OR priority = $1) AND ($2 IS NULL OR assignee = $2) AND ($3 IS NULL OR order_id = $3) \
             AND ($8 IS NULL OR LOWER(customer_email) LIKE $8 ESCAPE '\\') \
             AND ($9 IS NULL OR order_id IN (SELECT id FROM orders WHERE external_id = $9)) \
             AND ($10 IS NULL OR created_at >= $10) AND ($11 IS NULL OR created_at < $11) \
             AND ($6 IS NULL OR (due_at, id) > ($6, $7)) ORDER BY due_at, id LIMIT $4 OFFSET $5"
        );
        let customer = query.customer_email.as_deref().map(|text| format!("%{}%", text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        let rows: Vec<TicketRow> = on_engine!(self, |conn| {
            let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(&query.priority)
                .bind(&query.assignee)
                .bind(query.order_id)
                .bind(query.limit)
                .bind(query.offset)
                .bind(query.after.map(|c| c.at))
                .bind(query.after.map(|c| c.id))
                .bind(&customer)
                .bind(&query.order_ref)
                .bind(query.created_from)
                .bind(query.created_to);
            for status in &query.statuses {
                q = q.bind(status);
            }
            q.fetch_all(conn).await?
        });
        Ok(rows.into_iter().map(Ticket::from).collect())
    }

    /// Moves a ticket from `from` to `to`; `false` when it was no longer `from`.
    pub async fn set_ticket_status(
        &mut self,
        id: Uuid,
        from: &str,
        to: &str,
        solved_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "UPDATE tickets SET status = $3, solved_at = $4, updated_at = $5 WHERE id = $1 AND status = $2";
        let changed =
            on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(from).bind(to).bind(solved_at).bind(now).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }

    pub async fn assign_ticket(&mut self, id: Uuid, assignee: Option<&str>, now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "UPDATE tickets SET assignee = $2, updated_at = $3 WHERE id = $1";
        on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(assignee).bind(now).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// Keeps what triage suggested for a new ticket.
    pub async fn insert_ticket_triage(&mut self, ticket: Uuid, t: &TicketTriage) -> Result<(), StorageError> {
        let sql = "INSERT INTO ticket_triage (ticket_id, intent, category, urgency, confidence_permille, words, urgency_words) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let words = serde_json::to_string(&t.words).unwrap_or_default();
        let urgency_words = serde_json::to_string(&t.urgency_words).unwrap_or_default();
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(ticket)
            .bind(&t.intent)
            .bind(&t.category)
            .bind(&t.urgency)
            .bind(t.confidence_permille)
            .bind(&words)
            .bind(&urgency_words)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// What triage suggested for a ticket, and its label; none for a ticket opened before.
    pub async fn ticket_triage(&mut self, ticket: Uuid) -> Result<Option<TicketTriage>, StorageError> {
        let sql = "SELECT intent, category, urgency, confidence_permille, words, urgency_words, label_intent, label_category, labelled_by, labelled_at \
                   FROM ticket_triage WHERE ticket_id = $1";
        type Row = (String, String, String, i64, String, String, Option<String>, Option<String>, Option<String>, Option<DateTime<Utc>>);
        let row: Option<Row> = on_engine!(self, |conn| sqlx::query_as(sql).bind(ticket).fetch_optional(conn).await?);
        Ok(row.map(|(intent, category, urgency, confidence_permille, words, urgency_words, label_intent, label_category, labelled_by, labelled_at)| {
            let list = |text: &str| serde_json::from_str::<Vec<String>>(text).unwrap_or_default();
            TicketTriage {
                intent,
                category,
                urgency,
                confidence_permille,
                words: list(&words),
                urgency_words: list(&urgency_words),
                label_intent,
                label_category,
                labelled_by,
                labelled_at,
            }
        }))
    }

    /// Records the intent a person gave a ticket; `false` when triage kept nothing for it.
    pub async fn label_ticket(&mut self, ticket: Uuid, intent: &str, category: &str, by: &str, at: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE ticket_triage SET label_intent = $2, label_category = $3, labelled_by = $4, labelled_at = $5 WHERE ticket_id = $1";
        let changed = on_engine!(self, |conn| sqlx::query(sql).bind(ticket).bind(intent).bind(category).bind(by).bind(at).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Every ticket a person labelled: its subject and first message, its intent and category.
    pub async fn labelled_tickets(&mut self) -> Result<Vec<(String, String, String)>, StorageError> {
        let sql = "SELECT t.subject || ' ' || COALESCE((SELECT c.body FROM ticket_comments c WHERE c.ticket_id = t.id ORDER BY c.at, c.id LIMIT 1), ''), \
                          r.label_intent, r.label_category \
                   FROM ticket_triage r JOIN tickets t ON t.id = r.ticket_id \
                   WHERE r.label_intent IS NOT NULL AND r.label_category IS NOT NULL ORDER BY r.labelled_at, r.ticket_id";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }

    /// Links a ticket to the order it is about, and to the order's channel when it had none.
    pub async fn link_ticket_order(&mut self, id: Uuid, order: Uuid, channel: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "UPDATE tickets SET order_id = $2, channel = COALESCE(channel, $3), updated_at = $4 WHERE id = $1";
        on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(order).bind(channel).bind(now).execute(conn).await?.rows_affected());
        Ok(())
    }

    pub async fn add_ticket_comment(&mut self, id: Uuid, comment: &TicketComment) -> Result<(), StorageError> {
        let sql = "INSERT INTO ticket_comments (id, ticket_id, at, author, body, internal) VALUES ($1, $2, $3, $4, $5, $6)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(Uuid::now_v7())
            .bind(id)
            .bind(comment.at)
            .bind(&comment.author)
            .bind(&comment.body)
            .bind(comment.internal)
            .execute(conn)
            .await?
            .rows_affected());
        let sql = "UPDATE tickets SET updated_at = $2 WHERE id = $1";
        on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(comment.at).execute(conn).await?.rows_affected());
        Ok(())
    }

    pub async fn ticket_comments(&mut self, id: Uuid) -> Result<Vec<TicketComment>, StorageError> {
        let sql = "SELECT at, author, body, internal FROM ticket_comments WHERE ticket_id = $1 ORDER BY at, id";
        let rows: Vec<(DateTime<Utc>, String, String, bool)> = on_engine!(self, |conn| sqlx::query_as(sql).bind(id).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(at, author, body, internal)| TicketComment { at, author, body, internal }).collect())
    }

    /// Open and pending tickets past their due time.
    pub async fn overdue_tickets(&mut self, now: DateTime<Utc>) -> Result<Vec<Ticket>, StorageError> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE status IN ('open', 'pending') AND due_at < $1");
        let rows: Vec<TicketRow> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(now).fetch_all(conn).await?);
        Ok(rows.into_iter().map(Ticket::from).collect())
    }

    /// Tickets open or pending, and of them those past their due time at `now`.
    pub async fn ticket_counts(&mut self, now: DateTime<Utc>) -> Result<(i64, i64), StorageError> {
        let sql = "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN due_at < $1 THEN 1 ELSE 0 END), 0) AS BIGINT) FROM tickets WHERE status IN ('open', 'pending')";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(now).fetch_one(conn).await?))
    }

    /// Keeps `content` under its hash unless it is kept already.
    pub async fn put_document(&mut self, sha256: &str, content_type: &str, content: &[u8], now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "INSERT INTO documents (sha256, content_type, size, content, created_at) VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (sha256) DO NOTHING";
        let size = i64::try_from(content.len()).unwrap_or(i64::MAX);
        on_engine!(self, |conn| sqlx::query(sql).bind(sha256).bind(content_type).bind(size).bind(content).bind(now).execute(conn).await?.rows_affected());
        Ok(())
    }

    pub async fn insert_attachment(&mut self, a: &Attachment) -> Result<(), StorageError> {
        let sql = "INSERT INTO attachments (id, subject, sha256, file_name, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(a.id)
            .bind(&a.subject)
            .bind(&a.sha256)
            .bind(&a.file_name)
            .bind(&a.uploaded_by)
            .bind(a.uploaded_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn attachments(&mut self, subject: &str) -> Result<Vec<Attachment>, StorageError> {
        let sql = "SELECT a.id, a.subject, a.file_name, d.content_type, d.size, a.sha256, a.uploaded_by, a.uploaded_at \
                   FROM attachments a JOIN documents d ON d.sha256 = a.sha256 WHERE a.subject = $1 ORDER BY a.uploaded_at, a.id";
        let rows: Vec<AttachmentRow> = on_engine!(self, |conn| sqlx::query_as(sql).bind(subject).fetch_all(conn).await?);
        Ok(rows
            .into_iter()
            .map(|r| Attachment {
                id: r.id,
                subject: r.subject,
                file_name: r.file_name,
                content_type: r.content_type,
                size: r.size,
                sha256: r.sha256,
                uploaded_by: r.uploaded_by,
                uploaded_at: r.uploaded_at,
            })
            .collect())
    }

    /// An attachment's file name, type and content.
    pub async fn attachment_content(&mut self, id: Uuid) -> Result<Option<AttachmentContent>, StorageError> {
        let sql = "SELECT a.file_name, d.content_type, d.content FROM attachments a JOIN documents d ON d.sha256 = a.sha256 WHERE a.id = $1";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(id).fetch_optional(conn).await?))
    }
}

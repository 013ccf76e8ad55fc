//! The helpdesk: tickets by channel, reason and priority, linked to a customer, an order and a
//! return, with internal comments and a time to solve them; and documents (dispute evidence,
//! photos, policies) attached to tickets, returns, orders and suppliers.

use ordo_domain::audit::Change;
use ordo_domain::exception::ExceptionKind;
use std::sync::Arc;

use ordo_domain::ticket::{self, Attachment, DocumentRefusal, Priority, Ticket, TicketComment, TicketReason, TicketStatus, TicketTriage};
use ordo_triage::{Classifier, Labelled};
use ordo_domain::FieldError;
use ordo_storage::TicketQuery;
use uuid::Uuid;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Helpdesk};

/// A ticket as someone opens it.
#[derive(Debug, Clone, Default)]
pub struct NewTicket {
    pub channel: Option<String>,
    pub reason: String,
    pub priority: String,
    pub subject: String,
    pub customer_email: String,
    pub order_id: Option<Uuid>,
    pub return_id: Option<Uuid>,
    /// The customer's first message.
    pub body: String,
}

/// A ticket with its comments and attachments.
#[derive(Debug, Clone)]
pub struct TicketDetail {
    pub ticket: Ticket,
    pub comments: Vec<TicketComment>,
    pub attachments: Vec<Attachment>,
    /// What triage suggested, and the label a person gave it.
    pub triage: Option<TicketTriage>,
}

/// What retraining the ticket classifier learned from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Retrained {
    /// Labelled tickets Ordo ships with.
    pub shipped_tickets: usize,
    /// Tickets the business's people labelled.
    pub labelled_tickets: usize,
}

/// What triage suggests for a ticket, as kept with it.
fn suggestion(model: &Classifier, text: &str) -> TicketTriage {
    let s = model.classify(text);
    TicketTriage {
        intent: s.intent,
        category: s.category,
        urgency: s.urgency.as_str().to_owned(),
        confidence_permille: i64::from(s.confidence_permille),
        words: s.words,
        urgency_words: s.urgency_words,
        label_intent: None,
        label_category: None,
        labelled_by: None,
        labelled_at: None,
    }
}

impl crate::Ordo {
    /// The ticket classifier in use. The first use in a process learns from Ordo's own
    /// labelled tickets and every label the business gave; retraining learns again.
    async fn classifier(&self) -> AppResult<Arc<Classifier>> {
        if let Some(model) = self.triage.read().ok().and_then(|held| held.clone()) {
            return Ok(model);
        }
        let (model, _) = self.train_triage().await?;
        Ok(match self.triage.write() {
            Ok(mut held) => held.get_or_insert(model).clone(),
            Err(_) => model,
        })
    }

    /// A classifier trained on Ordo's own labelled tickets and the business's labels.
    async fn train_triage(&self) -> AppResult<(Arc<Classifier>, Retrained)> {
        let unreadable = |e: ordo_triage::TriageError| AppError::Storage(ordo_storage::StorageError::Unavailable(e.to_string()));
        let mut set = ordo_triage::read_labelled(ordo_triage::TRAINING_SET).map_err(unreadable)?;
        let labelled = self.db.read().await?.labelled_tickets().await?;
        let counts = Retrained { shipped_tickets: set.len(), labelled_tickets: labelled.len() };
        set.extend(labelled.into_iter().map(|(text, intent, category)| Labelled { text, intent, category }));
        let model = Classifier::train(&set).map_err(|e| FieldError::new("labels", e.to_string()))?;
        Ok((Arc::new(model), counts))
    }
}

/// Why a document was not attached; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("the document is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    App(#[from] AppError),
}

fn ticket_not_found(id: Uuid) -> AppError {
    AppError::NotFound { what: "ticket", key: id.to_string() }
}

fn body_text(field: &str, text: &str) -> AppResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(FieldError::new(field, "must be 1 to 10000 characters").into());
    }
    Ok(text.to_owned())
}

impl Helpdesk<'_> {
    pub async fn open_ticket(self, new: NewTicket, actor: &Actor) -> AppResult<TicketDetail> {
        let reason = TicketReason::parse("reason", &new.reason)?;
        let priority = Priority::parse("priority", &new.priority)?;
        let subject = ordo_domain::field::text("subject", &new.subject)?;
        let email = new.customer_email.trim().to_ascii_lowercase();
        if !email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace) {
            return Err(FieldError::new("customer_email", "must be an e-mail address").into());
        }
        let body = body_text("body", &new.body)?;
        let now = self.now();
        let model = self.classifier().await?;
        let mut tx = self.db.write().await?;
        if let Some(channel) = &new.channel
            && tx.channel(channel).await?.is_none()
        {
            return Err(FieldError::new("channel", format!("unknown channel {channel:?}")).into());
        }
        if let Some(order) = new.order_id
            && tx.order_status(order).await?.is_none()
        {
            return Err(FieldError::new("order_id", format!("unknown order {order}")).into());
        }
        if let Some(id) = new.return_id {
            match tx.return_record(id).await? {
                None => return Err(FieldError::new("return_id", format!("unknown return {id}")).into()),
                Some(r) if new.order_id.is_some_and(|o| o != r.order_id) => {
                    return Err(FieldError::new("return_id", "the return belongs to another order").into());
                }
                Some(_) => {}
            }
        }
        let ticket = Ticket {
            id: Uuid::now_v7(),
            channel: new.channel,
            reason: reason.as_str().to_owned(),
            priority: priority.as_str().to_owned(),
            status: TicketStatus::Open,
            subject,
            customer_email: email,
            order_id: new.order_id,
            return_id: new.return_id,
            assignee: None,
            due_at: now + priority.sla(),
            created_by: actor.to_string(),
            created_at: now,
            updated_at: now,
            solved_at: None,
        };
        tx.insert_ticket(&ticket).await?;
        let triage = suggestion(&model, &format!("{} {body}", ticket.subject));
        tx.insert_ticket_triage(ticket.id, &triage).await?;
        tx.add_ticket_comment(ticket.id, &TicketComment { at: now, author: ticket.customer_email.clone(), body, internal: false }).await?;
        let after = serde_json::json!({"reason": ticket.reason, "priority": ticket.priority, "order": ticket.order_id, "return": ticket.return_id});
        record(&mut tx, actor, now, &[Change::new("ticket.open", format!("ticket:{}", ticket.id)).after(after)]).await?;
        tx.commit().await?;
        self.ticket(ticket.id).await
    }

    pub async fn ticket(self, id: Uuid) -> AppResult<TicketDetail> {
        let mut tx = self.db.read().await?;
        let ticket = tx.ticket(id).await?.ok_or_else(|| ticket_not_found(id))?;
        let comments = tx.ticket_comments(id).await?;
        let attachments = tx.attachments(&format!("ticket:{id}")).await?;
        let triage = tx.ticket_triage(id).await?;
        Ok(TicketDetail { ticket, comments, attachments, triage })
    }

    /// The intents triage knows, each with its category, for a person labelling a ticket.
    pub async fn intents(self) -> AppResult<Vec<(String, String)>> {
        Ok(self.classifier().await?.intents().map(|(intent, category)| (intent.to_owned(), category.to_owned())).collect())
    }

    /// Labels a ticket with the intent a person says it has: the suggestion accepted, or
    /// changed. Labels are what the classifier learns from when retrained.
    pub async fn label_ticket(self, id: Uuid, intent: &str, actor: &Actor) -> AppResult<TicketDetail> {
        let model = self.classifier().await?;
        let intent = intent.trim();
        let Some(category) = model.intents().find(|(known, _)| *known == intent).map(|(_, category)| category.to_owned()) else {
            let known: Vec<&str> = model.intents().map(|(known, _)| known).collect();
            return Err(FieldError::new("intent", format!("must be one of {}", known.join(", "))).into());
        };
        let now = self.now();
        let mut tx = self.db.write().await?;
        let ticket = tx.ticket(id).await?.ok_or_else(|| ticket_not_found(id))?;
        let before = match tx.ticket_triage(id).await? {
            Some(kept) => kept,
            // A ticket opened before triage: what it would have suggested, kept now.
            None => {
                let first = tx.ticket_comments(id).await?.into_iter().next().map(|c| c.body).unwrap_or_default();
                let made = suggestion(&model, &format!("{} {first}", ticket.subject));
                tx.insert_ticket_triage(id, &made).await?;
                made
            }
        };
        tx.label_ticket(id, intent, &category, &actor.to_string(), now).await?;
        let change = Change::new("ticket.label", format!("ticket:{id}"))
            .before(serde_json::json!({"suggested": before.intent, "label": before.label_intent}))
            .after(serde_json::json!({"label": intent, "category": category}));
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        self.ticket(id).await
    }

    /// Retrains the ticket classifier on Ordo's own labelled tickets and every ticket the
    /// business's people labelled; this process classifies with it from now on (another
    /// process learns them when it starts, or is retrained too).
    pub async fn retrain_triage(self, actor: &Actor) -> AppResult<Retrained> {
        let (model, counts) = self.train_triage().await?;
        if let Ok(mut held) = self.triage.write() {
            *held = Some(model);
        }
        let mut tx = self.db.write().await?;
        let change = Change::new("triage.retrain", "triage").after(serde_json::json!({"shipped_tickets": counts.shipped_tickets, "labelled_tickets": counts.labelled_tickets}));
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// The queue: tickets in `statuses` (all when empty), earliest due first.
    pub async fn tickets(self, mut query: TicketQuery) -> AppResult<Vec<Ticket>> {
        for (i, status) in query.statuses.iter().enumerate() {
            TicketStatus::parse(&format!("status[{i}]"), status)?;
        }
        if let Some(priority) = &query.priority {
            Priority::parse("priority", priority)?;
        }
        query.limit = ordo_domain::field::bounded("limit", query.limit, 1, 1000)?;
        query.offset = ordo_domain::field::bounded("offset", query.offset, 0, i64::MAX)?;
        Ok(self.db.read().await?.tickets(&query).await?)
    }

    /// A comment: internal for colleagues, or a reply that goes to the customer (the ticket
    /// then waits on them).
    pub async fn comment_on_ticket(self, id: Uuid, body: &str, internal: bool, actor: &Actor) -> AppResult<TicketDetail> {
        let body = body_text("body", body)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let ticket = tx.ticket(id).await?.ok_or_else(|| ticket_not_found(id))?;
        if ticket.status == TicketStatus::Closed {
            return Err(AppError::InvalidTransition { current: "closed", message: "a closed ticket takes no more comments".into() });
        }
        tx.add_ticket_comment(id, &TicketComment { at: now, author: actor.to_string(), body, internal }).await?;
        // A reply leaves the next step with the customer.
        if !internal && ticket.status == TicketStatus::Open {
            tx.set_ticket_status(id, TicketStatus::Open.as_str(), TicketStatus::Pending.as_str(), None, now).await?;
        }
        record(&mut tx, actor, now, &[Change::new("ticket.comment", format!("ticket:{id}")).after(serde_json::json!({"internal": internal}))]).await?;
        tx.commit().await?;
        self.ticket(id).await
    }

    pub async fn set_ticket_status(self, id: Uuid, status: &str, actor: &Actor) -> AppResult<TicketDetail> {
        let next = TicketStatus::parse("status", status)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let ticket = tx.ticket(id).await?.ok_or_else(|| ticket_not_found(id))?;
        let current = ticket.status;
        if !current.can_become(next) {
            return Err(AppError::InvalidTransition {
                current: current.as_str(),
                message: format!("a ticket that is {} cannot become {}", current.as_str(), next.as_str()),
            });
        }
        let solved_at = match next {
            TicketStatus::Solved | TicketStatus::Closed => Some(ticket.solved_at.unwrap_or(now)),
            TicketStatus::Open | TicketStatus::Pending => None,
        };
        if !tx.set_ticket_status(id, current.as_str(), next.as_str(), solved_at, now).await? {
            return Err(AppError::InvalidTransition { current: current.as_str(), message: "the ticket changed meanwhile".into() });
        }
        if solved_at.is_some() {
            tx.resolve_exception(ExceptionKind::TicketOverdue.as_str(), &format!("ticket:{id}"), next.as_str(), now).await?;
        }
        let change = Change::new("ticket.status", format!("ticket:{id}"))
            .before(serde_json::json!({"status": current.as_str()}))
            .after(serde_json::json!({"status": next.as_str()}));
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        self.ticket(id).await
    }

    pub async fn assign_ticket(self, id: Uuid, assignee: Option<&str>, actor: &Actor) -> AppResult<TicketDetail> {
        let assignee = assignee.map(|a| ordo_domain::field::text("assignee", a)).transpose()?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let ticket = tx.ticket(id).await?.ok_or_else(|| ticket_not_found(id))?;
        tx.assign_ticket(id, assignee.as_deref(), now).await?;
        let change = Change::new("ticket.assign", format!("ticket:{id}")).before(&ticket.assignee).after(&assignee);
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        self.ticket(id).await
    }

    /// Links the ticket to the order it is about (found by its channel and number), so the
    /// ticket shows where the order stands and its parcels. A ticket about a return stays
    /// with that return's order.
    pub async fn link_order(self, id: Uuid, channel: &str, external_id: &str, actor: &Actor) -> AppResult<TicketDetail> {
        let (channel, external_id) = (channel.trim(), external_id.trim());
        if channel.is_empty() {
            return Err(FieldError::new("channel", "choose the order's channel").into());
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let ticket = tx.ticket(id).await?.ok_or_else(|| ticket_not_found(id))?;
        let Some(order) = tx.order_id_by_external_id(channel, external_id).await? else {
            return Err(FieldError::new("order", format!("{channel} has no order {external_id:?}")).into());
        };
        if let Some(ret) = ticket.return_id
            && tx.return_record(ret).await?.is_some_and(|r| r.order_id != order)
        {
            return Err(FieldError::new("order", "the ticket is about a return of another order").into());
        }
        tx.link_ticket_order(id, order, channel, now).await?;
        let change = Change::new("ticket.link_order", format!("ticket:{id}")).before(ticket.order_id).after(order);
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        self.ticket(id).await
    }

    /// Raises a `ticket_overdue` exception for each open or pending ticket past its time.
    pub async fn watch_tickets(self) -> AppResult<u64> {
        let now = self.now();
        let kind = ExceptionKind::TicketOverdue;
        let mut tx = self.db.write().await?;
        let mut raised = 0;
        for t in tx.overdue_tickets(now).await? {
            let details = serde_json::json!({"priority": t.priority, "reason": t.reason, "due_at": t.due_at, "customer_email": t.customer_email});
            if tx.raise_exception(kind.as_str(), &format!("ticket:{}", t.id), kind.owner_role().as_str(), now + kind.sla(), &details, now).await? {
                raised += 1;
            }
        }
        tx.commit().await?;
        Ok(raised)
    }

    /// Attaches a document to `subject` (`ticket:ID`, `return:ID`, `order:ID`,
    /// `supplier:CODE`), which must exist. The content is kept once under its SHA-256 however
    /// often it is attached; its type is read from its bytes and must match `content_type`.
    pub async fn attach(self, subject: &str, file_name: &str, content_type: &str, content: &[u8], actor: &Actor) -> Result<Attachment, AttachError> {
        let kind = match ticket::check_document(content_type, content) {
            Ok(kind) => kind,
            Err(DocumentRefusal::TooLarge { limit }) => return Err(AttachError::TooLarge { limit }),
            Err(DocumentRefusal::Empty) => return Err(AppError::Invalid(FieldError::new("body", "the document is empty")).into()),
            Err(DocumentRefusal::Unsupported(why)) => return Err(AttachError::Unsupported(why)),
        };
        let file_name = ticket::file_name("file_name", file_name).map_err(AppError::Invalid)?;
        let now = self.now();
        let mut tx = self.db.write().await.map_err(AppError::from)?;
        let exists = match subject.split_once(':') {
            Some(("ticket", id)) => match id.parse() {
                Ok(id) => tx.ticket(id).await.map_err(AppError::from)?.is_some(),
                Err(_) => false,
            },
            Some(("return", id)) => match id.parse() {
                Ok(id) => tx.return_record(id).await.map_err(AppError::from)?.is_some(),
                Err(_) => false,
            },
            Some(("order", id)) => match id.parse() {
                Ok(id) => tx.order_status(id).await.map_err(AppError::from)?.is_some(),
                Err(_) => false,
            },
            Some(("supplier", code)) => tx.suppliers().await.map_err(AppError::from)?.iter().any(|s| s.code == code),
            _ => false,
        };
        if !exists {
            return Err(AppError::NotFound { what: "attachment subject", key: subject.to_owned() }.into());
        }
        let sha256 = crate::access::sha256_hex(content);
        tx.put_document(&sha256, kind, content, now).await.map_err(AppError::from)?;
        let attachment = Attachment {
            id: Uuid::now_v7(),
            subject: subject.to_owned(),
            file_name,
            content_type: kind.to_owned(),
            size: i64::try_from(content.len()).unwrap_or(i64::MAX),
            sha256,
            uploaded_by: actor.to_string(),
            uploaded_at: now,
        };
        tx.insert_attachment(&attachment).await.map_err(AppError::from)?;
        let after = serde_json::json!({"attachment": attachment.id, "file_name": attachment.file_name, "sha256": attachment.sha256, "size": attachment.size});
        record(&mut tx, actor, now, &[Change::new("document.attach", subject.to_owned()).after(after)]).await?;
        tx.commit().await.map_err(AppError::from)?;
        Ok(attachment)
    }

    pub async fn attachments(self, subject: &str) -> AppResult<Vec<Attachment>> {
        Ok(self.db.read().await?.attachments(subject).await?)
    }

    /// An attachment's file name, type and bytes.
    pub async fn attachment_content(self, id: Uuid) -> AppResult<ordo_storage::AttachmentContent> {
        self.db.read().await?.attachment_content(id).await?.ok_or(AppError::NotFound { what: "attachment", key: id.to_string() })
    }
}

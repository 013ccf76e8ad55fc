//! The helpdesk queue: tickets still to do, most urgent first, with their age and due time;
//! one ticket with its conversation, internal notes and attachments.

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use ordo_app::{TicketDetail, TicketQuery};
use ordo_domain::access::Permission;
use ordo_domain::ticket::{Priority, Ticket, TicketReason, TicketStatus};
use ordo_domain::FieldError;
use ordo_domain::field::PageCursor;
use serde::Deserialize;

use super::{Choice, Layout, Page, Pager, PAGE_SIZE};
use crate::error::{render, PageError};
use crate::forms::{refusal, Control, Entered, EntryForm, Input};
use crate::session::Session;
use crate::Dashboard;

struct TicketRow {
    href: String,
    subject: String,
    reason: String,
    priority: String,
    status: TicketStatus,
    customer: String,
    assignee: String,
    age_hours: i64,
    due: chrono::DateTime<Utc>,
    overdue: bool,
}

impl TicketRow {
    fn new(t: &Ticket, now: chrono::DateTime<Utc>) -> TicketRow {
        TicketRow {
            href: format!("{}/{}", Page::Helpdesk.href(), t.id),
            subject: t.subject.clone(),
            reason: t.reason.replace('_', " "),
            priority: t.priority.clone(),
            status: t.status,
            customer: t.customer_email.clone(),
            assignee: t.assignee.clone().unwrap_or_default(),
            age_hours: (now - t.created_at).num_hours().max(0),
            due: t.due_at,
            overdue: matches!(t.status, TicketStatus::Open | TicketStatus::Pending) && t.due_at < now,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct QueueQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    /// Where the page starts: after the ticket this names (given by the page before).
    #[serde(default)]
    cursor: Option<String>,
    /// `csv` for every matching ticket as a file.
    #[serde(default)]
    format: Option<String>,
    /// Part of the customer's e-mail.
    #[serde(default)]
    customer: Option<String>,
    /// The channel's number of the order a ticket is about.
    #[serde(default)]
    order: Option<String>,
    /// Opened from this day, included, in the reader's time zone.
    #[serde(default)]
    from: Option<String>,
    /// Opened up to this day, included.
    #[serde(default)]
    to: Option<String>,
}

fn ticket_form(entered: Option<&Entered>, channels: &[(String, String)]) -> EntryForm {
    let reasons: Vec<(&str, String)> = TicketReason::ALL.iter().map(|r| (r.as_str(), r.as_str().replace('_', " "))).collect();
    let reasons: Vec<(&str, &str)> = reasons.iter().map(|(v, l)| (*v, l.as_str())).collect();
    let priorities: Vec<(&str, &str)> = Priority::ALL.iter().rev().map(|p| (p.as_str(), p.as_str())).collect();
    let mut channel_choices: Vec<(&str, &str)> = vec![("", "none")];
    channel_choices.extend(channels.iter().map(|(code, label)| (code.as_str(), label.as_str())));
    EntryForm::new("new-ticket", "New ticket", Page::Helpdesk.href(), "Open the ticket", vec![
        Input::text("customer_email", "Customer's e-mail").of(Control::Email),
        Input::text("subject", "Subject"),
        Input::text("reason", "About").select(&reasons),
        Input::text("priority", "Priority").select(&priorities).value("normal"),
        Input::text("channel", "Channel").select(&channel_choices).optional(),
        Input::text("order", "Order number").optional().hint("the channel's order number, to link the ticket to it"),
        Input::text("body", "What the customer said").of(Control::TextArea),
    ])
    .about("A customer's question by phone or e-mail. Linked to an order, the ticket shows where it stands and where its parcels are.")
    .entered(entered)
    .mark_choices()
}

pub(crate) async fn open_ticket(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Helpdesk, &headers, Permission::TicketsWrite)?;
    let fields = super::form_fields(&body);
    let text = |name: &str| super::field(&fields, name).trim().to_owned();
    let channel = Some(text("channel")).filter(|c| !c.is_empty());
    let order = match (text("order"), &channel) {
        (number, _) if number.is_empty() => Ok(None),
        (_, None) => Err(FieldError::new("channel", "choose the order's channel").into()),
        (number, Some(channel)) => match dashboard.ordo.orders().order_by_external_id(channel, &number).await {
            Ok(order) => Ok(Some(order.id)),
            Err(ordo_app::AppError::NotFound { .. }) => Err(FieldError::new("order", format!("{channel} has no order {number:?}")).into()),
            Err(other) => Err(other),
        },
    };
    let opened = match order {
        Ok(order_id) => {
            let new = ordo_app::NewTicket {
                channel,
                reason: text("reason"),
                priority: text("priority"),
                subject: text("subject"),
                customer_email: text("customer_email"),
                order_id,
                return_id: None,
                body: super::field(&fields, "body").to_owned(),
            };
            dashboard.ordo.helpdesk().open_ticket(new, &session.actor).await.map(|t| t.ticket.id)
        }
        Err(error) => Err(error),
    };
    match opened {
        Ok(id) => Ok(Redirect::to(&format!("{}/{id}", Page::Helpdesk.href())).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            let query = QueueQuery::default();
            queue_page(&session, &dashboard, query, Some(Entered::new(fields, refused))).await
        }
    }
}

#[derive(Template)]
#[template(path = "helpdesk.html")]
struct QueuePage {
    layout: Layout,
    tickets: Vec<TicketRow>,
    overdue: usize,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    pager: Pager,
    csv_href: String,
    forms: Vec<EntryForm>,
    search: Search,
}

/// What the queue was searched for, as typed.
struct Search {
    customer: String,
    order: String,
    from: String,
    to: String,
}

pub(crate) async fn queue(session: Session, State(dashboard): State<Dashboard>, query: Result<Query<QueueQuery>, QueryRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Helpdesk)?;
    let query = layout.query(query)?;
    queue_page(&session, &dashboard, query, None).await
}

async fn queue_page(session: &Session, dashboard: &Dashboard, query: QueueQuery, entered: Option<Entered>) -> Result<Response, PageError> {
    let layout = session.open(Page::Helpdesk)?;
    let after = super::cursor(&layout, query.cursor.as_deref())?;
    let status = query.status.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).unwrap_or_else(|| "open,pending".to_owned());
    let priority = query.priority.map(|p| p.trim().to_owned()).unwrap_or_default();
    let statuses: Vec<String> = if status == "any" { Vec::new() } else { status.split(',').map(str::to_owned).collect() };
    let text = |value: &Option<String>| value.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let (customer, order, from, to) = (text(&query.customer), text(&query.order), text(&query.from), text(&query.to));
    let (created_from, created_to) = super::days_in_reader_zone(&from, &to).map_err(|e| layout.fail(e))?;
    let some = |value: &str| Some(value.to_owned()).filter(|v| !v.is_empty());
    let filter = TicketQuery {
        statuses,
        priority: some(&priority),
        limit: PAGE_SIZE + 1,
        after,
        customer_email: some(&customer),
        order_ref: some(&order),
        created_from,
        created_to,
        ..TicketQuery::default()
    };
    let key = |t: &Ticket| PageCursor { at: t.due_at, id: t.id };
    let now = dashboard.ordo.now();
    let helpdesk = dashboard.ordo.helpdesk();
    if query.format.as_deref() == Some("csv") {
        let tickets = super::every_page_after(1000, key, |after| helpdesk.tickets(TicketQuery { limit: 1000, after, ..filter.clone() })).await.map_err(|e| layout.fail(e))?;
        let rows = tickets.iter().map(|t| {
            let row = TicketRow::new(t, now);
            vec![t.created_at.to_rfc3339(), row.subject, row.reason, row.priority, t.status.as_str().to_owned(), row.customer, row.assignee, t.due_at.to_rfc3339()]
        });
        let header = ["created_at", "subject", "reason", "priority", "status", "customer", "assignee", "due_at"];
        return Ok(super::csv_file("tickets.csv", super::csv_rows(&header, rows)));
    }
    let (found, next) = super::one_page(helpdesk.tickets(filter).await.map_err(|e| layout.fail(e))?, key);
    let tickets: Vec<TicketRow> = found.iter().map(|t| TicketRow::new(t, now)).collect();
    let overdue = tickets.iter().filter(|t| t.overdue).count();
    let status_choices = ["open,pending", "open", "pending", "solved", "closed", "any"]
        .iter()
        .map(|s| Choice { value: (*s).to_owned(), label: s.replace(',', " or "), selected: *s == status })
        .collect();
    let priorities = std::iter::once(Choice { value: String::new(), label: "any".into(), selected: priority.is_empty() })
        .chain(Priority::ALL.iter().rev().map(|p| Choice { value: p.as_str().into(), label: p.as_str().into(), selected: p.as_str() == priority }))
        .collect();
    let params = [("status", status.as_str()), ("priority", priority.as_str()), ("customer", &customer), ("order", &order), ("from", &from), ("to", &to)];
    let pager = Pager::by_cursor(Page::Helpdesk.href(), &params, after.is_some(), tickets.len(), None, next.as_deref(), "tickets");
    let mut export = params.to_vec();
    export.push(("format", "csv"));
    let csv_href = crate::href::with_query(Page::Helpdesk.href(), &export);
    let forms = if session.actor.can(Permission::TicketsWrite) {
        let channels = dashboard.ordo.master_data().channels().await.map_err(|e| layout.fail(e))?;
        let channels: Vec<(String, String)> = channels.into_iter().map(|c| (c.code.clone(), format!("{} ({})", c.name, c.code))).collect();
        vec![ticket_form(entered.as_ref(), &channels)]
    } else {
        Vec::new()
    };
    let http = if entered.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let search = Search { customer, order, from, to };
    Ok(render(http, &QueuePage { layout, tickets, overdue, statuses: status_choices, priorities, pager, csv_href, forms, search }))
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    layout: Layout,
    row: TicketRow,
    detail: TicketDetail,
    /// The order the ticket is about: where it stands and where its parcels are.
    order: Option<ordo_domain::order::Order>,
    may_work: bool,
    next: Vec<Choice>,
    /// The channels an order may be linked from.
    channels: Vec<Choice>,
    /// Why the last action on the ticket was refused, naming the field.
    refused: Option<String>,
    /// The intents a person may label the ticket with, the label or suggestion chosen.
    intents: Vec<Choice>,
    /// The comment as it was typed when it was refused.
    comment: TypedComment,
}

/// A comment as typed: kept when refused, so nothing is typed twice.
#[derive(Default)]
struct TypedComment {
    body: String,
    reply: bool,
    refused: bool,
}

pub(crate) async fn ticket(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Helpdesk)?;
    let id = layout.path_id(path)?;
    ticket_page(&session, &dashboard, id, None, TypedComment::default()).await
}

/// The ticket's page; with `refused`, why the last action was refused (422).
async fn ticket_page(session: &Session, dashboard: &Dashboard, id: uuid::Uuid, refused: Option<FieldError>, comment: TypedComment) -> Result<Response, PageError> {
    let layout = session.open(Page::Helpdesk)?;
    let detail = dashboard.ordo.helpdesk().ticket(id).await.map_err(|e| layout.fail(e))?;
    let current = detail.ticket.status;
    let next = TicketStatus::ALL
        .iter()
        .filter(|s| current.can_become(**s))
        .map(|s| Choice { value: s.as_str().into(), label: s.as_str().into(), selected: false })
        .collect();
    let order = match detail.ticket.order_id {
        Some(order) => Some(dashboard.ordo.orders().order(order).await.map_err(|e| layout.fail(e))?),
        None => None,
    };
    let channels = dashboard.ordo.master_data().channels().await.map_err(|e| layout.fail(e))?;
    let own = detail.ticket.channel.clone().unwrap_or_default();
    let channels = channels.into_iter().map(|c| Choice { selected: c.code == own, label: format!("{} ({})", c.name, c.code), value: c.code }).collect();
    let chosen = detail.triage.as_ref().map(|t| t.label_intent.clone().unwrap_or_else(|| t.intent.clone())).unwrap_or_default();
    let intents = dashboard
        .ordo
        .helpdesk()
        .intents()
        .await
        .map_err(|e| layout.fail(e))?
        .into_iter()
        .map(|(intent, category)| Choice { selected: intent == chosen, label: format!("{} ({category})", intent.replace('_', " ")), value: intent })
        .collect();
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = TicketPage {
        intents,
        refused: refused.map(|e| format!("{}: {}", e.field, e.message)),
        channels,
        order,
        layout: layout.titled(format!("Ticket: {}", detail.ticket.subject)),
        row: TicketRow::new(&detail.ticket, dashboard.ordo.now()),
        may_work: session.actor.can(Permission::TicketsWrite),
        next,
        detail,
        comment,
    };
    Ok(render(status, &page))
}

/// A comment, a status change, an assignee or an order linked, then the ticket again (303);
/// refused, the ticket with the field named (422).
pub(crate) async fn act(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let layout = session.posting(Page::Helpdesk, &headers, Permission::TicketsWrite)?;
    let id = layout.path_id(path)?;
    let fields = super::form_fields(&body);
    let field = |name: &str| super::field(&fields, name);
    let done = match field("action") {
        "comment" => dashboard.ordo.helpdesk().comment_on_ticket(id, field("body"), field("reply").is_empty(), &session.actor).await,
        "status" => dashboard.ordo.helpdesk().set_ticket_status(id, field("status"), &session.actor).await,
        "assign" => dashboard.ordo.helpdesk().assign_ticket(id, Some(field("assignee")).filter(|a| !a.trim().is_empty()), &session.actor).await,
        "link" => dashboard.ordo.helpdesk().link_order(id, field("channel"), field("order"), &session.actor).await,
        "label" => dashboard.ordo.helpdesk().label_ticket(id, field("intent"), &session.actor).await,
        _ => return Err(layout.fail(FieldError::new("action", "choose comment, status, assign, link or label"))),
    };
    match done {
        Ok(_) => Ok(Redirect::to(&format!("{}/{id}", Page::Helpdesk.href())).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            let comment = if field("action") == "comment" {
                TypedComment { body: field("body").to_owned(), reply: !field("reply").is_empty(), refused: true }
            } else {
                TypedComment::default()
            };
            ticket_page(&session, &dashboard, id, Some(refused), comment).await
        }
    }
}

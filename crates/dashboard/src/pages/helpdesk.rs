//! The helpdesk queue: tickets still to do, most urgent first, with their age and due time;
//! one ticket with its conversation, internal notes and attachments.

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Redirect, Response};
use chrono::Utc;
use ordo_app::{TicketDetail, TicketQuery};
use ordo_domain::access::Permission;
use ordo_domain::ticket::{Priority, Ticket, TicketStatus};
use ordo_domain::FieldError;
use serde::Deserialize;

use super::{Choice, Layout, Page};
use crate::error::{render, PageError};
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
    due: String,
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
            due: super::timestamp(&t.due_at),
            overdue: matches!(t.status, TicketStatus::Open | TicketStatus::Pending) && t.due_at < now,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct QueueQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    priority: Option<String>,
}

#[derive(Template)]
#[template(path = "helpdesk.html")]
struct QueuePage {
    layout: Layout,
    tickets: Vec<TicketRow>,
    overdue: usize,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
}

pub(crate) async fn queue(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Helpdesk)?;
    let query = layout.query(query)?;
    let status = query.status.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).unwrap_or_else(|| "open,pending".to_owned());
    let priority = query.priority.map(|p| p.trim().to_owned()).unwrap_or_default();
    let statuses: Vec<String> = if status == "any" { Vec::new() } else { status.split(',').map(str::to_owned).collect() };
    let filter = TicketQuery { statuses, priority: Some(priority.clone()).filter(|p| !p.is_empty()), limit: 500, ..TicketQuery::default() };
    let now = dashboard.ordo.now();
    let tickets: Vec<TicketRow> = dashboard.ordo.helpdesk().tickets(filter).await.map_err(|e| layout.fail(e))?.iter().map(|t| TicketRow::new(t, now)).collect();
    let overdue = tickets.iter().filter(|t| t.overdue).count();
    let status_choices = ["open,pending", "open", "pending", "solved", "closed", "any"]
        .iter()
        .map(|s| Choice { value: (*s).to_owned(), label: s.replace(',', " or "), selected: *s == status })
        .collect();
    let priorities = std::iter::once(Choice { value: String::new(), label: "any".into(), selected: priority.is_empty() })
        .chain(Priority::ALL.iter().rev().map(|p| Choice { value: p.as_str().into(), label: p.as_str().into(), selected: p.as_str() == priority }))
        .collect();
    Ok(render(StatusCode::OK, &QueuePage { layout, tickets, overdue, statuses: status_choices, priorities }))
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
}

pub(crate) async fn ticket(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Helpdesk)?;
    let id = layout.path_id(path)?;
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
    let page = TicketPage {
        order,
        layout: layout.titled(format!("Ticket: {}", detail.ticket.subject)),
        row: TicketRow::new(&detail.ticket, dashboard.ordo.now()),
        may_work: session.actor.can(Permission::TicketsWrite),
        next,
        detail,
    };
    Ok(render(StatusCode::OK, &page))
}

/// A comment or a status change, then the ticket again (303).
pub(crate) async fn act(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Helpdesk, &headers, Permission::TicketsWrite)?;
    let id = layout.path_id(path)?;
    let fields = super::form_fields(&body);
    let field = |name: &str| super::field(&fields, name);
    let done = match field("action") {
        "comment" => dashboard.ordo.helpdesk().comment_on_ticket(id, field("body"), field("reply").is_empty(), &session.actor).await,
        "status" => dashboard.ordo.helpdesk().set_ticket_status(id, field("status"), &session.actor).await,
        "assign" => dashboard.ordo.helpdesk().assign_ticket(id, Some(field("assignee")).filter(|a| !a.trim().is_empty()), &session.actor).await,
        _ => return Err(layout.fail(FieldError::new("action", "choose comment, status or assign"))),
    };
    done.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to(&format!("{}/{id}", Page::Helpdesk.href())))
}

//! Notifications: the endpoints, the outbox by status, and the replay of dead messages.

use askama::Template;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Redirect, Response};
use ordo_app::OutboxQuery;
use ordo_domain::access::Permission;
use ordo_domain::notification::{DeliveryStatus, Endpoint};
use serde::Deserialize;
use uuid::Uuid;

use super::{Choice, Layout, Page, PAGE_SIZE};
use crate::error::{render, PageError, Problem};
use crate::session::Session;
use crate::Dashboard;

struct MessageRow {
    id: Uuid,
    endpoint: String,
    topic: String,
    subject: crate::subjects::SubjectLink,
    status: DeliveryStatus,
    attempts: i64,
    created: String,
    next: String,
    last_error: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OutboxFilter {
    #[serde(default)]
    status: Option<String>,
    /// Where the page starts: after the message this names (given by the page before).
    #[serde(default)]
    cursor: Option<String>,
    /// `csv` for every matching message as a file.
    #[serde(default)]
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct OutboxPage {
    layout: Layout,
    endpoints: Vec<Endpoint>,
    counts: Vec<(String, i64)>,
    messages: Vec<MessageRow>,
    total: i64,
    pager: super::Pager,
    csv_href: String,
    statuses: Vec<Choice>,
    may_replay: bool,
}

pub(crate) async fn outbox(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<OutboxFilter>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Notifications)?;
    let filter = layout.query(query)?;
    let status = filter.status.map(|s| s.trim().to_owned()).unwrap_or_default();
    let parsed = Some(status.as_str()).filter(|s| !s.is_empty()).map(|s| DeliveryStatus::parse("status", s)).transpose().map_err(|e| layout.fail(e))?;
    let after = super::cursor(&layout, filter.cursor.as_deref())?;
    let key = |m: &ordo_app::OutboxMessage| ordo_domain::field::PageCursor { at: m.created_at, id: m.id };
    if filter.format.as_deref() == Some("csv") {
        let outbox = dashboard.ordo.outbox();
        let all = super::every_page_after(500, key, |after| async move {
            let query = OutboxQuery { status: parsed, limit: 500, after, ..OutboxQuery::default() };
            outbox.list(query).await.map(|(found, _)| found)
        })
        .await
        .map_err(|e| layout.fail(e))?;
        let names = dashboard.ordo.subject_names(all.iter().map(|m| m.subject.as_str())).await.map_err(|e| layout.fail(e))?;
        let rows = all.iter().map(|m| {
            vec![
                m.created_at.to_rfc3339(),
                m.topic.clone(),
                crate::subjects::link(&m.subject, &names).label,
                m.endpoint.clone(),
                m.status.as_str().to_owned(),
                m.attempts.to_string(),
                m.delivered_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
                m.last_error.clone().unwrap_or_default(),
            ]
        });
        let header = ["created_at", "topic", "subject", "endpoint", "status", "attempts", "delivered_at", "last_error"];
        return Ok(super::csv_file("notifications.csv", super::csv_rows(&header, rows)));
    }
    let (found, total) = dashboard
        .ordo
        .outbox()
        .list(OutboxQuery { status: parsed, limit: PAGE_SIZE + 1, after, ..OutboxQuery::default() })
        .await
        .map_err(|e| layout.fail(e))?;
    let (found, next) = super::one_page(found, key);
    let params = [("status", status.as_str())];
    let pager = super::Pager::by_cursor(Page::Notifications.href(), &params, after.is_some(), found.len(), Some(total), next.as_deref(), "messages");
    let csv_href = crate::href::with_query(Page::Notifications.href(), &[("status", status.as_str()), ("format", "csv")]);
    let names = dashboard.ordo.subject_names(found.iter().map(|m| m.subject.as_str())).await.map_err(|e| layout.fail(e))?;
    let messages = found
        .into_iter()
        .map(|m| MessageRow {
            id: m.id,
            endpoint: m.endpoint,
            topic: m.topic.replace('_', " "),
            subject: crate::subjects::link(&m.subject, &names),
            attempts: m.attempts,
            created: super::timestamp(&m.created_at),
            next: if m.status == DeliveryStatus::Pending { super::timestamp(&m.next_attempt_at) } else { String::new() },
            last_error: m.last_error.unwrap_or_default(),
            status: m.status,
        })
        .collect();
    let statuses = ["", "pending", "delivered", "dead"]
        .iter()
        .map(|s| Choice { value: (*s).to_owned(), label: if s.is_empty() { "any".into() } else { (*s).to_owned() }, selected: *s == status })
        .collect();
    let page = OutboxPage {
        endpoints: dashboard.ordo.outbox().endpoints().await.map_err(|e| layout.fail(e))?,
        counts: dashboard.ordo.outbox().outbox_counts().await.map_err(|e| layout.fail(e))?,
        messages,
        total,
        pager,
        csv_href,
        statuses,
        may_replay: session.actor.can(Permission::NotificationsManage),
        layout,
    };
    Ok(render(StatusCode::OK, &page))
}

/// Replays a dead message, then the dead letters again (303).
pub(crate) async fn replay(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Notifications, &headers, Permission::NotificationsManage)?;
    let id = path.ok().and_then(|Path(id)| Uuid::try_parse(&id).ok()).ok_or_else(|| layout.fail(Problem::NotFound))?;
    dashboard.ordo.outbox().replay_message(&session.actor, id).await.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to("/dashboard/notifications?status=dead"))
}

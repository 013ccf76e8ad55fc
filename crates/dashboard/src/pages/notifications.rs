//! Notifications: the endpoints (added and switched on or off here, as at
//! `/api/v1/notification-endpoints`), the outbox by status, and the replay of dead messages.

use askama::Template;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ordo_app::{NewEndpoint, OutboxQuery};
use ordo_domain::access::Permission;
use ordo_domain::notification::{DeliveryStatus, Endpoint};
use serde::Deserialize;
use uuid::Uuid;

use super::{Choice, Layout, Page, PAGE_SIZE};
use crate::error::{render, PageError, Problem};
use crate::forms::{refusal, Control, Entered, EntryForm, Input};
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

#[derive(Debug, Default, Deserialize)]
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
    /// The endpoint just added and its secret, shown this once.
    created: Option<(String, String)>,
    forms: Vec<EntryForm>,
}

fn endpoint_form(entered: Option<&Entered>) -> EntryForm {
    EntryForm::new("new-endpoint", "New endpoint", "/dashboard/notifications/endpoints", "Add the endpoint", vec![
        Input::text("code", "Code").hint("short and lower case, such as crm or shop-mailer"),
        Input::text("transport", "Transport").select(&[("webhook", "Webhook: an HTTP POST signed with its secret"), ("log", "Log: a line in the server's log")]).value("webhook"),
        Input::text("url", "Address").optional().hint("a webhook's http:// address (https needs a forwarding proxy)"),
        Input::text("topics", "Topics").optional().hint("comma-separated: order_confirmed, order_dispatched, order_delayed, return_authorized, refund_issued, replacement_shipped, rule_triggered; empty for all"),
        Input::text("secret", "Secret").of(Control::Password).optional().hint("16 to 200 characters; made up and shown once when empty"),
    ])
    .about("Where Ordo's messages go. It hears its topics from now on; the secret that signs each webhook is shown once.")
    .entered(entered)
    .mark_choices()
}

pub(crate) async fn outbox(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<OutboxFilter>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Notifications)?;
    let filter = layout.query(query)?;
    outbox_page(&session, &dashboard, filter, None, None).await
}

/// The page; with `refused`, the endpoint form as it was sent (422); with `created`, the new
/// endpoint's secret.
async fn outbox_page(
    session: &Session,
    dashboard: &Dashboard,
    filter: OutboxFilter,
    refused: Option<Entered>,
    created: Option<(String, String)>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Notifications)?;
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
    let may_manage = session.actor.can(Permission::NotificationsManage);
    let http = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = OutboxPage {
        forms: if may_manage { vec![endpoint_form(refused.as_ref())] } else { Vec::new() },
        created,
        endpoints: dashboard.ordo.outbox().endpoints().await.map_err(|e| layout.fail(e))?,
        counts: dashboard.ordo.outbox().outbox_counts().await.map_err(|e| layout.fail(e))?,
        messages,
        total,
        pager,
        csv_href,
        statuses,
        may_replay: may_manage,
        layout,
    };
    Ok(render(http, &page))
}

/// Adds an endpoint, as `POST /api/v1/notification-endpoints` does: the page with its secret
/// shown once, or the form refused with what was typed (the secret aside).
pub(crate) async fn create_endpoint(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Notifications, &headers, Permission::NotificationsManage)?;
    let fields = super::form_fields(&body);
    let text = |name: &str| super::field(&fields, name).trim().to_owned();
    let new = NewEndpoint {
        code: text("code"),
        transport: text("transport"),
        url: super::master::optional(&fields, "url"),
        topics: super::comma_list(&fields, "topics"),
        secret: Some(super::field(&fields, "secret").to_owned()).filter(|s| !s.is_empty()),
    };
    match dashboard.ordo.outbox().create_endpoint(&session.actor, new).await {
        Ok(made) => outbox_page(&session, &dashboard, OutboxFilter::default(), None, Some((made.endpoint.code, made.secret))).await,
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            outbox_page(&session, &dashboard, OutboxFilter::default(), Some(Entered::new(fields, refused)), None).await
        }
    }
}

/// Switches an endpoint off or on (`action` = off or on), as
/// `PATCH /api/v1/notification-endpoints/{code}` does; messages already written still go.
pub(crate) async fn switch_endpoint(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let layout = session.posting(Page::Notifications, &headers, Permission::NotificationsManage)?;
    let code = layout.path_key(path)?;
    let fields = super::form_fields(&body);
    let active = match super::field(&fields, "action") {
        "off" => false,
        "on" => true,
        _ => return Err(layout.fail(ordo_domain::FieldError::new("action", "choose off or on"))),
    };
    dashboard.ordo.outbox().set_endpoint_active(&session.actor, &code, active).await.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to(Page::Notifications.href()).into_response())
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

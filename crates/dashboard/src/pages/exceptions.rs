//! The exceptions queue: each role's queue with aging and filters, bulk acknowledge and
//! resolve, and one exception with its comments.

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Redirect, Response};
use chrono::{DateTime, Utc};
use ordo_app::{ExceptionAction, ExceptionFilter};
use ordo_domain::access::{Permission, Role};
use ordo_domain::exception::{Exception, ExceptionComment, ExceptionKind, ExceptionStatus, Resolution};
use ordo_domain::FieldError;
use ordo_domain::field::PageCursor;
use serde::Deserialize;
use uuid::Uuid;

use super::orders::order_href;
use super::{field, Choice, Layout, Page, Pager, PAGE_SIZE};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::session::Session;
use crate::subjects::{Evidence, SubjectLink};

/// An order an exception points at, as a link.
struct OrderLink {
    href: String,
    /// The channel's id for it, when the exception records one.
    external_id: Option<String>,
}

/// One row of the queue, formatted.
struct ExceptionRow {
    id: Uuid,
    href: String,
    kind: String,
    subject: String,
    /// The subject as people read it: "Order web WEB-1001", linked.
    shown: SubjectLink,
    owner_role: String,
    /// The lead of the owning role it was escalated to.
    lead: Option<String>,
    due_at: DateTime<Utc>,
    /// Whole hours since it was raised.
    age_hours: i64,
    status: ExceptionStatus,
    escalations: i64,
    overdue: bool,
    order: Option<OrderLink>,
}

impl ExceptionRow {
    fn new(exception: Exception, now: DateTime<Utc>) -> ExceptionRow {
        // An exception about an order has it as its subject ("order:<id>"); a stock-out names
        // the first order that ran short in its details. Other kinds may name none.
        let detail = |key: &str| exception.details.get(key).and_then(|value| value.as_str());
        let order = exception.subject.strip_prefix("order:").or_else(|| detail("first_order")).map(|id| OrderLink {
            href: order_href(id),
            external_id: detail("external_id").map(str::to_owned),
        });
        ExceptionRow {
            id: exception.id,
            href: exception_href(exception.id),
            overdue: exception.status != ExceptionStatus::Resolved && exception.due_at < now,
            age_hours: (now - exception.created_at).num_hours().max(0),
            kind: exception.kind,
            shown: crate::subjects::link(&exception.subject, &std::collections::HashMap::new()),
            subject: exception.subject,
            owner_role: exception.owner_role,
            lead: exception.assigned_to,
            due_at: exception.due_at,
            status: exception.status,
            escalations: exception.escalations,
            order,
        }
    }
}

fn exception_href(id: Uuid) -> String {
    format!("{}/{id}", Page::Exceptions.href())
}

#[derive(Debug, Deserialize)]
pub(crate) struct QueueQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    /// A role, `mine` (the default for everyone but admins) or `any`.
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    overdue: Option<String>,
    /// Where the page starts: after the exception this names (given by the page before).
    #[serde(default)]
    cursor: Option<String>,
    /// `csv` for every matching exception as a file.
    #[serde(default)]
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "exceptions.html")]
struct QueuePage {
    layout: Layout,
    exceptions: Vec<ExceptionRow>,
    overdue: usize,
    statuses: Vec<Choice>,
    kinds: Vec<Choice>,
    owners: Vec<Choice>,
    overdue_only: bool,
    filtered: bool,
    pager: Pager,
    /// Whether to offer the bulk actions: the role may work the queue.
    may_work: bool,
    resolutions: Vec<Choice>,
    /// The queue as filtered now, to come back to after a bulk action.
    back: String,
    csv_href: String,
}

fn choices(values: impl IntoIterator<Item = (String, String)>, selected: &str) -> Vec<Choice> {
    values.into_iter().map(|(value, label)| Choice { selected: value == selected, value, label }).collect()
}

fn resolutions() -> Vec<Choice> {
    choices(Resolution::CHOSEN.iter().map(|r| (r.as_str().to_owned(), r.as_str().replace('_', " "))), "")
}

pub(crate) async fn exceptions(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Exceptions)?;
    let query = layout.query(query)?;
    let after = super::cursor(&layout, query.cursor.as_deref())?;
    let trimmed = |value: Option<String>| value.map(|v| v.trim().to_owned()).unwrap_or_default();
    let status = Some(trimmed(query.status)).filter(|s| !s.is_empty()).unwrap_or_else(|| "unresolved".to_owned());
    let kind = trimmed(query.kind);
    // Each role opens on its own queue; an admin, who may act on all, on everything.
    let default_owner = if session.actor.role == Role::Admin { "any" } else { "mine" };
    let owner = Some(trimmed(query.owner)).filter(|o| !o.is_empty()).unwrap_or_else(|| default_owner.to_owned());
    let overdue_only = !trimmed(query.overdue).is_empty();
    let owner_role = match owner.as_str() {
        "any" => None,
        "mine" => Some(session.actor.role.as_str().to_owned()),
        role => Some(role.to_owned()),
    };
    let filter = ExceptionFilter {
        status: Some(status.clone()).filter(|s| s != "any"),
        kind: Some(kind.clone()).filter(|k| !k.is_empty()),
        owner_role,
        overdue: overdue_only,
        // One row past the page tells whether a page follows.
        limit: PAGE_SIZE + 1,
        offset: 0,
        after,
    };
    let key = |e: &Exception| PageCursor { at: e.due_at, id: e.id };
    let now = dashboard.ordo.now();
    if query.format.as_deref() == Some("csv") {
        let ordo = &dashboard.ordo;
        let all = super::every_page_after(1000, key, |after| {
            let page = ExceptionFilter { limit: 1000, after, ..filter.clone() };
            async move { ordo.exceptions().list(page).await.map(|(found, _)| found) }
        })
        .await
        .map_err(|e| layout.fail(e))?;
        let names = dashboard.ordo.subject_names(all.iter().map(|e| e.subject.as_str())).await.map_err(|e| layout.fail(e))?;
        let rows = all.iter().map(|e| {
            vec![
                e.kind.clone(),
                crate::subjects::link(&e.subject, &names).label,
                e.owner_role.clone(),
                e.status.as_str().to_owned(),
                e.due_at.to_rfc3339(),
                e.created_at.to_rfc3339(),
                e.escalations.to_string(),
                e.assigned_to.clone().unwrap_or_default(),
            ]
        });
        let header = ["kind", "subject", "owner", "status", "due_at", "raised_at", "escalations", "lead"];
        return Ok(super::csv_file("exceptions.csv", super::csv_rows(&header, rows)));
    }
    let (found, total) = dashboard.ordo.exceptions().list(filter).await.map_err(|e| layout.fail(e))?;
    let (found, next) = super::one_page(found, key);
    let mut exceptions: Vec<ExceptionRow> = found.into_iter().map(|exception| ExceptionRow::new(exception, now)).collect();
    let names = crate::subjects::links(&dashboard, exceptions.iter().map(|row| row.subject.as_str())).await.map_err(|e| layout.fail(e))?;
    for row in &mut exceptions {
        if let Some(shown) = names.get(&row.subject) {
            row.shown = shown.clone();
        }
    }
    let overdue = exceptions.iter().filter(|row| row.overdue).count();

    let statuses = choices(
        ["unresolved", "open", "acknowledged", "escalated", "resolved", "any"].map(|s| (s.to_owned(), s.to_owned())),
        &status,
    );
    let kinds = choices(ExceptionKind::ALL.iter().map(|k| (k.as_str().to_owned(), k.as_str().replace('_', " "))), &kind);
    let owners = choices(
        [("mine".to_owned(), format!("mine ({})", session.actor.role)), ("any".to_owned(), "any role".to_owned())]
            .into_iter()
            .chain(Role::ALL.iter().map(|r| (r.as_str().to_owned(), r.as_str().to_owned()))),
        &owner,
    );
    let overdue_param = if overdue_only { "1" } else { "" };
    let params = [("status", status.as_str()), ("kind", &kind), ("owner", &owner), ("overdue", overdue_param)];
    let pager = Pager::by_cursor(Page::Exceptions.href(), &params, after.is_some(), exceptions.len(), Some(total), next.as_deref(), "exceptions");
    let back = crate::href::with_query(Page::Exceptions.href(), &params);
    let mut export = params.to_vec();
    export.push(("format", "csv"));
    let csv_href = crate::href::with_query(Page::Exceptions.href(), &export);
    let filtered = status != "unresolved" || !kind.is_empty() || owner != default_owner || overdue_only;
    let may_work = session.actor.can(Permission::ExceptionsWork);
    Ok(render(
        StatusCode::OK,
        &QueuePage {
            layout,
            exceptions,
            overdue,
            statuses,
            kinds,
            owners,
            overdue_only,
            filtered,
            pager,
            may_work,
            resolutions: resolutions(),
            back,
            csv_href,
        },
    ))
}

/// The bars of an anomaly's series (`[{day, value, shown, marked}]`), the point of `day` (or
/// the one marked) marked.
fn anomaly_chart(series: Option<&serde_json::Value>, day: &str) -> Vec<crate::chart::RateBar> {
    let Some(series) = series.and_then(|s| s.as_array()) else { return Vec::new() };
    let points: Vec<(i64, String, bool)> = series
        .iter()
        .filter_map(|p| {
            let marked = p.get("marked").and_then(|m| m.as_bool()).unwrap_or(false) || p.get("day").and_then(|d| d.as_str()) == Some(day);
            Some((p.get("value")?.as_i64()?, p.get("shown")?.as_str()?.to_owned(), marked))
        })
        .collect();
    crate::chart::value_bars(&points)
}

#[derive(Template)]
#[template(path = "exception.html")]
struct ExceptionPage {
    layout: Layout,
    exception: ExceptionRow,
    evidence: Vec<Evidence>,
    /// The series an anomaly was judged on, the point found marked, and what it measures;
    /// empty for other kinds.
    chart: Vec<crate::chart::RateBar>,
    measure: String,
    acknowledged: Option<(String, DateTime<Utc>)>,
    resolved: Option<(String, String, String)>,
    comments: Vec<ExceptionComment>,
    /// The role may comment.
    may_work: bool,
    /// The role owns it (or is admin) and its state allows acknowledging / resolving.
    may_acknowledge: bool,
    may_resolve: bool,
    resolutions: Vec<Choice>,
}

pub(crate) async fn exception(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Exceptions)?;
    let id = layout.path_id(path)?;
    let detail = dashboard.ordo.exceptions().exception(id).await.map_err(|e| layout.fail(e))?;
    let e = &detail.exception;
    let mut subjects = crate::subjects::evidence_subjects(&e.details);
    subjects.push(e.subject.clone());
    let names = dashboard.ordo.subject_names(subjects.iter().map(String::as_str)).await.map_err(|err| layout.fail(err))?;
    let shown = crate::subjects::link(&e.subject, &names);
    // An anomaly's day-by-day series is drawn, not listed.
    let mut details = e.details.clone();
    let series = details.as_object_mut().and_then(|d| d.remove("series"));
    let chart = anomaly_chart(series.as_ref(), e.details.get("day").and_then(|d| d.as_str()).unwrap_or_default());
    let measure = details.as_object_mut().and_then(|d| d.remove("measure")).and_then(|m| m.as_str().map(str::to_owned)).unwrap_or_default();
    let evidence = crate::subjects::evidence(&details, &names);
    let layout = layout.titled(format!("Exception: {} of {}", e.kind.replace('_', " "), shown.label));
    let may_work = session.actor.can(Permission::ExceptionsWork);
    let may_act = match (ExceptionKind::parse("kind", &e.kind), Role::parse("owner_role", &e.owner_role)) {
        (Ok(kind), Ok(owner)) => kind.may_act(session.actor.role, owner),
        _ => session.actor.role == Role::Admin,
    };
    let owns = may_work && may_act;
    let status = e.status;
    let acknowledged = e.acknowledged_by.clone().zip(e.acknowledged_at);
    let resolved = e.resolved_by.clone().map(|by| {
        (by, e.resolution_code.clone().unwrap_or_default(), e.resolution.clone().unwrap_or_default())
    });
    Ok(render(
        StatusCode::OK,
        &ExceptionPage {
            may_acknowledge: owns && status.may_acknowledge(),
            may_resolve: owns && status.can_become(ExceptionStatus::Resolved),
            exception: ExceptionRow { shown, ..ExceptionRow::new(detail.exception, dashboard.ordo.now()) },
            evidence,
            chart,
            measure,
            acknowledged,
            resolved,
            comments: detail.comments,
            may_work,
            layout,
            resolutions: resolutions(),
        },
    ))
}


/// What a posted action names: acknowledge, comment or resolve with its code and note.
fn action(fields: &[(String, String)]) -> Result<ExceptionAction, FieldError> {
    match field(fields, "action") {
        "acknowledge" => Ok(ExceptionAction::Acknowledge),
        "comment" => Ok(ExceptionAction::Comment { body: field(fields, "body").to_owned() }),
        "resolve" => {
            let code = Resolution::parse("code", field(fields, "code"))?;
            Ok(ExceptionAction::Resolve { code, note: field(fields, "note").to_owned() })
        }
        _ => Err(FieldError::new("action", "choose acknowledge, comment or resolve")),
    }
}


/// Acknowledges, comments on or resolves one exception, then shows it again (303).
pub(crate) async fn act(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Exceptions, &headers, Permission::ExceptionsWork)?;
    let id = layout.path_id(path)?;
    let fields = super::form_fields(&body);
    let action = action(&fields).map_err(|e| layout.fail(e))?;
    dashboard.ordo.exceptions().act_on_exceptions(&[id], &action, &session.actor).await.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to(&exception_href(id)))
}

/// Acknowledges or resolves the exceptions ticked in the queue, all or none, then shows the
/// queue again (303).
pub(crate) async fn bulk(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Exceptions, &headers, Permission::ExceptionsWork)?;
    let fields = super::form_fields(&body);
    let ids: Vec<Uuid> = fields.iter().filter(|(k, _)| k == "ids").filter_map(|(_, v)| Uuid::try_parse(v).ok()).collect();
    if ids.is_empty() {
        return Err(layout.fail(FieldError::new("ids", "tick at least one exception")));
    }
    let action = action(&fields).map_err(|e| layout.fail(e))?;
    dashboard.ordo.exceptions().act_on_exceptions(&ids, &action, &session.actor).await.map_err(|e| layout.fail(e))?;
    // Back to the queue as it was filtered; only the queue's own address is honoured.
    let back = field(&fields, "back");
    let queue = Page::Exceptions.href();
    let back = if back.strip_prefix(queue).is_some_and(|rest| rest.is_empty() || rest.starts_with('?')) { back } else { queue };
    Ok(Redirect::to(back))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::form_fields;

    fn exception(subject: &str, details: serde_json::Value, due: &str, created: &str) -> Exception {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        Exception {
            id: Uuid::nil(),
            kind: "stockout".into(),
            subject: subject.into(),
            owner_role: "ops".into(),
            due_at: at(due),
            status: ExceptionStatus::Open,
            details,
            created_at: at(created),
            escalations: 0,
            assigned_to: None,
            acknowledged_by: None,
            acknowledged_at: None,
            resolved_by: None,
            resolved_at: None,
            resolution_code: None,
            resolution: None,
        }
    }

    #[test]
    fn rows_past_due_are_overdue_and_age_in_whole_hours() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let details = serde_json::json!({"first_order": "abc", "external_id": "1001", "channel": "web"});
        let e = exception("sku:MUG", details, "2030-01-02T00:00:00Z", "2030-01-01T00:00:00Z");
        let early = ExceptionRow::new(e.clone(), at("2030-01-01T05:59:00Z"));
        assert_eq!((early.age_hours, early.overdue), (5, false));
        let late = ExceptionRow::new(e, at("2030-01-02T00:01:00Z"));
        assert_eq!((late.age_hours, late.overdue), (24, true));
        let order = late.order.unwrap();
        assert_eq!((order.href.as_str(), order.external_id.as_deref()), ("/dashboard/orders/abc", Some("1001")));
    }

    #[test]
    fn exceptions_link_the_order_they_are_about() {
        let at = "2030-01-01T00:00:00Z";
        let now = DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc);
        let link = |e| ExceptionRow::new(e, now).order.map(|o| (o.href, o.external_id));
        let held = exception("order:abc", serde_json::json!({"external_id": "1001"}), at, at);
        assert_eq!(link(held), Some(("/dashboard/orders/abc".to_owned(), Some("1001".to_owned()))));
        let short = exception("sku:MUG", serde_json::json!({"first_order": "def"}), at, at);
        assert_eq!(link(short), Some(("/dashboard/orders/def".to_owned(), None)));
        assert_eq!(link(exception("sku:MUG", serde_json::json!(null), at, at)), None);
    }

    #[test]
    fn a_posted_form_keeps_every_ticked_box_and_names_its_action() {
        let fields = form_fields(b"ids=a&ids=b&action=resolve&code=not_an_issue&note=seen+it");
        assert_eq!(fields.iter().filter(|(k, _)| k == "ids").count(), 2);
        assert_eq!(action(&fields), Ok(ExceptionAction::Resolve { code: Resolution::NotAnIssue, note: "seen it".into() }));
        assert_eq!(action(&form_fields(b"action=resolve&code=automatic")).unwrap_err().field, "code");
        assert_eq!(action(&form_fields(b"action=delete")).unwrap_err().field, "action");
    }
}

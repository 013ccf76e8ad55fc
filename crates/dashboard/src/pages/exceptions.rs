//! The exception queue: what is open, who owns it, and what is past due.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use ordo_domain::exception::Exception;

use super::orders::order_href;
use super::{Layout, Page};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::session::Session;

/// An order an exception points at, as a link.
struct OrderLink {
    href: String,
    /// The channel's id for it, when the exception records one.
    external_id: Option<String>,
}

/// One row of the queue, formatted.
struct ExceptionRow {
    kind: String,
    subject: String,
    owner_role: String,
    due_at: DateTime<Utc>,
    /// Whole hours since it was raised.
    age_hours: i64,
    status: String,
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
            overdue: exception.due_at < now,
            age_hours: (now - exception.created_at).num_hours().max(0),
            kind: exception.kind,
            subject: exception.subject,
            owner_role: exception.owner_role,
            due_at: exception.due_at,
            status: exception.status,
            order,
        }
    }
}

#[derive(Template)]
#[template(path = "exceptions.html")]
struct ExceptionsPage {
    layout: Layout,
    exceptions: Vec<ExceptionRow>,
    overdue: usize,
}

pub(crate) async fn exceptions(session: Session, State(dashboard): State<Dashboard>) -> Result<Response, PageError> {
    let layout = session.open(Page::Exceptions)?;
    let open = dashboard.ordo.exceptions(Some("open")).await.map_err(|e| layout.fail(e))?;
    let now = Utc::now();
    let exceptions: Vec<ExceptionRow> = open.into_iter().map(|exception| ExceptionRow::new(exception, now)).collect();
    let overdue = exceptions.iter().filter(|row| row.overdue).count();
    Ok(render(StatusCode::OK, &ExceptionsPage { layout, exceptions, overdue }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_past_due_are_overdue_and_age_in_whole_hours() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let exception = Exception {
            id: uuid::Uuid::nil(),
            kind: "stockout".into(),
            subject: "sku:MUG".into(),
            owner_role: "ops".into(),
            due_at: at("2030-01-02T00:00:00Z"),
            status: "open".into(),
            details: serde_json::json!({"first_order": "abc", "external_id": "1001", "channel": "web"}),
            created_at: at("2030-01-01T00:00:00Z"),
        };
        let early = ExceptionRow::new(exception.clone(), at("2030-01-01T05:59:00Z"));
        assert_eq!((early.age_hours, early.overdue), (5, false));
        let late = ExceptionRow::new(exception, at("2030-01-02T00:01:00Z"));
        assert_eq!((late.age_hours, late.overdue), (24, true));
        let order = late.order.unwrap();
        assert_eq!((order.href.as_str(), order.external_id.as_deref()), ("/dashboard/orders/abc", Some("1001")));
    }

    #[test]
    fn exceptions_link_the_order_they_are_about() {
        let at = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let exception = |subject: &str, details| Exception {
            id: uuid::Uuid::nil(),
            kind: "k".into(),
            subject: subject.into(),
            owner_role: "ops".into(),
            due_at: at,
            status: "open".into(),
            details,
            created_at: at,
        };
        let link = |e| ExceptionRow::new(e, at).order.map(|o| (o.href, o.external_id));
        let held = exception("order:abc", serde_json::json!({"external_id": "1001"}));
        assert_eq!(link(held), Some(("/dashboard/orders/abc".to_owned(), Some("1001".to_owned()))));
        let short = exception("sku:MUG", serde_json::json!({"first_order": "def"}));
        assert_eq!(link(short), Some(("/dashboard/orders/def".to_owned(), None)));
        assert_eq!(link(exception("sku:MUG", serde_json::json!(null))), None);
    }
}

//! The holds queue: orders on hold for review, why each is held, and forms to release or
//! cancel them without opening each order.

use std::collections::HashMap;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use ordo_app::OrderSummary;
use ordo_domain::access::Permission;
use ordo_domain::exception::{Exception, ExceptionKind};
use ordo_domain::order::OrderStatus;
use serde::Deserialize;

use super::orders::{minor_total, order_href};
use super::{Extent, Layout, Page, Pager, Paging, PAGE_SIZE};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::session::Session;

/// Why each held order is held, by order id: the reasons its open review exception gives.
fn why_held(open: Vec<Exception>) -> HashMap<String, Vec<String>> {
    open.into_iter()
        .filter(|exception| exception.kind == ExceptionKind::PaymentReview.as_str())
        .filter_map(|exception| {
            let order = exception.subject.strip_prefix("order:")?.to_owned();
            let reasons = exception.details.get("reasons")?.as_array()?;
            Some((order, reasons.iter().filter_map(|reason| reason.as_str()).map(str::to_owned).collect()))
        })
        .collect()
}

/// One held order, formatted, with where its forms post.
struct HeldRow {
    id: String,
    href: String,
    external_id: String,
    channel: String,
    customer: String,
    total: String,
    ship_by: DateTime<Utc>,
    /// Empty when no open review exception says.
    reasons: Vec<String>,
    release_href: String,
    cancel_href: String,
}

impl HeldRow {
    fn new(order: OrderSummary, reasons: &mut HashMap<String, Vec<String>>) -> HeldRow {
        let id = order.id.to_string();
        let href = order_href(&id);
        HeldRow {
            reasons: reasons.remove(&id).unwrap_or_default(),
            release_href: format!("{href}/release"),
            cancel_href: format!("{href}/cancel"),
            total: minor_total(order.total_minor, &order.currency),
            external_id: order.external_id,
            channel: order.channel,
            customer: order.customer_name,
            ship_by: order.ship_by,
            href,
            id,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct HoldsQuery {
    #[serde(default)]
    page: Option<String>,
    /// `csv` for every held order as a file.
    #[serde(default)]
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "holds.html")]
struct HoldsPage {
    layout: Layout,
    held: Vec<HeldRow>,
    pager: Pager,
    /// Whether to offer the cancel form: the role may cancel orders.
    may_cancel: bool,
    /// Where the forms ask to come back to.
    back: &'static str,
}

pub(crate) async fn holds(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<HoldsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Holds)?;
    let query = layout.query(query)?;
    let paging = Paging::parse(query.page.as_deref()).map_err(|e| layout.fail(e))?;
    let on_hold = Some(OrderStatus::OnHold.as_str());
    // Why each order is held: its open payment reviews.
    let reviews = ordo_app::ExceptionFilter {
        status: Some("unresolved".into()),
        kind: Some(ExceptionKind::PaymentReview.as_str().into()),
        limit: ordo_app::MAX_EXCEPTION_PAGE,
        ..Default::default()
    };
    let (open, _) = dashboard.ordo.exceptions().list(reviews).await.map_err(|e| layout.fail(e))?;
    let mut reasons = why_held(open);
    if query.format.as_deref() == Some("csv") {
        let orders = dashboard.ordo.orders();
        let all = super::every_page(100, |offset| async move { Ok(orders.list(None, on_hold, None, 100, offset).await?.0) }).await.map_err(|e| layout.fail(e))?;
        let rows = all.into_iter().map(|order| {
            let row = HeldRow::new(order, &mut reasons);
            vec![row.channel, row.external_id, row.customer, row.total, row.ship_by.to_rfc3339(), row.reasons.join("; ")]
        });
        return Ok(super::csv_file("holds.csv", super::csv_rows(&["channel", "order", "customer", "total", "ship_by", "why_held"], rows)));
    }
    let (found, total) =
        dashboard.ordo.orders().list(None, on_hold, None, PAGE_SIZE, paging.offset).await.map_err(|e| layout.fail(e))?;
    let pager = Pager::new(Page::Holds.href(), &[], paging, found.len(), Extent::Total(total), "orders on hold");
    let held = found.into_iter().map(|order| HeldRow::new(order, &mut reasons)).collect();
    let may_cancel = session.actor.can(Permission::OrdersWrite);
    Ok(render(StatusCode::OK, &HoldsPage { layout, held, pager, may_cancel, back: Page::Holds.href() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_domain::access::Role;
    use uuid::Uuid;

    fn exception(kind: &str, subject: &str, details: serde_json::Value) -> Exception {
        let at = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        Exception {
            id: Uuid::nil(),
            kind: kind.into(),
            subject: subject.into(),
            owner_role: "finance".into(),
            due_at: at,
            status: ordo_domain::exception::ExceptionStatus::Open,
            details,
            created_at: at,
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
    fn an_order_is_held_for_the_reasons_its_review_exception_gives() {
        let reasons = why_held(vec![
            exception("payment_review", "order:abc", serde_json::json!({"reasons": ["payment is authorized, not captured", 7]})),
            exception("payment_review", "order:def", serde_json::json!({"external_id": "1002"})),
            exception("late_shipment", "order:ghi", serde_json::json!({"reasons": ["late"]})),
            exception("payment_review", "sku:MUG", serde_json::json!({"reasons": ["odd"]})),
        ]);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert_eq!(reasons["abc"], ["payment is authorized, not captured"]);
    }

    fn page(role: Role) -> String {
        let at = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let order = OrderSummary {
            id: Uuid::nil(),
            channel: "web".into(),
            external_id: "WEB-1".into(),
            status: ordo_domain::order::OrderStatus::OnHold,
            placed_at: at,
            ship_by: at,
            currency: "EUR".into(),
            total_minor: 1999,
            customer_name: "Ann Berg".into(),
            customer_email: "ann@example.com".into(),
            updated_at: at,
        };
        let mut reasons = HashMap::from([(Uuid::nil().to_string(), vec!["billed to DE but shipped to US".to_owned()])]);
        let layout = Layout { title: "Holds".into(), username: "u".into(), role, current: Some(Page::Holds), form_token: "t".into() };
        let paging = Paging::parse(None).unwrap();
        let page = HoldsPage {
            layout,
            held: vec![HeldRow::new(order, &mut reasons)],
            pager: Pager::new(Page::Holds.href(), &[], paging, 1, Extent::Total(1), "orders on hold"),
            may_cancel: role.can(Permission::OrdersWrite),
            back: Page::Holds.href(),
        };
        page.render().unwrap()
    }

    #[test]
    fn each_held_order_shows_why_and_offers_release_and_cancel() {
        let html = page(Role::Ops);
        let order = "/dashboard/orders/00000000-0000-0000-0000-000000000000";
        assert!(html.contains("billed to DE but shipped to US"));
        assert!(html.contains("19.99 EUR"));
        assert!(html.contains(&format!("action=\"{order}/release\"")));
        assert!(html.contains(&format!("action=\"{order}/cancel\"")));
        assert_eq!(html.matches("name=\"back\" value=\"/dashboard/holds\"").count(), 2);
    }

    #[test]
    fn only_roles_that_may_cancel_see_the_cancel_form() {
        let html = page(Role::Finance);
        assert!(html.contains("/release\""));
        assert!(!html.contains("/cancel\""), "finance reviews but does not cancel");
    }
}

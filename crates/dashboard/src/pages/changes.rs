//! Change requests: master data that moves money or stock (a listing's price, a SKU's tax
//! class, whether it sells, a location's priority) is proposed here by one person and applied
//! only when another of the owning role approves it, seeing what changes as before and after.

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ordo_domain::access::Permission;
use ordo_domain::change::{ChangeKind, ChangeRequest, ChangeStatus};
use ordo_domain::FieldError;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use ordo_domain::field::PageCursor;

use super::{field, form_fields, timestamp, Choice, Layout, Page, Pager, PAGE_SIZE};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::forms::{refusal, Control, Entered, EntryForm, Input};
use crate::session::Session;

pub(crate) fn change_href(id: Uuid) -> String {
    format!("/dashboard/changes/{id}")
}

/// What a kind of change is called, in words.
pub(crate) fn kind_label(kind: &str) -> String {
    match kind {
        "price" => "Price".to_owned(),
        "tax_class" => "Tax class".to_owned(),
        "listing" => "Listing".to_owned(),
        "sku_activation" => "SKU on sale".to_owned(),
        "location_priority" => "Location priority".to_owned(),
        "replenishment_policy" => "Replenishment policy".to_owned(),
        "connector" => "Channel connector".to_owned(),
        other => other.replace('_', " "),
    }
}

/// A value as a person reads it: text without quotes, nothing as "none".
fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "none".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

struct Row {
    href: String,
    kind: String,
    subject: crate::subjects::SubjectLink,
    proposed_by: String,
    proposed_at: String,
    reason: String,
    status: ChangeStatus,
}

impl From<&ChangeRequest> for Row {
    fn from(c: &ChangeRequest) -> Row {
        Row {
            href: change_href(c.id),
            kind: kind_label(&c.kind),
            subject: subject_link(&c.subject),
            proposed_by: c.proposed_by.clone(),
            proposed_at: timestamp(&c.proposed_at),
            reason: c.reason.clone(),
            status: c.status,
        }
    }
}

/// What a change is about, as people read it: `product:MUG-1` is SKU MUG-1, linked; a
/// policy's scope (`policy:class:A`) is said in words.
pub(crate) fn subject_link(subject: &str) -> crate::subjects::SubjectLink {
    match subject.strip_prefix("policy:") {
        Some(scope) => crate::subjects::SubjectLink {
            label: match scope.split_once(':') {
                Some(("class", class)) => format!("Replenishment policy of class {class}"),
                Some(("sku", sku)) => format!("Replenishment policy of SKU {sku}"),
                _ => format!("Replenishment policy {scope}"),
            },
            href: Some(super::Page::Procurement.href().to_owned() + "#policies"),
        },
        None => crate::subjects::link(subject, &std::collections::HashMap::new()),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ChangesQuery {
    #[serde(default)]
    status: Option<String>,
    /// Where the page starts: after the request this names (given by the page before).
    #[serde(default)]
    cursor: Option<String>,
    /// `csv` for every matching request as a file.
    #[serde(default)]
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage {
    layout: Layout,
    statuses: Vec<Choice>,
    status: String,
    rows: Vec<Row>,
    pager: Pager,
    csv_href: String,
    forms: Vec<EntryForm>,
}

/// The forms that propose a change, each its kind's fields and a reason.
fn proposal_forms(refused: Option<(&str, &Entered)>) -> Vec<EntryForm> {
    let entered = |id: &str| refused.filter(|(form, _)| *form == id).map(|(_, entered)| entered);
    let reason = || Input::text("reason", "Why").hint("the approver reads it; kept in the audit log");
    let form = |id: &'static str, title: &'static str, about: &str, inputs: Vec<Input>| {
        EntryForm::new(id, title, "/dashboard/changes", "Propose", inputs).about(about).entered(entered(id)).mark_choices()
    };
    vec![
        form("propose-price", "Change a listing's price", "Finance approves.", vec![
            Input::text("kind", "Kind").of(Control::Hidden).value("price"),
            Input::text("channel", "Channel"),
            Input::text("channel_sku", "The channel's SKU"),
            Input::text("price", "New price").hint("in the listing's currency, such as 24.90"),
            reason(),
        ]),
        form("propose-listing", "Sell a SKU on a channel", "A new listing, or an existing one pointed at another SKU; ops approves.", vec![
            Input::text("kind", "Kind").of(Control::Hidden).value("listing"),
            Input::text("channel", "Channel"),
            Input::text("channel_sku", "The channel's SKU"),
            Input::text("sku", "Our SKU"),
            Input::text("price", "Price").hint("in the channel's currency"),
            reason(),
        ]),
        form("propose-activation", "Stop or resume selling a SKU", "Ops approves.", vec![
            Input::text("kind", "Kind").of(Control::Hidden).value("sku_activation"),
            Input::text("sku", "SKU"),
            Input::text("active", "On sale").select(&[("false", "No: stop selling it"), ("true", "Yes: sell it again")]),
            reason(),
        ]),
        form("propose-priority", "Change a location's priority", "Lower numbers are preferred when routing; ops approves.", vec![
            Input::text("kind", "Kind").of(Control::Hidden).value("location_priority"),
            Input::text("location", "Location"),
            Input::text("priority", "New priority").of(Control::Number),
            reason(),
        ]),
        form("propose-tax-class", "Change a product's tax class", "Finance approves.", vec![
            Input::text("kind", "Kind").of(Control::Hidden).value("tax_class"),
            Input::text("sku", "SKU"),
            Input::text("tax_class", "Tax class").hint("such as standard, reduced or zero"),
            reason(),
        ]),
    ]
}

pub(crate) async fn changes(session: Session, State(dashboard): State<Dashboard>, query: Result<Query<ChangesQuery>, QueryRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Changes)?;
    let query = layout.query(query)?;
    let status = chosen_status(query.status);
    let filter = (status != "any").then_some(status.as_str());
    if query.format.as_deref() == Some("csv") {
        let changes = dashboard.ordo.changes();
        let all = super::every_page_after(500, key, |after| changes.change_requests_page(filter, 500, after)).await.map_err(|e| layout.fail(e))?;
        let rows = all.iter().map(|c| {
            let row = Row::from(c);
            vec![c.proposed_at.to_rfc3339(), row.kind, row.subject.label, c.proposed_by.clone(), c.reason.clone(), c.status.to_string(), c.decided_by.clone().unwrap_or_default()]
        });
        let header = ["proposed_at", "kind", "subject", "proposed_by", "reason", "status", "decided_by"];
        return Ok(super::csv_file("change-requests.csv", super::csv_rows(&header, rows)));
    }
    let after = super::cursor(&layout, query.cursor.as_deref())?;
    changes_page(&session, &dashboard, status, after, None).await
}

/// The status a list shows: pending unless another (or `any`) is asked for.
fn chosen_status(status: Option<String>) -> String {
    status.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).unwrap_or_else(|| "pending".to_owned())
}

/// Where a request sits in the list: its proposal time and id.
fn key(c: &ChangeRequest) -> PageCursor {
    PageCursor { at: c.proposed_at, id: c.id }
}

async fn changes_page(session: &Session, dashboard: &Dashboard, status: String, after: Option<PageCursor>, refused: Option<(&str, Entered)>) -> Result<Response, PageError> {
    let layout = session.open(Page::Changes)?;
    let filter = (status != "any").then_some(status.as_str());
    // One row past the page tells whether there is a next page without counting them all.
    let found = dashboard.ordo.changes().change_requests_page(filter, PAGE_SIZE + 1, after).await.map_err(|e| layout.fail(e))?;
    let (requests, next) = super::one_page(found, key);
    let params = [("status", status.as_str())];
    let pager = Pager::by_cursor(Page::Changes.href(), &params, after.is_some(), requests.len(), None, next.as_deref(), "change requests");
    let csv_href = crate::href::with_query(Page::Changes.href(), &[("status", status.as_str()), ("format", "csv")]);
    let statuses = ["pending", "approved", "rejected", "any"]
        .into_iter()
        .map(|s| Choice { value: s.to_owned(), label: s.to_owned(), selected: s == status })
        .collect();
    let http = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let forms = proposal_forms(refused.as_ref().map(|(form, entered)| (*form, entered)));
    let page = ChangesPage { layout, statuses, status, rows: requests.iter().map(Row::from).collect(), pager, csv_href, forms };
    Ok(render(http, &page))
}

/// The form that proposed a change of `kind`.
fn form_of(kind: &str) -> &'static str {
    match kind {
        "listing" => "propose-listing",
        "sku_activation" => "propose-activation",
        "location_priority" => "propose-priority",
        "tax_class" => "propose-tax-class",
        _ => "propose-price",
    }
}

/// The proposed values as the API takes them, from the form's fields.
fn change_of(kind: ChangeKind, fields: &[(String, String)]) -> Result<Value, FieldError> {
    let text = |name: &str| field(fields, name).trim().to_owned();
    Ok(match kind {
        ChangeKind::Price => json!({"channel": text("channel"), "channel_sku": text("channel_sku"), "price": text("price")}),
        ChangeKind::Listing => json!({"channel": text("channel"), "channel_sku": text("channel_sku"), "sku": text("sku"), "price": text("price")}),
        ChangeKind::SkuActivation => json!({"sku": text("sku"), "active": text("active") == "true"}),
        ChangeKind::LocationPriority => {
            json!({"location": text("location"), "priority": super::master::whole_number(fields, "priority")?})
        }
        ChangeKind::TaxClass => json!({"sku": text("sku"), "tax_class": text("tax_class")}),
        ChangeKind::ReplenishmentPolicy | ChangeKind::Connector => {
            return Err(FieldError::new("kind", "is proposed on its own page: procurement's policies, a channel's connector"));
        }
    })
}

pub(crate) async fn propose(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Changes, &headers, Permission::ChangesPropose)?;
    let fields = form_fields(&body);
    let kind = field(&fields, "kind").to_owned();
    let proposed = match ChangeKind::parse("kind", &kind).and_then(|k| change_of(k, &fields)) {
        Ok(change) => dashboard.ordo.changes().propose_change(&kind, change, field(&fields, "reason"), &session.actor).await.map(|c| c.id),
        Err(error) => Err(error.into()),
    };
    match proposed {
        Ok(id) => Ok(Redirect::to(&change_href(id)).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            changes_page(&session, &dashboard, chosen_status(None), None, Some((form_of(&kind), Entered::new(fields, refused)))).await
        }
    }
}

/// One line of the before-and-after table.
struct Difference {
    field: String,
    before: String,
    proposed: String,
    /// As applied, once approved.
    after: Option<String>,
    changed: bool,
}

/// The subject's fields (by name), before and as proposed (a field not proposed stays as it was), and
/// as applied once approved. The fields that only name the subject (a listing's channel and
/// SKU) are not rows; for a subject that does not exist yet, every proposed field is.
fn differences(request: &ChangeRequest) -> Vec<Difference> {
    let object = |value: &Value| value.as_object().cloned().unwrap_or_default();
    let (before, proposed) = (object(&request.before), object(&request.change));
    let after = request.after.as_ref().map(object);
    let mut names: Vec<String> = Vec::new();
    let state = if before.is_empty() { proposed.keys().chain(after.iter().flat_map(|a| a.keys())).collect::<Vec<_>>() } else { before.keys().collect() };
    for name in state {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let was = shown(before.get(&name));
            let wanted = proposed.get(&name).map_or_else(|| was.clone(), |value| shown(Some(value)));
            Difference { changed: was != wanted, after: after.as_ref().map(|a| shown(a.get(&name))), field: name, before: was, proposed: wanted }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "change.html")]
struct ChangePage {
    layout: Layout,
    request: ChangeRequest,
    kind: String,
    /// What it changes, named and linked.
    subject: crate::subjects::SubjectLink,
    differences: Vec<Difference>,
    /// Pending, and the viewer may decide it (the application still checks who).
    may_decide: bool,
    error: Option<String>,
}

pub(crate) async fn change(session: Session, State(dashboard): State<Dashboard>, path: Result<Path<String>, PathRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Changes)?;
    let id = layout.path_id(path)?;
    change_page(&session, &dashboard, id, None).await
}

async fn change_page(session: &Session, dashboard: &Dashboard, id: Uuid, error: Option<FieldError>) -> Result<Response, PageError> {
    let layout = session.open(Page::Changes)?;
    let request = dashboard.ordo.changes().change_request(id).await.map_err(|e| layout.fail(e))?;
    let subject = subject_link(&request.subject);
    let layout = layout.titled(format!("{} change: {}", kind_label(&request.kind), subject.label));
    let may_decide = request.status == ChangeStatus::Pending && session.actor.can(Permission::ChangesApprove);
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = ChangePage {
        layout,
        kind: kind_label(&request.kind),
        subject,
        differences: differences(&request),
        may_decide,
        error: error.map(|e| format!("{}: {}", e.field, e.message)),
        request,
    };
    Ok(render(status, &page))
}

/// Approves (`decision=approve`) or rejects (`decision=reject`, with a reason) a request.
pub(crate) async fn decide(
    session: Session,
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, PageError> {
    let layout = session.posting(Page::Changes, &headers, Permission::ChangesApprove)?;
    let id = layout.path_id(path)?;
    let fields = form_fields(&body);
    let changes = dashboard.ordo.changes();
    let decided = match field(&fields, "decision") {
        "approve" => changes.approve_change(id, &session.actor).await,
        "reject" => changes.reject_change(id, field(&fields, "reason"), &session.actor).await,
        _ => Err(FieldError::new("decision", "must be approve or reject").into()),
    };
    match decided {
        Ok(_) => Ok(Redirect::to(&change_href(id)).into_response()),
        Err(ordo_app::AppError::Forbidden(message)) => change_page(&session, &dashboard, id, Some(FieldError::new("approver", message))).await,
        Err(ordo_app::AppError::InvalidTransition { message, .. }) => change_page(&session, &dashboard, id, Some(FieldError::new("status", message))).await,
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            change_page(&session, &dashboard, id, Some(refused)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(before: Value, change: Value, after: Option<Value>) -> ChangeRequest {
        ChangeRequest {
            id: Uuid::nil(),
            kind: "price".into(),
            subject: "listing:web/W-MUG".into(),
            change,
            before,
            after,
            reason: "r".into(),
            status: ChangeStatus::Pending,
            proposed_by: "user:olga".into(),
            proposed_at: chrono::DateTime::UNIX_EPOCH,
            decided_by: None,
            decided_at: None,
            decision_reason: None,
        }
    }

    #[test]
    fn the_difference_shows_the_subjects_fields_not_the_ones_that_name_it() {
        let price = request(json!({"price": "12.90", "currency": "EUR"}), json!({"channel": "web", "channel_sku": "W-MUG", "price": "13.50"}), None);
        let rows: Vec<(String, String, String, bool)> = differences(&price).into_iter().map(|d| (d.field, d.before, d.proposed, d.changed)).collect();
        assert_eq!(rows, [("currency".into(), "EUR".into(), "EUR".into(), false), ("price".into(), "12.90".into(), "13.50".into(), true)]);
        let new_listing = request(Value::Null, json!({"channel": "web", "channel_sku": "W-BOWL", "sku": "BOWL-1", "price": "9.90"}), None);
        let rows = differences(&new_listing);
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|d| d.changed && d.before == "none"));
    }
}

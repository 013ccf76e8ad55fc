//! Returns: the queue by status, a request form, return rates with their charts, and one
//! return with the step its status allows (decide, receive, inspect, close).

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ordo_app::{InspectedLine, NewReturn, NewReturnLine, Period, ReceivedLine, ReturnSearch};
use ordo_domain::access::Permission;
use ordo_domain::returns::{Disposition, ReturnRate, ReturnStatus, Rma};
use ordo_domain::FieldError;
use ordo_domain::field::PageCursor;
use serde::Deserialize;
use uuid::Uuid;

use super::orders::order_href;
use super::{day, field, Choice, Layout, Page, Pager, PAGE_SIZE};
use crate::error::{render, PageError};
use crate::session::Session;
use crate::Dashboard;

/// The widest bar in a chart, in its units.
const BAR_WIDTH: i64 = 360;
const ROW_HEIGHT: i64 = 28;

/// One bar of a rate chart: the key, its rate as text, and its bar.
struct Bar {
    key: String,
    label: String,
    width: i64,
    y: i64,
}

/// Bars for `rates`, the longest the highest rate; rows without shipments are left out.
fn bars(rates: &[ReturnRate], limit: usize) -> Vec<Bar> {
    let shown: Vec<&ReturnRate> = rates.iter().filter(|r| r.rate_bp.is_some()).take(limit).collect();
    let top = shown.iter().filter_map(|r| r.rate_bp).max().unwrap_or(0).max(1);
    shown
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let bp = r.rate_bp.unwrap_or(0);
            Bar {
                key: r.key.replace('_', " "),
                label: format!("{}% ({} of {})", ordo_domain::ledger::percent(bp), r.returned, r.shipped),
                width: bp * BAR_WIDTH / top,
                y: i as i64 * ROW_HEIGHT,
            }
        })
        .collect()
}

struct Chart {
    id: &'static str,
    title: String,
    bars: Vec<Bar>,
    height: i64,
}

fn chart(id: &'static str, title: String, bars: Vec<Bar>) -> Chart {
    let height = (bars.len() as i64 * ROW_HEIGHT).max(ROW_HEIGHT);
    Chart { id, title, bars, height }
}

struct ReturnRow {
    href: String,
    order_href: String,
    /// The order's channel and number.
    order: String,
    requested_at: String,
    status: String,
    lines: String,
    due_back: String,
}

fn return_href(id: Uuid) -> String {
    format!("{}/{id}", Page::Returns.href())
}

impl From<&Rma> for ReturnRow {
    fn from(r: &Rma) -> ReturnRow {
        ReturnRow {
            href: return_href(r.id),
            order_href: order_href(&r.order_id.to_string()),
            order: String::new(),
            requested_at: super::timestamp(&r.requested_at),
            status: r.status.as_str().replace('_', " "),
            lines: r.lines.iter().map(|l| format!("{} × {} ({})", l.quantity, l.sku, l.reason.replace('_', " "))).collect::<Vec<_>>().join(", "),
            due_back: r.due_back_at.as_ref().map(super::timestamp).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReturnsQuery {
    #[serde(default)]
    status: Option<String>,
    /// Where the page starts: after the return this names (given by the page before).
    #[serde(default)]
    cursor: Option<String>,
    /// `csv` for every matching return as a file.
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    /// The channel's number of the order returned from.
    #[serde(default)]
    order: Option<String>,
    /// A SKU asked back.
    #[serde(default)]
    sku: Option<String>,
}

#[derive(Template)]
#[template(path = "returns.html")]
struct ReturnsPage {
    layout: Layout,
    returns: Vec<ReturnRow>,
    pager: Pager,
    csv_href: String,
    statuses: Vec<Choice>,
    order: String,
    sku: String,
    may_request: bool,
    from: String,
    to: String,
    shipped: i64,
    returned: i64,
    overall: String,
    charts: Vec<Chart>,
    bar_width: i64,
}


pub(crate) async fn returns(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<ReturnsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Returns)?;
    let query = layout.query(query)?;
    let status = query.status.unwrap_or_default().trim().to_owned();
    let today = dashboard.ordo.now().date_naive();
    let from = day("from", query.from.as_deref().unwrap_or_default()).map_err(|e| layout.fail(e))?.unwrap_or(today - chrono::Duration::days(90));
    let to = day("to", query.to.as_deref().unwrap_or_default()).map_err(|e| layout.fail(e))?.unwrap_or(today);
    let after = super::cursor(&layout, query.cursor.as_deref())?;
    let wanted = Some(status.as_str()).filter(|s| !s.is_empty());
    let text = |value: &Option<String>| value.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let (order, sku) = (text(&query.order), text(&query.sku));
    let search = ReturnSearch { status: wanted, order_ref: Some(order.as_str()).filter(|o| !o.is_empty()), sku: Some(sku.as_str()).filter(|s| !s.is_empty()), ..ReturnSearch::default() };
    let key = |r: &Rma| PageCursor { at: r.requested_at, id: r.id };
    if query.format.as_deref() == Some("csv") {
        let returns = dashboard.ordo.returns();
        let all = super::every_page_after(500, key, |after| returns.search(search, 500, after)).await.map_err(|e| layout.fail(e))?;
        let orders: Vec<String> = all.iter().map(|r| format!("order:{}", r.order_id)).collect();
        let names = dashboard.ordo.subject_names(orders.iter().map(String::as_str)).await.map_err(|e| layout.fail(e))?;
        let rows = all.iter().zip(&orders).map(|(r, order)| {
            let row = ReturnRow::from(r);
            vec![r.requested_at.to_rfc3339(), row.status, names.get(order).cloned().unwrap_or_default(), row.lines, r.due_back_at.map(|d| d.to_rfc3339()).unwrap_or_default()]
        });
        return Ok(super::csv_file("returns.csv", super::csv_rows(&["requested_at", "status", "order", "lines", "due_back_at"], rows)));
    }
    // One row past the page tells whether there is a next page without counting them all.
    let found = dashboard.ordo.returns().search(search, PAGE_SIZE + 1, after).await.map_err(|e| layout.fail(e))?;
    let (found, next) = super::one_page(found, key);
    let (from_text, to_text) = (query.from.clone().unwrap_or_default(), query.to.clone().unwrap_or_default());
    let params = [("status", status.as_str()), ("order", order.as_str()), ("sku", sku.as_str()), ("from", from_text.trim()), ("to", to_text.trim())];
    let pager = Pager::by_cursor(Page::Returns.href(), &params, after.is_some(), found.len(), None, next.as_deref(), "returns");
    let mut export = params.to_vec();
    export.push(("format", "csv"));
    let csv_href = crate::href::with_query(Page::Returns.href(), &export);
    let report = dashboard.ordo.returns().return_report(Period { from: Some(from), to: Some(to) }).await.map_err(|e| layout.fail(e))?;
    let overall = match report.shipped {
        0 => "no shipments".to_owned(),
        shipped => format!("{}%", ordo_domain::ledger::percent(report.returned * 10_000 / shipped)),
    };
    let charts = vec![
        chart("by-channel", "Return rate by channel".to_owned(), bars(&report.by_channel, 20)),
        chart("by-reason", "Returned units by reason, as a share of all shipped".to_owned(), bars(&report.by_reason, 20)),
        chart("by-sku", "Return rate of the SKUs returned most".to_owned(), bars(&report.by_sku, 10)),
        chart("by-week", "Return rate by week (from Monday)".to_owned(), bars(&report.by_week, 30)),
    ];
    let statuses = std::iter::once(Choice { value: String::new(), label: "any".into(), selected: status.is_empty() })
        .chain(ReturnStatus::ALL.iter().map(|s| Choice { value: s.as_str().into(), label: s.as_str().replace('_', " "), selected: s.as_str() == status }))
        .collect();
    let page = ReturnsPage {
        may_request: session.actor.can(Permission::ReturnsWrite),
        pager,
        csv_href,
        returns: {
            let orders: Vec<String> = found.iter().map(|r| format!("order:{}", r.order_id)).collect();
            let names = dashboard.ordo.subject_names(orders.iter().map(String::as_str)).await.map_err(|e| layout.fail(e))?;
            found
                .iter()
                .zip(&orders)
                .map(|(r, subject)| ReturnRow { order: names.get(subject).cloned().unwrap_or_else(|| r.order_id.to_string()[..8].to_owned()), ..ReturnRow::from(r) })
                .collect()
        },
        statuses,
        order: order.clone(),
        sku: sku.clone(),
        from: from.to_string(),
        to: to.to_string(),
        shipped: report.shipped,
        returned: report.returned,
        overall,
        charts,
        bar_width: BAR_WIDTH + 260,
        layout,
    };
    Ok(render(StatusCode::OK, &page))
}


fn number(fields: &[(String, String)], name: &str) -> Result<i64, FieldError> {
    field(fields, name).trim().parse().map_err(|_| FieldError::new(name, "must be a whole number"))
}


/// Asks for a return of an order's lines, from the order's page, as a customer told service
/// (303 to the return).
/// Asks for a return from the order's page; refused, the order's page again with the field
/// named (422).
pub(crate) async fn request(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Returns, &headers, Permission::ReturnsWrite)?;
    let fields = super::form_fields(&body);
    let order_id = ordo_domain::field::uuid("order_id", field(&fields, "order_id")).map_err(|e| layout.fail(e))?;
    let reason = field(&fields, "reason").to_owned();
    let asked = (|| {
        // The order page sends `quantity_N` for each shipped line N; lines left at 0 stay.
        let mut lines = Vec::new();
        for (name, _) in fields.iter().filter(|(name, _)| name.starts_with("quantity_")) {
            let line = name["quantity_".len()..].parse::<i64>().map_err(|_| FieldError::new(name.clone(), "is not an order line"))?;
            let quantity = number(&fields, name)?;
            if quantity > 0 {
                lines.push(NewReturnLine { line, quantity, reason: reason.clone() });
            }
        }
        if lines.is_empty() {
            return Err(FieldError::new("quantity", "say how many units of at least one line come back"));
        }
        let override_window = Some(field(&fields, "override_window").trim().to_owned()).filter(|o| !o.is_empty());
        Ok(NewReturn { order_id, lines, source: "dashboard".into(), override_window })
    })();
    let requested = match asked {
        Ok(new) => dashboard.ordo.returns().request_return(new, &session.actor).await,
        Err(error) => Err(error.into()),
    };
    match requested {
        Ok(rma) => Ok(Redirect::to(&return_href(rma.id)).into_response()),
        Err(error) => {
            let refused = crate::forms::refusal(error).map_err(|e| layout.fail(e))?;
            super::orders::order_page(&session, &dashboard, order_id, Some(refused)).await
        }
    }
}

#[derive(Template)]
#[template(path = "return.html")]
struct ReturnPage {
    layout: Layout,
    rma: Rma,
    row: ReturnRow,
    may_decide: bool,
    may_receive: bool,
    may_inspect: bool,
    may_close: bool,
    locations: Vec<Choice>,
    dispositions: Vec<Choice>,
    /// The replacement order's name.
    replacement: Option<String>,
}

pub(crate) async fn return_page(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Returns)?;
    let id = layout.path_id(path)?;
    let rma = dashboard.ordo.returns().return_detail(id).await.map_err(|e| layout.fail(e))?;
    let may = session.actor.can(Permission::ReturnsWrite);
    let status = rma.status;
    let locations = dashboard.ordo.master_data().locations().await.map_err(|e| layout.fail(e))?;
    let order = format!("order:{}", rma.order_id);
    let replacement = rma.replacement_order.map(|o| format!("order:{o}"));
    let names = dashboard.ordo.subject_names([order.as_str()].into_iter().chain(replacement.as_deref())).await.map_err(|e| layout.fail(e))?;
    let named = |subject: &str| crate::subjects::link(subject, &names).label;
    let page = ReturnPage {
        layout: layout.titled(format!("Return of {}", named(&order))),
        row: ReturnRow { order: names.get(&order).cloned().unwrap_or_else(|| "the order".to_owned()), ..ReturnRow::from(&rma) },
        replacement: replacement.as_deref().map(named),
        may_decide: may && status.can_become(ReturnStatus::Authorized),
        may_receive: may && status.can_become(ReturnStatus::Received),
        may_inspect: may && status.can_become(ReturnStatus::Inspected),
        may_close: may && status.can_become(ReturnStatus::Closed),
        locations: locations.into_iter().map(|l| Choice { value: l.code.clone(), label: l.name, selected: false }).collect(),
        dispositions: Disposition::ALL.iter().map(|d| Choice { value: d.as_str().into(), label: d.as_str().replace('_', " "), selected: false }).collect(),
        rma,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The step the form names: decide, receive, inspect or close; then the return again (303).
pub(crate) async fn step(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Returns, &headers, Permission::ReturnsWrite)?;
    let id = layout.path_id(path)?;
    let fields = super::form_fields(&body);
    let ordo = &dashboard.ordo;
    let actor = &session.actor;
    let lines = ordo.returns().return_detail(id).await.map_err(|e| layout.fail(e))?.lines;
    let done = match field(&fields, "action") {
        "authorize" | "reject" => ordo.returns().decide_return(id, field(&fields, "action") == "authorize", field(&fields, "note"), actor).await,
        "receive" => {
            let mut received = Vec::with_capacity(lines.len());
            for l in &lines {
                let quantity = number(&fields, &format!("received_{}", l.line)).map_err(|e| layout.fail(e))?;
                received.push(ReceivedLine { line: l.line, quantity });
            }
            ordo.returns().receive_return(id, field(&fields, "location"), &received, actor).await
        }
        "inspect" => {
            let inspected: Vec<InspectedLine> = lines
                .iter()
                .filter(|l| l.received > 0)
                .map(|l| InspectedLine {
                    line: l.line,
                    disposition: field(&fields, &format!("disposition_{}", l.line)).to_owned(),
                    note: field(&fields, &format!("note_{}", l.line)).to_owned(),
                    supplier: Some(field(&fields, &format!("supplier_{}", l.line)).trim().to_owned()).filter(|s| !s.is_empty()),
                })
                .collect();
            ordo.returns().inspect_return(id, &inspected, actor).await
        }
        "close" => ordo.returns().close_return(id, field(&fields, "note"), actor).await,
        _ => return Err(layout.fail(FieldError::new("action", "choose authorize, reject, receive, inspect or close"))),
    };
    done.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to(&return_href(id)))
}

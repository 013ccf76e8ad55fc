//! A count sheet: every SKU kept at a location, in bin order, with what Ordo thinks is on the
//! shelf, printed or filled in on a tablet; the quantities counted are recorded as counts.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ordo_domain::access::Permission;
use ordo_domain::inventory::{MovementKind, NewMovement};
use ordo_domain::FieldError;
use serde::Deserialize;

use super::{field, form_fields, Choice, Layout, Page};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::session::Session;

#[derive(Debug, Deserialize)]
pub(crate) struct SheetQuery {
    #[serde(default)]
    location: Option<String>,
}

/// One line of the sheet.
struct SheetLine {
    bin: String,
    sku: String,
    on_hand: i64,
}

#[derive(Template)]
#[template(path = "count_sheet.html")]
struct SheetPage {
    layout: Layout,
    locations: Vec<Choice>,
    location: String,
    lines: Vec<SheetLine>,
    may_count: bool,
    error: Option<String>,
}

/// Bins in walking order ("A-2" before "A-10"), unbinned SKUs last, then by SKU.
fn walking_order(lines: &mut [SheetLine]) {
    let key = |bin: &str| -> Vec<(String, u64)> {
        bin.split(|c: char| !c.is_ascii_alphanumeric())
            .map(|part| {
                let digits: String = part.chars().filter(char::is_ascii_digit).collect();
                (part.chars().filter(|c| !c.is_ascii_digit()).collect(), digits.parse().unwrap_or(0))
            })
            .collect()
    };
    lines.sort_by(|a, b| (a.bin.is_empty(), key(&a.bin), &a.sku).cmp(&(b.bin.is_empty(), key(&b.bin), &b.sku)));
}

pub(crate) async fn sheet(session: Session, State(dashboard): State<Dashboard>, query: Result<Query<SheetQuery>, QueryRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Inventory)?;
    let query = layout.query(query)?;
    sheet_page(&session, &dashboard, query.location.unwrap_or_default().trim(), None).await
}

async fn sheet_page(session: &Session, dashboard: &Dashboard, location: &str, error: Option<FieldError>) -> Result<Response, PageError> {
    let layout = session.open(Page::Inventory)?.titled(format!("Count sheet {location}"));
    let known = dashboard.ordo.master_data().locations().await.map_err(|e| layout.fail(e))?;
    let locations = known.iter().map(|l| Choice { value: l.code.clone(), label: format!("{} ({})", l.name, l.code), selected: l.code == location }).collect();
    let mut lines = Vec::new();
    if !location.is_empty() {
        let bins: HashMap<String, String> = dashboard.ordo.inventory().bins(location).await.map_err(|e| layout.fail(e))?.into_iter().collect();
        let levels = dashboard.ordo.inventory().stock_levels(None).await.map_err(|e| layout.fail(e))?;
        lines = levels
            .into_iter()
            .filter(|l| l.location == location)
            .map(|l| SheetLine { bin: bins.get(&l.sku).cloned().unwrap_or_default(), sku: l.sku, on_hand: l.on_hand })
            .collect();
        walking_order(&mut lines);
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = SheetPage {
        layout,
        locations,
        location: location.to_owned(),
        lines,
        may_count: session.actor.can(Permission::InventoryWrite),
        error: error.map(|e| format!("{}: {}", e.field, e.message)),
    };
    Ok(render(status, &page))
}

/// Records the quantities counted (`count_SKU`) at the sheet's location; a line left empty
/// was not counted. Every quantity is checked before any is recorded.
pub(crate) async fn record(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Inventory, &headers, Permission::InventoryWrite)?;
    let fields = form_fields(&body);
    let location = field(&fields, "location").trim().to_owned();
    let mut counted = Vec::new();
    for (name, value) in fields.iter().filter(|(name, value)| name.starts_with("count_") && !value.trim().is_empty()) {
        match value.trim().parse::<i64>() {
            Ok(quantity) if quantity >= 0 => counted.push((name["count_".len()..].to_owned(), quantity)),
            _ => return sheet_page(&session, &dashboard, &location, Some(FieldError::new(name.clone(), "must be a whole number of units, 0 or more"))).await,
        }
    }
    if counted.is_empty() {
        return sheet_page(&session, &dashboard, &location, Some(FieldError::new("count", "write the quantity counted on at least one line"))).await;
    }
    // Only the sheet's own lines: a SKU not kept here is refused before anything is recorded,
    // so a sheet is recorded whole or not at all.
    let kept: std::collections::HashSet<String> =
        dashboard.ordo.inventory().stock_levels(None).await.map_err(|e| layout.fail(e))?.into_iter().filter(|l| l.location == location).map(|l| l.sku).collect();
    if let Some((sku, _)) = counted.iter().find(|(sku, _)| !kept.contains(sku)) {
        let error = FieldError::new(format!("count_{sku}"), format!("{sku} is not on the count sheet of {location:?}"));
        return sheet_page(&session, &dashboard, &location, Some(error)).await;
    }
    let reason = format!("count sheet {location}");
    for (sku, quantity) in counted {
        let count = NewMovement { sku, location: location.clone(), quantity, kind: MovementKind::Count, reason: reason.clone(), unit_cost: None };
        dashboard.ordo.inventory().record_movement(count, &session.actor).await.map_err(|e| layout.fail(e))?;
    }
    Ok(Redirect::to(&crate::href::with_query("/dashboard/inventory/count", &[("location", location.as_str())])).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sheet_walks_the_bins_in_order_and_ends_with_the_unbinned() {
        let line = |bin: &str, sku: &str| SheetLine { bin: bin.into(), sku: sku.into(), on_hand: 0 };
        let mut lines = vec![line("A-10", "X"), line("", "Y"), line("A-2", "Z"), line("B-1", "W")];
        walking_order(&mut lines);
        let order: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
        assert_eq!(order, ["Z", "X", "W", "Y"]);
    }
}

//! Inventory pages: stock levels by SKU and location with their bins, and one SKU's levels
//! with its latest movements.

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ordo_domain::access::Permission;
use ordo_domain::inventory::{MovementKind, NewMovement, StockLevel, StockMovement};
use ordo_domain::FieldError;
use ordo_domain::master::Product;
use serde::Deserialize;

use super::{field, grouped, Extent, Layout, Page, Pager, Paging, PAGE_SIZE};
use crate::Dashboard;
use crate::error::{render, PageError, Problem};
use crate::forms::{refusal, Control, Entered, EntryForm, Input};
use crate::href::query_escape;
use crate::session::Session;

/// How many of a SKU's movements its page shows.
const MOVEMENTS_SHOWN: i64 = 100;

/// The stock page of the SKU.
pub(crate) fn sku_href(sku: &str) -> String {
    format!("{}/{}", Page::Inventory.href(), query_escape(sku))
}

/// Whether `sku` is one the search `q` asks for: it contains `q`, ignoring case. An empty
/// search asks for every SKU.
fn sku_matches(sku: &str, q: &str) -> bool {
    sku.to_ascii_lowercase().contains(&q.to_ascii_lowercase())
}

/// A change of on-hand with its sign, so a receipt reads "+12" and a shipment "-2".
pub(crate) fn signed_units(quantity: i64) -> String {
    if quantity > 0 { format!("+{}", grouped(quantity)) } else { grouped(quantity) }
}

/// The bins of the SKUs at each of `locations`, by location and SKU.
async fn bins_at(
    dashboard: &Dashboard,
    layout: &Layout,
    locations: BTreeSet<String>,
) -> Result<HashMap<(String, String), String>, PageError> {
    let mut bins = HashMap::new();
    for location in locations {
        let found = dashboard.ordo.inventory().bins(&location).await.map_err(|e| layout.fail(e))?;
        bins.extend(found.into_iter().map(|(sku, bin)| ((location.clone(), sku), bin)));
    }
    Ok(bins)
}

/// One stock level with where it is picked from.
struct LevelRow {
    level: StockLevel,
    href: String,
    bin: Option<String>,
}

impl LevelRow {
    fn new(level: StockLevel, bins: &HashMap<(String, String), String>) -> LevelRow {
        let bin = bins.get(&(level.location.clone(), level.sku.clone())).cloned();
        LevelRow { href: sku_href(&level.sku), level, bin }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct InventoryQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<String>,
    /// `csv` for every matching level as a file.
    #[serde(default)]
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "inventory.html")]
struct InventoryPage {
    layout: Layout,
    q: String,
    levels: Vec<LevelRow>,
    pager: Pager,
    forms: Vec<EntryForm>,
}

fn movement_form(entered: Option<&Entered>, locations: &[(String, String)]) -> EntryForm {
    let locations: Vec<(&str, &str)> = locations.iter().map(|(code, name)| (code.as_str(), name.as_str())).collect();
    EntryForm::new("stock-movement", "Record stock", Page::Inventory.href(), "Record it", vec![
        Input::text("kind", "What happened").select(&[
            ("receipt", "Goods received: add the quantity"),
            ("adjustment", "Correction: add the quantity (negative removes)"),
            ("count", "Counted: on hand becomes the quantity"),
        ]),
        Input::text("sku", "SKU"),
        Input::text("location", "Location").select(&locations),
        Input::text("quantity", "Quantity").of(Control::Number),
        Input::text("reason", "Reason").hint("kept in the stock history and the audit log, such as a delivery note number"),
        Input::text("unit_cost", "Unit cost").optional().hint("of a receipt, in the base currency; the product's unit cost when empty"),
    ])
    .about("Orders waiting for stock are served as soon as a receipt makes it available.")
    .entered(entered)
    .mark_choices()
}

pub(crate) async fn inventory(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<InventoryQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Inventory)?;
    let query = layout.query(query)?;
    inventory_page(&session, &dashboard, query, None).await
}

async fn inventory_page(session: &Session, dashboard: &Dashboard, query: InventoryQuery, entered: Option<Entered>) -> Result<Response, PageError> {
    let layout = session.open(Page::Inventory)?;
    let paging = Paging::parse(query.page.as_deref()).map_err(|e| layout.fail(e))?;
    let q = query.q.map(|q| q.trim().to_owned()).unwrap_or_default();

    // Stock levels are one row per SKU and location: few enough to search and page here.
    let all = dashboard.ordo.inventory().stock_levels(None).await.map_err(|e| layout.fail(e))?;
    let matching: Vec<StockLevel> = all.into_iter().filter(|level| sku_matches(&level.sku, &q)).collect();
    if query.format.as_deref() == Some("csv") {
        let rows = matching.into_iter().map(|l| vec![l.sku, l.location, l.on_hand.to_string(), l.reserved.to_string(), l.available.to_string()]);
        return Ok(super::csv_file("stock.csv", super::csv_rows(&["sku", "location", "on_hand", "reserved", "available"], rows)));
    }
    let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let offset = usize::try_from(paging.offset).unwrap_or(usize::MAX);
    let page_size = usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    let shown: Vec<StockLevel> = matching.into_iter().skip(offset).take(page_size).collect();

    let locations = shown.iter().map(|level| level.location.clone()).collect();
    let bins = bins_at(dashboard, &layout, locations).await?;
    let what = if q.is_empty() { "stock levels" } else { "matching stock levels" };
    let pager = Pager::new(Page::Inventory.href(), &[("q", &q)], paging, shown.len(), Extent::Total(total), what);
    let levels = shown.into_iter().map(|level| LevelRow::new(level, &bins)).collect();
    let forms = if session.actor.can(Permission::InventoryWrite) {
        let sites = dashboard.ordo.master_data().locations().await.map_err(|e| layout.fail(e))?;
        let sites: Vec<(String, String)> = sites.into_iter().map(|l| (l.code.clone(), format!("{} ({})", l.name, l.code))).collect();
        vec![movement_form(entered.as_ref(), &sites)]
    } else {
        Vec::new()
    };
    let status = if entered.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render(status, &InventoryPage { layout, q, levels, pager, forms }))
}

pub(crate) async fn record(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Inventory, &headers, Permission::InventoryWrite)?;
    let fields = super::form_fields(&body);
    let kind = match field(&fields, "kind") {
        "receipt" => Ok(MovementKind::Receipt),
        "adjustment" => Ok(MovementKind::Adjustment),
        "count" => Ok(MovementKind::Count),
        _ => Err(FieldError::new("kind", "must be one of receipt, adjustment, count")),
    };
    let new = kind.and_then(|kind| {
        Ok(NewMovement {
            sku: field(&fields, "sku").trim().to_owned(),
            location: field(&fields, "location").to_owned(),
            quantity: super::master::whole_number(&fields, "quantity")?,
            kind,
            reason: field(&fields, "reason").to_owned(),
            unit_cost: super::master::optional(&fields, "unit_cost"),
        })
    });
    let recorded = match new {
        Ok(new) => dashboard.ordo.inventory().record_movement(new, &session.actor).await.map(drop),
        Err(error) => Err(error.into()),
    };
    match recorded {
        Ok(()) => Ok(Redirect::to(Page::Inventory.href()).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            inventory_page(&session, &dashboard, InventoryQuery { q: None, page: None, format: None }, Some(Entered::new(fields, refused))).await
        }
    }
}

#[derive(Template)]
#[template(path = "sku.html")]
struct SkuPage {
    layout: Layout,
    product: Product,
    levels: Vec<LevelRow>,
    movements: Vec<StockMovement>,
}

pub(crate) async fn sku(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Inventory)?;
    let Path(sku) = path.map_err(|_| layout.fail(Problem::NotFound))?;
    let sku = ordo_domain::field::code("sku", &sku).map_err(|e| layout.fail(e))?;
    let product = dashboard.ordo.master_data().product(&sku).await.map_err(|e| layout.fail(e))?;
    let levels = dashboard.ordo.inventory().stock_levels(Some(&sku)).await.map_err(|e| layout.fail(e))?;
    let movements = dashboard.ordo.inventory().movements(&sku, MOVEMENTS_SHOWN).await.map_err(|e| layout.fail(e))?;
    let bins = bins_at(&dashboard, &layout, levels.iter().map(|level| level.location.clone()).collect()).await?;
    let levels = levels.into_iter().map(|level| LevelRow::new(level, &bins)).collect();
    let layout = layout.titled(format!("Stock of {sku}"));
    Ok(render(StatusCode::OK, &SkuPage { layout, product, levels, movements }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_finds_skus_containing_it_in_any_case() {
        assert!(sku_matches("CUS-LIN-SND", ""));
        assert!(sku_matches("CUS-LIN-SND", "cus-"));
        assert!(sku_matches("CUS-LIN-SND", "LIN"));
        assert!(!sku_matches("CUS-LIN-SND", "VEL"));
    }

    #[test]
    fn movements_show_their_sign() {
        assert_eq!(signed_units(12), "+12");
        assert_eq!(signed_units(1500), "+1,500");
        assert_eq!(signed_units(0), "0");
        assert_eq!(signed_units(-2), "-2");
    }

    #[test]
    fn sku_links_are_escaped() {
        assert_eq!(sku_href("MUG-1"), "/dashboard/inventory/MUG-1");
        assert_eq!(sku_href("a/b"), "/dashboard/inventory/a%2Fb");
    }
}

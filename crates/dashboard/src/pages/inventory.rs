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
use ordo_domain::inventory::{MovementKind, NewMovement, NewTransfer, StockLevel, StockMovement};
use ordo_domain::FieldError;
use ordo_domain::master::{KitComponent, Product};
use serde::Deserialize;

use super::{field, grouped, Extent, Layout, Page, Pager, Paging, PAGE_SIZE};
use crate::Dashboard;
use crate::error::{render, PageError};
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

#[derive(Debug, Default, Deserialize)]
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
    transfers: Vec<ordo_domain::inventory::Transfer>,
    may_receive: bool,
    forms: Vec<EntryForm>,
}

fn transfer_form(entered: Option<&Entered>, locations: &[(&str, &str)]) -> EntryForm {
    EntryForm::new("transfer", "Send stock to another location", "/dashboard/inventory/transfers", "Send it", vec![
        Input::text("sku", "SKU"),
        Input::text("from", "From").select(locations),
        Input::text("to", "To").select(locations).value(locations.get(1).map_or("", |(code, _)| *code)),
        Input::text("quantity", "Quantity").of(Control::Number),
        Input::text("reason", "Reason").hint("such as rebalancing before a promotion"),
    ])
    .about("The units leave the source now, from what is not reserved, and are in transit until received at the destination.")
    .entered(entered)
    .mark_choices()
}

fn movement_form(entered: Option<&Entered>, locations: &[(&str, &str)]) -> EntryForm {
    EntryForm::new("stock-movement", "Record stock", Page::Inventory.href(), "Record it", vec![
        Input::text("kind", "What happened").select(&[
            ("receipt", "Goods received: add the quantity"),
            ("adjustment", "Correction: add the quantity (negative removes)"),
            ("count", "Counted: on hand becomes the quantity"),
        ]),
        Input::text("sku", "SKU"),
        Input::text("location", "Location").select(locations),
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

/// The page; with `refused`, the form of that id shown again as it was sent (422).
async fn inventory_page(session: &Session, dashboard: &Dashboard, query: InventoryQuery, refused: Option<(&str, Entered)>) -> Result<Response, PageError> {
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
    let transfers = dashboard.ordo.inventory().transfers_in_transit().await.map_err(|e| layout.fail(e))?;
    let may_receive = session.actor.can(Permission::InventoryWrite);
    let entered = |id: &str| refused.as_ref().filter(|(form, _)| *form == id).map(|(_, entered)| entered);
    let forms = if may_receive {
        let sites = dashboard.ordo.master_data().locations().await.map_err(|e| layout.fail(e))?;
        let sites: Vec<(String, String)> = sites.into_iter().map(|l| (l.code.clone(), format!("{} ({})", l.name, l.code))).collect();
        let sites: Vec<(&str, &str)> = sites.iter().map(|(code, name)| (code.as_str(), name.as_str())).collect();
        vec![movement_form(entered("stock-movement"), &sites), transfer_form(entered("transfer"), &sites)]
    } else {
        Vec::new()
    };
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render(status, &InventoryPage { layout, q, levels, pager, transfers, may_receive, forms }))
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
            inventory_page(&session, &dashboard, InventoryQuery::default(), Some(("stock-movement", Entered::new(fields, refused)))).await
        }
    }
}

pub(crate) async fn start_transfer(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Inventory, &headers, Permission::InventoryWrite)?;
    let fields = super::form_fields(&body);
    let started = match super::master::whole_number(&fields, "quantity") {
        Ok(quantity) => {
            let text = |name: &str| field(&fields, name).trim().to_owned();
            let new = NewTransfer { sku: text("sku"), from: text("from"), to: text("to"), quantity, reason: text("reason") };
            dashboard.ordo.inventory().start_transfer(new, &session.actor).await.map(drop)
        }
        Err(error) => Err(error.into()),
    };
    match started {
        Ok(()) => Ok(Redirect::to(&format!("{}#transfers", Page::Inventory.href())).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            inventory_page(&session, &dashboard, InventoryQuery::default(), Some(("transfer", Entered::new(fields, refused)))).await
        }
    }
}

/// Receives a transfer at its destination, then back to the page.
pub(crate) async fn receive_transfer(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Inventory, &headers, Permission::InventoryWrite)?;
    let id = layout.path_id(path)?;
    dashboard.ordo.inventory().receive_transfer(id, &session.actor).await.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to(&format!("{}#transfers", Page::Inventory.href())))
}

#[derive(Template)]
#[template(path = "sku.html")]
struct SkuPage {
    layout: Layout,
    product: Product,
    levels: Vec<LevelRow>,
    movements: Vec<StockMovement>,
    components: Vec<KitComponent>,
    forms: Vec<EntryForm>,
}

fn kit_form(sku: &str, components: &[KitComponent], entered: Option<&Entered>) -> EntryForm {
    let typed: String = components.iter().map(|c| format!("{} = {}\n", c.sku, c.quantity)).collect();
    EntryForm::new("kit", "Kit", format!("{}/kit", sku_href(sku)), "Save the kit", vec![
        Input::text("components", "Components").of(Control::TextArea).optional().value(typed)
            .hint("one SKU = units per kit per line, such as MUG-1 = 2; empty makes it an ordinary product"),
    ])
    .about("A kit is sold as one SKU and reserves, picks and ships its components; its availability is what its components allow.")
    .entered(entered)
}

/// `SKU = units` lines as kit components, in order.
fn typed_components(text: &str) -> Result<Vec<KitComponent>, FieldError> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let (sku, units) = line.split_once('=').ok_or_else(|| FieldError::new(format!("components[{i}]"), "must read SKU = units, such as MUG-1 = 2"))?;
            let quantity = units.trim().parse().map_err(|_| FieldError::new(format!("components[{i}].quantity"), "must be a whole number"))?;
            Ok(KitComponent { sku: sku.trim().to_owned(), quantity })
        })
        .collect()
}

pub(crate) async fn sku(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Inventory)?;
    let sku = layout.path_key(path)?;
    sku_page(&session, &dashboard, &sku, None).await
}

/// The SKU's page; with `entered`, the kit form as it was refused (422).
async fn sku_page(session: &Session, dashboard: &Dashboard, sku: &str, entered: Option<Entered>) -> Result<Response, PageError> {
    let layout = session.open(Page::Inventory)?;
    let sku = ordo_domain::field::code("sku", sku).map_err(|e| layout.fail(e))?;
    let product = dashboard.ordo.master_data().product(&sku).await.map_err(|e| layout.fail(e))?;
    let levels = dashboard.ordo.inventory().stock_levels(Some(&sku)).await.map_err(|e| layout.fail(e))?;
    let movements = dashboard.ordo.inventory().movements(&sku, MOVEMENTS_SHOWN).await.map_err(|e| layout.fail(e))?;
    let components = dashboard.ordo.master_data().kit_components(&sku).await.map_err(|e| layout.fail(e))?;
    let bins = bins_at(dashboard, &layout, levels.iter().map(|level| level.location.clone()).collect()).await?;
    let levels = levels.into_iter().map(|level| LevelRow::new(level, &bins)).collect();
    let forms = if session.actor.can(Permission::MasterDataWrite) { vec![kit_form(&sku, &components, entered.as_ref())] } else { Vec::new() };
    let layout = layout.titled(format!("Stock of {sku}"));
    let status = if entered.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render(status, &SkuPage { layout, product, levels, movements, components, forms }))
}

/// Makes the SKU a kit of the components typed, or an ordinary product with none.
pub(crate) async fn set_kit(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let layout = session.posting(Page::Inventory, &headers, Permission::MasterDataWrite)?;
    let sku = layout.path_key(path)?;
    let fields = super::form_fields(&body);
    let set = match typed_components(field(&fields, "components")) {
        Ok(components) => dashboard.ordo.master_data().set_kit_components(&sku, components, &session.actor).await.map(drop),
        Err(error) => Err(error.into()),
    };
    match set {
        Ok(()) => Ok(Redirect::to(&sku_href(&sku)).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            sku_page(&session, &dashboard, &sku, Some(Entered::new(fields, refused))).await
        }
    }
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
    fn kit_lines_are_read_in_order_and_a_wrong_one_is_named() {
        let read = typed_components("MUG-1 = 2\n\n  VASE-1=1 \n").unwrap();
        assert_eq!(read.iter().map(|c| (c.sku.as_str(), c.quantity)).collect::<Vec<_>>(), [("MUG-1", 2), ("VASE-1", 1)]);
        assert_eq!(typed_components("MUG-1 2").unwrap_err().field, "components[0]");
        assert_eq!(typed_components("MUG-1 = 2\nVASE-1 = two").unwrap_err().field, "components[1].quantity");
        assert!(typed_components("").unwrap().is_empty());
    }

    #[test]
    fn sku_links_are_escaped() {
        assert_eq!(sku_href("MUG-1"), "/dashboard/inventory/MUG-1");
        assert_eq!(sku_href("a/b"), "/dashboard/inventory/a%2Fb");
    }
}

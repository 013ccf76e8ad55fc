//! Inventory pages: stock levels by SKU and location with their bins, and one SKU's levels
//! with its latest movements.

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ordo_domain::inventory::{StockLevel, StockMovement};
use ordo_domain::master::Product;
use serde::Deserialize;

use super::{grouped, Extent, Layout, Page, Pager, Paging, PAGE_SIZE};
use crate::Dashboard;
use crate::error::{render, PageError, Problem};
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
}

#[derive(Template)]
#[template(path = "inventory.html")]
struct InventoryPage {
    layout: Layout,
    q: String,
    levels: Vec<LevelRow>,
    pager: Pager,
}

pub(crate) async fn inventory(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<InventoryQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Inventory)?;
    let query = layout.query(query)?;
    let paging = Paging::parse(query.page.as_deref()).map_err(|e| layout.fail(e))?;
    let q = query.q.map(|q| q.trim().to_owned()).unwrap_or_default();

    // Stock levels are one row per SKU and location: few enough to search and page here.
    let all = dashboard.ordo.inventory().stock_levels(None).await.map_err(|e| layout.fail(e))?;
    let matching: Vec<StockLevel> = all.into_iter().filter(|level| sku_matches(&level.sku, &q)).collect();
    let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let offset = usize::try_from(paging.offset).unwrap_or(usize::MAX);
    let page_size = usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    let shown: Vec<StockLevel> = matching.into_iter().skip(offset).take(page_size).collect();

    let locations = shown.iter().map(|level| level.location.clone()).collect();
    let bins = bins_at(&dashboard, &layout, locations).await?;
    let what = if q.is_empty() { "stock levels" } else { "matching stock levels" };
    let pager = Pager::new(Page::Inventory.href(), &[("q", &q)], paging, shown.len(), Extent::Total(total), what);
    let levels = shown.into_iter().map(|level| LevelRow::new(level, &bins)).collect();
    Ok(render(StatusCode::OK, &InventoryPage { layout, q, levels, pager }))
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

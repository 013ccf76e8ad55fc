//! Master data pages: locations, products, suppliers and customers as tables.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ordo_domain::master::{Customer, Location, Product, Supplier};
use serde::Deserialize;

use super::{Extent, Layout, Page, Pager, Paging, PAGE_SIZE};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::session::Session;

#[derive(Template)]
#[template(path = "locations.html")]
struct LocationsPage {
    layout: Layout,
    locations: Vec<Location>,
}

pub(crate) async fn locations(session: Session, State(dashboard): State<Dashboard>) -> Result<Response, PageError> {
    let layout = session.open(Page::Locations)?;
    let locations = dashboard.ordo.master_data().locations().await.map_err(|e| layout.fail(e))?;
    Ok(render(StatusCode::OK, &LocationsPage { layout, locations }))
}

#[derive(Template)]
#[template(path = "suppliers.html")]
struct SuppliersPage {
    layout: Layout,
    suppliers: Vec<Supplier>,
}

pub(crate) async fn suppliers(session: Session, State(dashboard): State<Dashboard>) -> Result<Response, PageError> {
    let layout = session.open(Page::Suppliers)?;
    let suppliers = dashboard.ordo.master_data().suppliers().await.map_err(|e| layout.fail(e))?;
    Ok(render(StatusCode::OK, &SuppliersPage { layout, suppliers }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProductsQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "products.html")]
struct ProductsPage {
    layout: Layout,
    q: String,
    products: Vec<Product>,
    pager: Pager,
}

pub(crate) async fn products(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<ProductsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Products)?;
    let query = layout.query(query)?;
    let paging = Paging::parse(query.page.as_deref()).map_err(|e| layout.fail(e))?;
    let q = query.q.unwrap_or_default();
    let found = dashboard.ordo.master_data().products(Some(&q), PAGE_SIZE, paging.offset).await.map_err(|e| layout.fail(e))?;
    let what = if q.trim().is_empty() { "products" } else { "matching products" };
    let extent = Extent::Total(found.total);
    let pager = Pager::new(Page::Products.href(), &[("q", q.trim())], paging, found.products.len(), extent, what);
    Ok(render(StatusCode::OK, &ProductsPage { layout, q, products: found.products, pager }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CustomersQuery {
    #[serde(default)]
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    layout: Layout,
    customers: Vec<Customer>,
    pager: Pager,
}

pub(crate) async fn customers(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<CustomersQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Customers)?;
    let query = layout.query(query)?;
    let paging = Paging::parse(query.page.as_deref()).map_err(|e| layout.fail(e))?;
    // One row past the page tells whether there is a next page without counting them all.
    let mut customers = dashboard.ordo.master_data().customers(PAGE_SIZE + 1, paging.offset).await.map_err(|e| layout.fail(e))?;
    let page_size = usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    let more = customers.len() > page_size;
    customers.truncate(page_size);
    let pager = Pager::new(Page::Customers.href(), &[], paging, customers.len(), Extent::More(more), "customers");
    Ok(render(StatusCode::OK, &CustomersPage { layout, customers, pager }))
}


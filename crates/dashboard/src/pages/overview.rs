//! The overview: how many orders and open exceptions there are and how much master data,
//! each count linking to its page.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ordo_domain::access::Permission;

use super::{grouped, Layout, Page};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::session::Session;

/// One count on the overview; `href` is set when there is a page to open and the role may.
struct Tile {
    label: &'static str,
    count: String,
    href: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    tiles: Vec<Tile>,
}

pub(crate) async fn overview(session: Session, State(dashboard): State<Dashboard>) -> Result<Response, PageError> {
    let layout = session.open(Page::Overview)?;
    let counts = dashboard.ordo.master_data().master_data_counts().await.map_err(|e| layout.fail(e))?;
    let actor = &session.actor;
    let page_tile = |page: Page, count: i64| Tile {
        label: page.label(),
        count: grouped(count),
        href: actor.can(page.permission()).then(|| page.href()),
    };
    let mut tiles = Vec::new();
    if actor.can(Page::Orders.permission()) {
        let (_, orders) = dashboard.ordo.orders().list(None, None, None, 1, 0).await.map_err(|e| layout.fail(e))?;
        tiles.push(page_tile(Page::Orders, orders));
    }
    if actor.can(Page::Exceptions.permission()) {
        let unresolved = ordo_app::ExceptionFilter { status: Some("unresolved".into()), limit: 1, ..Default::default() };
        let (_, open) = dashboard.ordo.exceptions().list(unresolved).await.map_err(|e| layout.fail(e))?;
        tiles.push(Tile { label: "Open exceptions", ..page_tile(Page::Exceptions, open) });
    }
    tiles.extend([
        page_tile(Page::Channels, counts.channels),
        page_tile(Page::Locations, counts.locations),
        page_tile(Page::Products, counts.products),
        Tile { label: "Listings", count: grouped(counts.listings), href: None },
        page_tile(Page::Suppliers, counts.suppliers),
        page_tile(Page::Customers, counts.customers),
    ]);
    if actor.can(Permission::AccessManage) {
        tiles.push(Tile { label: "Users", count: grouped(counts.users), href: None });
    }
    Ok(render(StatusCode::OK, &OverviewPage { layout, tiles }))
}

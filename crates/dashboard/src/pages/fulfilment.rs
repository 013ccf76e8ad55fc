//! Fulfilment pages: the waves with a form to release one, one wave with its pick list and
//! orders, a pick list alone for printing, and the forms that confirm the pick, pack an
//! order and ship it.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Redirect, Response};
use ordo_domain::FieldError;
use ordo_domain::field::PageCursor;
use ordo_domain::access::Permission;
use ordo_domain::wave::{Dispatch, NewWave, Wave, WaveOrder, WaveOrderStatus, WaveStatus, WaveSummary};
use serde::Deserialize;
use uuid::Uuid;

use super::orders::order_href;
use super::{Choice, Layout, Page, Pager, PAGE_SIZE};
use crate::Dashboard;
use crate::error::{render, PageError, Problem};
use crate::session::Session;

/// Where new waves are released.
const RELEASE_HREF: &str = "/dashboard/fulfilment/waves";

/// The page of the wave with this id.
pub(crate) fn wave_href(id: Uuid) -> String {
    format!("{}/waves/{id}", Page::Fulfilment.href())
}

/// A form's optional whole number: empty means none.
fn optional_count(field: &str, value: &str) -> Result<Option<i64>, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| FieldError::new(field, "must be a whole number"))
}

/// A form's optional text: empty or blank means none.
fn optional_text(value: String) -> Option<String> {
    Some(value.trim().to_owned()).filter(|value| !value.is_empty())
}

/// The statuses a wave list can be narrowed to, with `status` selected.
fn status_choices(status: &str) -> Vec<Choice> {
    [WaveStatus::Open, WaveStatus::Picked, WaveStatus::Closed]
        .into_iter()
        .map(|s| Choice { value: s.as_str().to_owned(), label: s.as_str().to_owned(), selected: s.as_str() == status })
        .collect()
}

/// One row of the waves table, formatted.
struct WaveRow {
    href: String,
    wave: WaveSummary,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WavesQuery {
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    status: Option<String>,
    /// Where the page starts: after the wave this names (given by the page before).
    #[serde(default)]
    cursor: Option<String>,
    /// `csv` for every matching wave as a file.
    #[serde(default)]
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "fulfilment.html")]
struct FulfilmentPage {
    layout: Layout,
    /// The filter's locations, and the release form's (with none selected).
    locations: Vec<Choice>,
    statuses: Vec<Choice>,
    filtered: bool,
    waves: Vec<WaveRow>,
    pager: Pager,
    csv_href: String,
    /// Whether to offer the release form: the role may change stock.
    may_release: bool,
    release_href: &'static str,
}

pub(crate) async fn fulfilment(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<WavesQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Fulfilment)?;
    let query = layout.query(query)?;
    let trimmed = |value: Option<String>| value.map(|v| v.trim().to_owned()).unwrap_or_default();
    let location = trimmed(query.location);
    let status = trimmed(query.status);
    let optional = |value: &str| Some(value).filter(|value| !value.is_empty()).map(str::to_owned);
    let (location_filter, status_filter) = (optional(&location), optional(&status));

    let after = super::cursor(&layout, query.cursor.as_deref())?;
    let fulfilment = dashboard.ordo.fulfilment();
    let key = |w: &WaveSummary| PageCursor { at: w.created_at, id: w.id };
    if query.format.as_deref() == Some("csv") {
        let (location, status) = (location_filter.as_deref(), status_filter.as_deref());
        let waves = super::every_page_after(500, key, |after| fulfilment.wave_page(location, status, 500, after)).await.map_err(|e| layout.fail(e))?;
        let rows = waves.into_iter().map(|w| {
            vec![
                w.created_at.to_rfc3339(),
                w.location,
                w.shipping_method.unwrap_or_default(),
                w.cutoff_at.to_rfc3339(),
                w.status.as_str().to_owned(),
                w.orders.to_string(),
                w.open_orders.to_string(),
                w.units.to_string(),
            ]
        });
        let header = ["released_at", "location", "shipping_method", "cutoff_at", "status", "orders", "open_orders", "units"];
        return Ok(super::csv_file("waves.csv", super::csv_rows(&header, rows)));
    }
    // One row past the page tells whether there is a next page without counting them all.
    let found = fulfilment.wave_page(location_filter.as_deref(), status_filter.as_deref(), PAGE_SIZE + 1, after).await.map_err(|e| layout.fail(e))?;
    let (found, next) = super::one_page(found, key);
    let params = [("location", location.as_str()), ("status", status.as_str())];
    let pager = Pager::by_cursor(Page::Fulfilment.href(), &params, after.is_some(), found.len(), None, next.as_deref(), "waves");
    let mut export = params.to_vec();
    export.push(("format", "csv"));
    let csv_href = crate::href::with_query(Page::Fulfilment.href(), &export);
    let known = dashboard.ordo.master_data().locations().await.map_err(|e| layout.fail(e))?;
    let locations = known
        .into_iter()
        .map(|l| Choice { selected: l.code == location, label: format!("{} ({})", l.name, l.code), value: l.code })
        .collect();
    let waves = found.into_iter().map(|wave| WaveRow { href: wave_href(wave.id), wave }).collect();
    Ok(render(
        StatusCode::OK,
        &FulfilmentPage {
            layout,
            locations,
            statuses: status_choices(&status),
            filtered: location_filter.is_some() || status_filter.is_some(),
            waves,
            pager,
            csv_href,
            may_release: session.actor.can(Permission::InventoryWrite),
            release_href: RELEASE_HREF,
        },
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReleaseForm {
    #[serde(default)]
    location: String,
    #[serde(default)]
    shipping_method: String,
    #[serde(default)]
    max_orders: String,
}


/// Releases a wave at the chosen location, then shows it (303).
pub(crate) async fn release(
    session: Session,
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    form: Result<Form<ReleaseForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Fulfilment, &headers, Permission::InventoryWrite)?;
    let Form(form) = form.map_err(|rejection| layout.fail(FieldError::new("form", rejection.body_text())))?;
    let new = NewWave {
        location: form.location.trim().to_owned(),
        shipping_method: optional_text(form.shipping_method),
        max_orders: optional_count("max_orders", &form.max_orders).map_err(|e| layout.fail(e))?,
    };
    let wave = dashboard.ordo.fulfilment().release_wave(new, &session.actor).await.map_err(|e| layout.fail(e))?;
    tracing::info!(wave = %wave.id, location = %wave.location, actor = %session.actor, "dashboard: wave released");
    Ok(Redirect::to(&wave_href(wave.id)))
}

/// The wave id in the path; anything that is not a UUID names no wave.
/// The wave and order ids in the path.
fn wave_order_ids(
    layout: &Layout,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(Uuid, Uuid), PageError> {
    path.ok()
        .and_then(|Path((wave, order))| Some((Uuid::try_parse(&wave).ok()?, Uuid::try_parse(&order).ok()?)))
        .ok_or_else(|| layout.fail(Problem::NotFound))
}

/// One order of a wave with what may be done to it next.
struct OrderRow {
    order: WaveOrder,
    href: String,
    /// Where the pack form posts, when the order is picked and the role may pack it.
    pack_href: Option<String>,
    /// Where the ship form posts, when the order is packed and the role may ship it.
    ship_href: Option<String>,
}

impl OrderRow {
    fn new(wave: Uuid, order: WaveOrder, may_act: bool) -> OrderRow {
        let action = |name: &str| format!("{}/orders/{}/{name}", wave_href(wave), order.order_id);
        let pack_href = (may_act && order.status == WaveOrderStatus::Picked).then(|| action("pack"));
        let ship_href = (may_act && order.status == WaveOrderStatus::Packed).then(|| action("ship"));
        OrderRow { href: order_href(&order.order_id.to_string()), pack_href, ship_href, order }
    }

    /// What to pick for the order: "MUG-1 × 2, VASE-1 × 1".
    fn lines(&self) -> String {
        let parts: Vec<String> = self.order.lines.iter().map(|line| format!("{} × {}", line.sku, line.quantity)).collect();
        parts.join(", ")
    }
}

#[derive(Template)]
#[template(path = "wave.html")]
struct WavePage {
    layout: Layout,
    wave: Wave,
    orders: Vec<OrderRow>,
    pick_list_href: String,
    /// Where the confirm-pick form posts, when the wave is open and the role may pick.
    pick_href: Option<String>,
}

impl WavePage {
    fn new(layout: Layout, mut wave: Wave, may_act: bool) -> WavePage {
        let href = wave_href(wave.id);
        let pick_href = (may_act && wave.status == WaveStatus::Open).then(|| format!("{href}/pick"));
        let orders = std::mem::take(&mut wave.orders).into_iter().map(|order| OrderRow::new(wave.id, order, may_act)).collect();
        WavePage { layout, wave, orders, pick_list_href: format!("{href}/pick-list"), pick_href }
    }
}

pub(crate) async fn wave(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Fulfilment)?;
    let id = layout.path_id(path)?;
    let wave = dashboard.ordo.fulfilment().wave(id).await.map_err(|e| layout.fail(e))?;
    let layout = layout.titled(format!("Wave at {}", wave.location));
    let page = WavePage::new(layout, wave, session.actor.can(Permission::InventoryWrite));
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "pick_list.html")]
struct PickListPage {
    layout: Layout,
    wave: Wave,
    back_href: String,
}

/// The pick list alone, without navigation, to print and carry around the bins.
pub(crate) async fn pick_list(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Fulfilment)?;
    let id = layout.path_id(path)?;
    let wave = dashboard.ordo.fulfilment().wave(id).await.map_err(|e| layout.fail(e))?;
    let layout = layout.titled(format!("Pick list, wave at {}", wave.location));
    Ok(render(StatusCode::OK, &PickListPage { layout, back_href: wave_href(wave.id), wave }))
}

/// Confirms the wave's pick list was walked, then shows the wave again (303).
pub(crate) async fn pick(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Fulfilment, &headers, Permission::InventoryWrite)?;
    let id = layout.path_id(path)?;
    let wave = dashboard.ordo.fulfilment().pick_wave(id, &session.actor).await.map_err(|e| layout.fail(e))?;
    tracing::info!(wave = %wave.id, actor = %session.actor, "dashboard: wave picked");
    Ok(Redirect::to(&wave_href(wave.id)))
}

/// Packs one picked order of the wave, then shows the wave again.
pub(crate) async fn pack(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Fulfilment, &headers, Permission::InventoryWrite)?;
    let (id, order) = wave_order_ids(&layout, path)?;
    let wave = dashboard.ordo.fulfilment().pack_wave_order(id, order, &session.actor).await.map_err(|e| layout.fail(e))?;
    tracing::info!(wave = %wave.id, order = %order, actor = %session.actor, "dashboard: order packed");
    Ok(Redirect::to(&wave_href(wave.id)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShipForm {
    #[serde(default)]
    carrier: String,
    #[serde(default)]
    tracking_number: String,
}

/// Ships one packed order of the wave with its carrier and tracking number, then shows the
/// wave again.
pub(crate) async fn ship(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<ShipForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Fulfilment, &headers, Permission::InventoryWrite)?;
    let (id, order) = wave_order_ids(&layout, path)?;
    let Form(form) = form.map_err(|rejection| layout.fail(FieldError::new("form", rejection.body_text())))?;
    let dispatch = Dispatch { carrier: form.carrier, tracking_number: form.tracking_number.trim().to_owned() };
    let shipped = dashboard.ordo.fulfilment().ship_wave_order(id, order, dispatch, &session.actor).await.map_err(|e| layout.fail(e))?;
    tracing::info!(wave = %id, order = %shipped.id, actor = %session.actor, "dashboard: order shipped");
    Ok(Redirect::to(&wave_href(id)))
}

/// The release form's address opened as a page shows the waves.
pub(crate) async fn release_page() -> Redirect {
    Redirect::to(Page::Fulfilment.href())
}

/// A wave action's address opened as a page (say, after logging in again on the way to it)
/// shows the wave instead.
pub(crate) async fn wave_action_page(path: Result<Path<String>, PathRejection>) -> Redirect {
    match path.ok().and_then(|Path(id)| Uuid::try_parse(&id).ok()) {
        Some(id) => Redirect::to(&wave_href(id)),
        None => Redirect::to(Page::Fulfilment.href()),
    }
}

/// The same, for an action on one order of the wave.
pub(crate) async fn wave_order_action_page(path: Result<Path<(String, String)>, PathRejection>) -> Redirect {
    match path.ok().and_then(|Path((id, _))| Uuid::try_parse(&id).ok()) {
        Some(id) => Redirect::to(&wave_href(id)),
        None => Redirect::to(Page::Fulfilment.href()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use ordo_domain::access::Role;
    use ordo_domain::wave::{PickRow, WaveLine};

    #[test]
    fn optional_form_fields_are_empty_or_checked() {
        assert_eq!(optional_count("max_orders", "").unwrap(), None);
        assert_eq!(optional_count("max_orders", " 25 ").unwrap(), Some(25));
        for bad in ["ten", "2.5", "99999999999999999999"] {
            assert_eq!(optional_count("max_orders", bad).unwrap_err().field, "max_orders", "{bad}");
        }
        assert_eq!(optional_text("  ".into()), None);
        assert_eq!(optional_text(" express ".into()).as_deref(), Some("express"));
    }

    fn wave(status: WaveStatus, orders: &[WaveOrderStatus]) -> Wave {
        let at = DateTime::parse_from_rfc3339("2030-01-02T16:00:00Z").unwrap().with_timezone(&Utc);
        Wave {
            id: Uuid::nil(),
            location: "central".into(),
            shipping_method: None,
            cutoff_at: at,
            status,
            created_by: "user:ops".into(),
            created_at: at,
            orders: orders
                .iter()
                .enumerate()
                .map(|(i, status)| WaveOrder {
                    order_id: Uuid::from_u128(i as u128 + 1),
                    external_id: format!("W-{i}"),
                    channel: "web".into(),
                    ship_by: at,
                    status: *status,
                    shipment_id: None,
                    lines: vec![WaveLine { line: 1, sku: "MUG-1".into(), bin: Some("A-2".into()), quantity: 2 }],
                })
                .collect(),
            pick_list: vec![PickRow { bin: Some("A-2".into()), sku: "MUG-1".into(), quantity: 2, orders: 1 }],
        }
    }

    fn page(role: Role, wave: Wave) -> String {
        let layout = Layout {
            title: "Wave".into(),
            username: role.as_str().to_owned(),
            role,
            current: Some(Page::Fulfilment),
            form_token: "t".into(),
        };
        WavePage::new(layout, wave, role.can(Permission::InventoryWrite)).render().unwrap()
    }

    #[test]
    fn each_order_offers_only_its_next_step() {
        use WaveOrderStatus::*;
        let html = page(Role::Warehouse, wave(WaveStatus::Picked, &[ToPick, Picked, Packed, Shipped]));
        let base = "/dashboard/fulfilment/waves/00000000-0000-0000-0000-000000000000";
        assert!(!html.contains(&format!("{base}/pick\"")), "a picked wave is not picked again");
        assert!(html.contains(&format!("{base}/orders/00000000-0000-0000-0000-000000000002/pack\"")));
        assert!(html.contains(&format!("{base}/orders/00000000-0000-0000-0000-000000000003/ship\"")));
        assert_eq!(html.matches("/pack\"").count(), 1);
        assert_eq!(html.matches("/ship\"").count(), 1);
        assert!(html.contains("MUG-1 × 2"));
        let open = page(Role::Ops, wave(WaveStatus::Open, &[ToPick]));
        assert!(open.contains(&format!("{base}/pick\"")));
    }

    #[test]
    fn roles_that_cannot_change_stock_see_no_forms() {
        use WaveOrderStatus::*;
        let html = page(Role::Viewer, wave(WaveStatus::Open, &[ToPick, Picked, Packed]));
        // The log-out form in the header is the only one.
        assert_eq!(html.matches("<form").count(), 1, "{html}");
        assert!(html.contains("A-2"), "the pick list is still shown");
    }
}

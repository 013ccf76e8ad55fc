//! Ordo's web dashboard: server-rendered HTML pages over the use cases in `ordo-app`.
//!
//! This crate owns the dashboard's routes, the log-in session cookie, the page templates
//! (askama, checked at compile time) and the dashboard's own CSS, embedded in the binary. It
//! calls [`ordo_app::Ordo`] and nothing below it. Every page works without JavaScript.

mod assets;
mod chart;
mod forms;
mod error;
mod href;
mod layout;
mod pages;
mod session;
mod subjects;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::header::{self, HeaderValue};
use axum::middleware;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};

/// What every dashboard handler gets: the use cases and how to set the session cookie.
#[derive(Clone)]
pub(crate) struct Dashboard {
    pub(crate) ordo: ordo_app::Ordo,
    pub(crate) secure_cookies: bool,
}

/// The dashboard's routes, to be merged at the root of the server. `secure_cookies` sets the
/// Secure flag on the session cookie (false for plain-HTTP local use).
pub fn router(ordo: ordo_app::Ordo, secure_cookies: bool) -> Router {
    let state = Dashboard { ordo, secure_cookies };
    // No fallback here: the server merges this router with the API's, and axum refuses to
    // merge two routers that both have one. Unknown dashboard paths get the catch-all below.
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/login", get(session::login_form).post(session::log_in))
        .route("/logout", post(session::log_out))
        .route(session::SETUP, get(session::setup_form).post(session::set_up))
        .route("/dashboard", get(pages::overview::overview))
        .route("/dashboard/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard/review", get(pages::review::review))
        .route("/dashboard/orders", get(pages::orders::orders).post(pages::orders::take_order))
        .route("/dashboard/orders/{id}", get(pages::orders::order))
        .route("/dashboard/orders/{id}/cancel", get(pages::orders::cancel_page).post(pages::orders::cancel))
        .route("/dashboard/orders/{id}/release", get(pages::orders::cancel_page).post(pages::orders::release))
        .route("/dashboard/shipments/{id}", get(pages::orders::shipment))
        .route("/dashboard/holds", get(pages::holds::holds))
        .route("/dashboard/fulfilment", get(pages::fulfilment::fulfilment))
        .route("/dashboard/fulfilment/waves", get(pages::fulfilment::release_page).post(pages::fulfilment::release))
        .route("/dashboard/fulfilment/waves/{id}", get(pages::fulfilment::wave))
        .route("/dashboard/fulfilment/waves/{id}/pick-list", get(pages::fulfilment::pick_list))
        .route(
            "/dashboard/fulfilment/waves/{id}/pick",
            get(pages::fulfilment::wave_action_page).post(pages::fulfilment::pick),
        )
        .route(
            "/dashboard/fulfilment/waves/{id}/orders/{order}/pack",
            get(pages::fulfilment::wave_order_action_page).post(pages::fulfilment::pack),
        )
        .route(
            "/dashboard/fulfilment/waves/{id}/orders/{order}/ship",
            get(pages::fulfilment::wave_order_action_page).post(pages::fulfilment::ship),
        )
        .route("/dashboard/inventory", get(pages::inventory::inventory).post(pages::inventory::record))
        .route("/dashboard/inventory/count", get(pages::counting::sheet).post(pages::counting::record))
        .route("/dashboard/inventory/transfers", get(|| async { Redirect::to("/dashboard/inventory#transfers") }).post(pages::inventory::start_transfer))
        .route(
            "/dashboard/inventory/transfers/{id}/receive",
            get(|| async { Redirect::to("/dashboard/inventory#transfers") }).post(pages::inventory::receive_transfer),
        )
        .route("/dashboard/inventory/{sku}", get(pages::inventory::sku))
        .route("/dashboard/inventory/{sku}/kit", get(back_to_sku).post(pages::inventory::set_kit))
        .route("/dashboard/exceptions", get(pages::exceptions::exceptions))
        .route("/dashboard/exceptions/bulk", get(|| async { Redirect::to("/dashboard/exceptions") }).post(pages::exceptions::bulk))
        .route("/dashboard/exceptions/{id}", get(pages::exceptions::exception).post(pages::exceptions::act))
        .route("/dashboard/returns", get(pages::returns::returns).post(pages::returns::request))
        .route("/dashboard/returns/{id}", get(pages::returns::return_page).post(pages::returns::step))
        .route("/dashboard/helpdesk", get(pages::helpdesk::queue).post(pages::helpdesk::open_ticket))
        .route("/dashboard/helpdesk/{id}", get(pages::helpdesk::ticket).post(pages::helpdesk::act))
        .route("/dashboard/notifications", get(pages::notifications::outbox))
        .route("/dashboard/notifications/endpoints", get(|| async { Redirect::to("/dashboard/notifications") }).post(pages::notifications::create_endpoint))
        .route("/dashboard/notifications/endpoints/{code}", get(|| async { Redirect::to("/dashboard/notifications") }).post(pages::notifications::switch_endpoint))
        .route("/dashboard/notifications/{id}/replay", get(|| async { Redirect::to("/dashboard/notifications?status=dead") }).post(pages::notifications::replay))
        .route("/dashboard/procurement", get(pages::procurement::procurement))
        .route("/dashboard/procurement/policies", get(|| async { Redirect::to("/dashboard/procurement#policies") }).post(pages::procurement::propose_policy))
        .route("/dashboard/procurement/proposals", get(|| async { Redirect::to("/dashboard/procurement") }).post(pages::procurement::decide))
        .route("/dashboard/procurement/orders/{id}", get(pages::procurement::order).post(pages::procurement::act))
        .route("/dashboard/procurement/forecast/{sku}", get(pages::procurement::forecast))
        .route(
            "/dashboard/procurement/sales-history",
            get(|| async { Redirect::to("/dashboard/procurement#import-sales-history") })
                .post(pages::procurement::import_sales_history)
                .layer(DefaultBodyLimit::max(pages::master::UPLOAD_LIMIT)),
        )
        .route("/dashboard/ledger", get(pages::ledger::trial_balance))
        .route("/dashboard/ledger/accounts/{code}", get(pages::ledger::account))
        .route("/dashboard/audit", get(pages::audit::audit))
        .route("/dashboard/rules", get(pages::rules::rules).post(pages::rules::draft))
        .route("/dashboard/rules/{id}", get(pages::rules::rule).post(pages::rules::step))
        .route("/dashboard/rules/{id}/simulate", get(pages::rules::simulate))
        .route("/dashboard/channels", get(pages::channels::channels).post(pages::channels::create_channel))
        .route("/dashboard/channels/rates", get(|| async { Redirect::to("/dashboard/channels") }).post(pages::channels::set_rate))
        .route("/dashboard/channels/{code}", get(pages::channels::channel))
        .route("/dashboard/channels/{code}/connector", get(back_to_channel).post(pages::channels::put_connector))
        .route("/dashboard/channels/{code}/connector/state", get(back_to_channel).post(pages::channels::pause_connector))
        .route("/dashboard/channels/{code}/return-policy", get(back_to_channel).post(pages::channels::set_policy))
        .route("/dashboard/channels/{code}/buffers", get(back_to_channel).post(pages::channels::set_buffer))
        .route("/dashboard/channels/{code}/routing", get(back_to_channel).post(pages::channels::set_routing))
        .route(
            "/dashboard/channels/{code}/inbox/{id}/replay",
            get(|Path((code, _)): Path<(String, String)>| async move { Redirect::to(&format!("/dashboard/channels/{code}")) }).post(pages::channels::replay),
        )
        .route("/dashboard/locations", get(pages::master::locations).post(pages::master::create_location))
        .route("/dashboard/locations/shipping-methods", get(|| async { Redirect::to("/dashboard/locations") }).post(pages::master::set_shipping_methods))
        .route("/dashboard/locations/calendar", get(|| async { Redirect::to("/dashboard/locations") }).post(pages::master::set_calendar))
        .route("/dashboard/products", get(pages::master::products).post(pages::master::create_product))
        .route("/dashboard/products/tax-rates", get(|| async { Redirect::to("/dashboard/products") }).post(pages::master::set_tax_rate))
        .route("/dashboard/products/import", get(|| async { Redirect::to("/dashboard/products") }).post(pages::master::import_products).layer(DefaultBodyLimit::max(pages::master::UPLOAD_LIMIT)))
        .route("/dashboard/suppliers", get(pages::master::suppliers).post(pages::master::create_supplier))
        .route("/dashboard/suppliers/terms", get(|| async { Redirect::to("/dashboard/suppliers") }).post(pages::master::set_terms))
        .route("/dashboard/suppliers/skus", get(|| async { Redirect::to("/dashboard/suppliers") }).post(pages::master::set_supplier_sku))
        .route("/dashboard/customers", get(pages::master::customers).post(pages::master::create_customer))
        .route("/dashboard/changes", get(pages::changes::changes).post(pages::changes::propose))
        .route("/dashboard/changes/{id}", get(pages::changes::change).post(pages::changes::decide))
        .route("/dashboard/users", get(pages::users::users).post(pages::users::create_user))
        .route("/dashboard/access/role", get(|| async { Redirect::to("/dashboard/users") }).post(pages::users::set_role))
        .route("/dashboard/access/password", get(|| async { Redirect::to("/dashboard/users") }).post(pages::users::set_password))
        .route("/dashboard/leads", get(|| async { Redirect::to("/dashboard/users#leads") }).post(pages::users::set_lead))
        .route("/dashboard/users/{username}", get(|| async { Redirect::to("/dashboard/users") }).post(pages::users::user_action))
        .route("/dashboard/tokens", get(|| async { Redirect::to("/dashboard/users") }).post(pages::users::issue_token))
        .route("/dashboard/tokens/{id}/revoke", get(|| async { Redirect::to("/dashboard/users") }).post(pages::users::revoke_token))
        .route("/dashboard/settings", get(pages::settings::settings).post(pages::settings::save))
        .route("/dashboard/workload", get(pages::workload::workload))
        .route("/dashboard/workload/{code}/capacity", get(|| async { Redirect::to("/dashboard/workload") }).post(pages::workload::set_capacity))
        .route("/dashboard/{*rest}", get(pages::not_found))
        .layer(middleware::from_fn(session::guard_forms))
        .layer(middleware::from_fn_with_state(state.clone(), session::viewer_zone))
        .layer(middleware::map_response(page_headers))
        .with_state(state);
    pages.merge(assets::router())
}

/// A channel's form sent by GET (a reload after posting, a bookmark): its page instead.
async fn back_to_channel(Path(code): Path<String>) -> Redirect {
    Redirect::to(&format!("/dashboard/channels/{}", crate::href::query_escape(&code)))
}

/// A SKU's form sent by GET: its page instead.
async fn back_to_sku(Path(sku): Path<String>) -> Redirect {
    Redirect::to(&pages::inventory::sku_href(&sku))
}

/// Pages show business data to one signed-in person: no caching by the browser or proxies,
/// no framing by other sites, and nothing loaded from anywhere but here.
async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

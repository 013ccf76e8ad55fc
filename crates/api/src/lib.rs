//! Ordo's HTTP JSON API: the `/api/v1` routes, `/api/openapi.json` generated from the same
//! route table, `/healthz` and `/metrics`. Handlers are thin: they parse, check the caller's
//! permission, call one use case and map its result; they never touch storage.

pub mod error;
pub mod extract;
mod metrics;
mod routes;
mod webhooks;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use ordo_app::Ordo;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::{ApiError, ErrorCode};

#[derive(OpenApi)]
#[openapi(
    info(title = "Ordo", description = "The governed operations core for multi-channel commerce. \
        Every /api/v1 path needs `Authorization: Bearer TOKEN`; money is a decimal string in the \
        document's currency; errors are `{\"error\": {\"code\", \"message\", \"field\"?}}`."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("An Ordo API token")).build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The `/api/v1` routes and the OpenAPI document describing them, from one table.
fn api() -> (Router<Ordo>, OpenApiDoc) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::master::routes())
        .merge(routes::inventory::routes())
        .merge(routes::access::routes())
        .merge(routes::orders::routes())
        .merge(routes::fulfilment::routes())
        .merge(routes::ledger::routes())
        .merge(routes::reports::routes())
        .merge(routes::exceptions::routes())
        .merge(routes::audit::routes())
        .merge(routes::rules::routes())
        .merge(routes::changes::routes())
        .merge(routes::channels::routes())
        .merge(routes::notifications::routes())
        .merge(routes::returns::routes())
        .merge(routes::helpdesk::routes())
        .merge(routes::procurement::routes())
        .split_for_parts()
}

/// Everything the API serves, ready to merge into the server.
pub fn router(ordo: Ordo) -> Router {
    metrics::init();
    let (api, doc) = api();
    let doc = std::sync::Arc::new(doc);
    api.route("/api/openapi.json", get(move || openapi_json(doc.clone())))
        .merge(webhooks::routes())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(ordo)
}

/// API answers are data for one caller: never cached by a shared cache, never framed, never
/// sniffed as another type, and no referrer sent on.
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::header::{self, HeaderValue};
    let headers = response.headers_mut();
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The OpenAPI document, as `GET /api/openapi.json` serves it.
pub fn openapi() -> OpenApiDoc {
    api().1
}

async fn openapi_json(doc: std::sync::Arc<OpenApiDoc>) -> impl IntoResponse {
    Json(doc.as_ref().clone())
}

/// 200 when the database answers, 503 when it does not. Needs no token.
async fn healthz(State(ordo): State<Ordo>) -> impl IntoResponse {
    match ordo.health().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))),
        Err(error) => {
            tracing::error!(%error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "database unavailable"})))
        }
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed)
}

/// The answer for a path nobody serves: a JSON error under `/api`, plain text elsewhere.
pub async fn not_found(uri: Uri) -> axum::response::Response {
    if uri.path().starts_with("/api/") {
        ApiError::with_message(ErrorCode::NotFound, format!("no route for {}", uri.path())).into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found").into_response()
    }
}

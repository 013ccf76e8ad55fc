//! Channel connectors: their settings, the inbox of deliveries with replay, and sync health.
//! The webhooks themselves arrive outside `/api/v1` (see `crate::webhooks`): their signature
//! is their authentication.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ordo_app::domain::change::ChangeRequest;
use ordo_app::domain::connector::NewConnector;
use ordo_app::{ConnectorChange, ConnectorView, DeliveryView, Ordo, SyncHealth};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, path_id, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(put_connector, get_connector))
        .routes(routes!(pause_connector))
        .routes(routes!(resume_connector))
        .routes(routes!(sync_health))
        .routes(routes!(inbox))
        .routes(routes!(delivery))
        .routes(routes!(replay_delivery))
}

/// Sets up or changes the channel's connector. An admin's change applies at once (200 with the
/// connector); anyone else's is a change request another person of ops or admin approves
/// (202 with the request). Secrets and credentials are sealed with the server's secret key and
/// never returned; leaving them out keeps the current ones.
#[utoipa::path(put, path = "/api/v1/channels/{code}/connector", security(("bearer" = ["master_data.write"])), tag = "channels",
    params(("code" = String, Path)), request_body = NewConnector,
    responses((status = 200, body = ConnectorView, description = "applied"),
              (status = 202, body = ChangeRequest, description = "proposed; applied once another person approves it"),
              (status = "4XX", body = ErrorBody)))]
async fn put_connector(
    State(ordo): State<Ordo>,
    auth: Authorized<need::MasterDataWrite>,
    Path(code): Path<String>,
    ValidJson(body): ValidJson<NewConnector>,
) -> Result<Response, ApiError> {
    Ok(match ordo.channels().put_connector(&code, body, &auth.actor).await? {
        ConnectorChange::Applied(view) => (StatusCode::OK, Json(view)).into_response(),
        ConnectorChange::Proposed(request) => (StatusCode::ACCEPTED, Json(request)).into_response(),
    })
}

/// The channel's connector, without its secrets.
#[utoipa::path(get, path = "/api/v1/channels/{code}/connector", security(("bearer" = ["master_data.read"])), tag = "channels",
    params(("code" = String, Path)), responses((status = 200, body = ConnectorView), (status = "4XX", body = ErrorBody)))]
async fn get_connector(State(ordo): State<Ordo>, _: Authorized<need::MasterDataRead>, Path(code): Path<String>) -> Result<Json<ConnectorView>, ApiError> {
    Ok(Json(ordo.channels().connector(&code).await?))
}

/// Pauses the connector: deliveries are still kept, but not processed until it resumes.
#[utoipa::path(post, path = "/api/v1/channels/{code}/connector/pause", security(("bearer" = ["master_data.write"])), tag = "channels",
    params(("code" = String, Path)), responses((status = 200, body = ConnectorView), (status = "4XX", body = ErrorBody)))]
async fn pause_connector(State(ordo): State<Ordo>, auth: Authorized<need::MasterDataWrite>, Path(code): Path<String>) -> Result<Json<ConnectorView>, ApiError> {
    Ok(Json(ordo.channels().pause_connector(&code, true, &auth.actor).await?))
}

/// Resumes a paused connector; what it kept meanwhile is processed.
#[utoipa::path(post, path = "/api/v1/channels/{code}/connector/resume", security(("bearer" = ["master_data.write"])), tag = "channels",
    params(("code" = String, Path)), responses((status = 200, body = ConnectorView), (status = "4XX", body = ErrorBody)))]
async fn resume_connector(State(ordo): State<Ordo>, auth: Authorized<need::MasterDataWrite>, Path(code): Path<String>) -> Result<Json<ConnectorView>, ApiError> {
    Ok(Json(ordo.channels().pause_connector(&code, false, &auth.actor).await?))
}

/// How the channel's connection is doing: what arrived, what waits, what failed.
#[utoipa::path(get, path = "/api/v1/channels/{code}/sync", security(("bearer" = ["master_data.read"])), tag = "channels",
    params(("code" = String, Path)), responses((status = 200, body = SyncHealth), (status = "4XX", body = ErrorBody)))]
async fn sync_health(State(ordo): State<Ordo>, _: Authorized<need::MasterDataRead>, Path(code): Path<String>) -> Result<Json<SyncHealth>, ApiError> {
    Ok(Json(ordo.channels().channel_sync(&code).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct InboxFilter {
    /// pending, processed, ignored or failed.
    #[param(inline, value_type = Option<super::choices::DeliveryStatusFilter>)]
    status: Option<String>,
    /// At most this many (1–500, 100 when absent).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// The channel's deliveries, newest first, each with its raw body and what became of it.
#[utoipa::path(get, path = "/api/v1/channels/{code}/inbox", security(("bearer" = ["orders.read"])), tag = "channels",
    params(("code" = String, Path), InboxFilter), responses((status = 200, body = Vec<DeliveryView>), (status = "4XX", body = ErrorBody)))]
async fn inbox(
    State(ordo): State<Ordo>,
    _: Authorized<need::OrdersRead>,
    Path(code): Path<String>,
    ValidQuery(filter): ValidQuery<InboxFilter>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    Ok(Json(ordo.channels().inbox(&code, filter.status.as_deref(), filter.limit.unwrap_or(100)).await?))
}

/// One delivery as received, and what became of it.
#[utoipa::path(get, path = "/api/v1/channels/{code}/inbox/{id}", security(("bearer" = ["orders.read"])), tag = "channels",
    params(("code" = String, Path), ("id" = String, Path)), responses((status = 200, body = DeliveryView), (status = "4XX", body = ErrorBody)))]
async fn delivery(
    State(ordo): State<Ordo>,
    _: Authorized<need::OrdersRead>,
    Path((code, id)): Path<(String, String)>,
) -> Result<Json<DeliveryView>, ApiError> {
    Ok(Json(ordo.channels().delivery(&code, path_id(&id)?).await?))
}

/// Processes a delivery again, after its listing or data was fixed.
#[utoipa::path(post, path = "/api/v1/channels/{code}/inbox/{id}/replay", security(("bearer" = ["orders.write"])), tag = "channels",
    params(("code" = String, Path), ("id" = String, Path)), responses((status = 200, body = DeliveryView), (status = "4XX", body = ErrorBody)))]
async fn replay_delivery(
    State(ordo): State<Ordo>,
    auth: Authorized<need::OrdersWrite>,
    Path((code, id)): Path<(String, String)>,
) -> Result<Json<DeliveryView>, ApiError> {
    Ok(Json(ordo.channels().replay_delivery(&code, path_id(&id)?, &auth.actor).await?))
}

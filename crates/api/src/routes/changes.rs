//! Maker-checker change requests for master data that moves money or stock.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ordo_app::Ordo;
use ordo_domain::change::ChangeRequest;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, path_id, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(list, propose))
        .routes(routes!(get_one))
        .routes(routes!(approve))
        .routes(routes!(reject))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Proposal {
    /// price, tax_class, listing, sku_activation, location_priority or replenishment_policy.
    kind: String,
    /// By kind: `{channel, channel_sku, price}`, `{sku, tax_class}`,
    /// `{channel, channel_sku, sku, price}`, `{sku, active}`, `{location, priority}`,
    /// `{scope: "sku:CODE" | "class:A", policy: {kind: "reorder_point", service_level, cover_days}
    /// | {kind: "min_max", min, max} | {kind: "periodic_review", review_days, service_level}}`.
    #[schema(value_type = Object)]
    change: serde_json::Value,
    /// Why; the approver reads it.
    reason: String,
}

/// Proposes a change; nothing changes until another person of the owning role approves it.
#[utoipa::path(post, path = "/api/v1/change-requests", security(("bearer" = ["changes.propose"])), tag = "change requests",
    request_body = Proposal, responses((status = 201, body = ChangeRequest), (status = "4XX", body = ErrorBody)))]
async fn propose(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ChangesPropose>,
    ValidJson(body): ValidJson<Proposal>,
) -> Result<(StatusCode, Json<ChangeRequest>), ApiError> {
    let request = ordo.changes().propose_change(&body.kind, body.change, &body.reason, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(request)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filter {
    /// pending, approved or rejected.
    #[param(inline, value_type = Option<super::choices::ChangeStatusFilter>)]
    status: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/change-requests", security(("bearer" = ["master_data.read"])), tag = "change requests",
    params(Filter), responses((status = 200, body = Vec<ChangeRequest>), (status = "4XX", body = ErrorBody)))]
async fn list(State(ordo): State<Ordo>, _: Authorized<need::MasterDataRead>, ValidQuery(filter): ValidQuery<Filter>) -> Result<Json<Vec<ChangeRequest>>, ApiError> {
    Ok(Json(ordo.changes().change_requests(filter.status.as_deref()).await?))
}

#[utoipa::path(get, path = "/api/v1/change-requests/{id}", security(("bearer" = ["master_data.read"])), tag = "change requests",
    params(("id" = String, Path)), responses((status = 200, body = ChangeRequest), (status = "4XX", body = ErrorBody)))]
async fn get_one(State(ordo): State<Ordo>, _: Authorized<need::MasterDataRead>, Path(id): Path<String>) -> Result<Json<ChangeRequest>, ApiError> {
    Ok(Json(ordo.changes().change_request(path_id(&id)?).await?))
}

/// Approves a pending request and applies it atomically, recording before and after. The
/// approver must be another person than the proposer, of a role that owns the kind (403).
#[utoipa::path(post, path = "/api/v1/change-requests/{id}/approve", security(("bearer" = ["changes.approve"])), tag = "change requests",
    params(("id" = String, Path)), responses((status = 200, body = ChangeRequest), (status = "4XX", body = ErrorBody)))]
async fn approve(State(ordo): State<Ordo>, caller: Authorized<need::ChangesApprove>, Path(id): Path<String>) -> Result<Json<ChangeRequest>, ApiError> {
    Ok(Json(ordo.changes().approve_change(path_id(&id)?, &caller.actor).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChangeReason {
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/change-requests/{id}/reject", security(("bearer" = ["changes.approve"])), tag = "change requests",
    params(("id" = String, Path)), request_body = ChangeReason,
    responses((status = 200, body = ChangeRequest), (status = "4XX", body = ErrorBody)))]
async fn reject(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ChangesApprove>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<ChangeReason>,
) -> Result<Json<ChangeRequest>, ApiError> {
    Ok(Json(ordo.changes().reject_change(path_id(&id)?, &body.reason, &caller.actor).await?))
}

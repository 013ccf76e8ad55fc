//! Stock: movements in, levels out.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ordo_app::Ordo;
use ordo_domain::inventory::{NewMovement, NewTransfer, StockLevel, Transfer};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(stock_levels))
        .routes(routes!(record_movement))
        .routes(routes!(available_to_sell))
        .routes(routes!(availability_changes))
        .routes(routes!(set_buffer))
        .routes(routes!(start_transfer, transfers_in_transit))
        .routes(routes!(receive_transfer))
}

/// Records a receipt, an adjustment or a count (`count` sets on-hand to `quantity`).
#[utoipa::path(post, path = "/api/v1/inventory/movements", security(("bearer" = ["inventory.write"])), tag = "inventory", request_body = NewMovement,
    responses((status = 201, body = StockLevel, description = "the stock level after the movement"),
              (status = "4XX", body = ErrorBody)))]
async fn record_movement(
    State(ordo): State<Ordo>,
    auth: Authorized<need::InventoryWrite>,
    ValidJson(new): ValidJson<NewMovement>,
) -> Result<(StatusCode, Json<StockLevel>), ApiError> {
    Ok((StatusCode::CREATED, Json(ordo.inventory().record_movement(new, &auth.actor).await?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StockFilter {
    /// Only this SKU's stock.
    sku: Option<String>,
    /// Stock as it stood at this time (RFC 3339), read from the movements; needs `sku`.
    /// Reservations are not history, so `reserved` is 0 and `available` equals `on_hand`.
    as_of: Option<chrono::DateTime<chrono::Utc>>,
}

#[utoipa::path(get, path = "/api/v1/inventory", security(("bearer" = ["inventory.read"])), tag = "inventory", params(StockFilter),
    responses((status = 200, body = Vec<StockLevel>), (status = "4XX", body = ErrorBody)))]
async fn stock_levels(
    State(ordo): State<Ordo>,
    _: Authorized<need::InventoryRead>,
    ValidQuery(filter): ValidQuery<StockFilter>,
) -> Result<Json<Vec<StockLevel>>, ApiError> {
    match (filter.as_of, filter.sku) {
        (Some(at), Some(sku)) => Ok(Json(ordo.inventory().on_hand_as_of(&sku, at).await?)),
        (Some(_), None) => Err(ApiError::field(
            crate::error::ErrorCode::ValidationFailed,
            ordo_domain::FieldError::new("sku", "is needed with as_of"),
        )),
        (None, sku) => Ok(Json(ordo.inventory().stock_levels(sku.as_deref()).await?)),
    }
}

#[derive(Serialize, ToSchema)]
struct Availability {
    sku: String,
    /// Units the channel may sell now.
    available: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SkuList {
    /// Comma-separated SKUs.
    sku: String,
}

/// Available-to-sell on a channel: what its locations have available, less the channel's
/// safety buffer for the SKU's ABC class, never below zero.
#[utoipa::path(get, path = "/api/v1/channels/{code}/availability", security(("bearer" = ["inventory.read"])), tag = "inventory",
    params(("code" = String, Path), SkuList),
    responses((status = 200, body = Vec<Availability>), (status = "4XX", body = ErrorBody)))]
async fn available_to_sell(
    State(ordo): State<Ordo>,
    _: Authorized<need::InventoryRead>,
    Path(code): Path<String>,
    ValidQuery(list): ValidQuery<SkuList>,
) -> Result<Json<Vec<Availability>>, ApiError> {
    let skus: Vec<String> = list.sku.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let rows = ordo.inventory().available_to_sell(&code, &skus).await?;
    Ok(Json(rows.into_iter().map(|(sku, available)| Availability { sku, available }).collect()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Since {
    /// The cursor from the last answer; 0 for everything.
    since: Option<i64>,
    /// At most 5000 changes; 500 when absent.
    #[param(minimum = 1, maximum = 5000)]
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct AvailabilityChanges {
    changes: Vec<Availability>,
    /// Ask with `since` = this next time.
    cursor: i64,
}

/// The change feed a connector follows: SKUs whose availability on the channel may have
/// changed since the cursor, with their available-to-sell now.
#[utoipa::path(get, path = "/api/v1/channels/{code}/availability/changes", security(("bearer" = ["inventory.read"])), tag = "inventory",
    params(("code" = String, Path), Since),
    responses((status = 200, body = AvailabilityChanges), (status = "4XX", body = ErrorBody)))]
async fn availability_changes(
    State(ordo): State<Ordo>,
    _: Authorized<need::InventoryRead>,
    Path(code): Path<String>,
    ValidQuery(since): ValidQuery<Since>,
) -> Result<Json<AvailabilityChanges>, ApiError> {
    let (rows, cursor) = ordo.inventory().availability_changes(&code, since.since.unwrap_or(0), since.limit.unwrap_or(500)).await?;
    let changes = rows.into_iter().map(|(sku, available)| Availability { sku, available }).collect();
    Ok(Json(AvailabilityChanges { changes, cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Buffer {
    /// Units of each SKU in the class the channel keeps back.
    units: i64,
}

/// Sets a channel's safety buffer for one ABC class (A, B or C).
#[utoipa::path(put, path = "/api/v1/channels/{code}/buffers/{abc_class}", security(("bearer" = ["master_data.write"])), tag = "inventory",
    params(("code" = String, Path), ("abc_class" = String, Path)), request_body = Buffer,
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn set_buffer(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    Path((code, class)): Path<(String, String)>,
    ValidJson(buffer): ValidJson<Buffer>,
) -> Result<StatusCode, ApiError> {
    ordo.inventory().set_channel_buffer(&code, &class, buffer.units, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends stock between locations: it leaves the source now and is in transit until received.
#[utoipa::path(post, path = "/api/v1/inventory/transfers", security(("bearer" = ["inventory.write"])), tag = "inventory", request_body = NewTransfer,
    responses((status = 201, body = Transfer), (status = "4XX", body = ErrorBody)))]
async fn start_transfer(
    State(ordo): State<Ordo>,
    auth: Authorized<need::InventoryWrite>,
    ValidJson(new): ValidJson<NewTransfer>,
) -> Result<(StatusCode, Json<Transfer>), ApiError> {
    Ok((StatusCode::CREATED, Json(ordo.inventory().start_transfer(new, &auth.actor).await?)))
}

#[utoipa::path(get, path = "/api/v1/inventory/transfers", security(("bearer" = ["inventory.read"])), tag = "inventory",
    responses((status = 200, body = Vec<Transfer>, description = "transfers in transit"), (status = "4XX", body = ErrorBody)))]
async fn transfers_in_transit(
    State(ordo): State<Ordo>,
    _: Authorized<need::InventoryRead>,
) -> Result<Json<Vec<Transfer>>, ApiError> {
    Ok(Json(ordo.inventory().transfers_in_transit().await?))
}

/// Receives a transfer at its destination.
#[utoipa::path(post, path = "/api/v1/inventory/transfers/{id}/receive", security(("bearer" = ["inventory.write"])), tag = "inventory", params(("id" = String, Path)),
    responses((status = 200, body = StockLevel, description = "stock at the destination after"), (status = "4XX", body = ErrorBody)))]
async fn receive_transfer(
    State(ordo): State<Ordo>,
    auth: Authorized<need::InventoryWrite>,
    Path(id): Path<String>,
) -> Result<Json<StockLevel>, ApiError> {
    let id = id.parse().map_err(|_| ApiError::new(crate::error::ErrorCode::NotFound))?;
    Ok(Json(ordo.inventory().receive_transfer(id, &auth.actor).await?))
}

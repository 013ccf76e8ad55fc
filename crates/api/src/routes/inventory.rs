//! Stock: movements in, levels out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use ordo_app::Ordo;
use ordo_domain::inventory::{NewMovement, StockLevel};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new().routes(routes!(stock_levels)).routes(routes!(record_movement))
}

/// Records a receipt, an adjustment or a count (`count` sets on-hand to `quantity`).
#[utoipa::path(post, path = "/api/v1/inventory/movements", tag = "inventory", request_body = NewMovement,
    responses((status = 201, body = StockLevel, description = "the stock level after the movement"),
              (status = "4XX", body = ErrorBody)))]
async fn record_movement(
    State(ordo): State<Ordo>,
    auth: Authorized<need::InventoryWrite>,
    ValidJson(new): ValidJson<NewMovement>,
) -> Result<(StatusCode, Json<StockLevel>), ApiError> {
    Ok((StatusCode::CREATED, Json(ordo.record_movement(new, &auth.actor).await?)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct StockFilter {
    /// Only this SKU's stock.
    sku: Option<String>,
    /// Stock as it stood at this time (RFC 3339), read from the movements; needs `sku`.
    /// Reservations are not history, so `reserved` is 0 and `available` equals `on_hand`.
    as_of: Option<chrono::DateTime<chrono::Utc>>,
}

#[utoipa::path(get, path = "/api/v1/inventory", tag = "inventory", params(StockFilter),
    responses((status = 200, body = Vec<StockLevel>), (status = "4XX", body = ErrorBody)))]
async fn stock_levels(
    State(ordo): State<Ordo>,
    _: Authorized<need::InventoryRead>,
    ValidQuery(filter): ValidQuery<StockFilter>,
) -> Result<Json<Vec<StockLevel>>, ApiError> {
    match (filter.as_of, filter.sku) {
        (Some(at), Some(sku)) => Ok(Json(ordo.on_hand_as_of(&sku, at).await?)),
        (Some(_), None) => Err(ApiError::field(
            crate::error::ErrorCode::ValidationFailed,
            ordo_domain::FieldError::new("sku", "is needed with as_of"),
        )),
        (None, sku) => Ok(Json(ordo.stock_levels(sku.as_deref()).await?)),
    }
}

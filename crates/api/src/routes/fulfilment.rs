//! Fulfilment: bins, waves and their pick lists, pick, pack and ship; parcels shipped
//! directly; delivery confirmation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ordo_app::Ordo;
use ordo_domain::order::{NewShipment, Order};
use ordo_domain::wave::{BinAssignment, Dispatch, NewWave, Wave, WaveSummary};
use ordo_domain::workload::{Capacity, Outlook};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, path_id, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(set_bin))
        .routes(routes!(release_wave, list_waves))
        .routes(routes!(get_wave))
        .routes(routes!(pick_wave))
        .routes(routes!(pack_wave_order))
        .routes(routes!(ship_wave_order))
        .routes(routes!(ship_order))
        .routes(routes!(deliver_shipment))
        .routes(routes!(workload))
        .routes(routes!(set_capacity))
}

/// One location's workload ahead.
#[derive(Serialize, ToSchema)]
struct LocationWorkload {
    location: String,
    name: String,
    time_zone: String,
    /// Local time of the carrier's cut-off, `HH:MM`.
    cutoff_time: String,
    capacity: Capacity,
    /// Whether the capacity was set for the location (else the defaults: 60 lines a
    /// person-hour, 3 people, 8-hour shifts).
    capacity_set: bool,
    outlook: Outlook,
}

/// Each location's workload ahead: parcels, lines and units to pick, pack and ship by day for
/// the week and by hour for today and tomorrow, people needed, work at risk of missing today's
/// cut-off, and the forecast's back-tested error beside the same-weekday rule.
#[utoipa::path(get, path = "/api/v1/workload", security(("bearer" = ["inventory.read"])), tag = "fulfilment",
    responses((status = 200, body = Vec<LocationWorkload>), (status = "4XX", body = ErrorBody)))]
async fn workload(State(ordo): State<Ordo>, _caller: Authorized<need::InventoryRead>) -> Result<Json<Vec<LocationWorkload>>, ApiError> {
    let workloads = ordo.fulfilment().workload().await?;
    Ok(Json(
        workloads
            .into_iter()
            .map(|w| LocationWorkload {
                location: w.location,
                name: w.name,
                time_zone: w.time_zone,
                cutoff_time: w.cutoff_time,
                capacity: w.capacity,
                capacity_set: w.capacity_set,
                outlook: w.outlook,
            })
            .collect(),
    ))
}

/// Sets what a location's people can do, for its workload: lines picked and packed per
/// person-hour (1 to 10,000), people on a shift (0 to 10,000) and the shift's hours (1 to 24).
#[utoipa::path(put, path = "/api/v1/locations/{code}/capacity", security(("bearer" = ["inventory.write"])), tag = "fulfilment",
    params(("code" = String, Path)), request_body = Capacity,
    responses((status = 200, body = Capacity), (status = "4XX", body = ErrorBody)))]
async fn set_capacity(
    State(ordo): State<Ordo>,
    caller: Authorized<need::InventoryWrite>,
    Path(code): Path<String>,
    ValidJson(body): ValidJson<Capacity>,
) -> Result<Json<Capacity>, ApiError> {
    Ok(Json(ordo.fulfilment().set_capacity(&code, body, &caller.actor).await?))
}

/// Sets the bin a SKU is picked from at a location; pick lists walk the bins in order.
#[utoipa::path(put, path = "/api/v1/inventory/bins", security(("bearer" = ["inventory.write"])), tag = "fulfilment", request_body = BinAssignment,
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn set_bin(
    State(ordo): State<Ordo>,
    caller: Authorized<need::InventoryWrite>,
    ValidJson(assignment): ValidJson<BinAssignment>,
) -> Result<StatusCode, ApiError> {
    ordo.fulfilment().set_bin(assignment, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Releases a wave at a location: the orders with stock reserved there that no other open
/// wave holds, due first, with one pick list ordered by bin.
#[utoipa::path(post, path = "/api/v1/waves", security(("bearer" = ["inventory.write"])), tag = "fulfilment", request_body = NewWave,
    responses((status = 201, body = Wave), (status = "4XX", body = ErrorBody)))]
async fn release_wave(
    State(ordo): State<Ordo>,
    auth: Authorized<need::InventoryWrite>,
    ValidJson(new): ValidJson<NewWave>,
) -> Result<(StatusCode, Json<Wave>), ApiError> {
    Ok((StatusCode::CREATED, Json(ordo.fulfilment().release_wave(new, &auth.actor).await?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct WaveFilter {
    location: Option<String>,
    /// open, picked or closed; all when absent.
    #[param(inline, value_type = Option<ordo_domain::wave::WaveStatus>)]
    status: Option<String>,
}

/// Waves, newest first.
#[utoipa::path(get, path = "/api/v1/waves", security(("bearer" = ["inventory.read"])), tag = "fulfilment", params(WaveFilter),
    responses((status = 200, body = Vec<WaveSummary>), (status = "4XX", body = ErrorBody)))]
async fn list_waves(
    State(ordo): State<Ordo>,
    _: Authorized<need::InventoryRead>,
    ValidQuery(filter): ValidQuery<WaveFilter>,
) -> Result<Json<Vec<WaveSummary>>, ApiError> {
    Ok(Json(ordo.fulfilment().waves(filter.location.as_deref(), filter.status.as_deref()).await?))
}

/// A wave with its orders and its pick list.
#[utoipa::path(get, path = "/api/v1/waves/{id}", security(("bearer" = ["inventory.read"])), tag = "fulfilment", params(("id" = String, Path)),
    responses((status = 200, body = Wave), (status = "4XX", body = ErrorBody)))]
async fn get_wave(
    State(ordo): State<Ordo>,
    _: Authorized<need::InventoryRead>,
    Path(id): Path<String>,
) -> Result<Json<Wave>, ApiError> {
    Ok(Json(ordo.fulfilment().wave(path_id(&id)?).await?))
}

/// Confirms the wave's pick list was walked; its orders go to packing. 409 with the wave's
/// state when it is not open.
#[utoipa::path(post, path = "/api/v1/waves/{id}/pick", security(("bearer" = ["inventory.write"])), tag = "fulfilment", params(("id" = String, Path)),
    responses((status = 200, body = Wave), (status = "4XX", body = ErrorBody)))]
async fn pick_wave(
    State(ordo): State<Ordo>,
    auth: Authorized<need::InventoryWrite>,
    Path(id): Path<String>,
) -> Result<Json<Wave>, ApiError> {
    Ok(Json(ordo.fulfilment().pick_wave(path_id(&id)?, &auth.actor).await?))
}

/// Packs one picked order of the wave.
#[utoipa::path(post, path = "/api/v1/waves/{id}/orders/{order}/pack", security(("bearer" = ["inventory.write"])), tag = "fulfilment",
    params(("id" = String, Path), ("order" = String, Path)),
    responses((status = 200, body = Wave), (status = "4XX", body = ErrorBody)))]
async fn pack_wave_order(
    State(ordo): State<Ordo>,
    auth: Authorized<need::InventoryWrite>,
    Path((id, order)): Path<(String, String)>,
) -> Result<Json<Wave>, ApiError> {
    Ok(Json(ordo.fulfilment().pack_wave_order(path_id(&id)?, path_id(&order)?, &auth.actor).await?))
}

/// Ships one packed order of the wave with carrier and tracking number; its picked units
/// leave on-hand and reserved.
#[utoipa::path(post, path = "/api/v1/waves/{id}/orders/{order}/ship", security(("bearer" = ["inventory.write"])), tag = "fulfilment",
    params(("id" = String, Path), ("order" = String, Path)), request_body = Dispatch,
    responses((status = 201, body = Order), (status = "4XX", body = ErrorBody)))]
async fn ship_wave_order(
    State(ordo): State<Ordo>,
    auth: Authorized<need::InventoryWrite>,
    Path((id, order)): Path<(String, String)>,
    ValidJson(dispatch): ValidJson<Dispatch>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let order = ordo.fulfilment().ship_wave_order(path_id(&id)?, path_id(&order)?, dispatch, &auth.actor).await?;
    Ok((StatusCode::CREATED, Json(order)))
}

/// Records a parcel leaving a location with carrier and tracking number; its units leave
/// on-hand and reserved. Shipping more than is reserved there is 409 with the current state.
#[utoipa::path(post, path = "/api/v1/orders/{id}/shipments", security(("bearer" = ["inventory.write"])), tag = "fulfilment", params(("id" = String, Path)),
    request_body = NewShipment,
    responses((status = 201, body = Order), (status = "4XX", body = ErrorBody)))]
async fn ship_order(
    State(ordo): State<Ordo>,
    auth: Authorized<need::InventoryWrite>,
    Path(id): Path<String>,
    ValidJson(new): ValidJson<NewShipment>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    Ok((StatusCode::CREATED, Json(ordo.fulfilment().ship_order(path_id(&id)?, new, &auth.actor).await?)))
}

/// Confirms a shipment arrived; the order is delivered when every parcel is.
#[utoipa::path(post, path = "/api/v1/shipments/{id}/deliver", security(("bearer" = ["inventory.write"])), tag = "fulfilment", params(("id" = String, Path)),
    responses((status = 200, body = Order), (status = "4XX", body = ErrorBody)))]
async fn deliver_shipment(
    State(ordo): State<Ordo>,
    auth: Authorized<need::InventoryWrite>,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(ordo.fulfilment().deliver_shipment(path_id(&id)?, &auth.actor).await?))
}


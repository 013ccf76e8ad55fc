//! Orders from the channels: intake, changes, cancellations and review.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ordo_app::Ordo;
use ordo_domain::order::{NewOrder, Order};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, optional_json, path_id, Authorized, ValidJsonWithRaw, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(receive_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(cancel_order))
        .routes(routes!(get_order_from_channel, update_order_from_channel))
        .routes(routes!(cancel_order_from_channel))
        .routes(routes!(release_order))
}

/// Receives an order. The same (channel, external_id) again answers 200 with the order
/// already made, and makes no second one.
#[utoipa::path(post, path = "/api/v1/orders", security(("bearer" = ["orders.write"])), tag = "orders", request_body = NewOrder,
    responses((status = 201, body = Order, description = "a new order"),
              (status = 200, body = Order, description = "this order was received before"),
              (status = "4XX", body = ErrorBody)))]
async fn receive_order(
    State(ordo): State<Ordo>,
    auth: Authorized<need::OrdersWrite>,
    body: ValidJsonWithRaw<NewOrder>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let intake = ordo.orders().receive_order(body.value, &body.raw, &auth.actor).await?;
    let status = if intake.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(intake.order)))
}


#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OrderSearch {
    /// Only this channel's orders.
    channel: Option<String>,
    /// Only orders in this status, such as `allocated`.
    status: Option<String>,
    /// Only orders whose channel id starts with this.
    external_id: Option<String>,
    /// Only orders whose customer's name or e-mail address contains this, in any case.
    customer: Option<String>,
    /// Only orders with a line of this SKU.
    sku: Option<String>,
    /// Only orders placed on or after this day (UTC).
    placed_from: Option<chrono::NaiveDate>,
    /// Only orders placed on or before this day (UTC).
    placed_to: Option<chrono::NaiveDate>,
    /// The change feed: orders whose status or content changed after this time, oldest change
    /// first; follow `next_cursor` to the end, then ask again from the last change seen.
    updated_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// At most 500; 50 when absent.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    /// `json` (the default) or `csv`: every matching order (up to 100,000), paging aside.
    #[param(inline, value_type = Option<super::choices::ListFormat>)]
    format: Option<String>,
}

/// One order of a list: enough to find it; `GET /api/v1/orders/{id}` has the rest.
#[derive(Serialize, ToSchema)]
struct OrderListItem {
    id: uuid::Uuid,
    channel: String,
    external_id: String,
    #[schema(value_type = String, example = "allocated")]
    status: ordo_domain::order::OrderStatus,
    placed_at: chrono::DateTime<chrono::Utc>,
    ship_by: chrono::DateTime<chrono::Utc>,
    /// When its status or content last changed.
    updated_at: chrono::DateTime<chrono::Utc>,
    currency: String,
    /// A decimal string in the order's currency.
    #[schema(example = "44.87")]
    total: String,
    customer_name: String,
    customer_email: String,
}

#[derive(Serialize, ToSchema)]
struct OrderList {
    orders: Vec<OrderListItem>,
    /// How many orders match in all.
    total: i64,
    limit: i64,
    offset: i64,
    /// Pass as `cursor` for the next page; none when this page is the last.
    next_cursor: Option<String>,
}

/// Orders newest first (or, with `updated_since`, the change feed: oldest change first), by
/// channel, status, order number, customer, SKU and day placed, a page at a time by `cursor`
/// (or `offset`); as CSV with `format=csv`.
#[utoipa::path(get, path = "/api/v1/orders", security(("bearer" = ["orders.read"])), tag = "orders", params(OrderSearch),
    responses((status = 200, content((OrderList = "application/json"), (String = "text/csv"))), (status = "4XX", body = ErrorBody)))]
async fn list_orders(
    State(ordo): State<Ordo>,
    _: Authorized<need::OrdersRead>,
    ValidQuery(search): ValidQuery<OrderSearch>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (limit, offset) = (search.limit.unwrap_or(50), search.offset.unwrap_or(0));
    let filter = ordo_app::OrderFilter {
        channel: search.channel,
        status: search.status,
        external_id: search.external_id,
        customer: search.customer,
        sku: search.sku,
        placed_from: search.placed_from,
        placed_to: search.placed_to,
        updated_since: search.updated_since,
        cursor: search.cursor,
        limit,
        offset,
    };
    match search.format.as_deref().unwrap_or("json") {
        "json" => {}
        "csv" => {
            let csv = ordo.orders().export_csv(filter).await?;
            return Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response());
        }
        _ => return Err(ordo_app::AppError::Invalid(ordo_domain::FieldError::new("format", "must be json or csv")).into()),
    }
    let page = ordo.orders().search(filter).await?;
    let orders = page
        .orders
        .into_iter()
        .map(|o| {
            let total = ordo_domain::Currency::parse("currency", &o.currency)
                .map(|c| ordo_domain::Money::from_minor(o.total_minor, c).to_decimal_string())
                .unwrap_or_else(|_| o.total_minor.to_string());
            OrderListItem {
                id: o.id,
                channel: o.channel,
                external_id: o.external_id,
                status: o.status,
                placed_at: o.placed_at,
                ship_by: o.ship_by,
                updated_at: o.updated_at,
                currency: o.currency,
                total,
                customer_name: o.customer_name,
                customer_email: o.customer_email,
            }
        })
        .collect();
    Ok(Json(OrderList { orders, total: page.total, limit, offset, next_cursor: page.next_cursor }).into_response())
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", security(("bearer" = ["orders.read"])), tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = Order), (status = "4XX", body = ErrorBody)))]
async fn get_order(
    State(ordo): State<Ordo>,
    _: Authorized<need::OrdersRead>,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(ordo.orders().order(path_id(&id)?).await?))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct Cancellation {
    /// Why; defaults to "cancelled by the channel".
    reason: Option<String>,
}

impl Cancellation {
    /// The reason given in an optional body, or the default.
    fn reason(body: &Bytes) -> Result<String, ApiError> {
        let cancellation: Cancellation = optional_json(body)?;
        Ok(cancellation.reason.unwrap_or_else(|| "cancelled by the channel".to_owned()))
    }
}

/// Cancels an order that has not shipped and releases its reservations; 409 with the
/// current state when it has.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", security(("bearer" = ["orders.write"])), tag = "orders", params(("id" = String, Path)),
    request_body(content = Cancellation, description = "optional"),
    responses((status = 200, body = Order), (status = "4XX", body = ErrorBody)))]
async fn cancel_order(
    State(ordo): State<Ordo>,
    auth: Authorized<need::OrdersWrite>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(ordo.orders().cancel_order(path_id(&id)?, &Cancellation::reason(&body)?, &auth.actor).await?))
}

/// The order a channel knows by its own order id.
#[utoipa::path(get, path = "/api/v1/channels/{channel}/orders/{external_id}", security(("bearer" = ["orders.read"])), tag = "orders",
    params(("channel" = String, Path), ("external_id" = String, Path)),
    responses((status = 200, body = Order), (status = "4XX", body = ErrorBody)))]
async fn get_order_from_channel(
    State(ordo): State<Ordo>,
    _: Authorized<need::OrdersRead>,
    Path((channel, external_id)): Path<(String, String)>,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(ordo.orders().order_by_external_id(&channel, &external_id).await?))
}

/// The channel's new version of an order it sent before, named by the channel's own id: a new
/// address, billing country, shipping method, payment status, shipping price or lines. New
/// lines or a new shipping method route the order again. 409 with the current state once it
/// has started shipping.
#[utoipa::path(put, path = "/api/v1/channels/{channel}/orders/{external_id}", security(("bearer" = ["orders.write"])), tag = "orders",
    params(("channel" = String, Path), ("external_id" = String, Path)), request_body = NewOrder,
    responses((status = 200, body = Order), (status = "4XX", body = ErrorBody)))]
async fn update_order_from_channel(
    State(ordo): State<Ordo>,
    auth: Authorized<need::OrdersWrite>,
    Path((channel, external_id)): Path<(String, String)>,
    body: ValidJsonWithRaw<NewOrder>,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(ordo.orders().update_order_from_channel(&channel, &external_id, body.value, &body.raw, &auth.actor).await?))
}

/// Cancels an order named by the channel's own id and releases its reservations.
#[utoipa::path(post, path = "/api/v1/channels/{channel}/orders/{external_id}/cancel", security(("bearer" = ["orders.write"])), tag = "orders",
    params(("channel" = String, Path), ("external_id" = String, Path)),
    request_body(content = Cancellation, description = "optional"),
    responses((status = 200, body = Order), (status = "4XX", body = ErrorBody)))]
async fn cancel_order_from_channel(
    State(ordo): State<Ordo>,
    auth: Authorized<need::OrdersWrite>,
    Path((channel, external_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Order>, ApiError> {
    let reason = Cancellation::reason(&body)?;
    Ok(Json(ordo.orders().cancel_order_from_channel(&channel, &external_id, &reason, &auth.actor).await?))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct Release {
    /// Why the order may go ahead; defaults to "reviewed".
    reason: Option<String>,
}

/// Releases an order held for review: it is routed and its stock reserved; 409 with the
/// current state when it is not on hold.
#[utoipa::path(post, path = "/api/v1/orders/{id}/release", security(("bearer" = ["orders.review"])), tag = "orders", params(("id" = String, Path)),
    request_body(content = Release, description = "optional"),
    responses((status = 200, body = Order), (status = "4XX", body = ErrorBody)))]
async fn release_order(
    State(ordo): State<Ordo>,
    auth: Authorized<need::OrdersReview>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Order>, ApiError> {
    let release: Release = optional_json(&body)?;
    let reason = release.reason.unwrap_or_else(|| "reviewed".to_owned());
    Ok(Json(ordo.orders().release_hold(path_id(&id)?, &reason, &auth.actor).await?))
}

//! Returns (RMA), refunds, replacements, supplier claims and channels' return policies.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ordo_app::{InspectedLine, NewRefund, NewRefundLine, NewReturn, NewReturnPolicy, ReturnPolicyView, NewReturnLine, Ordo, ReceivedLine};
use ordo_domain::returns::{Refund, ReturnReport, Rma, SupplierClaim};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, path_id, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(list_returns, request_return))
        .routes(routes!(get_return))
        .routes(routes!(decide))
        .routes(routes!(ship_back))
        .routes(routes!(receive_return))
        .routes(routes!(inspect))
        .routes(routes!(close))
        .routes(routes!(replacement))
        .routes(routes!(refunds, refund))
        .routes(routes!(settle_claim))
        .routes(routes!(get_policy, set_policy))
        .routes(routes!(report))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReturnLineRequest {
    /// The order line.
    line: i64,
    quantity: i64,
    /// damaged, wrong_item, not_as_described, defective, no_longer_wanted, late_delivery or other.
    reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReturnRequest {
    order_id: String,
    lines: Vec<ReturnLineRequest>,
    /// api (the default), dashboard or channel.
    source: Option<String>,
    /// Lets a request in after the policy's window closed: the reason. Service, ops or admin only.
    override_window: Option<String>,
}

/// Asks for a return. Authorised at once when the channel's policy allows it, else `requested`
/// for service to decide; outside the window refused (422, `override_window`) unless overridden.
#[utoipa::path(post, path = "/api/v1/returns", security(("bearer" = ["returns.write"])), tag = "returns",
    request_body = ReturnRequest, responses((status = 201, body = Rma), (status = "4XX", body = ErrorBody)))]
async fn request_return(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ReturnsWrite>,
    ValidJson(body): ValidJson<ReturnRequest>,
) -> Result<(StatusCode, Json<Rma>), ApiError> {
    let order_id = ordo_domain::field::uuid("order_id", &body.order_id)?;
    let new = NewReturn {
        order_id,
        lines: body.lines.into_iter().map(|l| NewReturnLine { line: l.line, quantity: l.quantity, reason: l.reason }).collect(),
        source: body.source.unwrap_or_else(|| "api".to_owned()),
        override_window: body.override_window,
    };
    Ok((StatusCode::CREATED, Json(ordo.returns().request_return(new, &caller.actor).await?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filter {
    order_id: Option<String>,
    /// requested, authorized, rejected, in_transit, received, inspected or closed.
    #[param(inline, value_type = Option<ordo_domain::returns::ReturnStatus>)]
    status: Option<String>,
    /// At most this many (1–500, 100 when absent).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Returns, newest first.
#[utoipa::path(get, path = "/api/v1/returns", security(("bearer" = ["orders.read"])), tag = "returns", params(Filter),
    responses((status = 200, body = Vec<Rma>), (status = "4XX", body = ErrorBody)))]
async fn list_returns(State(ordo): State<Ordo>, _: Authorized<need::OrdersRead>, ValidQuery(filter): ValidQuery<Filter>) -> Result<Json<Vec<Rma>>, ApiError> {
    let order = filter.order_id.as_deref().map(|id| ordo_domain::field::uuid("order_id", id)).transpose()?;
    Ok(Json(ordo.returns().list(order, filter.status.as_deref(), filter.limit.unwrap_or(100)).await?))
}

#[utoipa::path(get, path = "/api/v1/returns/{id}", security(("bearer" = ["orders.read"])), tag = "returns",
    params(("id" = String, Path)), responses((status = 200, body = Rma), (status = "4XX", body = ErrorBody)))]
async fn get_return(State(ordo): State<Ordo>, _: Authorized<need::OrdersRead>, Path(id): Path<String>) -> Result<Json<Rma>, ApiError> {
    Ok(Json(ordo.returns().return_detail(path_id(&id)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Decision {
    authorize: bool,
    note: String,
}

/// Service authorises or rejects a requested return (service, ops or admin: 403 for others).
#[utoipa::path(post, path = "/api/v1/returns/{id}/decide", security(("bearer" = ["returns.write"])), tag = "returns",
    params(("id" = String, Path)), request_body = Decision, responses((status = 200, body = Rma), (status = "4XX", body = ErrorBody)))]
async fn decide(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ReturnsWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<Decision>,
) -> Result<Json<Rma>, ApiError> {
    Ok(Json(ordo.returns().decide_return(path_id(&id)?, body.authorize, &body.note, &caller.actor).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ShipBack {
    carrier: String,
    tracking: String,
}

/// The customer sent the goods back.
#[utoipa::path(post, path = "/api/v1/returns/{id}/in-transit", security(("bearer" = ["returns.write"])), tag = "returns",
    params(("id" = String, Path)), request_body = ShipBack, responses((status = 200, body = Rma), (status = "4XX", body = ErrorBody)))]
async fn ship_back(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ReturnsWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<ShipBack>,
) -> Result<Json<Rma>, ApiError> {
    Ok(Json(ordo.returns().return_in_transit(path_id(&id)?, &body.carrier, &body.tracking, &caller.actor).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UnitsOfLine {
    line: i64,
    quantity: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReturnReceipt {
    location: String,
    lines: Vec<UnitsOfLine>,
}

/// The goods arrived at a location; they wait for inspection, not yet in stock.
#[utoipa::path(post, path = "/api/v1/returns/{id}/receive", security(("bearer" = ["returns.write"])), tag = "returns",
    params(("id" = String, Path)), request_body = ReturnReceipt, responses((status = 200, body = Rma), (status = "4XX", body = ErrorBody)))]
async fn receive_return(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ReturnsWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<ReturnReceipt>,
) -> Result<Json<Rma>, ApiError> {
    let lines: Vec<ReceivedLine> = body.lines.iter().map(|l| ReceivedLine { line: l.line, quantity: l.quantity }).collect();
    Ok(Json(ordo.returns().receive_return(path_id(&id)?, &body.location, &lines, &caller.actor).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InspectionLine {
    line: i64,
    /// restock, refurbish, dispose or supplier_claim.
    disposition: String,
    /// What the inspector saw; a claim's evidence.
    note: String,
    /// The supplier a claim goes to.
    supplier: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Inspection {
    lines: Vec<InspectionLine>,
}

/// A disposition for every received line, applied with its stock and ledger effects.
#[utoipa::path(post, path = "/api/v1/returns/{id}/inspect", security(("bearer" = ["returns.write"])), tag = "returns",
    params(("id" = String, Path)), request_body = Inspection, responses((status = 200, body = Rma), (status = "4XX", body = ErrorBody)))]
async fn inspect(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ReturnsWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<Inspection>,
) -> Result<Json<Rma>, ApiError> {
    let lines: Vec<InspectedLine> = body
        .lines
        .into_iter()
        .map(|l| InspectedLine { line: l.line, disposition: l.disposition, note: l.note, supplier: l.supplier })
        .collect();
    Ok(Json(ordo.returns().inspect_return(path_id(&id)?, &lines, &caller.actor).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Note {
    note: String,
}

#[utoipa::path(post, path = "/api/v1/returns/{id}/close", security(("bearer" = ["returns.write"])), tag = "returns",
    params(("id" = String, Path)), request_body = Note, responses((status = 200, body = Rma), (status = "4XX", body = ErrorBody)))]
async fn close(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ReturnsWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<Note>,
) -> Result<Json<Rma>, ApiError> {
    Ok(Json(ordo.returns().close_return(path_id(&id)?, &body.note, &caller.actor).await?))
}

/// Sends the returned goods again as a free order on the same channel, linked to the return:
/// goods given away, so it needs the same permission as a refund.
#[utoipa::path(post, path = "/api/v1/returns/{id}/replacement", security(("bearer" = ["refunds.issue"])), tag = "returns",
    params(("id" = String, Path)), responses((status = 201, body = Rma), (status = "4XX", body = ErrorBody)))]
async fn replacement(State(ordo): State<Ordo>, caller: Authorized<need::RefundsIssue>, Path(id): Path<String>) -> Result<(StatusCode, Json<Rma>), ApiError> {
    Ok((StatusCode::CREATED, Json(ordo.returns().send_replacement(path_id(&id)?, &caller.actor).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefundLineRequest {
    line: i64,
    /// Units whose share of the line's price and tax is refunded; 0 with an amount.
    #[serde(default)]
    quantity: i64,
    /// Goodwill: this much of the line's net price (its tax share follows), a decimal string.
    amount: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefundRequest {
    return_id: Option<String>,
    #[serde(default)]
    lines: Vec<RefundLineRequest>,
    /// Shipping charge refunded, a decimal string.
    shipping: Option<String>,
    reason: String,
}

/// Refunds an order, fully or in part; never more than was paid for a line less what was
/// refunded already (422 naming the line).
#[utoipa::path(post, path = "/api/v1/orders/{id}/refunds", security(("bearer" = ["refunds.issue"])), tag = "returns",
    params(("id" = String, Path)), request_body = RefundRequest, responses((status = 201, body = Refund), (status = "4XX", body = ErrorBody)))]
async fn refund(
    State(ordo): State<Ordo>,
    caller: Authorized<need::RefundsIssue>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<RefundRequest>,
) -> Result<(StatusCode, Json<Refund>), ApiError> {
    let order_id = path_id(&id)?;
    let lines = body.lines.into_iter().map(|l| NewRefundLine { line: l.line, quantity: l.quantity, amount: l.amount }).collect();
    let return_id = body.return_id.as_deref().map(|id| ordo_domain::field::uuid("return_id", id)).transpose()?;
    let new = NewRefund { return_id, lines, shipping: body.shipping, reason: body.reason, channel_refund: None };
    Ok((StatusCode::CREATED, Json(ordo.returns().refund(order_id, new, &caller.actor).await?)))
}

#[utoipa::path(get, path = "/api/v1/orders/{id}/refunds", security(("bearer" = ["orders.read"])), tag = "returns",
    params(("id" = String, Path)), responses((status = 200, body = Vec<Refund>), (status = "4XX", body = ErrorBody)))]
async fn refunds(State(ordo): State<Ordo>, _: Authorized<need::OrdersRead>, Path(id): Path<String>) -> Result<Json<Vec<Refund>>, ApiError> {
    Ok(Json(ordo.returns().refunds_of(path_id(&id)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Settlement {
    /// true when the supplier credited it, false when it refused.
    credited: bool,
}

/// The supplier credited a claim or refused it; booked either way.
#[utoipa::path(post, path = "/api/v1/supplier-claims/{id}/settle", security(("bearer" = ["ledger.write"])), tag = "returns",
    params(("id" = String, Path)), request_body = Settlement, responses((status = 200, body = SupplierClaim), (status = "4XX", body = ErrorBody)))]
async fn settle_claim(
    State(ordo): State<Ordo>,
    caller: Authorized<need::LedgerWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<Settlement>,
) -> Result<Json<SupplierClaim>, ApiError> {
    Ok(Json(ordo.returns().settle_claim(path_id(&id)?, body.credited, &caller.actor).await?))
}

#[utoipa::path(get, path = "/api/v1/channels/{code}/return-policy", security(("bearer" = ["master_data.read"])), tag = "returns",
    params(("code" = String, Path)), responses((status = 200, body = ReturnPolicyView), (status = "4XX", body = ErrorBody)))]
async fn get_policy(State(ordo): State<Ordo>, _: Authorized<need::MasterDataRead>, Path(code): Path<String>) -> Result<Json<ReturnPolicyView>, ApiError> {
    Ok(Json(ordo.returns().return_policy(&code).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PolicyRequest {
    /// Days after delivery (or shipment) a return may be asked for (0–3650).
    window_days: i64,
    /// Reasons authorised without a person.
    auto_reasons: Vec<String>,
    /// Orders worth more than this, a decimal string in the channel's currency, go to service;
    /// any value when absent.
    max_auto_value: Option<String>,
    /// Days an authorised return has to arrive before it is overdue (1–365).
    ship_back_days: i64,
}

/// Sets a channel's return policy: window, reasons and order value authorised without a person.
#[utoipa::path(put, path = "/api/v1/channels/{code}/return-policy", security(("bearer" = ["master_data.write"])), tag = "returns",
    params(("code" = String, Path)), request_body = PolicyRequest, responses((status = 200, body = ReturnPolicyView), (status = "4XX", body = ErrorBody)))]
async fn set_policy(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    Path(code): Path<String>,
    ValidJson(body): ValidJson<PolicyRequest>,
) -> Result<Json<ReturnPolicyView>, ApiError> {
    let new = NewReturnPolicy {
        window_days: body.window_days,
        auto_reasons: body.auto_reasons,
        max_auto_value: body.max_auto_value,
        ship_back_days: body.ship_back_days,
    };
    Ok(Json(ordo.returns().set_return_policy(&code, new, &caller.actor).await?))
}

/// Days of a report, both included; all time when absent.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Days {
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
}

/// Return rates (returned per 10,000 shipped) by channel, SKU, reason and week.
#[utoipa::path(get, path = "/api/v1/reports/returns", security(("bearer" = ["orders.read"])), tag = "returns", params(Days),
    responses((status = 200, body = ReturnReport), (status = "4XX", body = ErrorBody)))]
async fn report(State(ordo): State<Ordo>, _: Authorized<need::OrdersRead>, ValidQuery(days): ValidQuery<Days>) -> Result<Json<ReturnReport>, ApiError> {
    Ok(Json(ordo.returns().return_report(ordo_app::Period { from: days.from, to: days.to }).await?))
}

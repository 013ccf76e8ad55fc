//! Procurement: suppliers' terms and prices, forecasts, replenishment proposals, purchase
//! orders with their receipts and bills. Replenishment policies change through change requests
//! (`replenishment_policy`), approved by procurement.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ordo_app::{AccuracyReport, DemandDay, NewBill, SupplierPrice, NewPoLine, NewPurchaseOrder, NewSupplierSku, Ordo, ProposalView, PurchaseOrder, SkuForecastView};
use ordo_domain::procurement::Policy;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, path_id, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(set_terms))
        .routes(routes!(set_supplier_sku))
        .routes(routes!(supplier_skus))
        .routes(routes!(policies))
        .routes(routes!(forecast))
        .routes(routes!(accuracy))
        .routes(routes!(demand))
        .merge(
            // A business's sales from before Ordo run to millions of rows.
            OpenApiRouter::new().routes(routes!(import_sales_history)).layer(axum::extract::DefaultBodyLimit::max(SALES_HISTORY_LIMIT_BYTES)),
        )
        .routes(routes!(promotions, create_promotion))
        .routes(routes!(proposals, run_proposals))
        .routes(routes!(approve_proposals))
        .routes(routes!(reject_proposal))
        .routes(routes!(purchase_orders, create_purchase_order))
        .routes(routes!(purchase_order))
        .routes(routes!(move_purchase_order))
        .routes(routes!(receive_purchase_order))
        .routes(routes!(bill))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Terms {
    /// How far deliveries stray from the lead time, in days (a decimal string such as "1.5").
    lead_time_sd_days: String,
    payment_terms_days: i64,
}

#[utoipa::path(put, path = "/api/v1/suppliers/{code}/terms", security(("bearer" = ["suppliers.write"])), tag = "procurement",
    params(("code" = String, Path)), request_body = Terms, responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn set_terms(
    State(ordo): State<Ordo>,
    caller: Authorized<need::SuppliersWrite>,
    Path(code): Path<String>,
    ValidJson(body): ValidJson<Terms>,
) -> Result<StatusCode, ApiError> {
    ordo.procurement().set_supplier_terms(&code, &body.lead_time_sd_days, body.payment_terms_days, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SupplierSkuRequest {
    /// In the supplier's currency.
    unit_cost: String,
    #[serde(default)]
    moq: i64,
    #[serde(default = "one")]
    pack_size: i64,
    #[serde(default)]
    preferred: bool,
}

fn one() -> i64 {
    1
}

/// What the supplier sells of the SKU: price, minimum order, pack; a preferred one is chosen
/// first.
#[utoipa::path(put, path = "/api/v1/suppliers/{code}/skus/{sku}", security(("bearer" = ["suppliers.write"])), tag = "procurement",
    params(("code" = String, Path), ("sku" = String, Path)), request_body = SupplierSkuRequest, responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn set_supplier_sku(
    State(ordo): State<Ordo>,
    caller: Authorized<need::SuppliersWrite>,
    Path((code, sku)): Path<(String, String)>,
    ValidJson(body): ValidJson<SupplierSkuRequest>,
) -> Result<StatusCode, ApiError> {
    let new = NewSupplierSku { supplier: code, sku, unit_cost: body.unit_cost, moq: body.moq, pack_size: body.pack_size, preferred: body.preferred };
    ordo.procurement().set_supplier_sku(new, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SkuFilter {
    sku: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/supplier-skus", security(("bearer" = ["master_data.read"])), tag = "procurement", params(SkuFilter),
    responses((status = 200, body = Vec<SupplierPrice>), (status = "4XX", body = ErrorBody)))]
async fn supplier_skus(State(ordo): State<Ordo>, _: Authorized<need::MasterDataRead>, ValidQuery(q): ValidQuery<SkuFilter>) -> Result<Json<Vec<SupplierPrice>>, ApiError> {
    Ok(Json(ordo.procurement().supplier_skus(q.sku.as_deref()).await?))
}

#[derive(Serialize, ToSchema)]
struct PolicyView {
    /// `sku:CODE` or `class:A`.
    scope: String,
    policy: Policy,
}

/// The policies in force; they change through `replenishment_policy` change requests.
#[utoipa::path(get, path = "/api/v1/replenishment/policies", security(("bearer" = ["master_data.read"])), tag = "procurement",
    responses((status = 200, body = Vec<PolicyView>), (status = "4XX", body = ErrorBody)))]
async fn policies(State(ordo): State<Ordo>, _: Authorized<need::MasterDataRead>) -> Result<Json<Vec<PolicyView>>, ApiError> {
    Ok(Json(ordo.procurement().replenishment_policies().await?.into_iter().map(|(scope, policy)| PolicyView { scope, policy }).collect()))
}

/// A SKU's forecast: the method its own back-test chose, its parameters and error, the
/// recent sales and the next 56 days.
#[utoipa::path(get, path = "/api/v1/forecasts/{sku}", security(("bearer" = ["inventory.read"])), tag = "procurement",
    params(("sku" = String, Path)), responses((status = 200, body = SkuForecastView), (status = "4XX", body = ErrorBody)))]
async fn forecast(State(ordo): State<Ordo>, _: Authorized<need::InventoryRead>, Path(sku): Path<String>) -> Result<Json<SkuForecastView>, ApiError> {
    Ok(Json(ordo.procurement().forecast_sku(&sku).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ProposalFilter {
    /// proposed, approved or rejected.
    #[param(inline, value_type = Option<super::choices::ProposalStatusFilter>)]
    status: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/replenishment/proposals", security(("bearer" = ["inventory.read"])), tag = "procurement", params(ProposalFilter),
    responses((status = 200, body = Vec<ProposalView>), (status = "4XX", body = ErrorBody)))]
async fn proposals(State(ordo): State<Ordo>, _: Authorized<need::InventoryRead>, ValidQuery(q): ValidQuery<ProposalFilter>) -> Result<Json<Vec<ProposalView>>, ApiError> {
    Ok(Json(ordo.procurement().proposals(q.status.as_deref()).await?))
}

/// Forecasts and proposes for every SKU with a supplier and a policy; replaces the open
/// proposals.
#[utoipa::path(post, path = "/api/v1/replenishment/proposals", security(("bearer" = ["procurement.write"])), tag = "procurement",
    responses((status = 201, body = Vec<ProposalView>), (status = "4XX", body = ErrorBody)))]
async fn run_proposals(State(ordo): State<Ordo>, caller: Authorized<need::ProcurementWrite>) -> Result<(StatusCode, Json<Vec<ProposalView>>), ApiError> {
    Ok((StatusCode::CREATED, Json(ordo.procurement().propose_replenishment(&caller.actor).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Approved {
    id: String,
    /// The quantity to order instead of the proposed one.
    quantity: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProposalApproval {
    proposals: Vec<Approved>,
}

/// Approves proposals into draft purchase orders, one per supplier; all or none.
#[utoipa::path(post, path = "/api/v1/replenishment/proposals/approve", security(("bearer" = ["procurement.write"])), tag = "procurement",
    request_body = ProposalApproval, responses((status = 201, body = Vec<PurchaseOrder>), (status = "4XX", body = ErrorBody)))]
async fn approve_proposals(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ProcurementWrite>,
    ValidJson(body): ValidJson<ProposalApproval>,
) -> Result<(StatusCode, Json<Vec<PurchaseOrder>>), ApiError> {
    let mut decided = Vec::with_capacity(body.proposals.len());
    for (i, p) in body.proposals.iter().enumerate() {
        decided.push((ordo_domain::field::uuid(&format!("proposals[{i}].id"), &p.id)?, p.quantity));
    }
    Ok((StatusCode::CREATED, Json(ordo.procurement().approve_proposals(&decided, &caller.actor).await?)))
}

#[utoipa::path(post, path = "/api/v1/replenishment/proposals/{id}/reject", security(("bearer" = ["procurement.write"])), tag = "procurement",
    params(("id" = String, Path)), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn reject_proposal(State(ordo): State<Ordo>, caller: Authorized<need::ProcurementWrite>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    ordo.procurement().reject_proposal(path_id(&id)?, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PoLineRequest {
    sku: String,
    quantity: i64,
    /// In the supplier's currency; its price for the SKU when absent.
    unit_cost: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PoRequest {
    supplier: String,
    location: Option<String>,
    lines: Vec<PoLineRequest>,
}

#[utoipa::path(post, path = "/api/v1/purchase-orders", security(("bearer" = ["procurement.write"])), tag = "procurement",
    request_body = PoRequest, responses((status = 201, body = PurchaseOrder), (status = "4XX", body = ErrorBody)))]
async fn create_purchase_order(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ProcurementWrite>,
    ValidJson(body): ValidJson<PoRequest>,
) -> Result<(StatusCode, Json<PurchaseOrder>), ApiError> {
    let new = NewPurchaseOrder {
        supplier: body.supplier,
        location: body.location,
        lines: body.lines.into_iter().map(|l| NewPoLine { sku: l.sku, quantity: l.quantity, unit_cost: l.unit_cost }).collect(),
    };
    Ok((StatusCode::CREATED, Json(ordo.procurement().create_purchase_order(new, &caller.actor).await?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PoFilter {
    status: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/purchase-orders", security(("bearer" = ["inventory.read"])), tag = "procurement", params(PoFilter),
    responses((status = 200, body = Vec<PurchaseOrder>), (status = "4XX", body = ErrorBody)))]
async fn purchase_orders(State(ordo): State<Ordo>, _: Authorized<need::InventoryRead>, ValidQuery(q): ValidQuery<PoFilter>) -> Result<Json<Vec<PurchaseOrder>>, ApiError> {
    Ok(Json(ordo.procurement().purchase_orders(q.status.as_deref()).await?))
}

#[utoipa::path(get, path = "/api/v1/purchase-orders/{id}", security(("bearer" = ["inventory.read"])), tag = "procurement",
    params(("id" = String, Path)), responses((status = 200, body = PurchaseOrder), (status = "4XX", body = ErrorBody)))]
async fn purchase_order(State(ordo): State<Ordo>, _: Authorized<need::InventoryRead>, Path(id): Path<String>) -> Result<Json<PurchaseOrder>, ApiError> {
    Ok(Json(ordo.procurement().purchase_order(path_id(&id)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Move {
    /// approved (within the role's approval limit: 403 beyond), sent, cancelled or closed.
    status: String,
}

#[utoipa::path(post, path = "/api/v1/purchase-orders/{id}/status", security(("bearer" = ["procurement.write"])), tag = "procurement",
    params(("id" = String, Path)), request_body = Move, responses((status = 200, body = PurchaseOrder), (status = "4XX", body = ErrorBody)))]
async fn move_purchase_order(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ProcurementWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<Move>,
) -> Result<Json<PurchaseOrder>, ApiError> {
    Ok(Json(ordo.procurement().move_purchase_order(path_id(&id)?, &body.status, &caller.actor).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReceivedLine {
    line: i64,
    quantity: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PurchaseOrderReceipt {
    lines: Vec<ReceivedLine>,
}

/// Goods arrived: into stock at the order's location, at its price, filling backorders. More
/// than 5% over what was ordered is refused naming the line.
#[utoipa::path(post, path = "/api/v1/purchase-orders/{id}/receipts", security(("bearer" = ["inventory.write"])), tag = "procurement",
    params(("id" = String, Path)), request_body = PurchaseOrderReceipt, responses((status = 200, body = PurchaseOrder), (status = "4XX", body = ErrorBody)))]
async fn receive_purchase_order(
    State(ordo): State<Ordo>,
    caller: Authorized<need::InventoryWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<PurchaseOrderReceipt>,
) -> Result<Json<PurchaseOrder>, ApiError> {
    let lines: Vec<(i64, i64)> = body.lines.iter().map(|l| (l.line, l.quantity)).collect();
    Ok(Json(ordo.procurement().receive_purchase_order(path_id(&id)?, &lines, &caller.actor).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BilledLine {
    line: i64,
    quantity: i64,
    /// In the order's currency.
    unit_cost: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BillRequest {
    /// The supplier's invoice number; one per supplier.
    invoice: String,
    lines: Vec<BilledLine>,
}

/// The supplier's bill, matched against the receipts; differences beyond the tolerance
/// dispute it (a `procurement` exception for finance).
#[utoipa::path(post, path = "/api/v1/purchase-orders/{id}/bills", security(("bearer" = ["ledger.write"])), tag = "procurement",
    params(("id" = String, Path)), request_body = BillRequest, responses((status = 200, body = PurchaseOrder), (status = "4XX", body = ErrorBody)))]
async fn bill(
    State(ordo): State<Ordo>,
    caller: Authorized<need::LedgerWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<BillRequest>,
) -> Result<Json<PurchaseOrder>, ApiError> {
    let new = NewBill { invoice: body.invoice, lines: body.lines.into_iter().map(|l| (l.line, l.quantity, l.unit_cost)).collect() };
    Ok(Json(ordo.procurement().bill_purchase_order(path_id(&id)?, new, &caller.actor).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Holdout {
    /// Days held out at the end of each SKU's history and forecast blind (1–56, 7 when absent).
    holdout: Option<i64>,
}

/// The forecasts scored: each SKU forecast without its last days, against them (MASE, RMSSE,
/// bias), and the catalogue's averages.
#[utoipa::path(get, path = "/api/v1/forecasts/accuracy", security(("bearer" = ["inventory.read"])), tag = "procurement", params(Holdout),
    responses((status = 200, body = AccuracyReport), (status = "4XX", body = ErrorBody)))]
async fn accuracy(State(ordo): State<Ordo>, _: Authorized<need::InventoryRead>, ValidQuery(q): ValidQuery<Holdout>) -> Result<Json<AccuracyReport>, ApiError> {
    Ok(Json(ordo.procurement().forecast_accuracy(q.holdout.unwrap_or(7)).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DemandQuery {
    /// One channel's sales; every channel's when absent.
    channel: Option<String>,
    /// Days back from yesterday (1–730, 90 when absent).
    days: Option<i64>,
}

/// A SKU's sales by day, each day marked when it ended out of stock or was on promotion.
#[utoipa::path(get, path = "/api/v1/demand/{sku}", security(("bearer" = ["inventory.read"])), tag = "procurement",
    params(("sku" = String, Path), DemandQuery), responses((status = 200, body = Vec<DemandDay>), (status = "4XX", body = ErrorBody)))]
async fn demand(
    State(ordo): State<Ordo>,
    _: Authorized<need::InventoryRead>,
    Path(sku): Path<String>,
    ValidQuery(q): ValidQuery<DemandQuery>,
) -> Result<Json<Vec<DemandDay>>, ApiError> {
    Ok(Json(ordo.procurement().demand_history(&sku, q.channel.as_deref(), q.days.unwrap_or(90)).await?))
}

/// The largest sales history the API takes: about 1.4 million rows, which take some 200 MB to
/// check and write. Larger files go through `ordo import sales-history`.
const SALES_HISTORY_LIMIT_BYTES: usize = 32 * 1024 * 1024;

/// How many refused rows a refusal names; the rest are counted.
const ROWS_NAMED: usize = 20;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SalesHistoryQuery {
    /// Import the good rows of a file that has bad ones, and list the bad ones.
    skip_invalid: Option<bool>,
}

/// What importing sales history did.
#[derive(Serialize, ToSchema)]
struct SalesHistoryImported {
    /// Rows in the file, the header left out.
    rows: u64,
    imported: u64,
    /// The rows left out with `skip_invalid`, each naming its line and field:
    /// `line 3: date: must be a date that is over`.
    #[schema(example = json!(["line 3: quantity: must be a whole number"]))]
    skipped: Vec<String>,
}

/// Imports daily sales from before Ordo, so forecasts are back-tested from the first day: the
/// body is CSV with the columns `sku,date,quantity` and optionally `channel`, one row per sale
/// or per day's total (rows of one SKU, day and channel are summed; a negative quantity is a
/// return). A row naming a channel shows in that channel's demand too; one without counts in the
/// SKU's total only. Each date must be over and before the SKU's first sale in Ordo; a SKU's day
/// imported again is replaced, on every channel. A file with a bad
/// row imports nothing and is refused with 422 naming each row's line and field, unless
/// `skip_invalid` is set; then the good rows are imported and the bad ones listed.
#[utoipa::path(post, path = "/api/v1/sales-history", security(("bearer" = ["procurement.write"])), tag = "procurement", params(SalesHistoryQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = SalesHistoryImported), (status = "4XX", body = ErrorBody)))]
async fn import_sales_history(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ProcurementWrite>,
    ValidQuery(q): ValidQuery<SalesHistoryQuery>,
    body: axum::body::Bytes,
) -> Result<Json<SalesHistoryImported>, ApiError> {
    let options = ordo_app::import::ImportOptions { skip_invalid: q.skip_invalid.unwrap_or(false) };
    let report = ordo.procurement().import_sales_history(&body, options, &caller.actor).await?;
    let named: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    if !options.skip_invalid && !report.errors.is_empty() {
        let more = named.len().saturating_sub(ROWS_NAMED);
        let mut message = format!("{} of {} rows refused, nothing imported: {}", named.len(), report.rows, named[..named.len().min(ROWS_NAMED)].join("; "));
        if more > 0 {
            message += &format!("; and {more} more");
        }
        let mut error = ApiError::with_message(crate::error::ErrorCode::ValidationFailed, message);
        error.field = report.errors[0].field.clone().or_else(|| Some("body".to_owned()));
        return Err(error);
    }
    Ok(Json(SalesHistoryImported { rows: report.rows, imported: report.imported, skipped: named }))
}

#[derive(Serialize, ToSchema)]
struct PromotionView {
    id: uuid::Uuid,
    name: String,
    channel: Option<String>,
    /// None for every SKU.
    sku: Option<String>,
    starts_on: String,
    ends_on: String,
}

impl From<ordo_app::PromotionRecord> for PromotionView {
    fn from(p: ordo_app::PromotionRecord) -> Self {
        PromotionView { id: p.id, name: p.name, channel: p.channel, sku: p.sku, starts_on: p.starts_on, ends_on: p.ends_on }
    }
}

#[utoipa::path(get, path = "/api/v1/promotions", security(("bearer" = ["master_data.read"])), tag = "procurement",
    responses((status = 200, body = Vec<PromotionView>), (status = "4XX", body = ErrorBody)))]
async fn promotions(State(ordo): State<Ordo>, _: Authorized<need::MasterDataRead>) -> Result<Json<Vec<PromotionView>>, ApiError> {
    Ok(Json(ordo.procurement().promotions().await?.into_iter().map(PromotionView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PromotionRequest {
    name: String,
    channel: Option<String>,
    /// Every SKU when absent.
    sku: Option<String>,
    starts_on: chrono::NaiveDate,
    ends_on: chrono::NaiveDate,
}

/// Puts a promotion on the calendar: forecasts take its days out of the history and put the
/// uplift back on its days to come.
#[utoipa::path(post, path = "/api/v1/promotions", security(("bearer" = ["master_data.write"])), tag = "procurement",
    request_body = PromotionRequest, responses((status = 201, body = PromotionView), (status = "4XX", body = ErrorBody)))]
async fn create_promotion(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    ValidJson(body): ValidJson<PromotionRequest>,
) -> Result<(StatusCode, Json<PromotionView>), ApiError> {
    let made = ordo
        .procurement().create_promotion(&body.name, body.channel.as_deref(), body.sku.as_deref(), body.starts_on, body.ends_on, &caller.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(made.into())))
}

//! The ledger's reports, exchange rates and marketplace settlements.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ordo_app::Ordo;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(trial_balance))
        .routes(routes!(set_exchange_rate))
        .merge(
            // A settlement report is a file of many megabytes.
            OpenApiRouter::new().routes(routes!(import_settlement)).layer(axum::extract::DefaultBodyLimit::max(SETTLEMENT_LIMIT_BYTES)),
        )
        .routes(routes!(settlements))
        .routes(routes!(settlement_lines))
        .routes(routes!(create_account))
        .routes(routes!(post_entry))
}

/// One account's totals, as decimal strings in the base currency.
#[derive(Serialize, ToSchema)]
struct AccountTotals {
    code: String,
    name: String,
    #[schema(example = "1250.00")]
    debit: String,
    #[schema(example = "0.00")]
    credit: String,
}

#[derive(Serialize, ToSchema)]
struct TrialBalance {
    /// The base currency every amount is in.
    #[schema(example = "USD")]
    currency: String,
    accounts: Vec<AccountTotals>,
    total_debit: String,
    total_credit: String,
}

/// Every account's debits and credits in base currency; the totals are equal.
#[utoipa::path(get, path = "/api/v1/ledger/trial-balance", security(("bearer" = ["ledger.read"])), tag = "ledger",
    responses((status = 200, body = TrialBalance), (status = "4XX", body = ErrorBody)))]
async fn trial_balance(State(ordo): State<Ordo>, _: Authorized<need::LedgerRead>) -> Result<Json<TrialBalance>, ApiError> {
    let balance = ordo.ledger().trial_balance().await?;
    let currency = balance.currency;
    let decimal = |minor| ordo_domain::money::total_decimal(minor, currency);
    Ok(Json(TrialBalance {
        currency: currency.code().to_owned(),
        accounts: balance
            .accounts
            .into_iter()
            .map(|a| AccountTotals { debit: decimal(a.debit), credit: decimal(a.credit), code: a.code, name: a.name })
            .collect(),
        total_debit: decimal(balance.total_debit),
        total_credit: decimal(balance.total_credit),
    }))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ExchangeRate {
    /// Units of the base currency one unit of this currency buys, such as "1.085".
    rate: String,
    /// From when it applies; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    valid_from: Option<chrono::DateTime<chrono::Utc>>,
}

/// Sets the rate into the base currency that entries in this currency are booked at from
/// `valid_from` on.
#[utoipa::path(put, path = "/api/v1/exchange-rates/{currency}", security(("bearer" = ["master_data.write"])), tag = "ledger", params(("currency" = String, Path)),
    request_body = ExchangeRate,
    responses((status = 200, body = ExchangeRate), (status = "4XX", body = ErrorBody)))]
async fn set_exchange_rate(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    Path(currency): Path<String>,
    ValidJson(body): ValidJson<ExchangeRate>,
) -> Result<Json<ExchangeRate>, ApiError> {
    let micros = ordo.ledger().set_exchange_rate(&currency, &body.rate, body.valid_from, &caller.actor).await?;
    let rate = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    Ok(Json(ExchangeRate { rate, valid_from: body.valid_from }))
}

/// The largest settlement report the API takes; larger ones go through `ordo settlement import`.
const SETTLEMENT_LIMIT_BYTES: usize = 128 * 1024 * 1024;

/// What importing a settlement did.
#[derive(Serialize, ToSchema)]
struct SettlementImported {
    id: uuid::Uuid,
    /// The channel's id of the settlement or payout.
    external_id: String,
    #[schema(example = "amazon-v2")]
    format: String,
    #[schema(example = "1080.00")]
    total: String,
    currency: String,
    lines: usize,
    /// Lines matched to one of our orders.
    matched: usize,
    /// Lines naming an order we do not have.
    unmatched: usize,
    /// `reconciliation` exceptions raised for finance.
    exceptions: usize,
    /// The same report was imported before; nothing changed.
    already_imported: bool,
}

/// Imports a settlement report of the channel, sent as the body as it is (UTF-8 or Latin-1, up
/// to 128 MiB): an Amazon-style V2 flat file (tab-separated) or a Shopify-style payout
/// (`{"payout": …, "transactions": […]}`).
/// Its lines are matched to orders, its fees, refunds, reserves and deposit booked, and what
/// does not agree raised as `reconciliation` exceptions. 201 when imported; 200 when the same
/// report was imported before (nothing changes); 422 naming the line and column of a bad cell,
/// or the difference when the lines do not sum to the total.
#[utoipa::path(post, path = "/api/v1/channels/{channel}/settlements", security(("bearer" = ["ledger.write"])), tag = "ledger", params(("channel" = String, Path)),
    request_body(content = String, content_type = "text/tab-separated-values"),
    responses((status = 201, body = SettlementImported), (status = 200, body = SettlementImported), (status = "4XX", body = ErrorBody)))]
async fn import_settlement(
    State(ordo): State<Ordo>,
    auth: Authorized<need::LedgerWrite>,
    Path(channel): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<SettlementImported>), ApiError> {
    let report = ordo_domain::settlement::decode(&body);
    let imported = ordo.settlements().import_settlement(&channel, &report, &auth.actor).await?;
    let status = if imported.already_imported { StatusCode::OK } else { StatusCode::CREATED };
    Ok((
        status,
        Json(SettlementImported {
            id: imported.id,
            external_id: imported.external_id,
            format: imported.format.to_owned(),
            total: imported.total.to_decimal_string(),
            currency: imported.total.currency().code().to_owned(),
            lines: imported.lines,
            matched: imported.matched,
            unmatched: imported.unmatched,
            exceptions: imported.exceptions,
            already_imported: imported.already_imported,
        }),
    ))
}

/// A settlement and how much of it reconciled.
#[derive(Serialize, ToSchema)]
struct SettlementStatus {
    id: uuid::Uuid,
    channel: String,
    external_id: String,
    format: String,
    deposit_date: chrono::NaiveDate,
    total: String,
    currency: String,
    lines: i64,
    matched: i64,
    unmatched: i64,
    exceptions: i64,
    /// `reconciled` when every order line matched and nothing was raised; else `exceptions`.
    status: &'static str,
    imported_at: chrono::DateTime<chrono::Utc>,
}

/// Every settlement imported, newest deposit first, with its reconciliation status.
#[utoipa::path(get, path = "/api/v1/settlements", security(("bearer" = ["ledger.read"])), tag = "ledger",
    responses((status = 200, body = Vec<SettlementStatus>), (status = "4XX", body = ErrorBody)))]
async fn settlements(State(ordo): State<Ordo>, _: Authorized<need::LedgerRead>) -> Result<Json<Vec<SettlementStatus>>, ApiError> {
    let list = ordo.settlements().list().await?;
    Ok(Json(
        list.into_iter()
            .map(|s| SettlementStatus {
                status: if s.reconciled() { "reconciled" } else { "exceptions" },
                total: s.total.to_decimal_string(),
                currency: s.total.currency().code().to_owned(),
                id: s.id,
                channel: s.channel,
                external_id: s.external_id,
                format: s.format,
                deposit_date: s.deposit_date,
                lines: s.line_count,
                matched: s.matched,
                unmatched: s.unmatched,
                exceptions: s.exceptions,
                imported_at: s.imported_at,
            })
            .collect(),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LineFilter {
    /// Only the lines that name an order but matched none.
    unmatched: Option<bool>,
    /// At most this many lines (1–5,000, 500 when absent).
    #[param(minimum = 1, maximum = 5000)]
    limit: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
}

/// One line of a settlement, with the order and line it matched.
#[derive(Serialize, ToSchema)]
struct SettlementLineBody {
    row: i64,
    kind: String,
    order_ref: Option<String>,
    item_ref: Option<String>,
    sku: Option<String>,
    quantity: Option<i64>,
    description: String,
    /// Signed from the seller's side, in the settlement's currency.
    amount: String,
    order_id: Option<uuid::Uuid>,
    line_no: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct SettlementLines {
    settlement: uuid::Uuid,
    external_id: String,
    currency: String,
    lines: Vec<SettlementLineBody>,
}

/// A settlement's lines in report order, with what each matched; `unmatched=true` for the
/// ones that name an order Ordo could not find.
#[utoipa::path(get, path = "/api/v1/settlements/{id}/lines", security(("bearer" = ["ledger.read"])), tag = "ledger",
    params(("id" = String, Path), LineFilter),
    responses((status = 200, body = SettlementLines), (status = "4XX", body = ErrorBody)))]
async fn settlement_lines(
    State(ordo): State<Ordo>,
    _: Authorized<need::LedgerRead>,
    Path(id): Path<String>,
    ValidQuery(filter): ValidQuery<LineFilter>,
) -> Result<Json<SettlementLines>, ApiError> {
    let id = crate::extract::path_id(&id)?;
    let (settlement, lines) =
        ordo.settlements().settlement_lines(id, filter.unmatched.unwrap_or(false), filter.limit.unwrap_or(500), filter.offset.unwrap_or(0)).await?;
    let currency = settlement.total.currency();
    Ok(Json(SettlementLines {
        settlement: settlement.id,
        external_id: settlement.external_id,
        currency: currency.code().to_owned(),
        lines: lines
            .into_iter()
            .map(|l| SettlementLineBody {
                amount: ordo_domain::Money::from_minor(l.amount_minor, currency).to_decimal_string(),
                row: l.row_no,
                kind: l.kind,
                order_ref: l.order_ref,
                item_ref: l.item_ref,
                sku: l.sku,
                quantity: l.quantity,
                description: l.description,
                order_id: l.order_id,
                line_no: l.line_no,
            })
            .collect(),
    }))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    #[schema(example = "5500")]
    code: String,
    #[schema(example = "Advertising")]
    name: String,
    /// asset, liability, equity, revenue or expense.
    #[schema(example = "expense")]
    kind: String,
}

/// Opens an account in the chart of accounts.
#[utoipa::path(post, path = "/api/v1/ledger/accounts", security(("bearer" = ["ledger.write"])), tag = "ledger", request_body = NewAccount,
    responses((status = 201, body = NewAccount), (status = "4XX", body = ErrorBody)))]
async fn create_account(
    State(ordo): State<Ordo>,
    caller: Authorized<need::LedgerWrite>,
    ValidJson(body): ValidJson<NewAccount>,
) -> Result<(StatusCode, Json<NewAccount>), ApiError> {
    ordo.ledger().create_account(&body.code, &body.name, &body.kind, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ManualLine {
    account: String,
    /// A decimal string; give a debit or a credit.
    #[serde(default)]
    debit: Option<String>,
    #[serde(default)]
    credit: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ManualEntry {
    /// Why the entry is made.
    memo: String,
    /// The entry's currency; the base currency when absent.
    #[serde(default)]
    currency: Option<String>,
    lines: Vec<ManualLine>,
}

#[derive(Serialize, ToSchema)]
struct Posted {
    /// The entry's source, `manual:…`, to find it in the general ledger.
    source: String,
}

/// Posts a journal entry written by a person: balanced, on accounts of the chart (not the
/// inventory account, which stock movements keep). An entry that does not balance is 422 and
/// posts nothing.
#[utoipa::path(post, path = "/api/v1/ledger/entries", security(("bearer" = ["ledger.write"])), tag = "ledger", request_body = ManualEntry,
    responses((status = 201, body = Posted), (status = "4XX", body = ErrorBody)))]
async fn post_entry(
    State(ordo): State<Ordo>,
    auth: Authorized<need::LedgerWrite>,
    ValidJson(body): ValidJson<ManualEntry>,
) -> Result<(StatusCode, Json<Posted>), ApiError> {
    let lines: Vec<ordo_app::ManualLine> =
        body.lines.into_iter().map(|l| ordo_app::ManualLine { account: l.account, debit: l.debit, credit: l.credit }).collect();
    let source = ordo.ledger().post_manual_entry(&body.memo, body.currency.as_deref(), &lines, &auth.actor).await?;
    Ok((StatusCode::CREATED, Json(Posted { source })))
}

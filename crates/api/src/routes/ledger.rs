//! The ledger's reports.

use axum::extract::{Path, State};
use axum::Json;
use ordo_app::Ordo;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, Authorized, ValidJson};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new().routes(routes!(trial_balance)).routes(routes!(set_exchange_rate))
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
#[utoipa::path(get, path = "/api/v1/ledger/trial-balance", tag = "ledger",
    responses((status = 200, body = TrialBalance), (status = "4XX", body = ErrorBody)))]
async fn trial_balance(State(ordo): State<Ordo>, _: Authorized<need::LedgerRead>) -> Result<Json<TrialBalance>, ApiError> {
    let balance = ordo.trial_balance().await?;
    let currency = balance.total_debit.currency();
    let decimal = |minor: i64| ordo_domain::Money::from_minor(minor, currency).to_decimal_string();
    Ok(Json(TrialBalance {
        currency: currency.code().to_owned(),
        accounts: balance
            .accounts
            .into_iter()
            .map(|a| AccountTotals { debit: decimal(a.debit), credit: decimal(a.credit), code: a.code, name: a.name })
            .collect(),
        total_debit: balance.total_debit.to_decimal_string(),
        total_credit: balance.total_credit.to_decimal_string(),
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
#[utoipa::path(put, path = "/api/v1/exchange-rates/{currency}", tag = "ledger", params(("currency" = String, Path)),
    request_body = ExchangeRate,
    responses((status = 200, body = ExchangeRate), (status = "4XX", body = ErrorBody)))]
async fn set_exchange_rate(
    State(ordo): State<Ordo>,
    _: Authorized<need::MasterDataWrite>,
    Path(currency): Path<String>,
    ValidJson(body): ValidJson<ExchangeRate>,
) -> Result<Json<ExchangeRate>, ApiError> {
    let micros = ordo.set_exchange_rate(&currency, &body.rate, body.valid_from).await?;
    let rate = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    Ok(Json(ExchangeRate { rate, valid_from: body.valid_from }))
}

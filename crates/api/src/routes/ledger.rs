//! The ledger's reports.

use axum::extract::State;
use axum::Json;
use ordo_app::Ordo;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, Authorized};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new().routes(routes!(trial_balance))
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

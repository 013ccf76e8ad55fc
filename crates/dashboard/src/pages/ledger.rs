//! The books: the trial balance in base currency, and whether they hold.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ordo_domain::Money;

use super::{Layout, Page};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::session::Session;

/// One account's row, formatted; zero sides left blank.
struct AccountRow {
    code: String,
    name: String,
    debit: String,
    credit: String,
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    layout: Layout,
    currency: String,
    accounts: Vec<AccountRow>,
    total_debit: String,
    total_credit: String,
    /// Every entry balances and the inventory account equals stock at cost.
    holds: bool,
    inventory_account: String,
    valued_stock: String,
}

/// An amount in the base currency, blank when zero so the table reads like a ledger.
fn amount(minor: i64, currency: ordo_domain::Currency) -> String {
    if minor == 0 { String::new() } else { Money::from_minor(minor, currency).to_decimal_string() }
}

pub(crate) async fn trial_balance(session: Session, State(dashboard): State<Dashboard>) -> Result<Response, PageError> {
    let layout = session.open(Page::Ledger)?;
    let balance = dashboard.ordo.trial_balance().await.map_err(|e| layout.fail(e))?;
    let check = dashboard.ordo.check_ledger().await.map_err(|e| layout.fail(e))?;
    let currency = balance.total_debit.currency();
    let accounts = balance
        .accounts
        .into_iter()
        .map(|a| AccountRow { debit: amount(a.debit, currency), credit: amount(a.credit, currency), code: a.code, name: a.name })
        .collect();
    let page = LedgerPage {
        layout,
        currency: currency.code().to_owned(),
        accounts,
        total_debit: balance.total_debit.to_decimal_string(),
        total_credit: balance.total_credit.to_decimal_string(),
        holds: check.holds(),
        inventory_account: Money::from_minor(check.inventory_account, currency).to_decimal_string(),
        valued_stock: Money::from_minor(check.valued_stock, currency).to_decimal_string(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    #[test]
    fn zero_amounts_are_left_blank() {
        assert_eq!(super::amount(0, ordo_domain::Currency::USD), "");
        assert_eq!(super::amount(12345, ordo_domain::Currency::USD), "123.45");
    }
}

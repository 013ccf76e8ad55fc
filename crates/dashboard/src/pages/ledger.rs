//! The books: the trial balance in base currency, whether they hold, and the marketplace
//! settlements with how far each reconciled.

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

/// One imported settlement's row.
struct SettlementRow {
    channel: String,
    external_id: String,
    deposit_date: String,
    total: String,
    currency: String,
    lines: i64,
    matched: i64,
    unmatched: i64,
    exceptions: i64,
    reconciled: bool,
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
    settlements: Vec<SettlementRow>,
}

/// An amount in the base currency, blank when zero so the table reads like a ledger.
fn amount(minor: i64, currency: ordo_domain::Currency) -> String {
    if minor == 0 { String::new() } else { Money::from_minor(minor, currency).to_decimal_string() }
}

pub(crate) async fn trial_balance(session: Session, State(dashboard): State<Dashboard>) -> Result<Response, PageError> {
    let layout = session.open(Page::Ledger)?;
    let balance = dashboard.ordo.trial_balance().await.map_err(|e| layout.fail(e))?;
    let check = dashboard.ordo.check_ledger().await.map_err(|e| layout.fail(e))?;
    let settlements = dashboard.ordo.settlements().await.map_err(|e| layout.fail(e))?;
    let currency = balance.total_debit.currency();
    let settlements = settlements
        .into_iter()
        .map(|s| SettlementRow {
            total: ordo_domain::Currency::from_code(&s.currency)
                .map_or_else(|_| s.total_minor.to_string(), |c| Money::from_minor(s.total_minor, c).to_decimal_string()),
            reconciled: s.unmatched == 0 && s.exceptions == 0,
            channel: s.channel,
            external_id: s.external_id,
            deposit_date: s.deposit_date.to_string(),
            currency: s.currency,
            lines: s.line_count,
            matched: s.matched,
            unmatched: s.unmatched,
            exceptions: s.exceptions,
        })
        .collect();
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
        settlements,
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

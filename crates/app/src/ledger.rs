//! The books: operational events post balanced entries in their own transaction, by the rules
//! in `ordo_domain::ledger`; the trial balance reads them back.

use chrono::{DateTime, Utc};
use ordo_domain::ledger::{self, AccountBalance, AccountKind, Entry};
use ordo_domain::{FieldError, Money};
use ordo_storage::Tx;

use crate::{AppError, AppResult, Ordo};

/// The trial balance in base currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialBalance {
    pub accounts: Vec<AccountBalance>,
    pub total_debit: Money,
    pub total_credit: Money,
}

/// What the books must always say: every entry balances, and the inventory account equals the
/// stock valued at cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheck {
    pub unbalanced_entries: usize,
    pub trial_balance_difference: i64,
    pub inventory_account: i64,
    pub valued_stock: i64,
}

impl LedgerCheck {
    pub fn holds(&self) -> bool {
        self.unbalanced_entries == 0 && self.trial_balance_difference == 0 && self.inventory_account == self.valued_stock
    }
}

impl Ordo {
    /// Opens the default chart of accounts where it is missing.
    pub(crate) async fn open_default_chart(tx: &mut Tx, now: DateTime<Utc>) -> AppResult<()> {
        let chart: Vec<(String, String, AccountKind)> =
            ledger::DEFAULT_CHART.iter().map(|(code, name, kind)| ((*code).to_owned(), (*name).to_owned(), *kind)).collect();
        Ok(tx.ensure_accounts(&chart, now).await?)
    }

    /// Posts `entry` in the caller's transaction, opening a channel's receivable the first time
    /// it is used. Entries are kept in base currency for now: another currency is refused until
    /// exchange rates exist.
    pub(crate) async fn post(&self, tx: &mut Tx, entry: Entry, actor: &str, now: DateTime<Utc>) -> AppResult<()> {
        if entry.is_empty() {
            return Ok(());
        }
        if entry.currency != self.settings.base_currency {
            let message = format!(
                "{} is not the base currency {}, and Ordo does not yet convert between currencies",
                entry.currency, self.settings.base_currency
            );
            return Err(FieldError::new("currency", message).into());
        }
        let receivables: Vec<(String, String, AccountKind)> = entry
            .lines
            .iter()
            .filter_map(|l| l.account.strip_prefix("1100-").map(|channel| (l.account.clone(), channel.to_owned())))
            .map(|(code, channel)| (code, format!("Receivable from {channel}"), AccountKind::Asset))
            .collect();
        tx.ensure_accounts(&receivables, now).await?;
        tx.insert_entry(&entry, (1, 1), actor, now).await?;
        Ok(())
    }

    /// Every account's debits and credits in base currency, and their totals.
    pub async fn trial_balance(&self) -> AppResult<TrialBalance> {
        let accounts = self.db.read().await?.trial_balance().await?;
        let base = self.settings.base_currency;
        let sum = |side: fn(&AccountBalance) -> i64| -> AppResult<Money> {
            let total = accounts.iter().try_fold(0i64, |t, a| t.checked_add(side(a)));
            let total = total.ok_or_else(|| AppError::Invalid(FieldError::new("ledger", "totals overflow")))?;
            Ok(Money::from_minor(total, base))
        };
        Ok(TrialBalance { total_debit: sum(|a| a.debit)?, total_credit: sum(|a| a.credit)?, accounts })
    }

    /// Checks the books against themselves and against stock.
    pub async fn check_ledger(&self) -> AppResult<LedgerCheck> {
        let mut tx = self.db.read().await?;
        let unbalanced_entries = tx.unbalanced_entries().await?.len();
        let balances = tx.trial_balance().await?;
        let valued_stock = tx.valued_stock().await?;
        let trial_balance_difference = balances.iter().map(|a| i128::from(a.debit) - i128::from(a.credit)).sum::<i128>() as i64;
        let inventory_account =
            balances.iter().find(|a| a.code == ledger::INVENTORY).map_or(0, |a| a.debit - a.credit);
        Ok(LedgerCheck { unbalanced_entries, trial_balance_difference, inventory_account, valued_stock })
    }
}

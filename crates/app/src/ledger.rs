//! The books: operational events post balanced entries in their own transaction, by the rules
//! in `ordo_domain::ledger`; the trial balance reads them back.

use chrono::{DateTime, Utc};
use ordo_domain::ledger::{self, AccountBalance, AccountKind, Entry};
use ordo_domain::money::Total;
use ordo_domain::{FieldError, Money};
use ordo_storage::Tx;

use ordo_domain::audit::Change;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Ledger};

/// The trial balance in base currency minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialBalance {
    pub currency: ordo_domain::Currency,
    pub accounts: Vec<AccountBalance>,
    pub total_debit: Total,
    pub total_credit: Total,
}

/// What the books must always say: every entry balances, and the inventory account equals the
/// stock valued at cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheck {
    pub unbalanced_entries: usize,
    /// SKUs whose valued units differ from their units on hand and in transit.
    pub valuation_mismatches: usize,
    pub trial_balance_difference: Total,
    pub inventory_account: Total,
    pub valued_stock: Total,
}

impl LedgerCheck {
    pub fn holds(&self) -> bool {
        self.unbalanced_entries == 0
            && self.valuation_mismatches == 0
            && self.trial_balance_difference == 0
            && self.inventory_account == self.valued_stock
    }
}

/// Whether every account of the default chart is open already.
pub async fn default_chart_open(tx: &mut Tx) -> AppResult<bool> {
    let open = tx.account_codes().await?;
    Ok(ledger::DEFAULT_CHART.iter().all(|(code, ..)| open.iter().any(|c| c == code)))
}

/// Opens the default chart of accounts where it is missing.
pub async fn open_default_chart(tx: &mut Tx, now: DateTime<Utc>) -> AppResult<()> {
    let chart: Vec<(String, String, AccountKind)> =
        ledger::DEFAULT_CHART.iter().map(|(code, name, kind)| ((*code).to_owned(), (*name).to_owned(), *kind)).collect();
    Ok(tx.ensure_accounts(&chart, now).await?)
}

impl Ledger<'_> {
    /// Posts `entry` in the caller's transaction, opening a channel's receivable the first time
    /// it is used. An entry in another currency carries its base amounts at the rate in force;
    /// without one it is refused, naming the currency.
    pub async fn post(self, tx: &mut Tx, entry: Entry, actor: &str, now: DateTime<Utc>) -> AppResult<()> {
        if entry.is_empty() {
            return Ok(());
        }
        let base = self.settings.base_currency;
        let amounts = if entry.currency == base {
            entry.lines.iter().map(|l| (l.debit, l.credit)).collect()
        } else {
            let Some(rate) = tx.exchange_rate(entry.currency.code(), now).await? else {
                let message = format!(
                    "no exchange rate from {} to the base currency {base} as of {}: set one with PUT /api/v1/exchange-rates/{}",
                    entry.currency,
                    now.format("%Y-%m-%d %H:%M UTC"),
                    entry.currency
                );
                return Err(FieldError::new("currency", message).into());
            };
            ledger::base_amounts(&entry, base, rate).map_err(|_| {
                FieldError::new("currency", format!("in the base currency {base}, an amount is beyond {}", ordo_domain::Money::max(base)))
            })?
        };
        let receivables: Vec<(String, String, AccountKind)> = entry
            .lines
            .iter()
            .filter_map(|l| l.account.strip_prefix("1100-").map(|channel| (l.account.clone(), channel.to_owned())))
            .map(|(code, channel)| (code, format!("Receivable from {channel}"), AccountKind::Asset))
            .collect();
        tx.ensure_accounts(&receivables, now).await?;
        tx.insert_entry(&entry, &amounts, actor, now).await?;
        Ok(())
    }

    /// Opens an account in the chart: finance extends the default one.
    pub async fn create_account(self, code: &str, name: &str, kind: &str, actor: &Actor) -> AppResult<()> {
        let code = ordo_domain::field::code("code", code)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(FieldError::new("name", "must be 1 to 200 characters").into());
        }
        let kind = AccountKind::parse(kind)
            .ok_or_else(|| FieldError::new("kind", "must be asset, liability, equity, revenue or expense"))?;
        let mut tx = self.db.write().await?;
        if tx.account_name(&code).await?.is_some() {
            return Err(AppError::Duplicate(FieldError::new("code", format!("account {code} exists already"))));
        }
        let change = Change::new("account.create", format!("account:{code}")).after(serde_json::json!({"name": name, "kind": kind.as_str()}));
        tx.ensure_accounts(&[(code, name.to_owned(), kind)], self.now()).await?;
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Posts a journal entry a person wrote (an accrual, a correction): balanced, on accounts
    /// of the chart, in `currency` (the base currency when absent). The inventory account is
    /// kept by stock movements alone, so it cannot be posted to by hand. Returns the entry's
    /// source, `manual:…`.
    pub async fn post_manual_entry(self, memo: &str, currency: Option<&str>, lines: &[ManualLine], actor: &Actor) -> AppResult<String> {
        let memo = memo.trim();
        if memo.is_empty() || memo.chars().count() > 500 {
            return Err(FieldError::new("memo", "must say why, in 1 to 500 characters").into());
        }
        let currency = match currency {
            Some(code) => ordo_domain::Currency::parse("currency", code)?,
            None => self.settings.base_currency,
        };
        if lines.len() < 2 {
            return Err(FieldError::new("lines", "an entry needs at least two lines").into());
        }
        let mut tx = self.db.write().await?;
        let mut postings = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let field = |name: &str| format!("lines[{i}].{name}");
            if line.account == ledger::INVENTORY {
                let message = "is kept by stock movements: record a receipt, adjustment or count instead";
                return Err(FieldError::new(field("account"), message).into());
            }
            if tx.account_name(&line.account).await?.is_none() {
                return Err(FieldError::new(field("account"), format!("no account {:?} in the chart", line.account)).into());
            }
            let side = |name: &str, value: &Option<String>| -> AppResult<i64> {
                value.as_deref().map_or(Ok(0), |v| Ok(Money::parse_non_negative(&field(name), v, currency)?.minor()))
            };
            let (debit, credit) = (side("debit", &line.debit)?, side("credit", &line.credit)?);
            if (debit > 0) == (credit > 0) {
                return Err(FieldError::new(field("debit"), "give a debit or a credit above zero, not both").into());
            }
            postings.push(ledger::Posting { account: line.account.clone(), debit, credit, sku: None, segment: None });
        }
        let source = format!("manual:{}", uuid::Uuid::now_v7());
        let lines: Vec<serde_json::Value> = postings
            .iter()
            .map(|p| serde_json::json!({"account": p.account, "debit": p.debit, "credit": p.credit}))
            .collect();
        let change = Change::new("entry.post", source.clone()).after(serde_json::json!({"currency": currency.code(), "lines": lines})).reason(memo);
        let entry = Entry::balanced(source.clone(), memo.to_owned(), currency, postings).map_err(FieldError::from)?;
        self.post(&mut tx, entry, &actor.to_string(), self.now()).await?;
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(source)
    }

    /// Sets the rate of `currency` into the base currency from `valid_from` (now when absent)
    /// on; `rate` is a decimal string such as "1.085". Returns the rate in millionths.
    pub async fn set_exchange_rate(
        &self,
        currency: &str,
        rate: &str,
        valid_from: Option<DateTime<Utc>>,
        actor: &Actor,
    ) -> AppResult<i64> {
        let currency = ordo_domain::Currency::parse("currency", currency)?;
        if currency == self.settings.base_currency {
            return Err(FieldError::new("currency", "is the base currency: its rate is 1").into());
        }
        let micros = ledger::parse_rate("rate", rate)?;
        let mut tx = self.db.write().await?;
        let valid_from = valid_from.unwrap_or_else(|| self.now());
        tx.set_exchange_rate(currency.code(), valid_from, micros).await?;
        let change = Change::new("exchange_rate.set", format!("exchange_rate:{}", currency.code()))
            .after(serde_json::json!({"rate": rate.trim(), "valid_from": valid_from}));
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(micros)
    }

    /// Imports the ECB's reference-rate XML: every day's rate of every currency Ordo keeps, in
    /// base currency, in one transaction. Returns how many rates were set and what was left out.
    pub async fn import_ecb_rates(self, xml: &str, actor: &Actor) -> AppResult<(usize, Vec<String>)> {
        let days = ordo_domain::rates::parse_ecb(xml)?;
        let (rates, skipped) = ordo_domain::rates::base_rates(&days, self.settings.base_currency)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        for rate in &rates {
            tx.set_exchange_rate(rate.currency.code(), rate.valid_from, rate.micros).await?;
        }
        let dates: Vec<String> = days.iter().map(|d| d.date.to_string()).collect();
        let change = Change::new("exchange_rate.import", "exchange_rate:ecb")
            .after(serde_json::json!({"source": "ECB reference rates", "days": dates, "rates": rates.len()}));
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok((rates.len(), skipped))
    }

    /// Every account's debits and credits in base currency, and their totals.
    pub async fn trial_balance(self) -> AppResult<TrialBalance> {
        let accounts = self.db.read().await?.trial_balance().await?;
        let total_debit = accounts.iter().map(|a| a.debit).sum();
        let total_credit = accounts.iter().map(|a| a.credit).sum();
        Ok(TrialBalance { currency: self.settings.base_currency, total_debit, total_credit, accounts })
    }

    /// Checks the books against themselves and against stock.
    pub async fn check_ledger(self) -> AppResult<LedgerCheck> {
        let mut tx = self.db.read().await?;
        let unbalanced_entries = tx.unbalanced_entries().await?.len();
        let balances = tx.trial_balance().await?;
        let valued_stock = tx.valued_stock().await?;
        let valuation_mismatches = tx.valuation_mismatches().await?.len();
        let trial_balance_difference = balances.iter().map(|a| a.debit - a.credit).sum();
        let inventory_account =
            balances.iter().find(|a| a.code == ledger::INVENTORY).map_or(0, |a| a.debit - a.credit);
        Ok(LedgerCheck { unbalanced_entries, valuation_mismatches, trial_balance_difference, inventory_account, valued_stock })
    }
}

/// A journal line as a person writes it: an account and a debit or a credit, decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualLine {
    pub account: String,
    #[serde(default)]
    pub debit: Option<String>,
    #[serde(default)]
    pub credit: Option<String>,
}

/// A period of the books: `[from, to)`, all time when unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
}

impl Period {
    /// The period's bounds in UTC: from the start of `from` to the end of `to`.
    pub(crate) fn bounds(self) -> AppResult<(DateTime<Utc>, DateTime<Utc>)> {
        let start = |date: chrono::NaiveDate| date.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        let from = match self.from {
            Some(date) => start(date).ok_or_else(|| FieldError::new("from", "is not a day"))?,
            None => chrono::NaiveDate::from_ymd_opt(1900, 1, 1).and_then(start).ok_or_else(|| FieldError::new("from", "is not a day"))?,
        };
        let to = match self.to {
            Some(date) => date.succ_opt().and_then(start).ok_or_else(|| FieldError::new("to", "is not a day"))?,
            // Four-digit years: SQLite compares times as text.
            None => chrono::NaiveDate::from_ymd_opt(9999, 1, 1).and_then(start).ok_or_else(|| FieldError::new("to", "is not a day"))?,
        };
        if from >= to {
            return Err(FieldError::new("to", "must not be before from").into());
        }
        Ok((from, to))
    }
}

/// One account's general ledger over a period, in base currency minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLedger {
    pub code: String,
    pub name: String,
    /// Debits less credits before the period (before the page, for a later page).
    pub opening: Total,
    pub lines: Vec<LedgerLine>,
}

/// One line of an account's general ledger, with the balance after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    pub posted_at: DateTime<Utc>,
    pub source: String,
    pub memo: String,
    pub debit: i64,
    pub credit: i64,
    pub balance: Total,
}

impl Ledger<'_> {
    /// The general ledger of account `code` over `period`: its opening balance and each line
    /// with the running balance, `limit` lines from `offset`.
    pub async fn account_ledger(self, code: &str, period: Period, limit: i64, offset: i64) -> AppResult<AccountLedger> {
        let (from, to) = period.bounds()?;
        let mut tx = self.db.read().await?;
        let name = tx.account_name(code).await?.ok_or_else(|| AppError::NotFound { what: "account", key: code.to_owned() })?;
        let mut balance = tx.account_balance_before(code, from).await?;
        let mut lines = Vec::new();
        // A later page opens where the one before it ended.
        if offset > 0 {
            for line in tx.account_lines(code, (from, to), offset, 0).await? {
                balance += Total::from(line.debit) - Total::from(line.credit);
            }
        }
        let opening = balance;
        for ordo_domain::ledger::PostedLine { posted_at, source, memo, debit, credit } in tx.account_lines(code, (from, to), limit, offset).await? {
            balance += Total::from(debit) - Total::from(credit);
            lines.push(LedgerLine { posted_at, source, memo, debit, credit, balance });
        }
        Ok(AccountLedger { code: code.to_owned(), name, opening, lines })
    }

    /// Contribution by channel over `period`, in base currency.
    pub async fn profitability_by_channel(self, period: Period) -> AppResult<(ordo_domain::Currency, Vec<ledger::Margin>)> {
        let (from, to) = period.bounds()?;
        let totals = self.db.read().await?.channel_account_totals(from, to).await?;
        Ok((self.settings.base_currency, ledger::margins(&totals)))
    }

    /// Contribution by customer segment over `period`, in base currency: what its customers'
    /// orders sold for, their cost, and the refunds and fees settlements charged against them.
    pub async fn profitability_by_segment(self, period: Period) -> AppResult<(ordo_domain::Currency, Vec<ledger::Margin>)> {
        let (from, to) = period.bounds()?;
        let totals = self.db.read().await?.segment_account_totals(from, to).await?;
        Ok((self.settings.base_currency, ledger::margins(&totals)))
    }

    /// Contribution by SKU over `period`, in base currency: what its units sold for, their
    /// cost, and the refunds and fees settlements charged against it.
    pub async fn profitability_by_sku(self, period: Period) -> AppResult<(ordo_domain::Currency, Vec<ledger::Margin>)> {
        let (from, to) = period.bounds()?;
        let totals = self.db.read().await?.sku_account_totals(from, to).await?;
        Ok((self.settings.base_currency, ledger::margins(&totals)))
    }

    /// Profit and loss over `period`, in base currency.
    pub async fn profit_and_loss(self, period: Period) -> AppResult<(ordo_domain::Currency, ledger::ProfitAndLoss)> {
        let (from, to) = period.bounds()?;
        let totals = self.db.read().await?.account_totals(from, to).await?;
        Ok((self.settings.base_currency, ledger::ProfitAndLoss::from_totals(&totals)))
    }
}

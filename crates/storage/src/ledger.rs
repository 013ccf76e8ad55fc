//! The ledger: accounts, journal entries written beside the events that cause them, and the
//! balances reports read.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use ordo_domain::ledger::{AccountBalance, AccountKind, AccountTotal, Entry, KeyedTotal, PostedLine, Posting};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::kpis::{day_key, parse_day};
use crate::{on_engine, StorageError, Tx, TxInner};

/// Report totals are [`Total`]s (`i128`): a sum of many `i64` amounts can pass `i64`'s limit,
/// and SQLite's `SUM` fails when it does. Both engines sum the high and the low part of each
/// amount apart (each far inside `i64` for a billion rows), and the two are joined here.
pub use ordo_domain::money::Total;

const SPLIT: i64 = 1_000_000_000;

/// Two result columns, the sums of `expression`'s high and low parts, both `BIGINT`.
/// `expression` is SQL the code writes, never input.
fn wide_sum(expression: &str) -> String {
    format!("CAST(COALESCE(SUM(({expression}) / {SPLIT}), 0) AS BIGINT), CAST(COALESCE(SUM(({expression}) % {SPLIT}), 0) AS BIGINT)")
}

/// The total of the two parts [`wide_sum`] gives.
fn wide(high: i64, low: i64) -> Total {
    Total::from(high) * Total::from(SPLIT) + Total::from(low)
}

impl Tx {
    /// The codes of the accounts open, in code order.
    pub async fn account_codes(&mut self) -> Result<Vec<String>, StorageError> {
        let sql = "SELECT code FROM accounts ORDER BY code";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).fetch_all(conn).await?))
    }

    /// Opens each account that does not exist yet; existing ones are left as they are.
    pub async fn ensure_accounts(&mut self, accounts: &[(String, String, AccountKind)], now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "INSERT INTO accounts (code, name, kind, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (code) DO NOTHING";
        for (code, name, kind) in accounts {
            on_engine!(self, |conn| sqlx::query(sql).bind(code).bind(name).bind(kind.as_str()).bind(now).execute(conn).await?.rows_affected());
        }
        Ok(())
    }

    /// Writes a balanced entry with each line's (debit, credit) in base currency minor units.
    pub async fn insert_entry(
        &mut self,
        entry: &Entry,
        base: &[(i64, i64)],
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Uuid, StorageError> {
        let id = Uuid::now_v7();
        let head = "INSERT INTO journal_entries (id, posted_at, source, memo, currency, actor, channel) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_engine!(self, |conn| sqlx::query(head)
            .bind(id)
            .bind(now)
            .bind(&entry.source)
            .bind(&entry.memo)
            .bind(entry.currency.code())
            .bind(actor)
            .bind(entry.channel.as_deref())
            .execute(conn)
            .await?
            .rows_affected());
        if entry.lines.is_empty() {
            return Ok(id);
        }
        let sql = format!(
            "INSERT INTO journal_lines (entry_id, line_no, account, debit_minor, credit_minor, base_debit_minor, base_credit_minor, sku, \
             segment) {}",
            crate::values(self.engine(), entry.lines.len(), 9)
        );
        on_engine!(self, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (i, (line, (base_debit, base_credit))) in entry.lines.iter().zip(base).enumerate() {
                query = query
                    .bind(id)
                    .bind(i as i64 + 1)
                    .bind(&line.account)
                    .bind(line.debit)
                    .bind(line.credit)
                    .bind(*base_debit)
                    .bind(*base_credit)
                    .bind(line.sku.as_deref())
                    .bind(line.segment.as_deref());
            }
            query.execute(conn).await?.rows_affected()
        });
        if let Some(channel) = entry.channel.as_deref() {
            self.add_journal_day(channel, &entry.lines, base, now).await?;
        }
        Ok(id)
    }

    /// Adds a channel's entry to its daily totals (`journal_days`): a row per account, each
    /// amount in [`wide_sum`]'s two parts.
    async fn add_journal_day(&mut self, channel: &str, lines: &[Posting], base: &[(i64, i64)], now: DateTime<Utc>) -> Result<(), StorageError> {
        let mut by_account: BTreeMap<&str, [i64; 4]> = BTreeMap::new();
        for (line, (debit, credit)) in lines.iter().zip(base) {
            let parts = by_account.entry(line.account.as_str()).or_default();
            parts[0] += debit / SPLIT;
            parts[1] += debit % SPLIT;
            parts[2] += credit / SPLIT;
            parts[3] += credit % SPLIT;
        }
        let day = day_key(now.date_naive());
        let sql = format!(
            "INSERT INTO journal_days (day, channel, account, debit_high, debit_low, credit_high, credit_low) {}",
            crate::values(self.engine(), by_account.len(), 7)
        );
        on_engine!(self, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (account, [debit_high, debit_low, credit_high, credit_low]) in &by_account {
                query = query.bind(&day).bind(channel).bind(*account).bind(*debit_high).bind(*debit_low).bind(*credit_high).bind(*credit_low);
            }
            query.execute(conn).await?.rows_affected()
        });
        Ok(())
    }

    /// Sets the rate of `currency` into the base currency from `valid_from` on.
    pub async fn set_exchange_rate(&mut self, currency: &str, valid_from: DateTime<Utc>, rate_micros: i64) -> Result<(), StorageError> {
        let sql = "INSERT INTO exchange_rates (currency, valid_from, rate_micros) VALUES ($1, $2, $3) \
                   ON CONFLICT (currency, valid_from) DO UPDATE SET rate_micros = excluded.rate_micros";
        on_engine!(self, |conn| sqlx::query(sql).bind(currency).bind(valid_from).bind(rate_micros).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// The rate of `currency` into the base currency in force at `at`, in millionths.
    pub async fn exchange_rate(&mut self, currency: &str, at: DateTime<Utc>) -> Result<Option<i64>, StorageError> {
        let sql = "SELECT rate_micros FROM exchange_rates WHERE currency = $1 AND valid_from <= $2 ORDER BY valid_from DESC LIMIT 1";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(currency).bind(at).fetch_optional(conn).await?))
    }

    /// Every account with its debits and credits in base currency, by code.
    pub async fn trial_balance(&mut self) -> Result<Vec<AccountBalance>, StorageError> {
        let sql = format!(
            "SELECT a.code, a.name, {}, {} FROM accounts a LEFT JOIN journal_lines l ON l.account = a.code \
             GROUP BY a.code, a.name ORDER BY a.code",
            wide_sum("l.base_debit_minor"),
            wide_sum("l.base_credit_minor")
        );
        let rows: Vec<(String, String, i64, i64, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).fetch_all(conn).await?);
        Ok(rows
            .into_iter()
            .map(|(code, name, dh, dl, ch, cl)| AccountBalance { code, name, debit: wide(dh, dl), credit: wide(ch, cl) })
            .collect())
    }

    /// Base-currency totals per (channel, account) of the entries posted in `[from, to)` that
    /// belong to a channel.
    pub async fn channel_account_totals(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<KeyedTotal>, StorageError> {
        let sql = format!(
            "SELECT e.channel, l.account, {}, {} FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id \
             WHERE e.channel IS NOT NULL AND e.posted_at >= $1 AND e.posted_at < $2 \
             GROUP BY e.channel, l.account ORDER BY e.channel, l.account",
            wide_sum("l.base_debit_minor"),
            wide_sum("l.base_credit_minor")
        );
        let rows: Vec<(String, String, i64, i64, i64, i64)> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).bind(to).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(key, account, dh, dl, ch, cl)| KeyedTotal { key, account, debit: wide(dh, dl), credit: wide(ch, cl) }).collect())
    }

    /// [`Tx::channel_account_totals`] per UTC day since `since`: what each channel earned and
    /// spent day by day, for trends, read from the daily totals.
    pub async fn channel_day_account_totals(&mut self, since: NaiveDate) -> Result<Vec<(NaiveDate, KeyedTotal)>, StorageError> {
        let sql = "SELECT day, channel, account, CAST(SUM(debit_high) AS BIGINT), CAST(SUM(debit_low) AS BIGINT), \
                   CAST(SUM(credit_high) AS BIGINT), CAST(SUM(credit_low) AS BIGINT) \
                   FROM journal_days WHERE day >= $1 GROUP BY day, channel, account";
        let rows: Vec<(String, String, String, i64, i64, i64, i64)> =
            on_engine!(self, |conn| sqlx::query_as(sql).bind(day_key(since)).fetch_all(conn).await?);
        rows.into_iter()
            .map(|(day, key, account, dh, dl, ch, cl)| Ok((parse_day(&day)?, KeyedTotal { key, account, debit: wide(dh, dl), credit: wide(ch, cl) })))
            .collect()
    }

    /// [`Tx::fold_order_event_days`] for the channels' daily journal totals (`journal_days`).
    pub async fn fold_journal_days(&mut self) -> Result<u64, StorageError> {
        self.fold_rows("journal_days", &["day", "channel", "account"], &["debit_high", "debit_low", "credit_high", "credit_low"]).await
    }

    /// Base-currency totals per (SKU, account) of the lines posted in `[from, to)` that belong
    /// to a SKU.
    pub async fn sku_account_totals(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<KeyedTotal>, StorageError> {
        self.line_dimension_totals("sku", from, to).await
    }

    /// Base-currency totals per (channel, SKU, account) of the lines posted in `[from, to)`
    /// whose entry is a channel's: the channel, and the totals keyed by SKU.
    pub async fn sku_channel_account_totals(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<(String, KeyedTotal)>, StorageError> {
        let sql = format!(
            "SELECT e.channel, l.sku, l.account, {}, {} FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id \
             WHERE l.sku IS NOT NULL AND e.channel IS NOT NULL AND e.posted_at >= $1 AND e.posted_at < $2 \
             GROUP BY e.channel, l.sku, l.account ORDER BY e.channel, l.sku, l.account",
            wide_sum("l.base_debit_minor"),
            wide_sum("l.base_credit_minor")
        );
        let rows: Vec<(String, String, String, i64, i64, i64, i64)> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).bind(to).fetch_all(conn).await?);
        Ok(rows
            .into_iter()
            .map(|(channel, key, account, dh, dl, ch, cl)| (channel, KeyedTotal { key, account, debit: wide(dh, dl), credit: wide(ch, cl) }))
            .collect())
    }

    /// Base-currency totals per (customer segment, account) of the lines posted in `[from,
    /// to)` that belong to an order's customer.
    pub async fn segment_account_totals(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<KeyedTotal>, StorageError> {
        self.line_dimension_totals("segment", from, to).await
    }

    /// `column` is one of journal_lines' dimensions, named by the code above, never by input.
    async fn line_dimension_totals(&mut self, column: &'static str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<KeyedTotal>, StorageError> {
        let sql = format!(
            "SELECT l.{column}, l.account, {}, {} FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id \
             WHERE l.{column} IS NOT NULL AND e.posted_at >= $1 AND e.posted_at < $2 \
             GROUP BY l.{column}, l.account ORDER BY l.{column}, l.account",
            wide_sum("l.base_debit_minor"),
            wide_sum("l.base_credit_minor")
        );
        let rows: Vec<(String, String, i64, i64, i64, i64)> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).bind(to).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(key, account, dh, dl, ch, cl)| KeyedTotal { key, account, debit: wide(dh, dl), credit: wide(ch, cl) }).collect())
    }

    /// The segment of the customer with this e-mail address, if Ordo knows the customer.
    pub async fn customer_segment(&mut self, email: &str) -> Result<Option<String>, StorageError> {
        let sql = "SELECT segment FROM customers WHERE email = $1";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(email).fetch_optional(conn).await?))
    }

    /// Base-currency totals per account, with its name and kind, of the entries posted in
    /// `[from, to)`.
    pub async fn account_totals(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AccountTotal>, StorageError> {
        let sql = format!(
            "SELECT a.code, a.name, a.kind, {}, {} \
             FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id JOIN accounts a ON a.code = l.account \
             WHERE e.posted_at >= $1 AND e.posted_at < $2 GROUP BY a.code, a.name, a.kind ORDER BY a.code",
            wide_sum("l.base_debit_minor"),
            wide_sum("l.base_credit_minor")
        );
        let rows: Vec<(String, String, String, i64, i64, i64, i64)> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).bind(to).fetch_all(conn).await?);
        rows.into_iter()
            .map(|(code, name, kind, dh, dl, ch, cl)| {
                let kind = AccountKind::parse(&kind).ok_or_else(|| crate::error::corrupt(&format!("unknown account kind {kind:?}")))?;
                Ok(AccountTotal { code, name, kind, debit: wide(dh, dl), credit: wide(ch, cl) })
            })
            .collect()
    }

    /// An account's name, if the account exists.
    pub async fn account_name(&mut self, code: &str) -> Result<Option<String>, StorageError> {
        let sql = "SELECT name FROM accounts WHERE code = $1";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(code).fetch_optional(conn).await?))
    }

    /// An account's base-currency balance (debits less credits) of the entries posted before `at`.
    pub async fn account_balance_before(&mut self, code: &str, at: DateTime<Utc>) -> Result<Total, StorageError> {
        let sql = format!(
            "SELECT {} FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id WHERE l.account = $1 AND e.posted_at < $2",
            wide_sum("l.base_debit_minor - l.base_credit_minor")
        );
        let (high, low): (i64, i64) = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(code).bind(at).fetch_one(conn).await?);
        Ok(wide(high, low))
    }

    /// An account's lines posted in `[from, to)`, oldest first, in base currency.
    pub async fn account_lines(
        &mut self,
        code: &str,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        limit: i64,
        offset: i64,
    ) -> Result<Vec<PostedLine>, StorageError> {
        let sql = "SELECT e.posted_at, e.source, e.memo, l.base_debit_minor, l.base_credit_minor \
                   FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id \
                   WHERE l.account = $1 AND e.posted_at >= $2 AND e.posted_at < $3 \
                   ORDER BY e.posted_at, e.id, l.line_no LIMIT $4 OFFSET $5";
        let rows: Vec<(DateTime<Utc>, String, String, i64, i64)> =
            on_engine!(self, |conn| sqlx::query_as(sql).bind(code).bind(from).bind(to).bind(limit).bind(offset).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(posted_at, source, memo, debit, credit)| PostedLine { posted_at, source, memo, debit, credit }).collect())
    }

    /// Entries whose lines do not balance, in their own currency: always none.
    pub async fn unbalanced_entries(&mut self) -> Result<Vec<Uuid>, StorageError> {
        let sql = "SELECT entry_id FROM journal_lines GROUP BY entry_id HAVING SUM(debit_minor) <> SUM(credit_minor)";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).fetch_all(conn).await?))
    }

    /// What the stock is worth at moving-average cost, in minor units of the base currency.
    pub async fn valued_stock(&mut self) -> Result<Total, StorageError> {
        let sql = format!("SELECT {} FROM sku_costs", wide_sum("value_minor"));
        let (high, low): (i64, i64) = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).fetch_one(conn).await?);
        Ok(wide(high, low))
    }

    /// SKUs whose valued units differ from the units on hand and in transit: always none.
    pub async fn valuation_mismatches(&mut self) -> Result<Vec<String>, StorageError> {
        let sql = "SELECT COALESCE(c.sku, stock.sku) FROM sku_costs c FULL OUTER JOIN \
                   (SELECT sku, CAST(SUM(units) AS BIGINT) AS units FROM \
                     (SELECT sku, on_hand AS units FROM stock_levels \
                      UNION ALL SELECT sku, quantity FROM transfers WHERE status = 'in_transit') s GROUP BY sku) stock \
                   ON stock.sku = c.sku WHERE COALESCE(c.units, 0) <> COALESCE(stock.units, 0)";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).fetch_all(conn).await?))
    }

    /// Locks the valuations of `skus` for a read and a write, on PostgreSQL, in SKU order: the
    /// order every writer takes them in, after the stock rows it changes. Without the lock two
    /// writers at different locations (a receipt at one, a shipment from another) could each
    /// read the same valuation and the later write would lose the earlier; taken line by line,
    /// the locks could deadlock. A SKU without a valuation gets an empty one first, so that its
    /// first is locked too. SQLite's writer holds every row already.
    pub async fn lock_valuations(&mut self, skus: &[&str]) -> Result<(), StorageError> {
        if let TxInner::Postgres(tx) = &mut self.inner {
            let ensure = "INSERT INTO sku_costs (sku, units, value_minor) \
                          SELECT DISTINCT sku, 0, 0 FROM unnest($1::text[]) AS sku ORDER BY sku ON CONFLICT (sku) DO NOTHING";
            sqlx::query(ensure).bind(skus).execute(&mut **tx).await?;
            let lock = "SELECT 1 FROM sku_costs WHERE sku = ANY($1) ORDER BY sku FOR UPDATE";
            sqlx::query(lock).bind(skus).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// A SKU's valuation; nothing held when it has none yet. A caller that will change it
    /// holds its lock ([`Tx::lock_valuations`]).
    pub async fn valuation(&mut self, sku: &str) -> Result<ordo_domain::ledger::Valuation, StorageError> {
        let sql = "SELECT units, value_minor FROM sku_costs WHERE sku = $1";
        let row: Option<(i64, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).bind(sku).fetch_optional(conn).await?);
        Ok(row.map_or_else(Default::default, |(units, value)| ordo_domain::ledger::Valuation { units, value }))
    }

    pub async fn set_valuation(&mut self, sku: &str, valuation: ordo_domain::ledger::Valuation) -> Result<(), StorageError> {
        let sql = "INSERT INTO sku_costs (sku, units, value_minor) VALUES ($1, $2, $3) \
                   ON CONFLICT (sku) DO UPDATE SET units = excluded.units, value_minor = excluded.value_minor";
        on_engine!(self, |conn| sqlx::query(sql).bind(sku).bind(valuation.units).bind(valuation.value).execute(conn).await?.rows_affected());
        Ok(())
    }
}

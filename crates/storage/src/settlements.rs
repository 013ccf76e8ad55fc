//! Settlements as imported, line by line, and the orders their lines are matched against.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use ordo_domain::reconcile::{SettledLine, SettledOrder};
use ordo_domain::{Currency, Money};

use crate::error::corrupt;
use crate::{on_engine, StorageError, Tx};

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: Uuid,
    channel: String,
    external_id: String,
    format: String,
    currency: String,
    deposit_date: NaiveDate,
    total_minor: i64,
    line_count: i64,
    matched: i64,
    unmatched: i64,
    exceptions: i64,
    imported_at: DateTime<Utc>,
}

impl TryFrom<SummaryRow> for SettlementSummary {
    type Error = StorageError;

    fn try_from(r: SummaryRow) -> Result<Self, StorageError> {
        let currency = Currency::from_code(&r.currency).map_err(|e| corrupt(&e.to_string()))?;
        Ok(SettlementSummary {
            id: r.id,
            channel: r.channel,
            external_id: r.external_id,
            format: r.format,
            deposit_date: r.deposit_date,
            total: Money::from_minor(r.total_minor, currency),
            line_count: r.line_count,
            matched: r.matched,
            unmatched: r.unmatched,
            exceptions: r.exceptions,
            imported_at: r.imported_at,
        })
    }
}

const SUMMARY: &str = "SELECT id, channel, external_id, format, currency, deposit_date, total_minor, line_count, matched, \
                       unmatched, exceptions, imported_at FROM settlements";

/// A settlement's head as it is written.
#[derive(Debug, Clone)]
pub struct SettlementRecord<'a> {
    pub id: Uuid,
    pub channel: &'a str,
    pub external_id: &'a str,
    pub format: &'a str,
    pub currency: &'a str,
    pub period: Option<(NaiveDate, NaiveDate)>,
    pub deposit_date: NaiveDate,
    pub total_minor: i64,
    pub content_sha256: &'a str,
    pub line_count: i64,
    pub matched: i64,
    pub unmatched: i64,
    pub exceptions: i64,
    pub actor: &'a str,
}

/// One line of a settlement as it is written, with the order and line it matched.
#[derive(Debug, Clone)]
pub struct SettlementLineRecord<'a> {
    pub row: i64,
    pub kind: &'a str,
    pub order_ref: Option<&'a str>,
    pub item_ref: Option<&'a str>,
    pub sku: Option<&'a str>,
    pub quantity: Option<i64>,
    pub description: &'a str,
    pub amount_minor: i64,
    pub order_id: Option<Uuid>,
    pub line_no: Option<i64>,
}

/// One line of a settlement as stored, with what it matched.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SettlementLine {
    /// Where it stood in the report: the file's line, or the transaction's position.
    pub row_no: i64,
    pub kind: String,
    pub order_ref: Option<String>,
    pub item_ref: Option<String>,
    pub sku: Option<String>,
    pub quantity: Option<i64>,
    pub description: String,
    pub amount_minor: i64,
    pub order_id: Option<Uuid>,
    pub line_no: Option<i64>,
}

/// A settlement as the list of settlements shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementSummary {
    pub id: Uuid,
    pub channel: String,
    pub external_id: String,
    pub format: String,
    pub deposit_date: NaiveDate,
    pub total: Money,
    pub line_count: i64,
    pub matched: i64,
    pub unmatched: i64,
    pub exceptions: i64,
    pub imported_at: DateTime<Utc>,
}

impl SettlementSummary {
    /// Every line naming an order matched one, and nothing was raised.
    pub fn reconciled(&self) -> bool {
        self.unmatched == 0 && self.exceptions == 0
    }
}

/// How many rows one multi-row statement writes or looks up.
const CHUNK: usize = 500;

impl Tx {
    /// A settlement's lines in report order, `limit` from `offset`; with `unmatched`, only the
    /// lines that name an order but matched none.
    pub async fn settlement_lines(&mut self, settlement: Uuid, unmatched: bool, limit: i64, offset: i64) -> Result<Vec<SettlementLine>, StorageError> {
        let sql = "SELECT row_no, kind, order_ref, item_ref, sku, quantity, description, amount_minor, order_id, line_no                    FROM settlement_lines WHERE settlement_id = $1 AND ($2 = 0 OR (order_ref IS NOT NULL AND order_id IS NULL))                    ORDER BY seq LIMIT $3 OFFSET $4";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(settlement).bind(i64::from(unmatched)).bind(limit).bind(offset).fetch_all(conn).await?))
    }

    /// The settlement the channel reported under `external_id`, with the digest of its content.
    pub async fn settlement_by_external_id(&mut self, channel: &str, external_id: &str) -> Result<Option<(Uuid, String)>, StorageError> {
        let sql = "SELECT id, content_sha256 FROM settlements WHERE channel = $1 AND external_id = $2";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(channel).bind(external_id).fetch_optional(conn).await?))
    }

    pub async fn insert_settlement(&mut self, s: &SettlementRecord<'_>, now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "INSERT INTO settlements (id, channel, external_id, format, currency, period_start, period_end, deposit_date, \
                   total_minor, content_sha256, line_count, matched, unmatched, exceptions, imported_at, actor) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(s.id)
            .bind(s.channel)
            .bind(s.external_id)
            .bind(s.format)
            .bind(s.currency)
            .bind(s.period.map(|p| p.0))
            .bind(s.period.map(|p| p.1))
            .bind(s.deposit_date)
            .bind(s.total_minor)
            .bind(s.content_sha256)
            .bind(s.line_count)
            .bind(s.matched)
            .bind(s.unmatched)
            .bind(s.exceptions)
            .bind(now)
            .bind(s.actor)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Writes a settlement's lines, numbered in order, a few hundred to a statement.
    pub async fn insert_settlement_lines(&mut self, settlement: Uuid, lines: &[SettlementLineRecord<'_>]) -> Result<(), StorageError> {
        for (chunk_no, chunk) in lines.chunks(CHUNK).enumerate() {
            let sql = format!(
                "INSERT INTO settlement_lines (settlement_id, seq, row_no, kind, order_ref, item_ref, sku, quantity, description, \
                 amount_minor, order_id, line_no) {}",
                crate::values(self.engine(), chunk.len(), 12)
            );
            on_engine!(self, |conn| {
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for (i, l) in chunk.iter().enumerate() {
                    query = query
                        .bind(settlement)
                        .bind((chunk_no * CHUNK + i + 1) as i64)
                        .bind(l.row)
                        .bind(l.kind)
                        .bind(l.order_ref)
                        .bind(l.item_ref)
                        .bind(l.sku)
                        .bind(l.quantity)
                        .bind(l.description)
                        .bind(l.amount_minor)
                        .bind(l.order_id)
                        .bind(l.line_no);
                }
                query.execute(conn).await?.rows_affected()
            });
        }
        Ok(())
    }

    /// The channel's orders among `external_ids`, by external id, with their totals and lines.
    pub async fn settled_orders(
        &mut self,
        channel: &str,
        external_ids: &[&str],
    ) -> Result<std::collections::HashMap<String, SettledOrder>, StorageError> {
        let mut orders = std::collections::HashMap::with_capacity(external_ids.len());
        for chunk in external_ids.chunks(CHUNK) {
            let keys = (2..chunk.len() + 2).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT o.external_id, o.id, o.total_minor, COALESCE(c.segment, 'consumer'), l.line_no, l.sku, l.channel_sku, l.item_id \
                 FROM orders o JOIN order_lines l ON l.order_id = o.id LEFT JOIN customers c ON c.email = o.customer_email WHERE o.channel = $1 AND o.external_id IN ({keys}) \
                 ORDER BY o.external_id, l.line_no"
            );
            /// (external id, order, total, segment, line, SKU, the channel's SKU, the channel's line id).
            type Row = (String, Uuid, i64, String, i64, String, Option<String>, Option<String>);
            let rows: Vec<Row> = on_engine!(self, |conn| {
                let mut query = sqlx::query_as(AssertSqlSafe(sql)).bind(channel);
                for id in chunk {
                    query = query.bind(*id);
                }
                query.fetch_all(conn).await?
            });
            for (external_id, id, total_minor, segment, line, sku, channel_sku, item_id) in rows {
                let order = orders.entry(external_id).or_insert_with(|| SettledOrder { id, total_minor, segment, lines: Vec::new() });
                order.lines.push(SettledLine { line, sku, channel_sku, item_id });
            }
        }
        Ok(orders)
    }

    /// Every settlement imported, newest deposit first.
    pub async fn settlements(&mut self) -> Result<Vec<SettlementSummary>, StorageError> {
        let sql = format!("{SUMMARY} ORDER BY deposit_date DESC, imported_at DESC");
        let rows: Vec<SummaryRow> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).fetch_all(conn).await?);
        rows.into_iter().map(SettlementSummary::try_from).collect()
    }

    pub async fn settlement(&mut self, id: Uuid) -> Result<Option<SettlementSummary>, StorageError> {
        let sql = format!("{SUMMARY} WHERE id = $1");
        let row: Option<SummaryRow> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?);
        row.map(SettlementSummary::try_from).transpose()
    }
}

//! The figures anomalies are judged on: day by day cancellations, write-offs, shipped and
//! returned units; the settlement fee lines behind fee anomalies; and the records behind each
//! finding, for its evidence.

use chrono::{DateTime, NaiveDate, Utc};
use ordo_domain::anomaly::fees::{LineRefund, SettledLine};
use ordo_domain::order::OrderStatus;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::kpis::parse_day;
use crate::{on_engine, StorageError, Tx};

/// What cancellation rates are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancellationsBy {
    Channel,
    Sku,
}

impl Tx {
    /// Per channel (or SKU) and UTC day of placing since `from`: orders placed (orders with a
    /// line of the SKU) and how many of them are cancelled now.
    pub async fn daily_cancellations(&mut self, by: CancellationsBy, from: DateTime<Utc>) -> Result<Vec<(String, NaiveDate, i64, i64)>, StorageError> {
        let day = self.utc_day("o.placed_at");
        let (key, from_clause) = match by {
            CancellationsBy::Channel => ("o.channel", "orders o"),
            CancellationsBy::Sku => ("l.sku", "order_lines l JOIN orders o ON o.id = l.order_id"),
        };
        let sql = format!(
            "SELECT {key}, {day}, CAST(SUM(CASE WHEN o.status = 'cancelled' THEN 1 ELSE 0 END) AS BIGINT), COUNT(*) \
             FROM {from_clause} WHERE o.placed_at >= $1 GROUP BY {key}, {day}"
        );
        let rows: Vec<(String, String, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).fetch_all(conn).await?);
        rows.into_iter().map(|(key, day, cancelled, placed)| Ok((key, parse_day(&day)?, cancelled, placed))).collect()
    }

    /// Up to `limit` orders of the channel (or with a line of the SKU) placed in `[from, to)`
    /// and cancelled: the evidence behind a spike.
    pub async fn cancelled_orders(&mut self, by: CancellationsBy, key: &str, from: DateTime<Utc>, to: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>, StorageError> {
        let filter = match by {
            CancellationsBy::Channel => "o.channel = $1",
            CancellationsBy::Sku => "EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.sku = $1)",
        };
        let sql = format!(
            "SELECT o.id FROM orders o WHERE {filter} AND o.status = 'cancelled' AND o.placed_at >= $2 AND o.placed_at < $3 ORDER BY o.placed_at, o.id LIMIT $4"
        );
        Ok(on_engine!(self, |conn| sqlx::query_scalar(AssertSqlSafe(sql)).bind(key).bind(from).bind(to).bind(limit).fetch_all(conn).await?))
    }
}

impl Tx {
    /// The subject and finding day (`details.day`) of each exception of `kind` raised since
    /// `since`: the findings a scan of the days since then must not raise again.
    pub async fn anomalies_raised_since(&mut self, kind: &str, since: DateTime<Utc>) -> Result<Vec<(String, Option<String>)>, StorageError> {
        let sql = "SELECT subject, details FROM exceptions WHERE kind = $1 AND created_at >= $2";
        let rows: Vec<(String, sqlx::types::Json<serde_json::Value>)> =
            on_engine!(self, |conn| sqlx::query_as(sql).bind(kind).bind(since).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(subject, details)| (subject, details.0.get("day").and_then(|d| d.as_str()).map(str::to_owned))).collect())
    }

    /// How many exceptions of `kind` were resolved, and how many of those with `code`.
    pub async fn resolutions(&mut self, kind: &str, code: &str) -> Result<(i64, i64), StorageError> {
        let sql = "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN resolution_code = $2 THEN 1 ELSE 0 END), 0) AS BIGINT) \
                   FROM exceptions WHERE kind = $1 AND resolution_code IS NOT NULL";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(kind).bind(code).fetch_one(conn).await?))
    }
}

/// Units removed by counts and adjustments at a location on one UTC day, and units shipped
/// from it that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationDay {
    pub location: String,
    pub day: NaiveDate,
    pub written_off: i64,
    pub shipped: i64,
}

/// A count or adjustment that removed stock: the evidence behind a stock variance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOff {
    pub sku: String,
    pub kind: String,
    pub units: i64,
    pub reason: String,
    pub actor: String,
    pub at: DateTime<Utc>,
}

impl Tx {
    /// Per location and UTC day since `from`: units counts and adjustments removed, and units
    /// shipped. Days with neither are absent.
    pub async fn daily_write_offs(&mut self, from: DateTime<Utc>) -> Result<Vec<LocationDay>, StorageError> {
        let day = self.utc_day("created_at");
        let sql = format!(
            "SELECT location, {day}, \
                    CAST(COALESCE(SUM(CASE WHEN kind IN ('count', 'adjustment') AND quantity < 0 THEN -quantity ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN kind = 'shipment' THEN -quantity ELSE 0 END), 0) AS BIGINT) \
             FROM stock_movements WHERE created_at >= $1 AND (kind = 'shipment' OR (kind IN ('count', 'adjustment') AND quantity < 0)) \
             GROUP BY location, {day}"
        );
        let rows: Vec<(String, String, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).fetch_all(conn).await?);
        rows.into_iter().map(|(location, day, written_off, shipped)| Ok(LocationDay { location, day: parse_day(&day)?, written_off, shipped })).collect()
    }

    /// The counts and adjustments that removed stock at `location` in `[from, to)`, largest
    /// first, up to `limit`.
    pub async fn write_offs(&mut self, location: &str, from: DateTime<Utc>, to: DateTime<Utc>, limit: i64) -> Result<Vec<WriteOff>, StorageError> {
        let sql = "SELECT sku, kind, -quantity, reason, actor, created_at FROM stock_movements \
                   WHERE location = $1 AND kind IN ('count', 'adjustment') AND quantity < 0 AND created_at >= $2 AND created_at < $3 \
                   ORDER BY quantity, id LIMIT $4";
        let rows: Vec<(String, String, i64, String, String, DateTime<Utc>)> =
            on_engine!(self, |conn| sqlx::query_as(sql).bind(location).bind(from).bind(to).bind(limit).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(sku, kind, units, reason, actor, at)| WriteOff { sku, kind, units, reason, actor, at }).collect())
    }

    /// Per SKU and UTC day since `from`, units shipped.
    pub async fn daily_shipped_units(&mut self, from: DateTime<Utc>) -> Result<Vec<(String, NaiveDate, i64)>, StorageError> {
        let day = self.utc_day("created_at");
        let sql = format!(
            "SELECT sku, {day}, CAST(SUM(-quantity) AS BIGINT) FROM stock_movements WHERE kind = 'shipment' AND created_at >= $1 GROUP BY sku, {day}"
        );
        let rows: Vec<(String, String, i64)> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).fetch_all(conn).await?);
        rows.into_iter().map(|(sku, day, units)| Ok((sku, parse_day(&day)?, units))).collect()
    }

    /// Per SKU, reason and UTC day a return was asked for since `from`, units asked to return.
    pub async fn daily_returned_units(&mut self, from: DateTime<Utc>) -> Result<Vec<(String, String, NaiveDate, i64)>, StorageError> {
        let day = self.utc_day("r.requested_at");
        let sql = format!(
            "SELECT l.sku, l.reason, {day}, CAST(SUM(l.quantity) AS BIGINT) FROM return_lines l JOIN returns r ON r.id = l.return_id \
             WHERE r.requested_at >= $1 GROUP BY l.sku, l.reason, {day}"
        );
        let rows: Vec<(String, String, String, i64)> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).fetch_all(conn).await?);
        rows.into_iter().map(|(sku, reason, day, units)| Ok((sku, reason, parse_day(&day)?, units))).collect()
    }

    /// Returns with a line of `sku` for `reason` asked for in `[from, to)`, up to `limit`.
    pub async fn returns_for(&mut self, sku: &str, reason: &str, from: DateTime<Utc>, to: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>, StorageError> {
        let sql = "SELECT r.id FROM returns r WHERE r.requested_at >= $3 AND r.requested_at < $4 \
                   AND EXISTS (SELECT 1 FROM return_lines l WHERE l.return_id = r.id AND l.sku = $1 AND l.reason = $2) \
                   ORDER BY r.requested_at, r.id LIMIT $5";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(sku).bind(reason).bind(from).bind(to).bind(limit).fetch_all(conn).await?))
    }

    /// Every sale, refund and fee line of an order in the settlements imported since `from`, oldest
    /// settlement first.
    pub async fn settled_order_lines(&mut self, from: DateTime<Utc>) -> Result<Vec<SettledLine>, StorageError> {
        let imported = self.utc_day("s.imported_at");
        let sql = format!(
            "SELECT s.id, s.channel, CAST(s.deposit_date AS TEXT), {imported}, CAST(s.period_end AS TEXT), l.seq, l.kind, l.description, \
                    l.amount_minor, l.order_id, o.status, COALESCE(ol.sku, l.sku), l.line_no, ol.quantity \
             FROM settlement_lines l JOIN settlements s ON s.id = l.settlement_id JOIN orders o ON o.id = l.order_id \
             LEFT JOIN order_lines ol ON ol.order_id = l.order_id AND ol.line_no = l.line_no \
             WHERE s.imported_at >= $1 AND l.kind IN ('sale', 'refund', 'marketplace_fee', 'payment_fee') \
             ORDER BY s.imported_at, s.id, l.seq"
        );
        type Row = (Uuid, String, String, String, Option<String>, i64, String, String, i64, Uuid, String, Option<String>, Option<i64>, Option<i64>);
        let rows: Vec<Row> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).fetch_all(conn).await?);
        rows.into_iter()
            .map(|(settlement, channel, deposit, imported, period_end, seq, kind, description, amount_minor, order_id, status, sku, line, quantity)| {
                let order_status = OrderStatus::parse(&status).ok_or_else(|| crate::error::corrupt("an order status Ordo does not know"))?;
                Ok(SettledLine {
                    settlement,
                    channel,
                    deposit_date: parse_day(&deposit)?,
                    seq,
                    imported: parse_day(&imported)?,
                    period_end: period_end.as_deref().map(|d| parse_day(&d[..d.len().min(10)])).transpose()?,
                    kind,
                    description,
                    amount_minor,
                    order_id,
                    order_status,
                    sku,
                    line,
                    quantity,
                })
            })
            .collect()
    }

    /// The refunds of the order lines of settlements imported since `from`: fees kept on
    /// lines refunded in full are judged by them.
    pub async fn settled_line_refunds(&mut self, from: DateTime<Utc>) -> Result<Vec<LineRefund>, StorageError> {
        let sql = "SELECT r.order_id, rl.line, r.created_at, rl.quantity FROM refund_lines rl JOIN refunds r ON r.id = rl.refund_id \
                   WHERE r.order_id IN (SELECT l.order_id FROM settlement_lines l JOIN settlements s ON s.id = l.settlement_id WHERE s.imported_at >= $1)";
        let rows: Vec<(Uuid, i64, DateTime<Utc>, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).bind(from).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(order, line, at, quantity)| LineRefund { order, line, at, quantity }).collect())
    }
}

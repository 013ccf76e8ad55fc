//! Daily counts behind the operating figures: orders by status and how they moved, the first
//! reservation of each order, orders shipped on time, exceptions raised and resolved. Every
//! count is by UTC day. The order counts are read from `order_event_days`, which the writers of
//! order events add to as they write (migration 46) and [`Tx::fold_order_event_days`] folds;
//! exceptions over an indexed time range.

use chrono::{DateTime, NaiveDate, Utc};
use ordo_domain::order::OrderStatus;
use sqlx::AssertSqlSafe;

use crate::error::corrupt;
use crate::{on_engine, StorageError, Tx, TxInner};

/// `YYYY-MM-DD` as [`Tx::utc_day`] writes it.
pub(crate) fn parse_day(day: &str) -> Result<NaiveDate, StorageError> {
    NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| corrupt("a day that is not YYYY-MM-DD"))
}

/// `'a', 'b'` for an SQL `IN (…)`: statuses are the domain's own names, never input.
pub(crate) fn status_list(statuses: &[OrderStatus]) -> String {
    statuses.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
}

/// A UTC day as the daily totals key it, `YYYY-MM-DD`: what [`parse_day`] reads back, and
/// the day of a stored time on either engine.
pub(crate) fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The statuses an order is routed to: a first step into one of them is its first routing.
pub(crate) const ROUTED: [OrderStatus; 2] = [OrderStatus::Allocated, OrderStatus::Backordered];

/// Orders that came into a set of statuses and went out of it on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayFlow {
    pub day: NaiveDate,
    pub entered: i64,
    pub left: i64,
}

/// Exceptions of one kind raised and resolved on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionDay {
    pub day: NaiveDate,
    pub kind: String,
    pub raised: i64,
    pub resolved: i64,
}

/// Unresolved exceptions of one kind now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedKind {
    pub kind: String,
    pub unresolved: i64,
    /// Past their due time.
    pub overdue: i64,
}

/// How many things wait in the queues that are plain counts of one table each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSizes {
    /// Waves open or picked: released and not yet closed.
    pub waves_open: i64,
    /// Returns in transit, to be received.
    pub returns_in_transit: i64,
    /// Returns received, to be inspected.
    pub returns_received: i64,
    /// Active SKUs with nothing free across all locations: on hand less reserved, summed,
    /// at most zero (none on hand counts). The same rule as `ordo_domain::kpi::out_of_stock`
    /// over [`Tx::positions`], counted here so no SKU's position leaves the database.
    pub skus_out_of_stock: i64,
}

impl Tx {
    /// How many orders are in each status now.
    pub async fn order_status_counts(&mut self) -> Result<Vec<(OrderStatus, i64)>, StorageError> {
        let sql = "SELECT status, COUNT(*) FROM orders GROUP BY status";
        let rows: Vec<(String, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        rows.into_iter().map(|(status, n)| Ok((OrderStatus::try_from(status).map_err(|_| corrupt("an order status"))?, n))).collect()
    }

    /// Per day since `since`: orders whose status came into `statuses` from outside them (or
    /// from nothing: a new order), and orders whose status left them.
    pub async fn order_status_flows(&mut self, statuses: &[OrderStatus], since: NaiveDate) -> Result<Vec<DayFlow>, StorageError> {
        let set = status_list(statuses);
        let sql = format!(
            "SELECT day, \
             CAST(SUM(CASE WHEN to_status IN ({set}) AND from_status NOT IN ({set}) THEN events ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN from_status IN ({set}) AND to_status NOT IN ({set}) THEN events ELSE 0 END) AS BIGINT) \
             FROM order_event_days WHERE day >= $1 GROUP BY day"
        );
        let rows: Vec<(String, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(day_key(since)).fetch_all(conn).await?);
        rows.into_iter().map(|(day, entered, left)| Ok(DayFlow { day: parse_day(&day)?, entered, left })).collect()
    }

    /// Per day since `since`: orders routed for the first time, and how many of them had every
    /// unit reserved then (allocated, not backordered). Orders held for review count on the
    /// day they are released.
    pub async fn first_reservations(&mut self, since: NaiveDate) -> Result<Vec<(NaiveDate, i64, i64)>, StorageError> {
        let sql = format!(
            "SELECT day, CAST(SUM(CASE WHEN to_status = 'allocated' THEN first_routings ELSE 0 END) AS BIGINT), \
             CAST(SUM(first_routings) AS BIGINT) \
             FROM order_event_days WHERE day >= $1 AND to_status IN ({}) \
             GROUP BY day HAVING SUM(first_routings) > 0",
            status_list(&ROUTED)
        );
        let rows: Vec<(String, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(day_key(since)).fetch_all(conn).await?);
        rows.into_iter().map(|(day, filled, all)| Ok((parse_day(&day)?, filled, all))).collect()
    }

    /// Per day since `since`: orders that became fully shipped, and how many of them by their
    /// ship-by time (as it was when they shipped).
    pub async fn shipped_on_time(&mut self, since: NaiveDate) -> Result<Vec<(NaiveDate, i64, i64)>, StorageError> {
        let sql = "SELECT day, CAST(SUM(on_time) AS BIGINT), CAST(SUM(events) AS BIGINT) \
                   FROM order_event_days WHERE day >= $1 AND to_status = 'shipped' GROUP BY day";
        let rows: Vec<(String, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).bind(day_key(since)).fetch_all(conn).await?);
        rows.into_iter().map(|(day, on_time, all)| Ok((parse_day(&day)?, on_time, all))).collect()
    }

    /// Per day since `since` and channel: orders received.
    pub async fn orders_received(&mut self, since: NaiveDate) -> Result<Vec<(NaiveDate, String, i64)>, StorageError> {
        let sql = "SELECT day, channel, CAST(SUM(events) AS BIGINT) \
                   FROM order_event_days WHERE day >= $1 AND from_status = '' GROUP BY day, channel";
        let rows: Vec<(String, String, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).bind(day_key(since)).fetch_all(conn).await?);
        rows.into_iter().map(|(day, channel, n)| Ok((parse_day(&day)?, channel, n))).collect()
    }

    /// Folds the rows of each key of the daily order-event counts into one, so the figures read
    /// a row per day, channel and step however many events it counts; the number of rows
    /// folded. Intake adds a row per key for each group, a single step a row of its own; run
    /// this now and then. The sums stay the same, and readers see them before or after.
    pub async fn fold_order_event_days(&mut self) -> Result<u64, StorageError> {
        self.fold_rows("order_event_days", &["day", "channel", "from_status", "to_status"], &["events", "first_routings", "on_time"]).await
    }

    /// Replaces the rows of each `key` of `table` that has more than one by a row of their
    /// `sums`; the rows replaced: the fold of every daily totals table. The names are the
    /// code's, never input.
    pub(crate) async fn fold_rows(&mut self, table: &str, key: &[&str], sums: &[&str]) -> Result<u64, StorageError> {
        let columns = key.join(", ");
        let values = sums.iter().map(|c| format!("CAST(SUM({c}) AS BIGINT)")).collect::<Vec<_>>().join(", ");
        let into = format!("INSERT INTO {table} ({columns}, {})", sums.join(", "));
        let folded = match &mut self.inner {
            // One writer at a time: the rows up to the last one now are the rows to fold.
            TxInner::Sqlite(tx) => {
                let conn = &mut **tx;
                let last: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!("SELECT MAX(rowid) FROM {table}"))).fetch_one(&mut *conn).await?;
                let Some(last) = last else { return Ok(0) };
                let keys = format!("SELECT {columns} FROM {table} WHERE rowid <= $1 GROUP BY {columns} HAVING COUNT(*) > 1");
                let sum = format!("{into} SELECT {columns}, {values} FROM {table} WHERE rowid <= $1 AND ({columns}) IN ({keys}) GROUP BY {columns}");
                sqlx::query(AssertSqlSafe(sum)).bind(last).execute(&mut *conn).await?;
                let gone = format!("DELETE FROM {table} WHERE rowid <= $1 AND ({columns}) IN ({keys})");
                sqlx::query(AssertSqlSafe(gone)).bind(last).execute(&mut *conn).await?.rows_affected()
            }
            // Writers go on meanwhile: the rows deleted are the rows summed, whoever else folds.
            TxInner::Postgres(tx) => {
                let same = key.iter().map(|c| format!("d.{c} = k.{c}")).collect::<Vec<_>>().join(" AND ");
                let sql = format!(
                    "WITH keys AS (SELECT {columns} FROM {table} GROUP BY {columns} HAVING COUNT(*) > 1), \
                     folded AS (DELETE FROM {table} d USING keys k WHERE {same} RETURNING d.*), \
                     summed AS ({into} SELECT {columns}, {values} FROM folded GROUP BY {columns} RETURNING 1) \
                     SELECT COUNT(*) FROM folded"
                );
                let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut **tx).await?;
                u64::try_from(n).unwrap_or(0)
            }
        };
        Ok(folded)
    }

    /// Per day since `from` and kind: exceptions raised and exceptions resolved.
    pub async fn exception_days(&mut self, from: DateTime<Utc>) -> Result<Vec<ExceptionDay>, StorageError> {
        let raised_day = self.utc_day("created_at");
        let resolved_day = self.utc_day("resolved_at");
        let sql = format!(
            "SELECT {raised_day}, kind, COUNT(*), 0 FROM exceptions WHERE created_at >= $1 GROUP BY {raised_day}, kind \
             UNION ALL \
             SELECT {resolved_day}, kind, 0, COUNT(*) FROM exceptions WHERE resolved_at >= $1 GROUP BY {resolved_day}, kind"
        );
        let rows: Vec<(String, String, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).fetch_all(conn).await?);
        rows.into_iter().map(|(day, kind, raised, resolved)| Ok(ExceptionDay { day: parse_day(&day)?, kind, raised, resolved })).collect()
    }

    /// Unresolved exceptions by kind, and how many of them are past due at `now`.
    pub async fn unresolved_by_kind(&mut self, now: DateTime<Utc>) -> Result<Vec<UnresolvedKind>, StorageError> {
        let sql = "SELECT kind, COUNT(*), CAST(SUM(CASE WHEN due_at < $1 THEN 1 ELSE 0 END) AS BIGINT) \
                   FROM exceptions WHERE status <> 'resolved' GROUP BY kind ORDER BY kind";
        let rows: Vec<(String, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).bind(now).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(kind, unresolved, overdue)| UnresolvedKind { kind, unresolved, overdue }).collect())
    }

    /// The queues [`QueueSizes`] counts, in one statement.
    pub async fn queue_sizes(&mut self) -> Result<QueueSizes, StorageError> {
        let sql = "SELECT \
                   (SELECT COUNT(*) FROM waves WHERE status IN ('open', 'picked')), \
                   (SELECT COUNT(*) FROM returns WHERE status = 'in_transit'), \
                   (SELECT COUNT(*) FROM returns WHERE status = 'received'), \
                   (SELECT COUNT(*) FROM products p WHERE p.active \
                    AND COALESCE((SELECT SUM(s.on_hand - s.reserved) FROM stock_levels s WHERE s.sku = p.sku), 0) <= 0)";
        let (waves_open, returns_in_transit, returns_received, skus_out_of_stock): (i64, i64, i64, i64) =
            on_engine!(self, |conn| sqlx::query_as(sql).fetch_one(conn).await?);
        Ok(QueueSizes { waves_open, returns_in_transit, returns_received, skus_out_of_stock })
    }

    /// Exceptions resolved since `from`, and how many of them within their first SLA (resolved
    /// by their due time without ever escalating).
    pub async fn exceptions_resolved_in_time(&mut self, from: DateTime<Utc>) -> Result<(i64, i64), StorageError> {
        let sql = "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN escalations = 0 AND resolved_at <= due_at THEN 1 ELSE 0 END), 0) AS BIGINT) \
                   FROM exceptions WHERE resolved_at >= $1";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(from).fetch_one(conn).await?))
    }

    /// How many audit records of each action were written since `from`.
    pub async fn audit_actions_since(&mut self, from: DateTime<Utc>) -> Result<Vec<(String, i64)>, StorageError> {
        let sql = "SELECT action, COUNT(*) FROM audit_log WHERE at >= $1 GROUP BY action ORDER BY action";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(from).fetch_all(conn).await?))
    }
}

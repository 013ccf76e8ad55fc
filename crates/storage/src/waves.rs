//! Bins and waves: which orders a location picks together, and each order's way from pick
//! to parcel.

use chrono::{DateTime, Utc};
use ordo_domain::wave::{pick_list, Wave, WaveLine, WaveOrder, WaveOrderStatus, WaveStatus, WaveSummary};
use ordo_domain::field::PageCursor;
use uuid::Uuid;

use crate::error::corrupt;
use crate::{on_engine, StorageError, Tx, TxInner};

/// A line an order has reserved at a location, ready to go into a wave.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PickableLine {
    pub order_id: Uuid,
    pub line_no: i64,
    pub sku: String,
    pub bin: Option<String>,
    pub quantity: i64,
}

fn wave_status(text: &str) -> Result<WaveStatus, StorageError> {
    WaveStatus::parse(text).ok_or_else(|| corrupt(&format!("unknown wave status {text:?}")))
}

fn wave_order_status(text: &str) -> Result<WaveOrderStatus, StorageError> {
    WaveOrderStatus::parse(text).ok_or_else(|| corrupt(&format!("unknown wave order status {text:?}")))
}

impl Tx {
    /// Sets the bin `sku` is picked from at `location`.
    pub async fn set_bin(&mut self, location: &str, sku: &str, bin: &str) -> Result<(), StorageError> {
        let sql = "INSERT INTO bins (location, sku, bin) VALUES ($1, $2, $3) \
                   ON CONFLICT (location, sku) DO UPDATE SET bin = excluded.bin";
        on_engine!(self, |conn| sqlx::query(sql).bind(location).bind(sku).bind(bin).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// The bins of a location's SKUs.
    pub async fn bins(&mut self, location: &str) -> Result<Vec<(String, String)>, StorageError> {
        let sql = "SELECT sku, bin FROM bins WHERE location = $1 ORDER BY sku";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(location).fetch_all(conn).await?))
    }

    /// Lines reserved at `location` for orders that may ship now and are in no unfinished
    /// wave there, those due first. Backordered orders come only where their channel allows
    /// shipping part of an order.
    pub async fn pickable_lines(&mut self, location: &str, method: Option<&str>) -> Result<Vec<PickableLine>, StorageError> {
        let sql = "SELECT a.order_id, a.line_no, l.sku, b.bin, a.quantity \
                   FROM allocations a \
                   JOIN orders o ON o.id = a.order_id \
                   JOIN channels c ON c.code = o.channel \
                   JOIN order_lines l ON l.order_id = a.order_id AND l.line_no = a.line_no \
                   LEFT JOIN bins b ON b.location = a.location AND b.sku = l.sku \
                   WHERE a.location = $1 AND ($2 IS NULL OR o.shipping_method = $2) \
                     AND (o.status IN ('allocated', 'partially_shipped') OR (o.status = 'backordered' AND c.allow_split)) \
                     AND o.waiting_for IS NULL \
                     AND NOT EXISTS (SELECT 1 FROM wave_orders w WHERE w.order_id = a.order_id \
                                     AND w.location = a.location AND w.status IN ('to_pick', 'picked', 'packed')) \
                   ORDER BY o.ship_by, a.order_id, a.line_no";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(location).bind(method).fetch_all(conn).await?))
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_wave(
        &mut self,
        id: Uuid,
        location: &str,
        method: Option<&str>,
        cutoff_at: DateTime<Utc>,
        created_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let sql = "INSERT INTO waves (id, location, shipping_method, cutoff_at, status, created_by, created_at) \
                   VALUES ($1, $2, $3, $4, 'open', $5, $6)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(location)
            .bind(method)
            .bind(cutoff_at)
            .bind(created_by)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Puts an order's lines into a wave; `false` and nothing written when another wave took
    /// the order first (one unfinished wave per order and location, enforced by the database).
    pub async fn insert_wave_order(
        &mut self,
        wave: Uuid,
        location: &str,
        order: Uuid,
        lines: &[&PickableLine],
    ) -> Result<bool, StorageError> {
        let head = "INSERT INTO wave_orders (wave_id, order_id, location, status) VALUES ($1, $2, $3, 'to_pick') \
                    ON CONFLICT DO NOTHING";
        let line = "INSERT INTO wave_lines (wave_id, order_id, line_no, sku, bin, quantity) VALUES ($1, $2, $3, $4, $5, $6)";
        Ok(on_engine!(self, |conn| {
            let taken =
                sqlx::query(head).bind(wave).bind(order).bind(location).execute(&mut *conn).await?.rows_affected() == 1;
            if taken {
                for l in lines {
                    sqlx::query(line)
                        .bind(wave)
                        .bind(order)
                        .bind(l.line_no)
                        .bind(&l.sku)
                        .bind(&l.bin)
                        .bind(l.quantity)
                        .execute(&mut *conn)
                        .await?;
                }
            }
            taken
        }))
    }

    pub async fn wave(&mut self, id: Uuid) -> Result<Option<Wave>, StorageError> {
        type Head = (Uuid, String, Option<String>, DateTime<Utc>, String, String, DateTime<Utc>);
        let head = "SELECT id, location, shipping_method, cutoff_at, status, created_by, created_at FROM waves WHERE id = $1";
        let orders = "SELECT w.order_id, o.external_id, o.channel, o.ship_by, w.status, w.shipment_id \
                      FROM wave_orders w JOIN orders o ON o.id = w.order_id WHERE w.wave_id = $1 ORDER BY o.ship_by, w.order_id";
        let lines = "SELECT order_id, line_no, sku, bin, quantity FROM wave_lines WHERE wave_id = $1 ORDER BY order_id, line_no";
        type OrderRow = (Uuid, String, String, DateTime<Utc>, String, Option<Uuid>);
        let (head, order_rows, line_rows): (Option<Head>, Vec<OrderRow>, Vec<PickableLine>) = on_engine!(self, |conn| {
            let head = sqlx::query_as(head).bind(id).fetch_optional(&mut *conn).await?;
            let orders = sqlx::query_as(orders).bind(id).fetch_all(&mut *conn).await?;
            let lines = sqlx::query_as(lines).bind(id).fetch_all(&mut *conn).await?;
            (head, orders, lines)
        });
        let Some((id, location, shipping_method, cutoff_at, status, created_by, created_at)) = head else {
            return Ok(None);
        };
        let mut orders = Vec::with_capacity(order_rows.len());
        for (order_id, external_id, channel, ship_by, status, shipment_id) in order_rows {
            let lines = line_rows
                .iter()
                .filter(|l| l.order_id == order_id)
                .map(|l| WaveLine { line: l.line_no, sku: l.sku.clone(), bin: l.bin.clone(), quantity: l.quantity })
                .collect();
            let status = wave_order_status(&status)?;
            orders.push(WaveOrder { order_id, external_id, channel, ship_by, status, shipment_id, lines });
        }
        let pick_list = pick_list(&orders);
        Ok(Some(Wave {
            id,
            location,
            shipping_method,
            cutoff_at,
            status: wave_status(&status)?,
            created_by,
            created_at,
            orders,
            pick_list,
        }))
    }

    /// Waves, newest first, optionally of one location or status; after the wave `after` names
    /// (its creation time and id) when given.
    pub async fn waves(&mut self, location: Option<&str>, status: Option<&str>, limit: i64, after: Option<PageCursor>) -> Result<Vec<WaveSummary>, StorageError> {
        let sql = "SELECT w.id, w.location, w.shipping_method, w.cutoff_at, w.status, w.created_at, \
                   (SELECT COUNT(*) FROM wave_orders o WHERE o.wave_id = w.id), \
                   (SELECT COUNT(*) FROM wave_orders o WHERE o.wave_id = w.id AND o.status IN ('to_pick', 'picked', 'packed')), \
                   (SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM wave_lines l WHERE l.wave_id = w.id) \
                   FROM waves w WHERE ($1 IS NULL OR w.location = $1) AND ($2 IS NULL OR w.status = $2) \
                   AND ($3 IS NULL OR (w.created_at, w.id) < ($3, $4)) ORDER BY w.created_at DESC, w.id DESC LIMIT $5";
        type Row = (Uuid, String, Option<String>, DateTime<Utc>, String, DateTime<Utc>, i64, i64, i64);
        let rows: Vec<Row> =
            on_engine!(self, |conn| sqlx::query_as(sql).bind(location).bind(status).bind(after.map(|c| c.at)).bind(after.map(|c| c.id)).bind(limit).fetch_all(conn).await?);
        rows.into_iter()
            .map(|(id, location, shipping_method, cutoff_at, status, created_at, orders, open_orders, units)| {
                Ok(WaveSummary {
                    id,
                    location,
                    shipping_method,
                    cutoff_at,
                    status: wave_status(&status)?,
                    created_at,
                    orders,
                    open_orders,
                    units,
                })
            })
            .collect()
    }

    /// Moves a wave from one status to the next; `false` when it was not in `from`.
    pub async fn set_wave_status(
        &mut self,
        id: Uuid,
        from: WaveStatus,
        to: WaveStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "UPDATE waves SET status = $3, closed_at = CASE WHEN $3 = 'closed' THEN $4 ELSE closed_at END \
                   WHERE id = $1 AND status = $2";
        let changed = on_engine!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    /// Moves the wave's orders in `from` to `to` (all of them, or one); how many moved.
    pub async fn set_wave_orders_status(
        &mut self,
        wave: Uuid,
        order: Option<Uuid>,
        from: WaveOrderStatus,
        to: WaveOrderStatus,
        shipment: Option<Uuid>,
    ) -> Result<u64, StorageError> {
        let sql = "UPDATE wave_orders SET status = $4, shipment_id = COALESCE($5, shipment_id) \
                   WHERE wave_id = $1 AND ($2 IS NULL OR order_id = $2) AND status = $3";
        Ok(on_engine!(self, |conn| sqlx::query(sql)
            .bind(wave)
            .bind(order)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(shipment)
            .execute(conn)
            .await?
            .rows_affected()))
    }

    /// Takes a cancelled order out of every unfinished wave; returns those waves.
    pub async fn cancel_wave_orders(&mut self, order: Uuid) -> Result<Vec<Uuid>, StorageError> {
        let sql = "UPDATE wave_orders SET status = 'cancelled' \
                   WHERE order_id = $1 AND status IN ('to_pick', 'picked', 'packed') RETURNING wave_id";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(order).fetch_all(conn).await?))
    }

    /// Closes the wave when none of its orders has work left; whether it closed now. On
    /// PostgreSQL the wave's row is locked first and the check is a statement of its own, so
    /// that of two packers shipping its last two orders at once, the second sees the first's
    /// order shipped: checked in one statement, each saw the other's still packed, and the
    /// wave never closed.
    pub async fn close_wave_if_done(&mut self, wave: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError> {
        if let TxInner::Postgres(tx) = &mut self.inner {
            sqlx::query("SELECT 1 FROM waves WHERE id = $1 FOR UPDATE").bind(wave).execute(&mut **tx).await?;
        }
        let sql = "UPDATE waves SET status = 'closed', closed_at = $2 WHERE id = $1 AND status <> 'closed' \
                   AND NOT EXISTS (SELECT 1 FROM wave_orders WHERE wave_id = $1 AND status IN ('to_pick', 'picked', 'packed'))";
        let changed = on_engine!(self, |conn| sqlx::query(sql).bind(wave).bind(now).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }
}

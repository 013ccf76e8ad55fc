//! Shipments: parcels leaving a location, and their delivery.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::corrupt;
use crate::{on_engine, StorageError, Tx};

impl Tx {
    /// Ships `quantity` of an order line from `location`: the units leave on-hand and reserved
    /// in one conditional update, the movement is recorded and the allocation shrinks.
    /// `false` and nothing changed when fewer are reserved there for this line.
    #[allow(clippy::too_many_arguments)]
    pub async fn ship_units(
        &mut self,
        order: Uuid,
        line: i64,
        sku: &str,
        location: &str,
        quantity: i64,
        reason: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        // The whole allocation goes, or part of it; never below zero (the CHECK says > 0).
        let whole = "DELETE FROM allocations WHERE order_id = $1 AND line_no = $2 AND location = $3 AND quantity = $4";
        let part = "UPDATE allocations SET quantity = quantity - $4 \
                    WHERE order_id = $1 AND line_no = $2 AND location = $3 AND quantity > $4";
        let shrunk = on_engine!(self, |conn| {
            let mut shrunk = 0;
            for sql in [whole, part] {
                if shrunk == 0 {
                    shrunk = sqlx::query(sql)
                        .bind(order)
                        .bind(line)
                        .bind(location)
                        .bind(quantity)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                }
            }
            shrunk
        });
        if shrunk != 1 {
            return Ok(false);
        }
        let stock = "UPDATE stock_levels SET on_hand = on_hand - $3, reserved = reserved - $3 \
                     WHERE sku = $1 AND location = $2 AND reserved >= $3 AND on_hand >= $3";
        let movement = "INSERT INTO stock_movements (sku, location, kind, quantity, reason, actor, created_at) \
                        VALUES ($1, $2, 'shipment', $3, $4, $5, $6)";
        let moved = on_engine!(self, |conn| {
            let moved = sqlx::query(stock).bind(sku).bind(location).bind(quantity).execute(&mut *conn).await?.rows_affected();
            sqlx::query(movement)
                .bind(sku)
                .bind(location)
                .bind(-quantity)
                .bind(reason)
                .bind(actor)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            moved
        });
        if moved != 1 {
            return Err(corrupt(&format!("{sku}@{location}: allocation held more than stock had reserved")));
        }
        Ok(true)
    }

    pub async fn insert_shipment(
        &mut self,
        shipment: &ordo_domain::order::Shipment,
        order: Uuid,
    ) -> Result<(), StorageError> {
        let head = "INSERT INTO shipments (id, order_id, location, status, carrier, tracking_number, shipped_at) \
                    VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let line = "INSERT INTO shipment_lines (shipment_id, line_no, quantity) VALUES ($1, $2, $3)";
        on_engine!(self, |conn| {
            sqlx::query(head)
                .bind(shipment.id)
                .bind(order)
                .bind(&shipment.location)
                .bind(shipment.status.as_str())
                .bind(&shipment.carrier)
                .bind(&shipment.tracking_number)
                .bind(shipment.shipped_at)
                .execute(&mut *conn)
                .await?;
            for l in &shipment.lines {
                sqlx::query(line).bind(shipment.id).bind(l.line).bind(l.quantity).execute(&mut *conn).await?;
            }
        });
        Ok(())
    }

    /// Marks a shipment delivered; returns its order, or `None` when there is no such
    /// shipment or it was delivered before.
    pub async fn deliver_shipment(&mut self, shipment: Uuid, now: DateTime<Utc>) -> Result<Option<Uuid>, StorageError> {
        let sql = "UPDATE shipments SET status = 'delivered', delivered_at = $2 \
                   WHERE id = $1 AND status = 'shipped' RETURNING order_id";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(shipment).bind(now).fetch_optional(conn).await?))
    }

    /// The order a shipment belongs to.
    pub async fn shipment_order(&mut self, shipment: Uuid) -> Result<Option<Uuid>, StorageError> {
        let sql = "SELECT order_id FROM shipments WHERE id = $1";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(shipment).fetch_optional(conn).await?))
    }
}

impl Tx {
    /// Of the orders that have left in full, how many left by their ship-by time, and how many
    /// there are: the SLA adherence.
    pub async fn ship_by_adherence(&mut self) -> Result<(i64, i64), StorageError> {
        let sql = "SELECT CAST(COALESCE(SUM(CASE WHEN last_shipped <= ship_by THEN 1 ELSE 0 END), 0) AS BIGINT), COUNT(*) \
                   FROM (SELECT o.ship_by, MAX(s.shipped_at) AS last_shipped FROM orders o \
                         JOIN shipments s ON s.order_id = o.id \
                         WHERE o.status IN ('shipped', 'delivered') GROUP BY o.id, o.ship_by) shipped";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_one(conn).await?))
    }
}

impl Tx {
    /// The latest shipment with this tracking number, and its order.
    pub async fn shipment_by_tracking(&mut self, tracking_number: &str) -> Result<Option<(Uuid, Uuid)>, StorageError> {
        let sql = "SELECT id, order_id FROM shipments WHERE tracking_number = $1 ORDER BY shipped_at DESC LIMIT 1";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(tracking_number).fetch_optional(conn).await?))
    }

    /// Records that a shipment reached `status`; `false` when it had reached it before.
    pub async fn insert_tracking_event(
        &mut self,
        shipment: Uuid,
        status: &str,
        message: Option<&str>,
        occurred_at: DateTime<Utc>,
        received_at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "INSERT INTO shipment_events (shipment_id, status, message, occurred_at, received_at) VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (shipment_id, status) DO NOTHING";
        let inserted = on_engine!(self, |conn| sqlx::query(sql)
            .bind(shipment)
            .bind(status)
            .bind(message)
            .bind(occurred_at)
            .bind(received_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(inserted == 1)
    }
}

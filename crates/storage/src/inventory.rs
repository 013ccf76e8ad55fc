//! Stock levels and the append-only movements behind them.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;
use ordo_domain::inventory::{MovementKind, MovementRequest, StockLevel, Transfer, TransferStatus};

use crate::{on_engine, StorageError, Tx, TxInner};

#[derive(sqlx::FromRow)]
struct StockRow {
    sku: String,
    location: String,
    on_hand: i64,
    reserved: i64,
}

impl From<StockRow> for StockLevel {
    fn from(row: StockRow) -> Self {
        StockLevel {
            available: row.on_hand - row.reserved,
            sku: row.sku,
            location: row.location,
            on_hand: row.on_hand,
            reserved: row.reserved,
        }
    }
}

impl Tx {
    /// Records a movement and applies it to the stock level, in this transaction.
    ///
    /// Returns the level after it and how much on-hand changed, or `Ok(None)` when the
    /// movement would take on-hand below what is reserved (or below zero); nothing is
    /// written then. The caller has checked that SKU and location
    /// exist.
    pub async fn record_movement(
        &mut self,
        movement: &MovementRequest,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(StockLevel, i64)>, StorageError> {
        self.lock_for_arrival(&[&movement.sku], &movement.location).await?;

        let delta = match movement.kind {
            MovementKind::Receipt | MovementKind::Adjustment => movement.quantity,
            MovementKind::Count => {
                // A count needs the current on-hand to know its delta; lock the row for that.
                // SQLite's write transaction already holds the database's write lock.
                let current: i64 = match &mut self.inner {
                    TxInner::Sqlite(tx) => {
                        sqlx::query_scalar("SELECT on_hand FROM stock_levels WHERE sku = $1 AND location = $2")
                            .bind(&movement.sku)
                            .bind(&movement.location)
                            .fetch_one(&mut **tx)
                            .await?
                    }
                    TxInner::Postgres(tx) => {
                        sqlx::query_scalar(
                            "SELECT on_hand FROM stock_levels WHERE sku = $1 AND location = $2 FOR UPDATE",
                        )
                        .bind(&movement.sku)
                        .bind(&movement.location)
                        .fetch_one(&mut **tx)
                        .await?
                    }
                };
                movement.quantity - current
            }
        };

        let level = self
            .apply_stock_delta(&movement.sku, &movement.location, delta, movement.kind.as_str(), &movement.reason, actor, now)
            .await?;
        Ok(level.map(|level| (level, delta)))
    }

    /// Stock of `skus` may arrive at `location` (a receipt, a transfer in, a restocked return, a
    /// count or adjustment that finds more); filling their backorders may then reserve the
    /// other parts of kits waiting for them there and move those orders on. So, in the order
    /// every writer takes them in: on PostgreSQL the waiting orders are locked (by id), the
    /// arriving SKUs' stock rows are made where the location has none, and on PostgreSQL all
    /// those stock rows are locked (by SKU). Taken as each line comes, they deadlocked with
    /// orders reserving or shipping the same SKUs; a row made after the lock was taken out of
    /// order. SQLite's writer holds every row already.
    pub async fn lock_for_arrival(&mut self, skus: &[&str], location: &str) -> Result<(), StorageError> {
        if let TxInner::Postgres(tx) = &mut self.inner {
            // The orders waiting come first, in id order: a writer of one order locks it before
            // its stock rows (`Tx::order_for_update`).
            let waiting = "SELECT 1 FROM orders WHERE id IN (SELECT order_id FROM backorders WHERE sku = ANY($1)) ORDER BY id FOR UPDATE";
            sqlx::query(waiting).bind(skus).execute(&mut **tx).await?;
        }
        let mut arriving = skus.to_vec();
        arriving.sort_unstable();
        arriving.dedup();
        let ensure = "INSERT INTO stock_levels (sku, location, on_hand, reserved) VALUES ($1, $2, 0, 0) \
                      ON CONFLICT (sku, location) DO NOTHING";
        for sku in arriving {
            on_engine!(self, |conn| sqlx::query(ensure).bind(sku).bind(location).execute(conn).await?.rows_affected());
        }
        if let TxInner::Postgres(tx) = &mut self.inner {
            let lock = "SELECT 1 FROM stock_levels WHERE location = $2 AND (sku = ANY($1) OR sku IN ( \
                            SELECT part.sku FROM backorders b \
                            JOIN order_lines l ON l.order_id = b.order_id AND l.line_no = b.line_no \
                            JOIN order_lines part ON part.order_id = l.order_id AND part.part_of = l.part_of \
                            WHERE b.sku = ANY($1) AND l.part_of IS NOT NULL)) \
                        ORDER BY sku FOR UPDATE";
            sqlx::query(lock).bind(skus).bind(location).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Changes on-hand by `delta` and records the movement of `kind`; `Ok(None)` and nothing
    /// written when on-hand would fall below what is reserved or below zero. The stock row
    /// exists (callers ensure it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn apply_stock_delta(
        &mut self,
        sku: &str,
        location: &str,
        delta: i64,
        kind: &str,
        reason: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StockLevel>, StorageError> {
        // One conditional update: the database, not a read before it, decides whether the
        // stock can go down by this much.
        let update = "UPDATE stock_levels SET on_hand = on_hand + $3 \
                      WHERE sku = $1 AND location = $2 AND on_hand + $3 >= reserved \
                      RETURNING sku, location, on_hand, reserved";
        let level: Option<StockRow> =
            on_engine!(self, |conn| sqlx::query_as(update).bind(sku).bind(location).bind(delta).fetch_optional(conn).await?);
        let Some(level) = level else { return Ok(None) };
        if delta != 0 {
            let insert = "INSERT INTO stock_movements (sku, location, kind, quantity, reason, actor, created_at) \
                          VALUES ($1, $2, $3, $4, $5, $6, $7)";
            on_engine!(self, |conn| sqlx::query(insert)
                .bind(sku)
                .bind(location)
                .bind(kind)
                .bind(delta)
                .bind(reason)
                .bind(actor)
                .bind(now)
                .execute(conn)
                .await?
                .rows_affected());
        }
        Ok(Some(level.into()))
    }

    /// Sends `quantity` from one location towards another: it leaves on-hand at `from` now
    /// (if that much is unreserved there) and is in transit until received. `None` and
    /// nothing written when `from` lacks it.
    #[allow(clippy::too_many_arguments)]
    pub async fn start_transfer(
        &mut self,
        id: Uuid,
        sku: &str,
        from: &str,
        to: &str,
        quantity: i64,
        reason: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StockLevel>, StorageError> {
        let ensure = "INSERT INTO stock_levels (sku, location, on_hand, reserved) VALUES ($1, $2, 0, 0) \
                      ON CONFLICT (sku, location) DO NOTHING";
        for location in [from, to] {
            on_engine!(self, |conn| sqlx::query(ensure).bind(sku).bind(location).execute(conn).await?.rows_affected());
        }
        let Some(level) = self.apply_stock_delta(sku, from, -quantity, "transfer_out", reason, actor, now).await? else {
            return Ok(None);
        };
        let sql = "INSERT INTO transfers (id, sku, from_location, to_location, quantity, status, reason, created_at) \
                   VALUES ($1, $2, $3, $4, $5, 'in_transit', $6, $7)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(sku)
            .bind(from)
            .bind(to)
            .bind(quantity)
            .bind(reason)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(Some(level))
    }

    /// Receives a transfer in transit at its destination; `None` when there is no such
    /// transfer in transit. Returns the SKU, the destination and the stock there after.
    pub async fn receive_transfer(
        &mut self,
        id: Uuid,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StockLevel>, StorageError> {
        let sql = "UPDATE transfers SET status = 'received', received_at = $2 WHERE id = $1 AND status = 'in_transit' \
                   RETURNING sku, to_location, quantity, reason";
        let row: Option<(String, String, i64, String)> =
            on_engine!(self, |conn| sqlx::query_as(sql).bind(id).bind(now).fetch_optional(conn).await?);
        let Some((sku, to, quantity, reason)) = row else { return Ok(None) };
        self.lock_for_arrival(&[&sku], &to).await?;
        self.apply_stock_delta(&sku, &to, quantity, "transfer_in", &reason, actor, now).await
    }

    /// Units of each SKU in transit between locations.
    pub async fn transfers_in_transit(&mut self) -> Result<Vec<Transfer>, StorageError> {
        let sql = "SELECT id, sku, from_location, to_location, quantity, status FROM transfers \
                   WHERE status = 'in_transit' ORDER BY created_at, id";
        let rows: Vec<(Uuid, String, String, String, i64, String)> = on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        rows.into_iter()
            .map(|(id, sku, from, to, quantity, status)| {
                let status = TransferStatus::parse("status", &status).map_err(|_| crate::error::corrupt("transfers.status"))?;
                Ok(Transfer { id, sku, from, to, quantity, status })
            })
            .collect()
    }

    /// Stock levels, of one SKU or of all, by SKU then location.
    pub async fn stock_levels(&mut self, sku: Option<&str>) -> Result<Vec<StockLevel>, StorageError> {
        let sql = "SELECT sku, location, on_hand, reserved FROM stock_levels \
                   WHERE ($1 IS NULL OR sku = $1) ORDER BY sku, location";
        let rows: Vec<StockRow> = on_engine!(self, |conn| sqlx::query_as(sql).bind(sku).fetch_all(conn).await?);
        Ok(rows.into_iter().map(StockLevel::from).collect())
    }

    /// The latest `limit` movements of a SKU, newest first.
    pub async fn movements(&mut self, sku: &str, limit: i64) -> Result<Vec<ordo_domain::inventory::StockMovement>, StorageError> {
        let sql = "SELECT id, sku, location, kind, quantity, reason, actor, created_at FROM stock_movements \
                   WHERE sku = $1 ORDER BY id DESC LIMIT $2";
        type Row = (i64, String, String, String, i64, String, String, DateTime<Utc>);
        let rows: Vec<Row> = on_engine!(self, |conn| sqlx::query_as(sql).bind(sku).bind(limit).fetch_all(conn).await?);
        Ok(rows
            .into_iter()
            .map(|(id, sku, location, kind, quantity, reason, actor, created_at)| ordo_domain::inventory::StockMovement {
                id,
                sku,
                location,
                kind,
                quantity,
                reason,
                actor,
                created_at,
            })
            .collect())
    }

    /// On-hand as the sum of the movements, per SKU and location: the audit of `stock_levels`.
    pub async fn on_hand_from_movements(&mut self) -> Result<Vec<crate::StockUnits>, StorageError> {
        let sql = "SELECT sku, location, CAST(SUM(quantity) AS BIGINT) AS units FROM stock_movements \
                   GROUP BY sku, location ORDER BY sku, location";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }
}

impl Tx {
    /// Every way stock levels disagree with their sources: on-hand against the movements,
    /// reserved against the allocations, reserved against on-hand. Empty when all is well.
    pub async fn stock_discrepancies(&mut self) -> Result<Vec<String>, StorageError> {
        // Grouped once each, then joined: linear in the number of movements and allocations.
        let sql = "SELECT s.sku, s.location, s.on_hand, s.reserved, \
                   CAST(COALESCE(m.total, 0) AS BIGINT), CAST(COALESCE(a.total, 0) AS BIGINT) \
                   FROM stock_levels s \
                   LEFT JOIN (SELECT sku, location, SUM(quantity) AS total FROM stock_movements \
                              GROUP BY sku, location) m ON m.sku = s.sku AND m.location = s.location \
                   LEFT JOIN (SELECT l.sku, al.location, SUM(al.quantity) AS total FROM allocations al \
                              JOIN order_lines l ON l.order_id = al.order_id AND l.line_no = al.line_no \
                              GROUP BY l.sku, al.location) a ON a.sku = s.sku AND a.location = s.location \
                   ORDER BY s.sku, s.location";
        let rows: Vec<(String, String, i64, i64, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        let mut problems = Vec::new();
        for (sku, location, on_hand, reserved, moved, allocated) in rows {
            if on_hand != moved {
                problems.push(format!("{sku}@{location}: on-hand {on_hand} but movements sum to {moved}"));
            }
            if reserved != allocated {
                problems.push(format!("{sku}@{location}: reserved {reserved} but allocations sum to {allocated}"));
            }
            if reserved < 0 || reserved > on_hand {
                problems.push(format!("{sku}@{location}: reserved {reserved} outside 0..={on_hand}"));
            }
        }
        Ok(problems)
    }
}

impl Tx {
    /// On-hand per location as it was at `at`: the sum of the movements up to then.
    pub async fn on_hand_as_of(&mut self, sku: &str, at: DateTime<Utc>) -> Result<Vec<(String, i64)>, StorageError> {
        let sql = "SELECT location, CAST(SUM(quantity) AS BIGINT) FROM stock_movements \
                   WHERE sku = $1 AND created_at <= $2 GROUP BY location ORDER BY location";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(sku).bind(at).fetch_all(conn).await?))
    }
}

impl Tx {
    /// SKUs whose stock changed after `cursor`, at most `limit` of them, and the cursor to
    /// ask from next time.
    pub async fn stock_changes_since(&mut self, cursor: i64, limit: i64) -> Result<(Vec<String>, i64), StorageError> {
        let sql = "SELECT id, sku FROM stock_changes WHERE id > $1 ORDER BY id LIMIT $2";
        let rows: Vec<(i64, String)> = on_engine!(self, |conn| sqlx::query_as(sql).bind(cursor).bind(limit).fetch_all(conn).await?);
        let next = rows.last().map_or(cursor, |(id, _)| *id);
        let mut skus: Vec<String> = rows.into_iter().map(|(_, sku)| sku).collect();
        skus.sort();
        skus.dedup();
        Ok((skus, next))
    }

    /// Available-to-sell on a channel for some SKUs: what the channel's locations have
    /// available, less the channel's buffer for the SKU's ABC class, never below zero. Stock a
    /// channel keeps and ships itself (Amazon FBA) is that channel's to offer, not Ordo's.
    pub async fn available_to_sell(&mut self, channel: &str, skus: &[String]) -> Result<Vec<(String, i64)>, StorageError> {
        let sql = "SELECT p.sku, CAST(COALESCE((SELECT SUM(s.on_hand - s.reserved) FROM stock_levels s \
                       WHERE s.sku = p.sku \
                         AND NOT EXISTS (SELECT 1 FROM locations l WHERE l.code = s.location AND l.managed_by IS NOT NULL) \
                         AND (NOT EXISTS (SELECT 1 FROM channel_locations c WHERE c.channel = $1) \
                         OR s.location IN (SELECT c.location FROM channel_locations c WHERE c.channel = $1))), 0) \
                     - COALESCE((SELECT b.units FROM channel_buffers b WHERE b.channel = $1 AND b.abc_class = p.abc_class), 0) \
                     AS BIGINT) \
                   FROM products p WHERE p.sku IN ";
        // A hundred SKUs a statement: a push round reads its listings in two.
        let mut out = Vec::with_capacity(skus.len());
        for chunk in skus.chunks(100) {
            let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!("{sql}({})", placeholders.join(", "));
            let rows: Vec<(String, i64)> = on_engine!(self, |conn| {
                let mut query = sqlx::query_as(AssertSqlSafe(sql)).bind(channel);
                for sku in chunk {
                    query = query.bind(sku);
                }
                query.fetch_all(conn).await?
            });
            out.extend(rows.into_iter().map(|(sku, units)| (sku, units.max(0))));
        }
        Ok(out)
    }

    /// The units a channel keeps back, by ABC class (A, B, C), for the classes that have one.
    pub async fn channel_buffers(&mut self, channel: &str) -> Result<Vec<(String, i64)>, StorageError> {
        let sql = "SELECT abc_class, units FROM channel_buffers WHERE channel = $1 ORDER BY abc_class";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(channel).fetch_all(conn).await?))
    }

    /// Sets the units a channel keeps back for one ABC class.
    pub async fn set_channel_buffer(&mut self, channel: &str, abc_class: &str, units: i64) -> Result<(), StorageError> {
        let sql = "INSERT INTO channel_buffers (channel, abc_class, units) VALUES ($1, $2, $3) \
                   ON CONFLICT (channel, abc_class) DO UPDATE SET units = $3";
        on_engine!(self, |conn| sqlx::query(sql).bind(channel).bind(abc_class).bind(units).execute(conn).await?.rows_affected());
        Ok(())
    }
}

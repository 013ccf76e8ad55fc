//! Reservations: where an order's units are held, what waits for stock, and what routing
//! may choose from. Every hold is a conditional update the database decides.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ordo_domain::calendar::Schedule;
use ordo_domain::routing::Candidate;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::error::corrupt;
use crate::{on_engine, Engine, StorageError, Tx, TxInner};

/// Where an order may ship from: the candidates without their stock, whether the channel
/// splits orders, and each location's time zone, cut-off and calendar.
#[derive(Debug, Clone)]
pub struct RoutingSites {
    pub allow_split: bool,
    pub candidates: Vec<Candidate>,
    /// Location code → when it ships.
    pub schedules: BTreeMap<String, Schedule>,
}

/// A routing candidate as read: code, priority, cut-off, time zone, calendar, listed for the
/// channel, offers the shipping method.
type SiteRow = (String, i64, String, String, Option<String>, bool, bool);

/// Units of a SKU at a location: available, on hand, or held, as the reader says.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StockUnits {
    pub sku: String,
    pub location: String,
    pub units: i64,
}

/// A backorder line waiting for stock, with what routing needs to know about its order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WaitingLine {
    pub order_id: Uuid,
    pub line_no: i64,
    pub quantity: i64,
    pub channel: String,
    pub shipping_method: String,
    /// The kit line this component belongs to: the kit's components are reserved together.
    pub part_of: Option<i64>,
    /// The channel ships the order from stock it keeps: only its own locations fill it.
    pub fulfilled_by_channel: bool,
}

/// Units of an order's line waiting for stock: (order, line, SKU, units, ship-by, since).
pub type NewBackorder<'a> = (Uuid, i64, &'a str, i64, DateTime<Utc>, DateTime<Utc>);

impl Tx {
    /// The locations routing may choose from for a channel and a shipping method, best
    /// priority first, with whether the channel splits orders: master data, read before the
    /// write so the write holds the lock for less. Candidates come without stock.
    pub async fn routing_sites(&mut self, channel: &str, shipping_method: &str, by_channel: bool) -> Result<RoutingSites, StorageError> {
        let settings = "SELECT allow_split, \
                        (SELECT COUNT(*) FROM channel_locations WHERE channel = $1) FROM channels WHERE code = $1";
        // An order the channel ships itself goes only to the locations it manages; every other
        // order only to Ordo's own.
        let sites = "SELECT l.code, l.priority, l.cutoff_time, l.time_zone, l.calendar, \
                     EXISTS (SELECT 1 FROM channel_locations c WHERE c.channel = $1 AND c.location = l.code), \
                     NOT EXISTS (SELECT 1 FROM location_shipping_methods m WHERE m.location = l.code) \
                     OR EXISTS (SELECT 1 FROM location_shipping_methods m WHERE m.location = l.code AND m.method = $2) \
                     FROM locations l WHERE CASE WHEN $3 THEN l.managed_by = $1 ELSE l.managed_by IS NULL END \
                     ORDER BY l.priority, l.code";
        let (allow_split, restricted): (bool, i64) =
            on_engine!(self, |conn| sqlx::query_as(settings).bind(channel).fetch_one(conn).await?);
        let rows: Vec<SiteRow> = on_engine!(self, |conn| sqlx::query_as(sites).bind(channel).bind(shipping_method).bind(by_channel).fetch_all(conn).await?);
        let mut routing = RoutingSites { allow_split, candidates: Vec::new(), schedules: BTreeMap::new() };
        for (location, priority, cutoff_time, time_zone, calendar, listed, offers) in rows {
            let calendar = crate::master::read_calendar(calendar.as_deref())?;
            let (time_zone, cutoff_time) = (crate::master::read_time_zone(time_zone)?, crate::master::read_cutoff(cutoff_time)?);
            routing.schedules.insert(location.clone(), Schedule::from_saved(&time_zone, &cutoff_time, calendar));
            routing.candidates.push(Candidate {
                location,
                priority,
                allowed_for_channel: by_channel || restricted == 0 || listed,
                // The channel's own shipping methods are its business.
                offers_shipping_method: by_channel || offers,
                available: BTreeMap::new(),
            });
        }
        Ok(routing)
    }

    /// Whether the channel ships the order itself, from stock it keeps (Amazon FBA).
    pub async fn order_fulfilled_by_channel(&mut self, order: Uuid) -> Result<bool, StorageError> {
        let sql = "SELECT fulfilled_by_channel FROM orders WHERE id = $1";
        let found: Option<bool> = on_engine!(self, |conn| sqlx::query_scalar(sql).bind(order).fetch_optional(conn).await?);
        found.ok_or_else(|| corrupt(&format!("no order {order}")))
    }

    /// Units available (on hand less reserved) of `skus`, per SKU and location.
    pub async fn available_stock(&mut self, skus: &[&str]) -> Result<Vec<StockUnits>, StorageError> {
        self.read_available(skus, "").await
    }

    /// [`Tx::available_stock`], holding those stock rows until the transaction ends so that
    /// no other writer changes them meanwhile. PostgreSQL locks them in one global order
    /// (SKU, then location), so two writers cannot deadlock; SQLite's writer holds them all.
    pub async fn lock_available_stock(&mut self, skus: &[&str]) -> Result<Vec<StockUnits>, StorageError> {
        let lock = match self.engine() {
            Engine::Sqlite => "",
            Engine::Postgres => " ORDER BY sku, location FOR UPDATE",
        };
        self.read_available(skus, lock).await
    }

    async fn read_available(&mut self, skus: &[&str], lock: &str) -> Result<Vec<StockUnits>, StorageError> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=skus.len()).map(|n| format!("${n}")).collect();
        let stock = format!(
            "SELECT sku, location, on_hand - reserved AS units FROM stock_levels WHERE sku IN ({}){lock}",
            placeholders.join(", ")
        );
        Ok(on_engine!(self, |conn| {
            let mut query = sqlx::query_as(AssertSqlSafe(stock));
            for sku in skus {
                query = query.bind(*sku);
            }
            query.fetch_all(conn).await?
        }))
    }

    /// Reserves `quantity` of `sku` at `location` if that much is available, in one conditional
    /// update; `false` and nothing changed when it is not.
    pub async fn reserve(&mut self, sku: &str, location: &str, quantity: i64) -> Result<bool, StorageError> {
        let sql = "UPDATE stock_levels SET reserved = reserved + $3 \
                   WHERE sku = $1 AND location = $2 AND on_hand - reserved >= $3";
        let updated =
            on_engine!(self, |conn| sqlx::query(sql).bind(sku).bind(location).bind(quantity).execute(conn).await?.rows_affected());
        Ok(updated == 1)
    }

    /// Reserves several (SKU, location, units) at once, each only if that much is available;
    /// returns whether each was. Each (SKU, location) appears at most once. One statement on
    /// SQLite, whose one writer cannot deadlock; on PostgreSQL the rows are first locked in one
    /// global order (SKU, then location), so two writers cannot deadlock, then updated in one
    /// statement.
    pub async fn reserve_many(&mut self, wanted: &[(&str, &str, i64)]) -> Result<Vec<bool>, StorageError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let reserved: Vec<(String, String)> = match &mut self.inner {
            TxInner::Sqlite(tx) => {
                let sql = format!(
                    "UPDATE stock_levels SET reserved = reserved + v.q \
                     FROM (SELECT column1 AS sku, column2 AS location, column3 AS q FROM ({})) AS v \
                     WHERE stock_levels.sku = v.sku AND stock_levels.location = v.location \
                     AND stock_levels.on_hand - stock_levels.reserved >= v.q \
                     RETURNING stock_levels.sku, stock_levels.location",
                    crate::values(Engine::Sqlite, wanted.len(), 3)
                );
                let mut query = sqlx::query_as(AssertSqlSafe(sql));
                for (sku, location, quantity) in wanted {
                    query = query.bind(*sku).bind(*location).bind(*quantity);
                }
                query.fetch_all(&mut **tx).await?
            }
            TxInner::Postgres(tx) => {
                let skus: Vec<&str> = wanted.iter().map(|w| w.0).collect();
                let locations: Vec<&str> = wanted.iter().map(|w| w.1).collect();
                let quantities: Vec<i64> = wanted.iter().map(|w| w.2).collect();
                let lock = "SELECT 1 FROM stock_levels s JOIN unnest($1::text[], $2::text[]) AS v(sku, location) \
                            ON s.sku = v.sku AND s.location = v.location ORDER BY s.sku, s.location FOR UPDATE OF s";
                sqlx::query(lock).bind(&skus).bind(&locations).execute(&mut **tx).await?;
                let update = "UPDATE stock_levels s SET reserved = s.reserved + v.q \
                              FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(sku, location, q) \
                              WHERE s.sku = v.sku AND s.location = v.location AND s.on_hand - s.reserved >= v.q \
                              RETURNING s.sku, s.location";
                sqlx::query_as(update).bind(&skus).bind(&locations).bind(&quantities).fetch_all(&mut **tx).await?
            }
        };
        Ok(wanted.iter().map(|(sku, location, _)| reserved.iter().any(|(s, l)| s == sku && l == location)).collect())
    }

    /// Gives reserved units back to available stock.
    pub async fn release(&mut self, sku: &str, location: &str, quantity: i64) -> Result<(), StorageError> {
        let sql = "UPDATE stock_levels SET reserved = reserved - $3 WHERE sku = $1 AND location = $2 AND reserved >= $3";
        let updated =
            on_engine!(self, |conn| sqlx::query(sql).bind(sku).bind(location).bind(quantity).execute(conn).await?.rows_affected());
        if updated != 1 {
            return Err(corrupt(&format!("release of {quantity} {sku} at {location} exceeds what is reserved")));
        }
        Ok(())
    }

    pub async fn insert_allocation(&mut self, order: Uuid, line: i64, location: &str, quantity: i64) -> Result<(), StorageError> {
        self.insert_allocations(&[(order, &[(line, location.to_owned(), quantity)])]).await
    }

    /// Records units of orders' lines waiting for stock, in one statement: (order, line, SKU,
    /// units, ship-by, since). Each (order, line) at most once; one already waiting grows.
    pub async fn insert_backorders(&mut self, waiting: &[NewBackorder<'_>]) -> Result<(), StorageError> {
        if waiting.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO backorders (order_id, line_no, sku, quantity, ship_by, created_at) {} \
             ON CONFLICT (order_id, line_no) DO UPDATE SET quantity = backorders.quantity + excluded.quantity",
            crate::values(self.engine(), waiting.len(), 6)
        );
        on_engine!(self, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (order, line, sku, quantity, ship_by, since) in waiting {
                query = query.bind(*order).bind(*line).bind(*sku).bind(*quantity).bind(*ship_by).bind(*since);
            }
            query.execute(conn).await?.rows_affected()
        });
        Ok(())
    }

    /// Releases every reservation of an order and drops its backorders. The stock rows are
    /// taken in one global order (SKU, then location), as intake takes them, so two writers
    /// cannot deadlock on PostgreSQL.
    pub async fn release_order(&mut self, order: Uuid) -> Result<(), StorageError> {
        let held = "SELECT l.sku, a.location, a.quantity FROM allocations a \
                    JOIN order_lines l ON l.order_id = a.order_id AND l.line_no = a.line_no WHERE a.order_id = $1 \
                    ORDER BY l.sku, a.location";
        let rows: Vec<(String, String, i64)> = on_engine!(self, |conn| sqlx::query_as(held).bind(order).fetch_all(conn).await?);
        for (sku, location, quantity) in &rows {
            self.release(sku, location, *quantity).await?;
        }
        for sql in ["DELETE FROM allocations WHERE order_id = $1", "DELETE FROM backorders WHERE order_id = $1"] {
            on_engine!(self, |conn| sqlx::query(sql).bind(order).execute(conn).await?.rows_affected());
        }
        Ok(())
    }

    /// Backorders of a SKU, oldest ship-by first, locked for this transaction.
    pub async fn waiting_lines(&mut self, sku: &str) -> Result<Vec<WaitingLine>, StorageError> {
        let select = "SELECT b.order_id, b.line_no, b.quantity, o.channel, o.shipping_method, l.part_of, o.fulfilled_by_channel \
                      FROM backorders b JOIN orders o ON o.id = b.order_id \
                      JOIN order_lines l ON l.order_id = b.order_id AND l.line_no = b.line_no \
                      WHERE b.sku = $1 AND o.status <> 'on_hold' ORDER BY b.ship_by, b.created_at, b.order_id, b.line_no";
        // SQLite's write transaction holds the database's write lock already; PostgreSQL locks
        // the rows so two receipts cannot fill the same backorder twice.
        Ok(match &mut self.inner {
            TxInner::Sqlite(tx) => sqlx::query_as(select).bind(sku).fetch_all(&mut **tx).await?,
            TxInner::Postgres(tx) => {
                let locked = format!("{select} FOR UPDATE OF b");
                sqlx::query_as(AssertSqlSafe(locked)).bind(sku).fetch_all(&mut **tx).await?
            }
        })
    }

    /// Whether an order of the channel may ship from the location with this shipping method:
    /// one the channel ships itself only from a location it manages, any other only from
    /// Ordo's own.
    pub async fn may_ship_from(&mut self, line: &WaitingLine, location: &str) -> Result<bool, StorageError> {
        let sql = "SELECT COALESCE((SELECT CASE WHEN $4 THEN managed_by = $1 ELSE managed_by IS NULL END FROM locations WHERE code = $2), FALSE) \
                      AND ($4 OR NOT EXISTS (SELECT 1 FROM channel_locations WHERE channel = $1) \
                          OR EXISTS (SELECT 1 FROM channel_locations WHERE channel = $1 AND location = $2)) \
                      AND ($4 OR NOT EXISTS (SELECT 1 FROM location_shipping_methods WHERE location = $2) \
                          OR EXISTS (SELECT 1 FROM location_shipping_methods WHERE location = $2 AND method = $3))";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql)
            .bind(&line.channel)
            .bind(location)
            .bind(&line.shipping_method)
            .bind(line.fulfilled_by_channel)
            .fetch_one(conn)
            .await?))
    }

    /// Takes `quantity` off a backorder line, deleting it when nothing is left.
    pub async fn reduce_backorder(&mut self, order: Uuid, line: i64, quantity: i64) -> Result<(), StorageError> {
        let update = "UPDATE backorders SET quantity = quantity - $3 WHERE order_id = $1 AND line_no = $2 AND quantity > $3";
        let delete = "DELETE FROM backorders WHERE order_id = $1 AND line_no = $2 AND quantity = $3";
        // Delete first: after the update, what is left could equal `quantity` and go too.
        let changed = on_engine!(self, |conn| {
            sqlx::query(delete).bind(order).bind(line).bind(quantity).execute(&mut *conn).await?.rows_affected()
                + sqlx::query(update).bind(order).bind(line).bind(quantity).execute(&mut *conn).await?.rows_affected()
        });
        if changed != 1 {
            return Err(corrupt(&format!("backorder {order}/{line} holds less than {quantity}")));
        }
        Ok(())
    }

    /// Units of an order still waiting for stock.
    pub async fn backordered_units(&mut self, order: Uuid) -> Result<i64, StorageError> {
        let sql = "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM backorders WHERE order_id = $1";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(order).fetch_one(conn).await?))
    }

    /// Units of a SKU still waiting for stock, across all orders.
    pub async fn backordered_sku_units(&mut self, sku: &str) -> Result<i64, StorageError> {
        let sql = "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM backorders WHERE sku = $1";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(sku).fetch_one(conn).await?))
    }

    /// Units waiting for stock, per SKU.
    pub async fn backordered_by_sku(&mut self) -> Result<Vec<(String, i64)>, StorageError> {
        let sql = "SELECT sku, CAST(SUM(quantity) AS BIGINT) FROM backorders GROUP BY sku ORDER BY sku";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }

    /// Reserved units never exceed on-hand anywhere: the invariant tests check.
    pub async fn oversold_levels(&mut self) -> Result<i64, StorageError> {
        let sql = "SELECT COUNT(*) FROM stock_levels WHERE reserved > on_hand OR reserved < 0";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).fetch_one(conn).await?))
    }
}

//! Orders: intake, reservations, backorders, the timeline, routing decisions, exceptions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ordo_domain::exception::Exception;
use ordo_domain::order::{
    Address, LineAllocation, NewCustomerRef, Order, OrderEvent, OrderLine, OrderStatus, PaymentStatus, RoutingRecord,
    Shipment, ShipmentLine,
};
use ordo_domain::routing::Candidate;
use ordo_domain::{Currency, Money};
use sqlx::types::Json;
use uuid::Uuid;

use sqlx::AssertSqlSafe;

use crate::{on_engine, StorageError, Tx, TxInner};

/// The order row as intake writes it.
#[derive(Debug, Clone)]
pub struct NewOrderRecord<'a> {
    pub id: Uuid,
    pub channel: &'a str,
    pub external_id: &'a str,
    pub status: OrderStatus,
    pub placed_at: DateTime<Utc>,
    pub ship_by: DateTime<Utc>,
    pub currency: Currency,
    pub customer: &'a NewCustomerRef,
    pub ship_to: &'a Address,
    pub billing_country: Option<&'a str>,
    pub shipping_method: &'a str,
    pub payment_status: PaymentStatus,
    pub shipping_price: Money,
    pub total: Money,
    pub payload: &'a str,
}

#[derive(Debug, Clone)]
pub struct NewLineRecord<'a> {
    pub line: i64,
    pub sku: &'a str,
    pub channel_sku: Option<&'a str>,
    pub quantity: i64,
    pub unit_price: Money,
    pub tax: Money,
    pub discount: Money,
}

fn corrupt(what: &str) -> StorageError {
    StorageError::Corrupt(what.to_owned())
}

fn status(text: &str) -> Result<OrderStatus, StorageError> {
    OrderStatus::parse(text).ok_or_else(|| corrupt(&format!("unknown order status {text:?}")))
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    channel: String,
    external_id: String,
    status: String,
    placed_at: DateTime<Utc>,
    ship_by: DateTime<Utc>,
    currency: String,
    customer_email: String,
    customer_name: String,
    ship_to: Json<Address>,
    billing_country: Option<String>,
    shipping_method: String,
    payment_status: String,
    shipping_minor: i64,
    total_minor: i64,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    line_no: i64,
    sku: String,
    channel_sku: Option<String>,
    quantity: i64,
    unit_price_minor: i64,
    tax_minor: i64,
    discount_minor: i64,
}

impl Tx {
    /// Inserts the order unless the channel already sent one with this external id; `false`
    /// then, and nothing is written. The unique constraint decides, so concurrent re-sends
    /// make one order.
    pub async fn insert_order(&mut self, o: &NewOrderRecord<'_>, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "INSERT INTO orders (id, channel, external_id, status, placed_at, ship_by, currency, customer_email, \
                   customer_name, ship_to, billing_country, shipping_method, payment_status, shipping_minor, total_minor, \
                   payload, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) \
                   ON CONFLICT (channel, external_id) DO NOTHING";
        let inserted = on_engine!(self, |conn| sqlx::query(sql)
            .bind(o.id)
            .bind(o.channel)
            .bind(o.external_id)
            .bind(o.status.as_str())
            .bind(o.placed_at)
            .bind(o.ship_by)
            .bind(o.currency.code())
            .bind(&o.customer.email)
            .bind(&o.customer.name)
            .bind(Json(o.ship_to))
            .bind(o.billing_country)
            .bind(o.shipping_method)
            .bind(o.payment_status.as_str())
            .bind(o.shipping_price.minor())
            .bind(o.total.minor())
            .bind(o.payload)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(inserted == 1)
    }

    pub async fn order_id_by_external_id(&mut self, channel: &str, external_id: &str) -> Result<Option<Uuid>, StorageError> {
        let sql = "SELECT id FROM orders WHERE channel = $1 AND external_id = $2";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(channel).bind(external_id).fetch_optional(conn).await?))
    }

    pub async fn insert_order_line(&mut self, order: Uuid, l: &NewLineRecord<'_>) -> Result<(), StorageError> {
        let sql = "INSERT INTO order_lines (order_id, line_no, sku, channel_sku, quantity, unit_price_minor, tax_minor, \
                   discount_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(order)
            .bind(l.line)
            .bind(l.sku)
            .bind(l.channel_sku)
            .bind(l.quantity)
            .bind(l.unit_price.minor())
            .bind(l.tax.minor())
            .bind(l.discount.minor())
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Moves the order to `to` and records the step on its timeline.
    pub async fn record_transition(
        &mut self,
        order: Uuid,
        from: Option<OrderStatus>,
        to: OrderStatus,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let update = "UPDATE orders SET status = $2, updated_at = $3 WHERE id = $1";
        let event = "INSERT INTO order_events (order_id, at, from_status, to_status, actor, reason) \
                     VALUES ($1, $2, $3, $4, $5, $6)";
        on_engine!(self, |conn| {
            sqlx::query(update).bind(order).bind(to.as_str()).bind(now).execute(&mut *conn).await?;
            sqlx::query(event)
                .bind(order)
                .bind(now)
                .bind(from.map(OrderStatus::as_str))
                .bind(to.as_str())
                .bind(actor)
                .bind(reason)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Locations as routing sees them for a channel, a shipping method and some SKUs.
    pub async fn routing_candidates(
        &mut self,
        channel: &str,
        shipping_method: &str,
        skus: &[&str],
    ) -> Result<(bool, Vec<Candidate>), StorageError> {
        let settings = "SELECT allow_split, \
                        (SELECT COUNT(*) FROM channel_locations WHERE channel = $1) FROM channels WHERE code = $1";
        let sites = "SELECT l.code, l.priority, \
                     EXISTS (SELECT 1 FROM channel_locations c WHERE c.channel = $1 AND c.location = l.code), \
                     NOT EXISTS (SELECT 1 FROM location_shipping_methods m WHERE m.location = l.code) \
                     OR EXISTS (SELECT 1 FROM location_shipping_methods m WHERE m.location = l.code AND m.method = $2) \
                     FROM locations l ORDER BY l.priority, l.code";
        let stock = "SELECT sku, location, on_hand - reserved FROM stock_levels WHERE sku = $1";
        let (allow_split, restricted): (bool, i64) =
            on_engine!(self, |conn| sqlx::query_as(settings).bind(channel).fetch_one(conn).await?);
        let rows: Vec<(String, i64, bool, bool)> =
            on_engine!(self, |conn| sqlx::query_as(sites).bind(channel).bind(shipping_method).fetch_all(conn).await?);
        let mut candidates: Vec<Candidate> = rows
            .into_iter()
            .map(|(location, priority, listed, offers)| Candidate {
                location,
                priority,
                allowed_for_channel: restricted == 0 || listed,
                offers_shipping_method: offers,
                available: BTreeMap::new(),
            })
            .collect();
        for sku in skus {
            let levels: Vec<(String, String, i64)> =
                on_engine!(self, |conn| sqlx::query_as(stock).bind(*sku).fetch_all(conn).await?);
            for (sku, location, available) in levels {
                if let Some(candidate) = candidates.iter_mut().find(|c| c.location == location) {
                    candidate.available.insert(sku, available);
                }
            }
        }
        Ok((allow_split, candidates))
    }

    /// Reserves `quantity` of `sku` at `location` if that much is available, in one conditional
    /// update; `false` and nothing changed when it is not.
    pub async fn reserve(&mut self, sku: &str, location: &str, quantity: i64) -> Result<bool, StorageError> {
        let sql = "UPDATE stock_levels SET reserved = reserved + $3 \
                   WHERE sku = $1 AND location = $2 AND on_hand - reserved >= $3";
        let updated =
            on_engine!(self, |conn| sqlx::query(sql).bind(sku).bind(location).bind(quantity).execute(conn).await?.rows_affected());
        if updated == 1 {
            self.note_stock_change(sku, location).await?;
        }
        Ok(updated == 1)
    }

    /// Gives reserved units back to available stock.
    pub async fn release(&mut self, sku: &str, location: &str, quantity: i64) -> Result<(), StorageError> {
        let sql = "UPDATE stock_levels SET reserved = reserved - $3 WHERE sku = $1 AND location = $2 AND reserved >= $3";
        let updated =
            on_engine!(self, |conn| sqlx::query(sql).bind(sku).bind(location).bind(quantity).execute(conn).await?.rows_affected());
        if updated != 1 {
            return Err(corrupt(&format!("release of {quantity} {sku} at {location} exceeds what is reserved")));
        }
        self.note_stock_change(sku, location).await
    }

    pub async fn insert_allocation(&mut self, order: Uuid, line: i64, location: &str, quantity: i64) -> Result<(), StorageError> {
        let sql = "INSERT INTO allocations (order_id, line_no, location, quantity) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (order_id, line_no, location) DO UPDATE SET quantity = allocations.quantity + $4";
        on_engine!(self, |conn| sqlx::query(sql).bind(order).bind(line).bind(location).bind(quantity).execute(conn).await?.rows_affected());
        Ok(())
    }

    pub async fn insert_backorder(
        &mut self,
        order: Uuid,
        line: i64,
        sku: &str,
        quantity: i64,
        ship_by: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let sql = "INSERT INTO backorders (order_id, line_no, sku, quantity, ship_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (order_id, line_no) DO UPDATE SET quantity = backorders.quantity + $4";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(order)
            .bind(line)
            .bind(sku)
            .bind(quantity)
            .bind(ship_by)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Releases every reservation of an order and drops its backorders; returns what it released.
    pub async fn release_order(&mut self, order: Uuid) -> Result<Vec<(String, String, i64)>, StorageError> {
        let held = "SELECT l.sku, a.location, a.quantity FROM allocations a \
                    JOIN order_lines l ON l.order_id = a.order_id AND l.line_no = a.line_no WHERE a.order_id = $1";
        let rows: Vec<(String, String, i64)> = on_engine!(self, |conn| sqlx::query_as(held).bind(order).fetch_all(conn).await?);
        for (sku, location, quantity) in &rows {
            self.release(sku, location, *quantity).await?;
        }
        for sql in ["DELETE FROM allocations WHERE order_id = $1", "DELETE FROM backorders WHERE order_id = $1"] {
            on_engine!(self, |conn| sqlx::query(sql).bind(order).execute(conn).await?.rows_affected());
        }
        Ok(rows)
    }

    pub async fn insert_routing_decision(
        &mut self,
        order: Uuid,
        decider: &str,
        reasons: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let sql = "INSERT INTO routing_decisions (order_id, decided_at, decider, reasons) VALUES ($1, $2, $3, $4)";
        on_engine!(self, |conn| sqlx::query(sql).bind(order).bind(now).bind(decider).bind(Json(reasons)).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// Raises an exception unless the same kind is already open for the same subject;
    /// `false` then, and nothing is written.
    #[allow(clippy::too_many_arguments)]
    pub async fn raise_exception(
        &mut self,
        kind: &str,
        subject: &str,
        owner_role: &str,
        due_at: DateTime<Utc>,
        details: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "INSERT INTO exceptions (id, kind, subject, owner_role, due_at, status, details, created_at) \
                   VALUES ($1, $2, $3, $4, $5, 'open', $6, $7) ON CONFLICT DO NOTHING";
        let inserted = on_engine!(self, |conn| sqlx::query(sql)
            .bind(Uuid::now_v7())
            .bind(kind)
            .bind(subject)
            .bind(owner_role)
            .bind(due_at)
            .bind(Json(details))
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(inserted == 1)
    }

    /// Exceptions in one status (or all), most urgent first.
    pub async fn exceptions(&mut self, status: Option<&str>) -> Result<Vec<Exception>, StorageError> {
        let sql = "SELECT id, kind, subject, owner_role, due_at, status, details, created_at FROM exceptions \
                   WHERE ($1 IS NULL OR status = $1) ORDER BY due_at, created_at LIMIT 1000";
        type Row = (Uuid, String, String, String, DateTime<Utc>, String, Json<serde_json::Value>, DateTime<Utc>);
        let rows: Vec<Row> = on_engine!(self, |conn| sqlx::query_as(sql).bind(status).fetch_all(conn).await?);
        Ok(rows
            .into_iter()
            .map(|(id, kind, subject, owner_role, due_at, status, Json(details), created_at)| Exception {
                id,
                kind,
                subject,
                owner_role,
                due_at,
                status,
                details,
                created_at,
            })
            .collect())
    }

    /// An order with its lines, allocations, backorders, timeline and routing decisions.
    pub async fn order(&mut self, id: Uuid) -> Result<Option<Order>, StorageError> {
        let head = "SELECT id, channel, external_id, status, placed_at, ship_by, currency, customer_email, customer_name, \
                    ship_to, billing_country, shipping_method, payment_status, shipping_minor, total_minor \
                    FROM orders WHERE id = $1";
        let Some(row): Option<OrderRow> = on_engine!(self, |conn| sqlx::query_as(head).bind(id).fetch_optional(conn).await?)
        else {
            return Ok(None);
        };
        let lines = "SELECT line_no, sku, channel_sku, quantity, unit_price_minor, tax_minor, discount_minor \
                     FROM order_lines WHERE order_id = $1 ORDER BY line_no";
        let allocations = "SELECT line_no, location, quantity FROM allocations WHERE order_id = $1 ORDER BY line_no, location";
        let backorders = "SELECT line_no, quantity FROM backorders WHERE order_id = $1";
        let events = "SELECT at, from_status, to_status, actor, reason FROM order_events WHERE order_id = $1 ORDER BY id";
        let decisions = "SELECT decided_at, decider, reasons FROM routing_decisions WHERE order_id = $1 ORDER BY id";
        let shipments = "SELECT id, location, status, carrier, tracking_number, shipped_at, delivered_at \
                         FROM shipments WHERE order_id = $1 ORDER BY shipped_at, id";
        let shipped = "SELECT sl.shipment_id, sl.line_no, sl.quantity FROM shipment_lines sl \
                       JOIN shipments s ON s.id = sl.shipment_id WHERE s.order_id = $1 ORDER BY sl.line_no";
        type EventRow = (DateTime<Utc>, Option<String>, String, String, String);
        type DecisionRow = (DateTime<Utc>, String, Json<Vec<String>>);
        type ShipmentRow = (Uuid, String, String, String, String, DateTime<Utc>, Option<DateTime<Utc>>);
        type Rows = (Vec<LineRow>, Vec<(i64, String, i64)>, Vec<(i64, i64)>, Vec<EventRow>, Vec<DecisionRow>);
        let (line_rows, allocation_rows, backorder_rows, event_rows, decision_rows): Rows = on_engine!(self, |conn| (
            sqlx::query_as(lines).bind(id).fetch_all(&mut *conn).await?,
            sqlx::query_as(allocations).bind(id).fetch_all(&mut *conn).await?,
            sqlx::query_as(backorders).bind(id).fetch_all(&mut *conn).await?,
            sqlx::query_as(events).bind(id).fetch_all(&mut *conn).await?,
            sqlx::query_as(decisions).bind(id).fetch_all(&mut *conn).await?,
        ));
        let (shipment_rows, shipped_rows): (Vec<ShipmentRow>, Vec<(Uuid, i64, i64)>) = on_engine!(self, |conn| (
            sqlx::query_as(shipments).bind(id).fetch_all(&mut *conn).await?,
            sqlx::query_as(shipped).bind(id).fetch_all(&mut *conn).await?,
        ));
        let currency = Currency::from_code(&row.currency).map_err(|e| corrupt(&e.to_string()))?;
        let money = |minor| Money::from_minor(minor, currency);
        let lines = line_rows
            .into_iter()
            .map(|l| OrderLine {
                allocations: allocation_rows
                    .iter()
                    .filter(|a| a.0 == l.line_no)
                    .map(|a| LineAllocation { location: a.1.clone(), quantity: a.2 })
                    .collect(),
                backordered: backorder_rows.iter().filter(|b| b.0 == l.line_no).map(|b| b.1).sum(),
                shipped: shipped_rows.iter().filter(|s| s.1 == l.line_no).map(|s| s.2).sum(),
                line: l.line_no,
                sku: l.sku,
                channel_sku: l.channel_sku,
                quantity: l.quantity,
                unit_price: money(l.unit_price_minor),
                tax: money(l.tax_minor),
                discount: money(l.discount_minor),
            })
            .collect();
        let timeline = event_rows
            .into_iter()
            .map(|(at, from, to, actor, reason)| {
                Ok(OrderEvent { at, from: from.as_deref().map(status).transpose()?, to: status(&to)?, actor, reason })
            })
            .collect::<Result<_, StorageError>>()?;
        Ok(Some(Order {
            id: row.id,
            channel: row.channel,
            external_id: row.external_id,
            status: status(&row.status)?,
            placed_at: row.placed_at,
            ship_by: row.ship_by,
            currency,
            customer: NewCustomerRef { email: row.customer_email, name: row.customer_name },
            ship_to: row.ship_to.0,
            billing_country: row.billing_country,
            shipping_method: row.shipping_method,
            payment_status: PaymentStatus::parse(&row.payment_status).ok_or_else(|| corrupt("payment status"))?,
            shipping_price: money(row.shipping_minor),
            total: money(row.total_minor),
            lines,
            shipments: shipment_rows
                .into_iter()
                .map(|(sid, location, status, carrier, tracking_number, shipped_at, delivered_at)| Shipment {
                    lines: shipped_rows
                        .iter()
                        .filter(|s| s.0 == sid)
                        .map(|s| ShipmentLine { line: s.1, quantity: s.2 })
                        .collect(),
                    id: sid,
                    location,
                    status,
                    carrier,
                    tracking_number,
                    shipped_at,
                    delivered_at,
                })
                .collect(),
            timeline,
            routing: decision_rows
                .into_iter()
                .map(|(decided_at, decider, Json(reasons))| RoutingRecord { decided_at, decider, reasons })
                .collect(),
        }))
    }

    /// Reserved units never exceed on-hand anywhere: the invariant tests check.
    pub async fn oversold_levels(&mut self) -> Result<i64, StorageError> {
        let sql = "SELECT COUNT(*) FROM stock_levels WHERE reserved > on_hand OR reserved < 0";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).fetch_one(conn).await?))
    }
}

/// A backorder line waiting for stock, with what routing needs to know about its order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WaitingLine {
    pub order_id: Uuid,
    pub line_no: i64,
    pub quantity: i64,
    pub channel: String,
    pub shipping_method: String,
}

impl Tx {
    /// Backorders of a SKU, oldest ship-by first, locked for this transaction.
    pub async fn waiting_lines(&mut self, sku: &str) -> Result<Vec<WaitingLine>, StorageError> {
        let select = "SELECT b.order_id, b.line_no, b.quantity, o.channel, o.shipping_method \
                      FROM backorders b JOIN orders o ON o.id = b.order_id \
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

    /// Whether the channel may ship from the location with this shipping method.
    pub async fn may_ship_from(&mut self, channel: &str, location: &str, method: &str) -> Result<bool, StorageError> {
        let sql = "SELECT (NOT EXISTS (SELECT 1 FROM channel_locations WHERE channel = $1) \
                          OR EXISTS (SELECT 1 FROM channel_locations WHERE channel = $1 AND location = $2)) \
                      AND (NOT EXISTS (SELECT 1 FROM location_shipping_methods WHERE location = $2) \
                          OR EXISTS (SELECT 1 FROM location_shipping_methods WHERE location = $2 AND method = $3))";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(channel).bind(location).bind(method).fetch_one(conn).await?))
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

    pub async fn order_status(&mut self, order: Uuid) -> Result<Option<OrderStatus>, StorageError> {
        let sql = "SELECT status FROM orders WHERE id = $1";
        let text: Option<String> = on_engine!(self, |conn| sqlx::query_scalar(sql).bind(order).fetch_optional(conn).await?);
        text.as_deref().map(status).transpose()
    }

    /// Units of a SKU still waiting for stock, across all orders.
    pub async fn backordered_sku_units(&mut self, sku: &str) -> Result<i64, StorageError> {
        let sql = "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM backorders WHERE sku = $1";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(sku).fetch_one(conn).await?))
    }

    /// Resolves the open exception of `kind` about `subject`, if there is one.
    pub async fn resolve_exception(
        &mut self,
        kind: &str,
        subject: &str,
        resolution: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "UPDATE exceptions SET status = 'resolved', resolved_at = $3, resolution = $4 \
                   WHERE kind = $1 AND subject = $2 AND status <> 'resolved'";
        let changed = on_engine!(self, |conn| sqlx::query(sql)
            .bind(kind)
            .bind(subject)
            .bind(now)
            .bind(resolution)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(changed > 0)
    }
}

/// One row of an order list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderSummary {
    pub id: Uuid,
    pub channel: String,
    pub external_id: String,
    pub status: String,
    pub placed_at: DateTime<Utc>,
    pub ship_by: DateTime<Utc>,
    pub currency: String,
    pub total_minor: i64,
    pub customer_name: String,
}

/// Which orders to list.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    pub channel: Option<String>,
    pub status: Option<String>,
    /// Matches the channel's order id from its start.
    pub external_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

impl Tx {
    /// Orders matching the query, newest first, and how many match in all.
    pub async fn orders(&mut self, query: &OrderQuery) -> Result<(Vec<OrderSummary>, i64), StorageError> {
        let filter = "($1 IS NULL OR channel = $1) AND ($2 IS NULL OR status = $2) \
                      AND ($3 IS NULL OR external_id LIKE $3 ESCAPE '\\')";
        let list = format!(
            "SELECT id, channel, external_id, status, placed_at, ship_by, currency, total_minor, customer_name \
             FROM orders WHERE {filter} ORDER BY placed_at DESC, id DESC LIMIT $4 OFFSET $5"
        );
        let count = format!("SELECT COUNT(*) FROM orders WHERE {filter}");
        let prefix = query.external_id.as_deref().map(|s| {
            format!("{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
        });
        Ok(on_engine!(self, |conn| {
            let rows = sqlx::query_as(AssertSqlSafe(list))
                .bind(&query.channel)
                .bind(&query.status)
                .bind(&prefix)
                .bind(query.limit)
                .bind(query.offset)
                .fetch_all(&mut *conn)
                .await?;
            let total = sqlx::query_scalar(AssertSqlSafe(count))
                .bind(&query.channel)
                .bind(&query.status)
                .bind(&prefix)
                .fetch_one(&mut *conn)
                .await?;
            (rows, total)
        }))
    }
}

impl Tx {
    /// How many orders the channel had lately (up to 200, cancelled ones aside) and their
    /// average total in minor units: the channel's usual order value.
    pub async fn channel_order_stats(&mut self, channel: &str) -> Result<(i64, i64), StorageError> {
        let sql = "SELECT COUNT(*), CAST(COALESCE(AVG(total_minor), 0) AS BIGINT) FROM \
                   (SELECT total_minor FROM orders WHERE channel = $1 AND status <> 'cancelled' \
                    ORDER BY placed_at DESC LIMIT 200) recent";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(channel).fetch_one(conn).await?))
    }
}

impl Tx {
    /// Units waiting for stock, per SKU.
    pub async fn backordered_by_sku(&mut self) -> Result<Vec<(String, i64)>, StorageError> {
        let sql = "SELECT sku, CAST(SUM(quantity) AS BIGINT) FROM backorders GROUP BY sku ORDER BY sku";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }
}

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
        self.note_stock_change(sku, location).await?;
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
                .bind(&shipment.status)
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
    /// Sets when the order must leave its location.
    pub async fn set_order_ship_by(&mut self, order: Uuid, ship_by: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "UPDATE orders SET ship_by = $2 WHERE id = $1";
        on_engine!(self, |conn| sqlx::query(sql).bind(order).bind(ship_by).execute(conn).await?.rows_affected());
        Ok(())
    }
}

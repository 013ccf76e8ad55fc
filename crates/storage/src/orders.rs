//! Orders: intake, reservations, backorders, the timeline, routing decisions, exceptions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ordo_domain::order::{OrderTag, 
    Address, LineAllocation, NewCustomerRef, Order, OrderEvent, OrderLine, OrderStatus, PaymentStatus, RoutingRecord,
    Shipment, ShipmentLine, ShipmentStatus,
};
use ordo_domain::decide::ChannelStats;
use ordo_domain::{Currency, Money};
use sqlx::types::Json;
use uuid::Uuid;

use sqlx::AssertSqlSafe;

use crate::error::corrupt;
use crate::kpis::{day_key, status_list, ROUTED};
use crate::{on_engine, Engine, StorageError, Tx, TxInner};

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
    /// The checked request as canonical JSON, for telling a re-send from another order.
    pub terms: &'a str,
    /// Why the channel holds the order back, if it does.
    pub waiting_for: Option<&'a str>,
    /// The channel ships it from stock it keeps (Amazon FBA).
    pub fulfilled_by_channel: bool,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewLineRecord<'a> {
    pub line: i64,
    /// The line sells a kit; its components are the lines that name it in `part_of`.
    pub kit: bool,
    pub part_of: Option<i64>,
    pub sku: &'a str,
    pub channel_sku: Option<&'a str>,
    pub item_id: Option<&'a str>,
    pub quantity: i64,
    pub unit_price: Money,
    pub tax: Money,
    pub discount: Money,
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
    waiting_for: Option<String>,
    fulfilled_by_channel: bool,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    line_no: i64,
    is_kit: bool,
    part_of: Option<i64>,
    sku: String,
    channel_sku: Option<String>,
    item_id: Option<String>,
    quantity: i64,
    unit_price_minor: i64,
    tax_minor: i64,
    discount_minor: i64,
}

/// An order a channel sent before, by the channel's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownOrder {
    pub channel: String,
    pub external_id: String,
    pub id: Uuid,
}

/// One row of an order list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderSummary {
    pub id: Uuid,
    pub channel: String,
    pub external_id: String,
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    pub placed_at: DateTime<Utc>,
    pub ship_by: DateTime<Utc>,
    pub currency: String,
    pub total_minor: i64,
    pub customer_name: String,
    pub customer_email: String,
    /// When its status or content last changed.
    pub updated_at: DateTime<Utc>,
}

/// Which orders to list. Newest placed first; with `updated_since`, the change feed: oldest
/// change first.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    pub channel: Option<String>,
    pub status: Option<String>,
    /// Matches the channel's order id from its start.
    pub external_id: Option<String>,
    /// Part of the customer's name or e-mail address, any case.
    pub customer: Option<String>,
    /// Orders with a line of this SKU.
    pub sku: Option<String>,
    /// Placed at or after.
    pub placed_from: Option<DateTime<Utc>>,
    /// Placed before.
    pub placed_to: Option<DateTime<Utc>>,
    /// Changed after: the change feed.
    pub updated_since: Option<DateTime<Utc>>,
    /// The (time, id) of the last order of the page before: placed time for the list, change
    /// time for the feed.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
    pub offset: i64,
}

/// `%text%` for LIKE, lower case, its own wildcards escaped.
fn containing(text: &str) -> String {
    format!("%{}%", text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

impl Tx {
    /// Inserts orders in one statement, each unless the channel already sent one with its
    /// external id; returns how many were inserted.
    pub async fn insert_orders(&mut self, orders: &[NewOrderRecord<'_>]) -> Result<usize, StorageError> {
        if orders.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "INSERT INTO orders (id, channel, external_id, status, placed_at, ship_by, currency, customer_email, \
             customer_name, ship_to, billing_country, shipping_method, payment_status, shipping_minor, total_minor, \
             payload, terms, waiting_for, fulfilled_by_channel, created_at, updated_at) {} \
             ON CONFLICT (channel, external_id) DO NOTHING",
            crate::values(self.engine(), orders.len(), 21)
        );
        let inserted = on_engine!(self, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for o in orders {
                query = query
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
                    .bind(o.terms)
                    .bind(o.waiting_for)
                    .bind(o.fulfilled_by_channel)
                    .bind(o.received_at)
                    .bind(o.received_at);
            }
            query.execute(conn).await?.rows_affected()
        });
        Ok(inserted as usize)
    }

    /// Lets an order the channel held back go (or holds it, with why); `false` when it was
    /// already so.
    pub async fn set_order_waiting(&mut self, id: Uuid, waiting_for: Option<&str>) -> Result<bool, StorageError> {
        let sql = "UPDATE orders SET waiting_for = $2 WHERE id = $1 AND waiting_for IS DISTINCT FROM $2";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(waiting_for).execute(conn).await?.rows_affected()) == 1)
    }

    /// What the sender asked for when the order was made ([`NewOrderRecord::terms`]); none for
    /// orders made before Ordo kept it.
    pub async fn order_terms(&mut self, id: Uuid) -> Result<Option<String>, StorageError> {
        let sql = "SELECT terms FROM orders WHERE id = $1";
        let terms: Option<Option<String>> = on_engine!(self, |conn| sqlx::query_scalar(sql).bind(id).fetch_optional(conn).await?);
        Ok(terms.flatten())
    }

    pub async fn order_id_by_external_id(&mut self, channel: &str, external_id: &str) -> Result<Option<Uuid>, StorageError> {
        let sql = "SELECT id FROM orders WHERE channel = $1 AND external_id = $2";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(channel).bind(external_id).fetch_optional(conn).await?))
    }

    /// The orders the channels already sent, of these (channel, external id) pairs, in one
    /// query.
    pub async fn order_ids_by_external_ids(&mut self, keys: &[(&str, &str)]) -> Result<Vec<KnownOrder>, StorageError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // The keys drive the join, so each is looked up by the unique index.
        let select = "SELECT o.channel, o.external_id, o.id FROM orders o JOIN";
        let rows: Vec<(String, String, Uuid)> = match &mut self.inner {
            TxInner::Sqlite(tx) => {
                let sql = format!(
                    "{select} (SELECT column1 AS channel, column2 AS external_id FROM ({})) AS k \
                     ON o.channel = k.channel AND o.external_id = k.external_id",
                    crate::values(Engine::Sqlite, keys.len(), 2)
                );
                let mut query = sqlx::query_as(AssertSqlSafe(sql));
                for (channel, external_id) in keys {
                    query = query.bind(*channel).bind(*external_id);
                }
                query.fetch_all(&mut **tx).await?
            }
            // One statement text whatever the number of keys: prepared once.
            TxInner::Postgres(tx) => {
                let sql = format!(
                    "{select} unnest($1::text[], $2::text[]) AS k(channel, external_id) \
                     ON o.channel = k.channel AND o.external_id = k.external_id"
                );
                let channels: Vec<&str> = keys.iter().map(|k| k.0).collect();
                let external_ids: Vec<&str> = keys.iter().map(|k| k.1).collect();
                sqlx::query_as(AssertSqlSafe(sql)).bind(&channels).bind(&external_ids).fetch_all(&mut **tx).await?
            }
        };
        Ok(rows.into_iter().map(|(channel, external_id, id)| KnownOrder { channel, external_id, id }).collect())
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
        // Counted before the event is written, so the order's own routings so far are those
        // already recorded.
        let routed = status_list(&ROUTED);
        let count = format!(
            "INSERT INTO order_event_days (day, channel, from_status, to_status, events, first_routings, on_time) \
             SELECT $2, channel, $3, $4, 1, \
             CASE WHEN $4 IN ({routed}) AND NOT EXISTS (SELECT 1 FROM order_events WHERE order_id = $1 AND to_status IN ({routed})) \
             THEN 1 ELSE 0 END, \
             CASE WHEN $4 = 'shipped' AND $5 <= ship_by THEN 1 ELSE 0 END \
             FROM orders WHERE id = $1"
        );
        let event = "INSERT INTO order_events (order_id, at, from_status, to_status, actor, reason) \
                     VALUES ($1, $2, $3, $4, $5, $6)";
        let day = day_key(now.date_naive());
        on_engine!(self, |conn| {
            sqlx::query(update).bind(order).bind(to.as_str()).bind(now).execute(&mut *conn).await?;
            sqlx::query(AssertSqlSafe(count))
                .bind(order)
                .bind(&day)
                .bind(from.map_or("", OrderStatus::as_str))
                .bind(to.as_str())
                .bind(now)
                .execute(&mut *conn)
                .await?;
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

    /// Records why orders were routed as they were: (order, decider, reasons, when), in one
    /// statement.
    pub async fn insert_routing_decisions(
        &mut self,
        decisions: &[(Uuid, &str, &[String], DateTime<Utc>)],
    ) -> Result<(), StorageError> {
        if decisions.is_empty() {
            return Ok(());
        }
        let sql = format!("INSERT INTO routing_decisions (order_id, decided_at, decider, reasons) {}", crate::values(self.engine(), decisions.len(), 4));
        on_engine!(self, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (order, decider, reasons, at) in decisions {
                query = query.bind(*order).bind(*at).bind(*decider).bind(Json(*reasons));
            }
            query.execute(conn).await?.rows_affected()
        });
        Ok(())
    }

    /// The order, as [`Tx::order`], its row held until the transaction ends: what changes an
    /// order (shipping, cancelling, releasing a hold, a channel's update, a delivery, a return
    /// or refund checked against what it had) reads it so, before any stock row, and a second
    /// writer of the same order waits and then reads what the first left. Read unlocked, a
    /// shipment and a cancellation of one order both went through on PostgreSQL, and the
    /// cancellation released stock the shipment had taken. SQLite's single writer already
    /// holds the whole database.
    pub async fn order_for_update(&mut self, id: Uuid) -> Result<Option<Order>, StorageError> {
        if let TxInner::Postgres(tx) = &mut self.inner {
            sqlx::query("SELECT id FROM orders WHERE id = $1 FOR UPDATE").bind(id).fetch_optional(&mut **tx).await?;
        }
        self.order(id).await
    }

    /// An order with its lines, allocations, backorders, timeline and routing decisions.
    pub async fn order(&mut self, id: Uuid) -> Result<Option<Order>, StorageError> {
        let head = "SELECT id, channel, external_id, status, placed_at, ship_by, currency, customer_email, customer_name, \
                    ship_to, billing_country, shipping_method, payment_status, shipping_minor, total_minor, waiting_for, fulfilled_by_channel \
                    FROM orders WHERE id = $1";
        let Some(row): Option<OrderRow> = on_engine!(self, |conn| sqlx::query_as(head).bind(id).fetch_optional(conn).await?)
        else {
            return Ok(None);
        };
        let lines = "SELECT line_no, is_kit, part_of, sku, channel_sku, item_id, quantity, unit_price_minor, tax_minor, discount_minor \
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
        let tags = "SELECT tag, rule FROM order_tags WHERE order_id = $1 ORDER BY tag";
        let tracking = "SELECT e.shipment_id, e.status, e.message, e.occurred_at FROM shipment_events e \
                        JOIN shipments s ON s.id = e.shipment_id WHERE s.order_id = $1 ORDER BY e.occurred_at, e.status";
        type TrackingRow = (Uuid, String, Option<String>, DateTime<Utc>);
        type Shipped = (Vec<ShipmentRow>, Vec<(Uuid, i64, i64)>, Vec<(String, String)>, Vec<TrackingRow>);
        let (shipment_rows, shipped_rows, tag_rows, tracking_rows): Shipped = on_engine!(self, |conn| (
            sqlx::query_as(shipments).bind(id).fetch_all(&mut *conn).await?,
            sqlx::query_as(shipped).bind(id).fetch_all(&mut *conn).await?,
            sqlx::query_as(tags).bind(id).fetch_all(&mut *conn).await?,
            sqlx::query_as(tracking).bind(id).fetch_all(&mut *conn).await?,
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
                kit: l.is_kit,
                part_of: l.part_of,
                sku: l.sku,
                channel_sku: l.channel_sku,
                item_id: l.item_id,
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
            waiting_for: row.waiting_for,
            fulfilled_by_channel: row.fulfilled_by_channel,
            lines,
            shipments: shipment_rows
                .into_iter()
                .map(|(sid, location, status, carrier, tracking_number, shipped_at, delivered_at)| {
                    let status = ShipmentStatus::parse("status", &status).map_err(|_| corrupt("shipments.status"))?;
                    Ok(Shipment {
                    lines: shipped_rows
                        .iter()
                        .filter(|s| s.0 == sid)
                        .map(|s| ShipmentLine { line: s.1, quantity: s.2 })
                        .collect(),
                    tracking: tracking_rows
                        .iter()
                        .filter(|t| t.0 == sid)
                        .filter_map(|t| {
                            let status = ordo_domain::order::TrackingStatus::parse(&t.1)?;
                            Some(ordo_domain::order::TrackingEvent { status, message: t.2.clone(), at: t.3 })
                        })
                        .collect(),
                    id: sid,
                    location,
                    status,
                    carrier,
                    tracking_number,
                    shipped_at,
                    delivered_at,
                    })
                })
                .collect::<Result<_, StorageError>>()?,
            timeline,
            routing: decision_rows
                .into_iter()
                .map(|(decided_at, decider, Json(reasons))| RoutingRecord { decided_at, decider, reasons })
                .collect(),
            tags: tag_rows.into_iter().map(|(tag, rule)| OrderTag { tag, rule }).collect(),
        }))
    }

    /// Records tags on new orders: (order, tag, the rule that put it), each tag once per order.
    pub async fn insert_order_tags(&mut self, tags: &[(Uuid, &str, &str)]) -> Result<(), StorageError> {
        if tags.is_empty() {
            return Ok(());
        }
        let sql = format!("INSERT INTO order_tags (order_id, tag, rule) {} ON CONFLICT DO NOTHING", crate::values(self.engine(), tags.len(), 3));
        on_engine!(self, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (order, tag, rule) in tags {
                query = query.bind(*order).bind(*tag).bind(*rule);
            }
            query.execute(conn).await?.rows_affected()
        });
        Ok(())
    }

    pub async fn order_status(&mut self, order: Uuid) -> Result<Option<OrderStatus>, StorageError> {
        let sql = "SELECT status FROM orders WHERE id = $1";
        let text: Option<String> = on_engine!(self, |conn| sqlx::query_scalar(sql).bind(order).fetch_optional(conn).await?);
        text.as_deref().map(status).transpose()
    }

}

impl Tx {
    /// Orders matching the query, newest first, and how many match in all.
    pub async fn orders(&mut self, query: &OrderQuery) -> Result<(Vec<OrderSummary>, i64), StorageError> {
        let filter = "($1 IS NULL OR channel = $1) AND ($2 IS NULL OR status = $2) \
                      AND ($3 IS NULL OR external_id LIKE $3 ESCAPE '\\') \
                      AND ($4 IS NULL OR LOWER(customer_name) LIKE $4 ESCAPE '\\' OR LOWER(customer_email) LIKE $4 ESCAPE '\\') \
                      AND ($5 IS NULL OR EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = orders.id AND l.sku = $5)) \
                      AND ($6 IS NULL OR placed_at >= $6) AND ($7 IS NULL OR placed_at < $7) AND ($8 IS NULL OR updated_at > $8)";
        let feed = query.updated_since.is_some();
        let (page, order) = if feed {
            ("($9 IS NULL OR (updated_at, id) > ($9, $10))", "updated_at, id")
        } else {
            ("($9 IS NULL OR (placed_at, id) < ($9, $10))", "placed_at DESC, id DESC")
        };
        let list = format!(
            "SELECT id, channel, external_id, status, placed_at, ship_by, currency, total_minor, customer_name, customer_email, updated_at \
             FROM orders WHERE {filter} AND {page} ORDER BY {order} LIMIT $11 OFFSET $12"
        );
        let count = format!("SELECT COUNT(*) FROM orders WHERE {filter}");
        let prefix = query.external_id.as_deref().map(|s| {
            format!("{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
        });
        let customer = query.customer.as_deref().map(containing);
        let (after_at, after_id) = (query.after.map(|(at, _)| at), query.after.map(|(_, id)| id));
        Ok(on_engine!(self, |conn| {
            let rows = sqlx::query_as(AssertSqlSafe(list))
                .bind(&query.channel)
                .bind(&query.status)
                .bind(&prefix)
                .bind(&customer)
                .bind(&query.sku)
                .bind(query.placed_from)
                .bind(query.placed_to)
                .bind(query.updated_since)
                .bind(after_at)
                .bind(after_id)
                .bind(query.limit)
                .bind(query.offset)
                .fetch_all(&mut *conn)
                .await?;
            let total = sqlx::query_scalar(AssertSqlSafe(count))
                .bind(&query.channel)
                .bind(&query.status)
                .bind(&prefix)
                .bind(&customer)
                .bind(&query.sku)
                .bind(query.placed_from)
                .bind(query.placed_to)
                .bind(query.updated_since)
                .fetch_one(&mut *conn)
                .await?;
            (rows, total)
        }))
    }

    /// How many orders the channel had lately (up to 200, cancelled ones aside) and their
    /// average total in minor units: the channel's usual order value.
    pub async fn channel_order_stats(&mut self, channel: &str) -> Result<ChannelStats, StorageError> {
        let sql = "SELECT COUNT(*), CAST(COALESCE(AVG(total_minor), 0) AS BIGINT) FROM \
                   (SELECT total_minor FROM orders WHERE channel = $1 AND status <> 'cancelled' \
                    ORDER BY placed_at DESC LIMIT 200) recent";
        let (orders, average_order_minor): (i64, i64) = on_engine!(self, |conn| sqlx::query_as(sql).bind(channel).fetch_one(conn).await?);
        Ok(ChannelStats { orders, average_order_minor })
    }

    /// The totals of the channel's last `limit` orders placed before `before` (cancelled ones
    /// aside), newest first: the channel's usual order value as it stood then.
    pub async fn order_totals_before(&mut self, channel: &str, before: DateTime<Utc>, limit: i64) -> Result<Vec<i64>, StorageError> {
        let sql = "SELECT total_minor FROM orders WHERE channel = $1 AND status <> 'cancelled' AND placed_at < $2 \
                   ORDER BY placed_at DESC LIMIT $3";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(channel).bind(before).bind(limit).fetch_all(conn).await?))
    }

    /// Sets when the order must leave its location.
    pub async fn set_order_ship_by(&mut self, order: Uuid, ship_by: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "UPDATE orders SET ship_by = $2 WHERE id = $1";
        on_engine!(self, |conn| sqlx::query(sql).bind(order).bind(ship_by).execute(conn).await?.rows_affected());
        Ok(())
    }
}

/// An order that has not left yet, with when it must.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnshippedOrder {
    pub id: Uuid,
    pub channel: String,
    pub external_id: String,
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    pub ship_by: DateTime<Utc>,
}

impl Tx {
    /// Orders still to ship (held, reserved, waiting or partly shipped) whose ship-by time is
    /// before `before`, earliest first.
    pub async fn unshipped_due_before(&mut self, before: DateTime<Utc>) -> Result<Vec<UnshippedOrder>, StorageError> {
        let sql = "SELECT id, channel, external_id, status, ship_by FROM orders \
                   WHERE status IN ('validated', 'on_hold', 'allocated', 'backordered', 'partially_shipped') \
                   AND ship_by < $1 ORDER BY ship_by, id";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(before).fetch_all(conn).await?))
    }
}

/// What a channel may change on an order that has not shipped.
#[derive(Debug, Clone)]
pub struct OrderChange<'a> {
    pub ship_to: &'a Address,
    pub billing_country: Option<&'a str>,
    pub shipping_method: &'a str,
    pub payment_status: PaymentStatus,
    pub shipping_price: Money,
    pub total: Money,
}

impl Tx {
    /// Writes the channel's new version of the order's head.
    pub async fn update_order(&mut self, order: Uuid, c: &OrderChange<'_>, now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "UPDATE orders SET ship_to = $2, billing_country = $3, shipping_method = $4, payment_status = $5, \
                   shipping_minor = $6, total_minor = $7, updated_at = $8 WHERE id = $1";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(order)
            .bind(Json(c.ship_to))
            .bind(c.billing_country)
            .bind(c.shipping_method)
            .bind(c.payment_status.as_str())
            .bind(c.shipping_price.minor())
            .bind(c.total.minor())
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Deletes an order's lines; its reservations and backorders must be released first.
    pub async fn delete_order_lines(&mut self, order: Uuid) -> Result<(), StorageError> {
        let sql = "DELETE FROM order_lines WHERE order_id = $1";
        on_engine!(self, |conn| sqlx::query(sql).bind(order).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// Keeps a version of the order the channel sent after the first, with what it changed.
    pub async fn insert_order_revision(
        &mut self,
        order: Uuid,
        actor: &str,
        changes: &str,
        payload: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let sql = "INSERT INTO order_revisions (order_id, received_at, actor, changes, payload) VALUES ($1, $2, $3, $4, $5)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(order)
            .bind(now)
            .bind(actor)
            .bind(changes)
            .bind(payload)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }
}


/// One step of an order's timeline, to be written.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    pub reason: &'a str,
}

/// An order and its (line, location, units) reserved.
pub type OrderAllocations<'a> = (Uuid, &'a [(i64, String, i64)]);

/// A new order's first steps, which one actor took at one moment, to be written.
#[derive(Debug, Clone)]
pub struct Timeline<'a> {
    pub order: Uuid,
    /// The order's channel and ship-by time, for the daily counts.
    pub channel: &'a str,
    pub ship_by: DateTime<Utc>,
    pub actor: &'a str,
    pub at: DateTime<Utc>,
    pub steps: &'a [NewEvent<'a>],
}

/// The rows of [`Timeline`]s' steps in the daily order-event counts, one per key: (day,
/// channel, from status or `""`, to status) and (events, first routings, shipped on time).
/// Every timeline is a new order's, so its first step to allocated or backordered is its
/// first routing.
fn count_steps<'a>(timelines: &[Timeline<'a>]) -> BTreeMap<(String, &'a str, &'static str, &'static str), [i64; 3]> {
    let mut counts: BTreeMap<_, [i64; 3]> = BTreeMap::new();
    for t in timelines {
        let day = day_key(t.at.date_naive());
        let mut routed = false;
        for step in t.steps {
            let routing = ROUTED.contains(&step.to);
            let first_routing = routing && !routed;
            routed |= routing;
            let on_time = step.to == OrderStatus::Shipped && t.at <= t.ship_by;
            let count = counts.entry((day.clone(), t.channel, step.from.map_or("", OrderStatus::as_str), step.to.as_str())).or_default();
            count[0] += 1;
            count[1] += i64::from(first_routing);
            count[2] += i64::from(on_time);
        }
    }
    counts
}

impl Tx {
    /// Writes orders' lines, (order, its lines), in one statement.
    pub async fn insert_order_lines(&mut self, orders: &[(Uuid, &[NewLineRecord<'_>])]) -> Result<(), StorageError> {
        let count: usize = orders.iter().map(|(_, lines)| lines.len()).sum();
        if count == 0 {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO order_lines (order_id, line_no, sku, channel_sku, quantity, unit_price_minor, tax_minor, \
             discount_minor, is_kit, part_of, item_id) {}",
            crate::values(self.engine(), count, 11)
        );
        on_engine!(self, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (order, l) in orders.iter().flat_map(|(order, lines)| lines.iter().map(move |l| (order, l))) {
                query = query
                    .bind(*order)
                    .bind(l.line)
                    .bind(l.sku)
                    .bind(l.channel_sku)
                    .bind(l.quantity)
                    .bind(l.unit_price.minor())
                    .bind(l.tax.minor())
                    .bind(l.discount.minor())
                    .bind(l.kit)
                    .bind(l.part_of)
                    .bind(l.item_id);
            }
            query.execute(conn).await?.rows_affected()
        });
        Ok(())
    }

    /// Writes new orders' first steps in one statement, and their daily counts in another.
    /// The orders' status is the caller's to set.
    pub async fn insert_order_events(&mut self, timelines: &[Timeline<'_>]) -> Result<(), StorageError> {
        let count: usize = timelines.iter().map(|t| t.steps.len()).sum();
        if count == 0 {
            return Ok(());
        }
        let sql = format!("INSERT INTO order_events (order_id, at, from_status, to_status, actor, reason) {}", crate::values(self.engine(), count, 6));
        on_engine!(self, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for t in timelines {
                for e in t.steps {
                    query = query.bind(t.order).bind(t.at).bind(e.from.map(OrderStatus::as_str)).bind(e.to.as_str()).bind(t.actor).bind(e.reason);
                }
            }
            query.execute(conn).await?.rows_affected()
        });
        debug_assert!(timelines.iter().all(|t| t.steps.first().is_none_or(|s| s.from.is_none())), "only new orders' first steps");
        let counts = count_steps(timelines);
        let sql = format!(
            "INSERT INTO order_event_days (day, channel, from_status, to_status, events, first_routings, on_time) {}",
            crate::values(self.engine(), counts.len(), 7)
        );
        on_engine!(self, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for ((day, channel, from, to), [events, first_routings, on_time]) in &counts {
                query = query.bind(day).bind(*channel).bind(*from).bind(*to).bind(*events).bind(*first_routings).bind(*on_time);
            }
            query.execute(conn).await?.rows_affected()
        });
        Ok(())
    }

    /// Records units of orders' lines reserved at locations, (order, its (line, location,
    /// units)), in one statement; each (order, line, location) at most once.
    pub async fn insert_allocations(&mut self, orders: &[OrderAllocations<'_>]) -> Result<(), StorageError> {
        let allocations: Vec<(&Uuid, &(i64, String, i64))> =
            orders.iter().flat_map(|(order, allocations)| allocations.iter().map(move |a| (order, a))).collect();
        if allocations.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO allocations (order_id, line_no, location, quantity) {} \
             ON CONFLICT (order_id, line_no, location) DO UPDATE SET quantity = allocations.quantity + excluded.quantity",
            crate::values(self.engine(), allocations.len(), 4)
        );
        on_engine!(self, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (order, (line, location, quantity)) in allocations {
                query = query.bind(*order).bind(*line).bind(location).bind(*quantity);
            }
            query.execute(conn).await?.rows_affected()
        });
        Ok(())
    }
}

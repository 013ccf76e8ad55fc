//! Orders as rules saw them, read in pages for replaying a rule set: what the facts are built
//! from, without the timeline, allocations and shipments an order page needs.

use chrono::{DateTime, Utc};
use ordo_domain::order::{Address, OrderStatus, PaymentStatus};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx};

/// One order's facts as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOrder {
    pub id: Uuid,
    pub channel: String,
    pub external_id: String,
    pub status: OrderStatus,
    pub placed_at: DateTime<Utc>,
    pub currency: String,
    pub customer_email: String,
    pub customer_name: String,
    pub ship_country: String,
    pub billing_country: Option<String>,
    pub shipping_method: String,
    pub payment_status: PaymentStatus,
    pub total_minor: i64,
    /// The channel ships it from stock it keeps (Amazon FBA).
    pub fulfilled_by_channel: bool,
    pub lines: Vec<ReplayLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayLine {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub kit: bool,
    /// The kit line this component belongs to; components are not lines the channel sent.
    pub part_of: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    channel: String,
    external_id: String,
    #[sqlx(try_from = "String")]
    status: OrderStatus,
    placed_at: DateTime<Utc>,
    currency: String,
    customer_email: String,
    customer_name: String,
    ship_to: Json<Address>,
    billing_country: Option<String>,
    shipping_method: String,
    #[sqlx(try_from = "String")]
    payment_status: PaymentStatus,
    total_minor: i64,
    fulfilled_by_channel: bool,
}

impl Tx {
    /// Up to `limit` orders placed at or after `since`, in id order after `after`, with their
    /// lines: one page of a replay.
    pub async fn replay_orders(&mut self, since: DateTime<Utc>, after: Option<Uuid>, limit: i64) -> Result<Vec<ReplayOrder>, StorageError> {
        let page = "SELECT id FROM orders WHERE placed_at >= $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3";
        let sql = format!(
            "SELECT id, channel, external_id, status, placed_at, currency, customer_email, customer_name, ship_to, billing_country, \
             shipping_method, payment_status, total_minor, fulfilled_by_channel FROM orders WHERE id IN ({page}) ORDER BY id"
        );
        let rows: Vec<OrderRow> =
            on_engine!(self, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(since).bind(after).bind(limit).fetch_all(conn).await?);
        let lines = format!(
            "SELECT order_id, sku, quantity, unit_price_minor, is_kit, part_of FROM order_lines WHERE order_id IN ({page}) \
             ORDER BY order_id, line_no"
        );
        type LineRow = (Uuid, String, i64, i64, bool, Option<i64>);
        let lines: Vec<LineRow> =
            on_engine!(self, |conn| sqlx::query_as(sqlx::AssertSqlSafe(lines)).bind(since).bind(after).bind(limit).fetch_all(conn).await?);
        let mut lines = lines.into_iter().peekable();
        let mut orders = Vec::with_capacity(rows.len());
        for row in rows {
            let mut order_lines = Vec::new();
            while let Some((_, sku, quantity, unit_price_minor, kit, part_of)) = lines.next_if(|l| l.0 == row.id) {
                order_lines.push(ReplayLine { sku, quantity, unit_price_minor, kit, part_of });
            }
            orders.push(ReplayOrder {
                id: row.id,
                channel: row.channel,
                external_id: row.external_id,
                status: row.status,
                placed_at: row.placed_at,
                currency: row.currency,
                customer_email: row.customer_email,
                customer_name: row.customer_name,
                ship_country: row.ship_to.0.country,
                billing_country: row.billing_country,
                shipping_method: row.shipping_method,
                payment_status: row.payment_status,
                total_minor: row.total_minor,
                fulfilled_by_channel: row.fulfilled_by_channel,
                lines: order_lines,
            });
        }
        Ok(orders)
    }
}

//! Procurement: supplier SKUs and terms, replenishment policies, proposals, purchase orders
//! with their lines and receipts, suppliers' bills; and the daily demand forecasts read from.

use chrono::{DateTime, NaiveDate, Utc};
use ordo_domain::procurement::{BillStatus, PoStatus, Position, ProposalStatus};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx};

/// A promotion on the calendar.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PromotionRecord {
    pub id: Uuid,
    pub name: String,
    pub channel: Option<String>,
    /// None for every SKU.
    pub sku: Option<String>,
    pub starts_on: String,
    pub ends_on: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl PromotionRecord {
    /// The first and last day the promotion runs; none when either was stored unreadable.
    pub fn days(&self) -> Option<(NaiveDate, NaiveDate)> {
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
        Some((day(&self.starts_on)?, day(&self.ends_on)?))
    }
}

/// What a supplier sells us, on what terms.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SupplierSku {
    pub supplier: String,
    pub sku: String,
    pub unit_cost_minor: i64,
    pub moq: i64,
    pub pack_size: i64,
    pub preferred: bool,
    /// From the supplier.
    pub currency: String,
    pub lead_time_days: i64,
    pub lead_time_sd_tenths: i64,
}

/// Units of a SKU on one day (`YYYY-MM-DD`, UTC): sold, or moved in and out.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SkuDay {
    pub sku: String,
    pub day: String,
    pub units: i64,
}

/// A SKU's units sold on one day (`YYYY-MM-DD`) before Ordo, on one channel or none named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedDay {
    pub sku: String,
    pub day: String,
    pub channel: Option<String>,
    pub units: i64,
}

/// A supplier's open purchase orders in one currency and the value still to arrive on them,
/// in minor units of that currency.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenOrderValue {
    pub supplier: String,
    pub currency: String,
    pub open_orders: i64,
    pub value_minor: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PurchaseOrderRecord {
    pub id: Uuid,
    pub number: String,
    pub supplier: String,
    pub location: String,
    pub currency: String,
    #[sqlx(try_from = "String")]
    pub status: PoStatus,
    pub total_minor: i64,
    pub expected_at: DateTime<Utc>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PoLineRecord {
    pub line: i64,
    pub sku: String,
    pub quantity: i64,
    pub unit_cost_minor: i64,
    pub received: i64,
    pub billed: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProposalRecord {
    pub id: Uuid,
    pub sku: String,
    pub supplier: String,
    pub quantity: i64,
    pub explanation: String,
    #[sqlx(try_from = "String")]
    pub status: ProposalStatus,
    pub po_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BillRecord {
    pub id: Uuid,
    pub po_id: Uuid,
    pub supplier: String,
    pub invoice: String,
    pub currency: String,
    pub total_minor: i64,
    pub due_at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub status: BillStatus,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

const PO_COLUMNS: &str = "id, number, supplier, location, currency, status, total_minor, expected_at, created_by, created_at, \
    approved_by, approved_at, sent_at, closed_at";
const SUPPLIER_SKU: &str = "SELECT s.supplier, s.sku, s.unit_cost_minor, s.moq, s.pack_size, s.preferred, p.currency, p.lead_time_days, \
    p.lead_time_sd_tenths FROM supplier_skus s JOIN suppliers p ON p.code = s.supplier";

impl Tx {
    pub async fn insert_promotion(&mut self, p: &PromotionRecord) -> Result<(), StorageError> {
        let sql = "INSERT INTO promotions (id, name, channel, sku, starts_on, ends_on, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(p.id)
            .bind(&p.name)
            .bind(&p.channel)
            .bind(&p.sku)
            .bind(&p.starts_on)
            .bind(&p.ends_on)
            .bind(&p.created_by)
            .bind(p.created_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Every promotion, the latest first.
    pub async fn promotions(&mut self) -> Result<Vec<PromotionRecord>, StorageError> {
        let sql = "SELECT id, name, channel, sku, starts_on, ends_on, created_by, created_at FROM promotions ORDER BY starts_on DESC, id";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }

    /// Units sold of `sku` per day (`YYYY-MM-DD`) from `from` on, on `channel` or all.
    pub async fn sku_daily_demand(&mut self, sku: &str, channel: Option<&str>, from: DateTime<Utc>) -> Result<Vec<(String, i64)>, StorageError> {
        let day = self.utc_day("o.placed_at");
        let sql = format!(
            "SELECT {day} AS day, CAST(SUM(l.quantity) AS BIGINT) FROM order_lines l JOIN orders o ON o.id = l.order_id \
             WHERE l.sku = $1 AND ($2 IS NULL OR o.channel = $2) AND o.placed_at >= $3 AND o.status <> 'cancelled' \
             GROUP BY {day} ORDER BY day"
        );
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(sku).bind(channel).bind(from).fetch_all(conn).await?))
    }

    /// Each supplier's terms, by code: lead-time spread in tenths of a day, days to pay.
    pub async fn supplier_terms(&mut self) -> Result<Vec<(String, i64, i64)>, StorageError> {
        let sql = "SELECT code, lead_time_sd_tenths, payment_terms_days FROM suppliers ORDER BY code";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }

    pub async fn set_supplier_terms(&mut self, supplier: &str, lead_time_sd_tenths: i64, payment_terms_days: i64) -> Result<bool, StorageError> {
        let sql = "UPDATE suppliers SET lead_time_sd_tenths = $2, payment_terms_days = $3 WHERE code = $1";
        let changed = on_engine!(self, |conn| sqlx::query(sql)
            .bind(supplier)
            .bind(lead_time_sd_tenths)
            .bind(payment_terms_days)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    pub async fn supplier_payment_days(&mut self, supplier: &str) -> Result<Option<i64>, StorageError> {
        let sql = "SELECT payment_terms_days FROM suppliers WHERE code = $1";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(supplier).fetch_optional(conn).await?))
    }

    /// Adds or replaces what `supplier` sells of `sku`; a preferred one makes the others not.
    pub async fn upsert_supplier_sku(&mut self, s: &SupplierSku) -> Result<(), StorageError> {
        if s.preferred {
            let sql = "UPDATE supplier_skus SET preferred = FALSE WHERE sku = $1 AND supplier <> $2";
            on_engine!(self, |conn| sqlx::query(sql).bind(&s.sku).bind(&s.supplier).execute(conn).await?.rows_affected());
        }
        let sql = "INSERT INTO supplier_skus (supplier, sku, unit_cost_minor, moq, pack_size, preferred) VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (supplier, sku) DO UPDATE SET unit_cost_minor = $3, moq = $4, pack_size = $5, preferred = $6";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(&s.supplier)
            .bind(&s.sku)
            .bind(s.unit_cost_minor)
            .bind(s.moq)
            .bind(s.pack_size)
            .bind(s.preferred)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The suppliers of `sku` (all SKUs when `None`), the preferred first.
    pub async fn supplier_skus(&mut self, sku: Option<&str>) -> Result<Vec<SupplierSku>, StorageError> {
        let sql = format!("{SUPPLIER_SKU} WHERE ($1 IS NULL OR s.sku = $1) ORDER BY s.sku, s.preferred DESC, s.unit_cost_minor, s.supplier");
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(sku).fetch_all(conn).await?))
    }

    pub async fn set_policy(&mut self, scope: &str, policy: &serde_json::Value, who: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "INSERT INTO replenishment_policies (scope, policy, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (scope) DO UPDATE SET policy = $2, updated_by = $3, updated_at = $4";
        on_engine!(self, |conn| sqlx::query(sql).bind(scope).bind(policy.to_string()).bind(who).bind(now).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// Every policy, by scope.
    pub async fn policies(&mut self) -> Result<Vec<(String, serde_json::Value)>, StorageError> {
        let rows: Vec<(String, String)> =
            on_engine!(self, |conn| sqlx::query_as("SELECT scope, policy FROM replenishment_policies ORDER BY scope").fetch_all(conn).await?);
        rows.into_iter()
            .map(|(scope, policy)| Ok((scope, serde_json::from_str(&policy).map_err(|_| crate::error::corrupt("replenishment_policies.policy"))?)))
            .collect()
    }

    /// Units sold per SKU and day (`YYYY-MM-DD`) from orders placed from `from` on, cancelled
    /// ones left out; kits' own lines left out, their components counted.
    pub async fn daily_demand(&mut self, from: DateTime<Utc>, sku: Option<&str>) -> Result<Vec<SkuDay>, StorageError> {
        let day = self.utc_day("o.placed_at");
        let sql = format!(
            "SELECT l.sku, {day} AS day, CAST(SUM(l.quantity) AS BIGINT) AS units FROM order_lines l JOIN orders o ON o.id = l.order_id \
             WHERE o.placed_at >= $1 AND o.status <> 'cancelled' AND l.is_kit = FALSE AND ($2 IS NULL OR l.sku = $2) \
             GROUP BY l.sku, {day} ORDER BY l.sku, day"
        );
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).bind(sku).fetch_all(conn).await?))
    }

    /// Sales imported from before Ordo, per SKU and day from `from` (`YYYY-MM-DD`) on: those
    /// of one channel, or every one's (those naming no channel too) when `channel` is none.
    pub async fn imported_demand(&mut self, from: &str, sku: Option<&str>, channel: Option<&str>) -> Result<Vec<SkuDay>, StorageError> {
        let sql = "SELECT sku, day, CAST(SUM(units) AS BIGINT) AS units FROM sales_history \
                   WHERE day >= $1 AND ($2 IS NULL OR sku = $2) AND ($3 IS NULL OR channel = $3) GROUP BY sku, day ORDER BY sku, day";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(from).bind(sku).bind(channel).fetch_all(conn).await?))
    }

    /// Forgets the imported sales of these SKUs and days (`YYYY-MM-DD`), on every channel, so
    /// an import that brings them again replaces them.
    pub async fn forget_sales_history(&mut self, days: &[(String, String)]) -> Result<(), StorageError> {
        const CHUNK: usize = 300;
        for chunk in days.chunks(CHUNK) {
            let sql = format!("DELETE FROM sales_history WHERE (sku, day) IN ({})", crate::values(self.engine(), chunk.len(), 2));
            on_engine!(self, |conn| {
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for (sku, day) in chunk {
                    query = query.bind(sku).bind(day);
                }
                query.execute(conn).await?.rows_affected()
            });
        }
        Ok(())
    }

    /// Keeps imported daily sales, at most one row per SKU, day and channel (or none): days
    /// imported before are [forgotten](Tx::forget_sales_history) first.
    pub async fn put_sales_history(&mut self, days: &[ImportedDay]) -> Result<(), StorageError> {
        const CHUNK: usize = 250;
        for chunk in days.chunks(CHUNK) {
            let sql = format!("INSERT INTO sales_history (sku, day, channel, units) {}", crate::values(self.engine(), chunk.len(), 4));
            on_engine!(self, |conn| {
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for d in chunk {
                    query = query.bind(&d.sku).bind(&d.day).bind(&d.channel).bind(d.units);
                }
                query.execute(conn).await?.rows_affected()
            });
        }
        Ok(())
    }

    /// Each SKU's first day (`YYYY-MM-DD`, UTC) with a sale in Ordo, of the `skus` asked for.
    pub async fn first_sale_days(&mut self, skus: &[String]) -> Result<Vec<(String, String)>, StorageError> {
        let day = self.utc_day("MIN(o.placed_at)");
        let mut found = Vec::new();
        for chunk in skus.chunks(500) {
            let list = crate::placeholders(self.engine(), chunk.len());
            let sql = format!(
                "SELECT l.sku, {day} FROM order_lines l JOIN orders o ON o.id = l.order_id \
                 WHERE o.status <> 'cancelled' AND l.is_kit = FALSE AND l.sku IN ({list}) GROUP BY l.sku"
            );
            let rows: Vec<(String, String)> = on_engine!(self, |conn| {
                let mut query = sqlx::query_as(AssertSqlSafe(sql));
                for sku in chunk {
                    query = query.bind(sku);
                }
                query.fetch_all(conn).await?
            });
            found.extend(rows);
        }
        Ok(found)
    }

    /// Net stock movement per SKU and day, all locations together, from the first: on-hand
    /// at the end of each day is their running sum, and a day that ends with none is a
    /// stockout day, whose sales do not show what customers wanted.
    pub async fn daily_stock_changes(&mut self, sku: Option<&str>) -> Result<Vec<SkuDay>, StorageError> {
        let day = self.utc_day("created_at");
        let sql = format!(
            "SELECT sku, {day} AS day, CAST(SUM(quantity) AS BIGINT) AS units FROM stock_movements WHERE ($1 IS NULL OR sku = $1) \
             GROUP BY sku, {day} ORDER BY sku, day"
        );
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(sku).fetch_all(conn).await?))
    }

    /// Per SKU: on hand, reserved and backordered across locations, and on order from open POs.
    pub async fn positions(&mut self) -> Result<Vec<(String, Position)>, StorageError> {
        let sql = "SELECT p.sku, \
                   CAST(COALESCE((SELECT SUM(on_hand) FROM stock_levels s WHERE s.sku = p.sku), 0) AS BIGINT), \
                   CAST(COALESCE((SELECT SUM(reserved) FROM stock_levels s WHERE s.sku = p.sku), 0) AS BIGINT), \
                   CAST(COALESCE((SELECT SUM(quantity) FROM backorders b WHERE b.sku = p.sku), 0) AS BIGINT), \
                   CAST(COALESCE((SELECT SUM(l.quantity - l.received) FROM po_lines l JOIN purchase_orders o ON o.id = l.po_id \
                             WHERE l.sku = p.sku AND l.received < l.quantity \
                             AND o.status IN ('draft', 'approved', 'sent', 'partially_received')), 0) AS BIGINT) \
                   FROM products p WHERE p.active ORDER BY p.sku";
        let rows: Vec<(String, i64, i64, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(sku, on_hand, reserved, backordered, on_order)| (sku, Position { on_hand, reserved, on_order, backordered })).collect())
    }

    pub async fn insert_proposal(&mut self, p: &ProposalRecord) -> Result<(), StorageError> {
        let sql = "INSERT INTO proposals (id, sku, supplier, quantity, explanation, status, created_at) VALUES ($1, $2, $3, $4, $5, 'proposed', $6)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(p.id)
            .bind(&p.sku)
            .bind(&p.supplier)
            .bind(p.quantity)
            .bind(&p.explanation)
            .bind(p.created_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Withdraws the proposals still open, before a run writes its own. Runs at once (the
    /// nightly one and a buyer's) take turns to the end of their transactions, so each
    /// replaces the last one's set: on PostgreSQL both sets stayed, and the goods were proposed
    /// twice.
    pub async fn withdraw_open_proposals(&mut self) -> Result<u64, StorageError> {
        self.take_turn("ordo replenishment proposals").await?;
        Ok(on_engine!(self, |conn| sqlx::query("DELETE FROM proposals WHERE status = 'proposed'").execute(conn).await?.rows_affected()))
    }

    pub async fn proposals(&mut self, status: Option<&str>) -> Result<Vec<ProposalRecord>, StorageError> {
        let sql = "SELECT id, sku, supplier, quantity, explanation, status, po_id, created_at, decided_by, decided_at FROM proposals \
                   WHERE ($1 IS NULL OR status = $1) ORDER BY supplier, sku";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(status).fetch_all(conn).await?))
    }

    /// Decides an open proposal, with the quantity decided on (the proposed one stays when
    /// none); `false` when it was not open.
    pub async fn decide_proposal(
        &mut self,
        id: Uuid,
        status: &str,
        quantity: Option<i64>,
        po: Option<Uuid>,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "UPDATE proposals SET status = $2, quantity = COALESCE($3, quantity), po_id = $4, decided_by = $5, decided_at = $6 WHERE id = $1 AND status = 'proposed'";
        let changed = on_engine!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(status)
            .bind(quantity)
            .bind(po)
            .bind(who)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    /// The next purchase order number, `PO-000001` onwards. Buyers numbering at once take
    /// turns, each until its order is written: read at once, two got the same number.
    pub async fn next_po_number(&mut self) -> Result<String, StorageError> {
        self.take_turn("ordo purchase order number").await?;
        let count: i64 = on_engine!(self, |conn| sqlx::query_scalar("SELECT COUNT(*) FROM purchase_orders").fetch_one(conn).await?);
        Ok(format!("PO-{:06}", count + 1))
    }

    pub async fn insert_purchase_order(&mut self, po: &PurchaseOrderRecord, lines: &[PoLineRecord]) -> Result<(), StorageError> {
        let sql = format!("INSERT INTO purchase_orders ({PO_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)");
        on_engine!(self, |conn| sqlx::query(AssertSqlSafe(sql))
            .bind(po.id)
            .bind(&po.number)
            .bind(&po.supplier)
            .bind(&po.location)
            .bind(&po.currency)
            .bind(po.status.as_str())
            .bind(po.total_minor)
            .bind(po.expected_at)
            .bind(&po.created_by)
            .bind(po.created_at)
            .bind(&po.approved_by)
            .bind(po.approved_at)
            .bind(po.sent_at)
            .bind(po.closed_at)
            .execute(conn)
            .await?
            .rows_affected());
        let sql = "INSERT INTO po_lines (po_id, line, sku, quantity, unit_cost_minor) VALUES ($1, $2, $3, $4, $5)";
        for l in lines {
            on_engine!(self, |conn| sqlx::query(sql)
                .bind(po.id)
                .bind(l.line)
                .bind(&l.sku)
                .bind(l.quantity)
                .bind(l.unit_cost_minor)
                .execute(conn)
                .await?
                .rows_affected());
        }
        Ok(())
    }

    /// Holds the purchase order's row until the transaction ends: receipts and bills check
    /// what was received and billed before they add to it. SQLite's single writer already
    /// holds the whole database.
    pub async fn lock_purchase_order(&mut self, id: Uuid) -> Result<(), StorageError> {
        if let crate::TxInner::Postgres(tx) = &mut self.inner {
            sqlx::query("SELECT id FROM purchase_orders WHERE id = $1 FOR UPDATE").bind(id).fetch_optional(&mut **tx).await?;
        }
        Ok(())
    }

    pub async fn purchase_order(&mut self, id: Uuid) -> Result<Option<(PurchaseOrderRecord, Vec<PoLineRecord>)>, StorageError> {
        let sql = format!("SELECT {PO_COLUMNS} FROM purchase_orders WHERE id = $1");
        let Some(po): Option<PurchaseOrderRecord> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?) else {
            return Ok(None);
        };
        let sql = "SELECT line, sku, quantity, unit_cost_minor, received, billed FROM po_lines WHERE po_id = $1 ORDER BY line";
        let lines: Vec<PoLineRecord> = on_engine!(self, |conn| sqlx::query_as(sql).bind(id).fetch_all(conn).await?);
        Ok(Some((po, lines)))
    }

    pub async fn purchase_orders(&mut self, status: Option<&str>, limit: i64) -> Result<Vec<PurchaseOrderRecord>, StorageError> {
        let sql = format!("SELECT {PO_COLUMNS} FROM purchase_orders WHERE ($1 IS NULL OR status = $1) ORDER BY created_at DESC, id DESC LIMIT $2");
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(status).bind(limit).fetch_all(conn).await?))
    }

    /// Moves a PO from `from` to `to`, stamping who approved it or when it was sent or
    /// closed; `false` when it was not `from`.
    pub async fn move_purchase_order(&mut self, id: Uuid, from: &str, to: &str, who: &str, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE purchase_orders SET status = $3, \
                   approved_by = CASE WHEN $3 = 'approved' THEN $4 ELSE approved_by END, \
                   approved_at = CASE WHEN $3 = 'approved' THEN $5 ELSE approved_at END, \
                   sent_at = CASE WHEN $3 = 'sent' THEN $5 ELSE sent_at END, \
                   closed_at = CASE WHEN $3 IN ('closed', 'cancelled') THEN $5 ELSE closed_at END \
                   WHERE id = $1 AND status = $2";
        let changed = on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(from).bind(to).bind(who).bind(now).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }

    pub async fn add_received(&mut self, id: Uuid, line: i64, quantity: i64) -> Result<(), StorageError> {
        let sql = "UPDATE po_lines SET received = received + $3 WHERE po_id = $1 AND line = $2";
        on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(line).bind(quantity).execute(conn).await?.rows_affected());
        Ok(())
    }

    pub async fn add_billed(&mut self, id: Uuid, line: i64, quantity: i64) -> Result<(), StorageError> {
        let sql = "UPDATE po_lines SET billed = billed + $3 WHERE po_id = $1 AND line = $2";
        on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(line).bind(quantity).execute(conn).await?.rows_affected());
        Ok(())
    }

    pub async fn insert_bill(&mut self, b: &BillRecord, lines: &[(i64, i64, i64)]) -> Result<(), StorageError> {
        let sql = "INSERT INTO supplier_bills (id, po_id, supplier, invoice, currency, total_minor, due_at, status, created_by, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(b.id)
            .bind(b.po_id)
            .bind(&b.supplier)
            .bind(&b.invoice)
            .bind(&b.currency)
            .bind(b.total_minor)
            .bind(b.due_at)
            .bind(b.status.as_str())
            .bind(&b.created_by)
            .bind(b.created_at)
            .execute(conn)
            .await?
            .rows_affected());
        let sql = "INSERT INTO bill_lines (bill_id, line, quantity, unit_cost_minor) VALUES ($1, $2, $3, $4)";
        for (line, quantity, cost) in lines {
            on_engine!(self, |conn| sqlx::query(sql).bind(b.id).bind(line).bind(quantity).bind(cost).execute(conn).await?.rows_affected());
        }
        Ok(())
    }

    pub async fn bills(&mut self, po: Uuid) -> Result<Vec<BillRecord>, StorageError> {
        let sql = "SELECT id, po_id, supplier, invoice, currency, total_minor, due_at, status, created_by, created_at FROM supplier_bills \
                   WHERE po_id = $1 ORDER BY created_at";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(po).fetch_all(conn).await?))
    }

    /// Per SKU still to arrive on an open purchase order, when the first of it is expected.
    pub async fn next_receipts(&mut self) -> Result<Vec<(String, DateTime<Utc>)>, StorageError> {
        let sql = "SELECT l.sku, MIN(o.expected_at) FROM po_lines l JOIN purchase_orders o ON o.id = l.po_id \
                   WHERE o.status IN ('draft', 'approved', 'sent', 'partially_received') AND l.received < l.quantity GROUP BY l.sku";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }

    /// Per supplier and currency: open purchase orders and the value still to arrive on them,
    /// in minor units of the orders' currency.
    pub async fn open_order_value(&mut self) -> Result<Vec<OpenOrderValue>, StorageError> {
        let sql = "SELECT o.supplier, o.currency, CAST(COUNT(DISTINCT o.id) AS BIGINT) AS open_orders, \
                   CAST(COALESCE(SUM((l.quantity - l.received) * l.unit_cost_minor), 0) AS BIGINT) AS value_minor \
                   FROM purchase_orders o JOIN po_lines l ON l.po_id = o.id \
                   WHERE o.status IN ('draft', 'approved', 'sent', 'partially_received') AND l.received < l.quantity \
                   GROUP BY o.supplier, o.currency ORDER BY o.supplier";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }

    /// Sent or partly received POs expected before `now`.
    pub async fn overdue_purchase_orders(&mut self, now: DateTime<Utc>) -> Result<Vec<PurchaseOrderRecord>, StorageError> {
        let sql = format!("SELECT {PO_COLUMNS} FROM purchase_orders WHERE status IN ('sent', 'partially_received') AND expected_at < $1");
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(now).fetch_all(conn).await?))
    }
}

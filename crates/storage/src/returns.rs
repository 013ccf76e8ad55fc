//! Returns, their lines, refunds, supplier claims and channels' return policies.

use chrono::{DateTime, Utc};
use ordo_domain::returns::ReturnPolicy;
use sqlx::AssertSqlSafe;
use ordo_domain::field::PageCursor;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx};

/// A return as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReturnRecord {
    pub id: Uuid,
    pub order_id: Uuid,
    #[sqlx(try_from = "String")]
    pub status: ordo_domain::returns::ReturnStatus,
    pub source: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub review_reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub due_back_at: Option<DateTime<Utc>>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub location: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    pub inspected_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub replacement_order: Option<Uuid>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReturnLineRecord {
    pub line: i64,
    pub sku: String,
    pub quantity: i64,
    pub reason: String,
    pub received: i64,
    pub disposition: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefundRecord {
    pub id: Uuid,
    pub order_id: Uuid,
    pub return_id: Option<Uuid>,
    pub currency: String,
    pub shipping: i64,
    pub total: i64,
    pub reason: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefundLineRecord {
    pub line: i64,
    pub quantity: i64,
    pub net: i64,
    pub tax: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimRecord {
    pub id: Uuid,
    pub return_id: Uuid,
    pub line: i64,
    pub sku: String,
    pub supplier: Option<String>,
    pub quantity: i64,
    pub value: i64,
    pub evidence: String,
    #[sqlx(try_from = "String")]
    pub status: ordo_domain::returns::ClaimStatus,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    pub settled_by: Option<String>,
}

/// Returned units and what they are worth, per channel, SKU and reason, for return rates.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReturnedUnits {
    pub channel: String,
    pub sku: String,
    pub reason: String,
    pub day: String,
    pub units: i64,
}

const RETURN_COLUMNS: &str = "id, order_id, status, source, requested_by, requested_at, review_reason, decided_by, decided_at, \
    decision_note, due_back_at, carrier, tracking, location, received_at, inspected_at, closed_at, replacement_order";

impl Tx {
    pub async fn return_policy(&mut self, channel: &str) -> Result<Option<ReturnPolicy>, StorageError> {
        let sql = "SELECT window_days, auto_reasons, max_auto_value_minor, ship_back_days FROM return_policies WHERE channel = $1";
        let row: Option<(i64, String, Option<i64>, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).bind(channel).fetch_optional(conn).await?);
        Ok(row.map(|(window_days, reasons, max_auto_value_minor, ship_back_days)| ReturnPolicy {
            window_days,
            auto_reasons: reasons.split(',').filter(|r| !r.is_empty()).map(str::to_owned).collect(),
            max_auto_value_minor,
            ship_back_days,
        }))
    }

    pub async fn set_return_policy(&mut self, channel: &str, policy: &ReturnPolicy) -> Result<(), StorageError> {
        let sql = "INSERT INTO return_policies (channel, window_days, auto_reasons, max_auto_value_minor, ship_back_days) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel) DO UPDATE SET window_days = $2, auto_reasons = $3, \
                   max_auto_value_minor = $4, ship_back_days = $5";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(channel)
            .bind(policy.window_days)
            .bind(policy.auto_reasons.join(","))
            .bind(policy.max_auto_value_minor)
            .bind(policy.ship_back_days)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn insert_return(&mut self, r: &ReturnRecord, lines: &[ReturnLineRecord]) -> Result<(), StorageError> {
        let sql = "INSERT INTO returns (id, order_id, status, source, requested_by, requested_at, review_reason, decided_by, \
                   decided_at, decision_note, due_back_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(r.id)
            .bind(r.order_id)
            .bind(r.status.as_str())
            .bind(&r.source)
            .bind(&r.requested_by)
            .bind(r.requested_at)
            .bind(&r.review_reason)
            .bind(&r.decided_by)
            .bind(r.decided_at)
            .bind(&r.decision_note)
            .bind(r.due_back_at)
            .execute(conn)
            .await?
            .rows_affected());
        let sql = "INSERT INTO return_lines (return_id, line, sku, quantity, reason) VALUES ($1, $2, $3, $4, $5)";
        for l in lines {
            on_engine!(self, |conn| sqlx::query(sql)
                .bind(r.id)
                .bind(l.line)
                .bind(&l.sku)
                .bind(l.quantity)
                .bind(&l.reason)
                .execute(conn)
                .await?
                .rows_affected());
        }
        Ok(())
    }

    pub async fn return_record(&mut self, id: Uuid) -> Result<Option<ReturnRecord>, StorageError> {
        let sql = format!("SELECT {RETURN_COLUMNS} FROM returns WHERE id = $1");
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?))
    }

    pub async fn return_lines(&mut self, id: Uuid) -> Result<Vec<ReturnLineRecord>, StorageError> {
        let sql = "SELECT line, sku, quantity, reason, received, disposition, note FROM return_lines WHERE return_id = $1 ORDER BY line";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(id).fetch_all(conn).await?))
    }

    /// Returns of one order, or those in `status`, newest first; of the order the channel
    /// numbers `order_ref`, and asking back `sku`, when given; after the return `after` names
    /// (its request time and id) when given.
    #[allow(clippy::too_many_arguments)]
    pub async fn returns(
        &mut self,
        order: Option<Uuid>,
        status: Option<&str>,
        order_ref: Option<&str>,
        sku: Option<&str>,
        limit: i64,
        after: Option<PageCursor>,
    ) -> Result<Vec<ReturnRecord>, StorageError> {
        let sql = format!(
            "SELECT {RETURN_COLUMNS} FROM returns WHERE ($1 IS NULL OR order_id = $1) AND ($2 IS NULL OR status = $2) \
             AND ($6 IS NULL OR order_id IN (SELECT id FROM orders WHERE external_id = $6)) \
             AND ($7 IS NULL OR EXISTS (SELECT 1 FROM return_lines l WHERE l.return_id = returns.id AND l.sku = $7)) \
             AND ($3 IS NULL OR (requested_at, id) < ($3, $4)) ORDER BY requested_at DESC, id DESC LIMIT $5"
        );
        let (at, id) = (after.map(|c| c.at), after.map(|c| c.id));
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql))
            .bind(order)
            .bind(status)
            .bind(at)
            .bind(id)
            .bind(limit)
            .bind(order_ref)
            .bind(sku)
            .fetch_all(conn)
            .await?))
    }

    /// Units of each order line asked back in returns that were not rejected.
    pub async fn units_in_returns(&mut self, order: Uuid) -> Result<Vec<(i64, i64)>, StorageError> {
        let sql = "SELECT l.line, CAST(SUM(l.quantity) AS BIGINT) FROM return_lines l JOIN returns r ON r.id = l.return_id \
                   WHERE r.order_id = $1 AND r.status <> 'rejected' GROUP BY l.line";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(order).fetch_all(conn).await?))
    }

    /// Moves a return from `from` to `to`, setting the columns that step fills; `false` when it
    /// was not `from` (another person moved it meanwhile).
    pub async fn move_return(&mut self, id: Uuid, from: &str, to: &str, step: &ReturnStep<'_>) -> Result<bool, StorageError> {
        let sql = "UPDATE returns SET status = $3, \
                   decided_by = COALESCE($4, decided_by), decided_at = COALESCE($5, decided_at), \
                   decision_note = COALESCE($6, decision_note), due_back_at = COALESCE($7, due_back_at), \
                   carrier = COALESCE($8, carrier), tracking = COALESCE($9, tracking), location = COALESCE($10, location), \
                   received_at = COALESCE($11, received_at), inspected_at = COALESCE($12, inspected_at), \
                   closed_at = COALESCE($13, closed_at) \
                   WHERE id = $1 AND status = $2";
        let changed = on_engine!(self, |conn| sqlx::query(sql)
            .bind(id)
            .bind(from)
            .bind(to)
            .bind(step.decided_by)
            .bind(step.decided_at)
            .bind(step.decision_note)
            .bind(step.due_back_at)
            .bind(step.carrier)
            .bind(step.tracking)
            .bind(step.location)
            .bind(step.received_at)
            .bind(step.inspected_at)
            .bind(step.closed_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    pub async fn set_line_received(&mut self, id: Uuid, line: i64, received: i64) -> Result<(), StorageError> {
        let sql = "UPDATE return_lines SET received = $3 WHERE return_id = $1 AND line = $2";
        on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(line).bind(received).execute(conn).await?.rows_affected());
        Ok(())
    }

    pub async fn set_line_disposition(&mut self, id: Uuid, line: i64, disposition: &str, note: &str) -> Result<(), StorageError> {
        let sql = "UPDATE return_lines SET disposition = $3, note = $4 WHERE return_id = $1 AND line = $2";
        on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(line).bind(disposition).bind(note).execute(conn).await?.rows_affected());
        Ok(())
    }

    pub async fn set_replacement(&mut self, id: Uuid, order: Uuid) -> Result<(), StorageError> {
        on_engine!(self, |conn| sqlx::query("UPDATE returns SET replacement_order = $2 WHERE id = $1")
            .bind(id)
            .bind(order)
            .execute(conn)
            .await?
            .rows_affected());
        on_engine!(self, |conn| sqlx::query("UPDATE orders SET replaces_return = $1 WHERE id = $2")
            .bind(id)
            .bind(order)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The return an order replaces goods for, if it is a replacement.
    pub async fn replaces_return(&mut self, order: Uuid) -> Result<Option<Uuid>, StorageError> {
        let sql = "SELECT replaces_return FROM orders WHERE id = $1";
        let found: Option<Option<Uuid>> = on_engine!(self, |conn| sqlx::query_scalar(sql).bind(order).fetch_optional(conn).await?);
        Ok(found.flatten())
    }

    pub async fn insert_refund(&mut self, r: &RefundRecord, lines: &[RefundLineRecord]) -> Result<(), StorageError> {
        let sql = "INSERT INTO refunds (id, order_id, return_id, currency, shipping, total, reason, actor, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(r.id)
            .bind(r.order_id)
            .bind(r.return_id)
            .bind(&r.currency)
            .bind(r.shipping)
            .bind(r.total)
            .bind(&r.reason)
            .bind(&r.actor)
            .bind(r.created_at)
            .execute(conn)
            .await?
            .rows_affected());
        let sql = "INSERT INTO refund_lines (refund_id, line, quantity, net, tax) VALUES ($1, $2, $3, $4, $5)";
        for l in lines {
            on_engine!(self, |conn| sqlx::query(sql)
                .bind(r.id)
                .bind(l.line)
                .bind(l.quantity)
                .bind(l.net)
                .bind(l.tax)
                .execute(conn)
                .await?
                .rows_affected());
        }
        Ok(())
    }

    pub async fn refunds(&mut self, order: Uuid) -> Result<Vec<(RefundRecord, Vec<RefundLineRecord>)>, StorageError> {
        let sql = "SELECT id, order_id, return_id, currency, shipping, total, reason, actor, created_at FROM refunds \
                   WHERE order_id = $1 ORDER BY created_at, id";
        let refunds: Vec<RefundRecord> = on_engine!(self, |conn| sqlx::query_as(sql).bind(order).fetch_all(conn).await?);
        let mut out = Vec::with_capacity(refunds.len());
        for refund in refunds {
            let sql = "SELECT line, quantity, net, tax FROM refund_lines WHERE refund_id = $1 ORDER BY line";
            let lines: Vec<RefundLineRecord> = on_engine!(self, |conn| sqlx::query_as(sql).bind(refund.id).fetch_all(conn).await?);
            out.push((refund, lines));
        }
        Ok(out)
    }

    pub async fn insert_claim(&mut self, c: &ClaimRecord) -> Result<(), StorageError> {
        let sql = "INSERT INTO supplier_claims (id, return_id, line, sku, supplier, quantity, value, evidence, status, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(c.id)
            .bind(c.return_id)
            .bind(c.line)
            .bind(&c.sku)
            .bind(&c.supplier)
            .bind(c.quantity)
            .bind(c.value)
            .bind(&c.evidence)
            .bind(c.created_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn claims(&mut self, return_id: Option<Uuid>, status: Option<&str>) -> Result<Vec<ClaimRecord>, StorageError> {
        let sql = "SELECT id, return_id, line, sku, supplier, quantity, value, evidence, status, created_at, settled_at, settled_by \
                   FROM supplier_claims WHERE ($1 IS NULL OR return_id = $1) AND ($2 IS NULL OR status = $2) ORDER BY created_at, id";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(return_id).bind(status).fetch_all(conn).await?))
    }

    /// Settles an open claim; `false` when it is not open.
    pub async fn settle_claim(&mut self, id: Uuid, status: ordo_domain::returns::ClaimStatus, who: &str, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE supplier_claims SET status = $2, settled_by = $3, settled_at = $4 WHERE id = $1 AND status = 'open'";
        let changed = on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(status.as_str()).bind(who).bind(now).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }

    pub async fn claim(&mut self, id: Uuid) -> Result<Option<ClaimRecord>, StorageError> {
        let sql = "SELECT id, return_id, line, sku, supplier, quantity, value, evidence, status, created_at, settled_at, settled_by \
                   FROM supplier_claims WHERE id = $1";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(id).fetch_optional(conn).await?))
    }

    /// Puts returned units back into stock at `location` as a `return_restock` movement;
    /// on-hand and the movements stay equal.
    pub async fn restock_returned(&mut self, sku: &str, location: &str, units: i64, reason: &str, actor: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.lock_for_arrival(&[sku], location).await?;
        self.apply_stock_delta(sku, location, units, "return_restock", reason, actor, now)
            .await?
            .ok_or_else(|| crate::error::corrupt("stock_levels: adding returned units was refused"))?;
        Ok(())
    }

    /// Authorised returns whose goods were due back before `now` and have not arrived.
    pub async fn overdue_returns(&mut self, now: DateTime<Utc>) -> Result<Vec<ReturnRecord>, StorageError> {
        let sql = format!("SELECT {RETURN_COLUMNS} FROM returns WHERE status IN ('authorized', 'in_transit') AND due_back_at < $1");
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(now).fetch_all(conn).await?))
    }

    /// Units returned per channel, SKU, reason and day requested, from `from` to `to`.
    pub async fn returned_units(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ReturnedUnits>, StorageError> {
        let day = self.utc_day("r.requested_at");
        let sql = format!(
            "SELECT o.channel, l.sku, l.reason, {day} AS day, CAST(SUM(l.quantity) AS BIGINT) AS units \
             FROM return_lines l JOIN returns r ON r.id = l.return_id JOIN orders o ON o.id = r.order_id \
             WHERE r.status <> 'rejected' AND r.requested_at >= $1 AND r.requested_at < $2 \
             GROUP BY o.channel, l.sku, l.reason, {day} ORDER BY day"
        );
        Ok(on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).bind(to).fetch_all(conn).await?))
    }

    /// Units shipped per channel, SKU and day from `from` to `to`: what return rates divide by.
    pub async fn shipped_units(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ordo_domain::returns::ShippedDay>, StorageError> {
        let day = self.utc_day("s.shipped_at");
        let sql = format!(
            "SELECT o.channel, ol.sku, {day}, CAST(SUM(sl.quantity) AS BIGINT) FROM shipment_lines sl JOIN shipments s ON s.id = sl.shipment_id \
             JOIN orders o ON o.id = s.order_id JOIN order_lines ol ON ol.order_id = s.order_id AND ol.line_no = sl.line_no \
             WHERE s.shipped_at >= $1 AND s.shipped_at < $2 GROUP BY o.channel, ol.sku, {day}"
        );
        let rows: Vec<(String, String, String, i64)> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(from).bind(to).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(channel, sku, day, units)| ordo_domain::returns::ShippedDay { channel, sku, day, units }).collect())
    }
}

/// The columns one step of a return fills; the rest stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ReturnStep<'a> {
    pub decided_by: Option<&'a str>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<&'a str>,
    pub due_back_at: Option<DateTime<Utc>>,
    pub carrier: Option<&'a str>,
    pub tracking: Option<&'a str>,
    pub location: Option<&'a str>,
    pub received_at: Option<DateTime<Utc>>,
    pub inspected_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

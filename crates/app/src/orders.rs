//! Orders after intake: reviews released, cancellations, the order list and one order, and
//! the exceptions queue.

use ordo_domain::exception::ExceptionKind;
use ordo_domain::order::{Order, OrderStatus};
use ordo_domain::routing::LineDemand;
use ordo_domain::FieldError;
use uuid::Uuid;

use ordo_domain::audit::Change;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Orders, Ordo};

/// What the audit log keeps of an order's state: its status and, per line, what it holds.
pub(crate) fn order_state(order: &Order) -> serde_json::Value {
    let lines: Vec<serde_json::Value> = order
        .lines
        .iter()
        .filter(|l| !l.kit)
        .map(|l| {
            let reserved: i64 = l.allocations.iter().map(|a| a.quantity).sum();
            serde_json::json!({"line": l.line, "sku": l.sku, "quantity": l.quantity, "reserved": reserved, "shipped": l.shipped})
        })
        .collect();
    serde_json::json!({"status": order.status.as_str(), "lines": lines})
}

/// Which orders to list; the text is as the caller typed it, checked by [`Orders::search`].
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub channel: Option<String>,
    pub status: Option<String>,
    /// The start of the channel's order id.
    pub external_id: Option<String>,
    /// Part of the customer's name or e-mail address.
    pub customer: Option<String>,
    pub sku: Option<String>,
    pub placed_from: Option<chrono::NaiveDate>,
    /// Included.
    pub placed_to: Option<chrono::NaiveDate>,
    /// The change feed: orders changed after this time.
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// The most rows one CSV export holds; narrow the filter for more.
pub const MAX_EXPORT_ROWS: usize = 100_000;

/// A page of orders.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<ordo_storage::OrderSummary>,
    /// Matching the filter, in all.
    pub total: i64,
    /// Where the next page starts; none when this page is not full.
    pub next_cursor: Option<String>,
}

impl Orders<'_> {
    /// Releases an order held for review: it is routed and reserved as if it had just come.
    pub async fn release_hold(self, id: Uuid, reason: &str, actor: &Actor) -> AppResult<Order> {
        let reason = ordo_domain::field::text("reason", reason)?;
        let now = self.now();
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        let order = tx.order_for_update(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })?;
        if order.status != OrderStatus::OnHold {
            let message = format!("an order that is {} is not on hold", order.status);
            return Err(AppError::InvalidTransition { current: order.status.as_str(), message });
        }
        tx.record_transition(id, Some(OrderStatus::OnHold), OrderStatus::Validated, &who, &reason, now).await?;
        let lines: Vec<LineDemand> = order
            .lines
            .iter()
            .filter(|l| !l.kit)
            .map(|l| LineDemand { line: l.line, sku: l.sku.clone(), quantity: l.quantity, kit: l.part_of })
            .collect();
        let channel = tx.channel(&order.channel).await?.ok_or(AppError::NotFound { what: "channel", key: order.channel.clone() })?;
        let when = (order.placed_at, channel.ship_by_sla_hours);
        // Routed by the rules in force now, on the facts as they stand now.
        let routing = crate::rules::load_active(&mut tx, ordo_domain::rules::RuleKind::Routing).await?;
        let preference = if routing.is_empty() {
            None
        } else {
            let stats = tx.channel_order_stats(&channel.code).await?;
            let facts = crate::rules::stored_order_facts(&order, &channel, stats, now);
            let rules = ordo_domain::decide::OrderRules { routing: &routing, ..Default::default() };
            let decided = ordo_domain::decide::decide_order(rules, |_| facts);
            crate::rules::log_passed_over(&decided.passed_over);
            decided.preference
        };
        Ordo::allocate(&mut tx, id, &order.channel, &order.shipping_method, &lines, when, preference.as_ref(), &who, now).await?;
        tx.resolve_exception(ExceptionKind::PaymentReview.as_str(), &format!("order:{id}"), &reason, now).await?;
        let released = tx.order(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })?;
        let change = Change::new("order.release_hold", format!("order:{id}"))
            .before(order_state(&order))
            .after(order_state(&released))
            .reason(&reason);
        record(&mut tx, actor, now, &[change]).await?;
        let order = released;
        tx.commit().await?;
        Ok(order)
    }

    /// Orders by channel, status and the start of the channel's order id, newest first;
    /// with how many match in all.
    /// Orders newest first by channel, status and the start of the channel's order id, a page
    /// at a time: [`Orders::search`] with those filters.
    pub async fn list(
        &self,
        channel: Option<&str>,
        status: Option<&str>,
        external_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> AppResult<(Vec<ordo_storage::OrderSummary>, i64)> {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        let filter = OrderFilter { channel: owned(channel), status: owned(status), external_id: owned(external_id), limit, offset, ..OrderFilter::default() };
        let page = self.search(filter).await?;
        Ok((page.orders, page.total))
    }

    /// Orders matching `filter`: newest placed first, or with `updated_since` the change feed,
    /// oldest change first. Either pages by `offset` or by the `next_cursor` of the page before.
    pub async fn search(&self, filter: OrderFilter) -> AppResult<OrderPage> {
        let clean = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let status = clean(filter.status);
        if let Some(s) = status.as_deref().filter(|s| OrderStatus::parse(s).is_none()) {
            return Err(FieldError::new("status", format!("{s:?} is not an order status")).into());
        }
        let short = |field: &str, v: Option<String>| -> AppResult<Option<String>> {
            match v {
                Some(v) if v.len() > ordo_domain::field::MAX_CODE_LEN => Err(FieldError::new(field, format!("{} characters is too long", v.len())).into()),
                v => Ok(v),
            }
        };
        let day = |date: Option<chrono::NaiveDate>| date.map(|d| chrono::TimeZone::from_utc_datetime(&chrono::Utc, &d.and_time(chrono::NaiveTime::MIN)));
        let placed_from = day(filter.placed_from);
        // `placed_to` is a day, included whole.
        let placed_to = day(filter.placed_to.and_then(|d| d.succ_opt()));
        if let (Some(from), Some(to)) = (placed_from, placed_to)
            && from >= to
        {
            return Err(FieldError::new("placed_to", "is before placed_from").into());
        }
        let after = clean(filter.cursor).map(|c| ordo_domain::field::PageCursor::parse("cursor", &c)).transpose()?;
        let limit = ordo_domain::field::bounded("limit", filter.limit, 1, crate::master::MAX_PAGE_SIZE)?;
        let query = ordo_storage::OrderQuery {
            channel: clean(filter.channel),
            status,
            external_id: short("external_id", clean(filter.external_id))?,
            customer: short("customer", clean(filter.customer))?,
            sku: short("sku", clean(filter.sku))?,
            placed_from,
            placed_to,
            updated_since: filter.updated_since,
            after: after.map(|c| (c.at, c.id)),
            limit,
            offset: ordo_domain::field::bounded("offset", filter.offset, 0, i64::MAX)?,
        };
        let feed = query.updated_since.is_some();
        let (orders, total) = self.db.read().await?.orders(&query).await?;
        // A full page may have more behind it; the cursor says where the next one starts.
        let next_cursor = (orders.len() as i64 == limit)
            .then(|| orders.last())
            .flatten()
            .map(|o| ordo_domain::field::PageCursor { at: if feed { o.updated_at } else { o.placed_at }, id: o.id }.encode());
        Ok(OrderPage { orders, total, next_cursor })
    }

    /// Every order matching `filter` (its paging aside) as CSV, at most [`MAX_EXPORT_ROWS`]
    /// rows: id, channel, order number, status, placed, ship-by, currency, total, customer,
    /// e-mail. Money as decimal strings.
    pub async fn export_csv(&self, mut filter: OrderFilter) -> AppResult<Vec<u8>> {
        let mut out = csv::Writer::from_writer(Vec::new());
        let failed = |e: csv::Error| AppError::Storage(ordo_storage::StorageError::Corrupt(format!("writing CSV: {e}")));
        out.write_record(["id", "channel", "external_id", "status", "placed_at", "ship_by", "currency", "total", "customer_name", "customer_email"]).map_err(failed)?;
        (filter.limit, filter.offset, filter.cursor) = (crate::master::MAX_PAGE_SIZE, 0, None);
        let mut written = 0;
        loop {
            let page = self.search(filter.clone()).await?;
            for o in &page.orders {
                let total = ordo_domain::Currency::parse("currency", &o.currency)
                    .map(|c| ordo_domain::Money::from_minor(o.total_minor, c).to_decimal_string())
                    .unwrap_or_else(|_| o.total_minor.to_string());
                let (placed, ship_by) = (o.placed_at.to_rfc3339(), o.ship_by.to_rfc3339());
                let id = o.id.to_string();
                out.write_record([id.as_str(), &o.channel, &o.external_id, o.status.as_str(), &placed, &ship_by, &o.currency, &total, &o.customer_name, &o.customer_email])
                    .map_err(failed)?;
            }
            written += page.orders.len();
            match page.next_cursor {
                Some(cursor) if written < MAX_EXPORT_ROWS => filter.cursor = Some(cursor),
                _ => break,
            }
        }
        out.into_inner().map_err(|e| failed(e.into_error().into()))
    }

    pub async fn order(self, id: Uuid) -> AppResult<Order> {
        self.db.read().await?.order(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })
    }

    /// The order a channel knows by its own id.
    pub async fn order_by_external_id(self, channel: &str, external_id: &str) -> AppResult<Order> {
        let id = self.db.read().await?.order_id_by_external_id(channel, external_id).await?;
        let id = id.ok_or_else(|| AppError::NotFound { what: "order", key: format!("{channel}/{external_id}") })?;
        self.order(id).await
    }

    /// Cancels an order that has not shipped, releasing its reservations; its channel is
    /// told (or, where its API cannot cancel, a person is).
    pub async fn cancel_order(self, id: Uuid, reason: &str, actor: &Actor) -> AppResult<Order> {
        self.cancel(id, reason, actor, CancelledBy::Ordo).await
    }

    /// Cancels an order as [`Self::cancel_order`] does, where `by` decided it.
    pub(crate) async fn cancel(self, id: Uuid, reason: &str, actor: &Actor, by: CancelledBy) -> AppResult<Order> {
        let reason = ordo_domain::field::text("reason", reason)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let order = tx.order_for_update(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })?;
        order.status.become_(OrderStatus::Cancelled).map_err(|e| AppError::InvalidTransition { current: order.status.as_str(), message: e.to_string() })?;
        tx.release_order(id).await?;
        for wave in tx.cancel_wave_orders(id).await? {
            tx.close_wave_if_done(wave, now).await?;
        }
        let subject = format!("order:{id}");
        for kind in [ExceptionKind::PaymentReview, ExceptionKind::ShipmentAtRisk, ExceptionKind::LateShipment] {
            tx.resolve_exception(kind.as_str(), &subject, "order cancelled", now).await?;
        }
        tx.record_transition(id, Some(order.status), OrderStatus::Cancelled, &actor.to_string(), &reason, now).await?;
        if by == CancelledBy::Ordo {
            crate::confirmations::confirm_to_channel(&mut tx, &order, ordo_storage::ConfirmationKind::Cancellation, &reason, now).await?;
        }
        let cancelled = tx.order(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })?;
        let change = Change::new("order.cancel", format!("order:{id}"))
            .before(order_state(&order))
            .after(order_state(&cancelled))
            .reason(&reason);
        record(&mut tx, actor, now, &[change]).await?;
        let order = cancelled;
        tx.commit().await?;
        Ok(order)
    }

    /// Of the orders shipped in full, how many left by their ship-by time, and how many there are.
    pub async fn ship_by_adherence(self) -> AppResult<(i64, i64)> {
        Ok(self.db.read().await?.ship_by_adherence().await?)
    }

    /// Whether reserved stock exceeds on-hand anywhere; always 0 unless something is broken.
    pub async fn oversold_levels(self) -> AppResult<i64> {
        Ok(self.db.read().await?.oversold_levels().await?)
    }
}

/// Who decided an order is cancelled: the channel need not be told what it said itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelledBy {
    Ordo,
    Channel,
}

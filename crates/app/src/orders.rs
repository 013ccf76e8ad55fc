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

impl Orders<'_> {
    /// Releases an order held for review: it is routed and reserved as if it had just come.
    pub async fn release_hold(self, id: Uuid, reason: &str, actor: &Actor) -> AppResult<Order> {
        let reason = ordo_domain::field::text("reason", reason)?;
        let now = self.now();
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        let order = tx.order(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })?;
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
    pub async fn list(
        &self,
        channel: Option<&str>,
        status: Option<&str>,
        external_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> AppResult<(Vec<ordo_storage::OrderSummary>, i64)> {
        let clean = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let status = clean(status);
        if let Some(s) = status.as_deref().filter(|s| OrderStatus::parse(s).is_none()) {
            return Err(FieldError::new("status", format!("{s:?} is not an order status")).into());
        }
        if let Some(v) = external_id.filter(|v| v.len() > ordo_domain::field::MAX_CODE_LEN) {
            return Err(FieldError::new("external_id", format!("{} characters is too long", v.len())).into());
        }
        let query = ordo_storage::OrderQuery {
            channel: clean(channel),
            status,
            external_id: clean(external_id),
            limit: ordo_domain::field::bounded("limit", limit, 1, crate::master::MAX_PAGE_SIZE)?,
            offset: ordo_domain::field::bounded("offset", offset, 0, i64::MAX)?,
        };
        Ok(self.db.read().await?.orders(&query).await?)
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
        let order = tx.order(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })?;
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

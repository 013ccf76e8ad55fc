//! Orders the channel changes or cancels after sending them, named by the channel's own id.

use ordo_domain::order::{NewOrder, Order, OrderStatus};
use ordo_domain::exception::ExceptionKind;
use ordo_domain::FieldError;
use ordo_storage::OrderChange;

use crate::intake::{insert_lines, plan, Reads};
use ordo_domain::planning::PlannedLine;
use crate::{Actor, AppError, AppResult, Orders};

impl Orders<'_> {
    /// Takes the channel's new version of an order it sent before: a new address, billing
    /// country, shipping method, payment status, shipping price or lines. New lines or a new
    /// shipping method release what the order held and route it again (through risk review).
    /// Nothing changed: the order as it is. An order that has started shipping is refused
    /// with its state, as are changes to the customer or the time it was placed. `payload` is
    /// the body as sent, kept as a revision.
    pub async fn update_order_from_channel(
        &self,
        channel: &str,
        external_id: &str,
        new: NewOrder,
        payload: &str,
        actor: &Actor,
    ) -> AppResult<Order> {
        let order = new.check()?;
        if order.channel != channel {
            return Err(FieldError::new("channel", format!("must be {channel:?}, the channel in the path")).into());
        }
        if order.external_id != external_id {
            return Err(FieldError::new("external_id", format!("must be {external_id:?}, the order in the path")).into());
        }
        let now = self.now();
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        let (channel, planned, total) = plan(&mut Reads::In(&mut tx), &self.cache, &order, (self.settings.base_currency, self.now())).await?;
        let not_found = || AppError::NotFound { what: "order", key: format!("{}/{external_id}", channel.code) };
        let id = tx.order_id_by_external_id(&channel.code, external_id).await?.ok_or_else(not_found)?;
        let current = tx.order_for_update(id).await?.ok_or_else(not_found)?;
        if !matches!(
            current.status,
            OrderStatus::Received | OrderStatus::Validated | OrderStatus::OnHold | OrderStatus::Allocated | OrderStatus::Backordered
        ) {
            let message = format!("an order that is {} can no longer change; return or cancel what is left", current.status);
            return Err(AppError::InvalidTransition { current: current.status.as_str(), message });
        }
        if order.customer_email != current.customer.email || order.customer_name != current.customer.name {
            return Err(FieldError::new("customer", "cannot change once the order is placed").into());
        }
        if order.placed_at != current.placed_at {
            return Err(FieldError::new("placed_at", "cannot change once the order is placed").into());
        }

        let held: Vec<PlannedLine> = current
            .lines
            .iter()
            .map(|l| PlannedLine {
                line: l.line,
                sku: l.sku.clone(),
                channel_sku: l.channel_sku.clone(),
                item_id: l.item_id.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                tax: l.tax,
                discount: l.discount,
                kit: l.kit,
                part_of: l.part_of,
            })
            .collect();
        let mut changes: Vec<&str> = Vec::new();
        let mut note = |changed: bool, what: &'static str| {
            if changed {
                changes.push(what);
            }
        };
        note(order.ship_to != current.ship_to, "ship_to");
        note(order.billing_country != current.billing_country, "billing_country");
        note(order.shipping_method != current.shipping_method, "shipping_method");
        note(order.payment_status != current.payment_status, "payment_status");
        note(order.shipping_price != current.shipping_price, "shipping_price");
        note(planned != held, "lines");
        if changes.is_empty() {
            return Ok(current);
        }
        let change = OrderChange {
            ship_to: &order.ship_to,
            billing_country: order.billing_country.as_deref(),
            shipping_method: &order.shipping_method,
            payment_status: order.payment_status,
            shipping_price: order.shipping_price,
            total,
        };
        tx.update_order(id, &change, now).await?;
        let changed = changes.join(", ");
        tx.insert_order_revision(id, &who, &changed, payload, now).await?;
        let reason = format!("the channel changed {changed}");

        let reroute = changes.contains(&"lines") || changes.contains(&"shipping_method");
        if reroute {
            tx.release_order(id).await?;
            for wave in tx.cancel_wave_orders(id).await? {
                tx.close_wave_if_done(wave, now).await?;
            }
            tx.delete_order_lines(id).await?;
            insert_lines(&mut tx, id, &planned).await?;
        }
        match current.status {
            OrderStatus::Allocated | OrderStatus::Backordered if reroute => {
                tx.record_transition(id, Some(current.status), OrderStatus::Validated, &who, &reason, now).await?;
                let stats = tx.channel_order_stats(&channel.code).await?;
                self.review_and_route(&mut tx, id, &channel, &order, &planned, total, stats, &who, now).await?;
            }
            // The channel's news may be what the hold waited for (the payment captured): the
            // risk rules judge the order again, and let it go to be routed if none holds it now.
            OrderStatus::OnHold if changes.contains(&"payment_status") => {
                let stats = tx.channel_order_stats(&channel.code).await?;
                let decided = self.review(&mut tx, &channel, &order, &planned, total, stats, now).await?;
                if decided.holds.is_empty() {
                    let why = format!("{reason}; no risk rule holds it now");
                    tx.record_transition(id, Some(OrderStatus::OnHold), OrderStatus::Validated, &who, &why, now).await?;
                    self.route_reviewed(&mut tx, id, &channel, &order, &planned, decided, &who, now).await?;
                    tx.resolve_exception(ExceptionKind::PaymentReview.as_str(), &format!("order:{id}"), &why, now).await?;
                } else {
                    let why = format!("{reason}; still held: {}", decided.holds.join("; "));
                    tx.record_transition(id, Some(OrderStatus::OnHold), OrderStatus::OnHold, &who, &why, now).await?;
                }
            }
            // Otherwise a held order is routed when a person releases it, with what it holds then.
            status => tx.record_transition(id, Some(status), status, &who, &reason, now).await?,
        }
        let saved = tx.order(id).await?.ok_or_else(not_found)?;
        let change = ordo_domain::audit::Change::new("order.update", format!("order:{id}"))
            .before(crate::orders::order_state(&current))
            .after(crate::orders::order_state(&saved))
            .reason(&reason);
        crate::audit::record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// Cancels an order the channel cancelled, named by the channel's own id; see
    /// [`Self::cancel_order`].
    pub async fn cancel_order_from_channel(
        &self,
        channel: &str,
        external_id: &str,
        reason: &str,
        actor: &Actor,
    ) -> AppResult<Order> {
        let id = self.db.read().await?.order_id_by_external_id(channel, external_id).await?;
        let id = id.ok_or_else(|| AppError::NotFound { what: "order", key: format!("{channel}/{external_id}") })?;
        self.cancel(id, reason, actor, crate::orders::CancelledBy::Channel).await
    }
}

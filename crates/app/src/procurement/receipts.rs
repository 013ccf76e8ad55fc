//! Receipts against a purchase order: stock in, valued at the order's cost in base currency.

use super::*;
use crate::Procurement;

impl Procurement<'_> {
    /// `minor` of `code` in base currency minor units, at the rate in force.
    pub(super) async fn in_base(self, tx: &mut Tx, minor: i64, code: &str, now: DateTime<Utc>) -> AppResult<i64> {
        let base = self.settings.base_currency;
        if code == base.code() {
            return Ok(minor);
        }
        let Some(rate) = tx.exchange_rate(code, now).await? else {
            return Err(FieldError::new("currency", format!("no exchange rate from {code} to {base}: set one with PUT /api/v1/exchange-rates/{code}")).into());
        };
        let from = ordo_domain::Currency::parse("currency", code)?;
        ordo_domain::ledger::to_base(minor, from, base, rate)
            .map_err(|_| FieldError::new("currency", format!("in the base currency {base}, the amount is beyond {}", ordo_domain::Money::max(base))).into())
    }

    /// Goods arrived against a purchase order: they go into stock at its location at the
    /// order's price (in base currency), against goods received not invoiced, and fill what
    /// waits for them.
    pub async fn receive_purchase_order(self, id: Uuid, received: &[(i64, i64)], actor: &Actor) -> AppResult<PurchaseOrder> {
        if received.is_empty() {
            return Err(FieldError::new("lines", "name at least one line received").into());
        }
        let now = self.now();
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        // Any receipt may leave the order partly received: the move every receipt may make.
        let refusal = |current| format!("goods are received against a sent order; this one is {current}");
        let (po, lines) = po_to_move(&mut tx, id, PoStatus::PartiallyReceived, refusal).await?;
        let current = po.status;
        let mut arrived: Vec<(PoLineRecord, i64)> = Vec::new();
        for (i, (line, quantity)) in received.iter().enumerate() {
            if received[..i].iter().any(|(earlier, _)| earlier == line) {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("line {line} is named twice")).into());
            }
            let Some(l) = lines.iter().find(|l| l.line == *line) else {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("the order has no line {line}")).into());
            };
            let quantity = ordo_domain::field::bounded(&format!("lines[{i}].quantity"), *quantity, 1, 10_000_000)?;
            let allowed = l.quantity + l.quantity * OVER_RECEIPT_PERCENT / 100;
            if l.received + quantity > allowed {
                let message = format!("line {line} ordered {}, received {} so far; at most {} more ({OVER_RECEIPT_PERCENT}% over)", l.quantity, l.received, allowed - l.received);
                return Err(FieldError::new(format!("lines[{i}].quantity"), message).into());
            }
            arrived.push((l.clone(), quantity));
        }
        // Every row this receipt changes is locked first, stock before valuations, each in SKU
        // order, as every writer takes them; line by line, two receipts or a receipt and an
        // order could each hold what the other waits for.
        let skus: Vec<&str> = arrived.iter().map(|(l, _)| l.sku.as_str()).collect();
        tx.lock_for_arrival(&skus, &po.location).await?;
        tx.lock_valuations(&skus).await?;
        let base = self.settings.base_currency;
        for (line, quantity) in &arrived {
            let unit_cost = self.in_base(&mut tx, line.unit_cost_minor, &po.currency, now).await?;
            let movement = MovementRequest {
                sku: line.sku.clone(),
                location: po.location.clone(),
                quantity: *quantity,
                kind: MovementKind::Receipt,
                reason: format!("{} line {}", po.number, line.line),
            };
            tx.record_movement(&movement, &who, now).await?.ok_or_else(|| FieldError::new("lines", "the stock could not take the receipt"))?;
            let held = tx.valuation(&line.sku).await?;
            let (after, value) = held.purchase(*quantity, unit_cost).map_err(|e| FieldError::new("lines", e.to_string()))?;
            tx.set_valuation(&line.sku, after).await?;
            let entry = ledger::receipt(
                format!("purchase_order:{id}:{}", line.line),
                format!("{} {} × {} from {}", po.number, quantity, line.sku, po.supplier),
                Money::from_minor(value, base),
            )
            .map_err(FieldError::from)?;
            self.ledger().post(&mut tx, entry, &who, now).await?;
            tx.add_received(id, line.line, *quantity).await?;
        }
        let (_, after) = tx.purchase_order(id).await?.ok_or_else(|| po_not_found(id))?;
        let next = if after.iter().all(|l| l.received >= l.quantity) { PoStatus::Received } else { PoStatus::PartiallyReceived };
        if current != next && !tx.move_purchase_order(id, current.as_str(), next.as_str(), &who, now).await? {
            return Err(AppError::InvalidTransition { current: current.as_str(), message: "the order changed meanwhile".into() });
        }
        for (line, _) in &arrived {
            Ordo::fill_backorders(&mut tx, &line.sku, &po.location, actor, now).await?;
        }
        if next == PoStatus::Received {
            tx.resolve_exception(ExceptionKind::Procurement.as_str(), &format!("purchase_order:{id}"), "received", now).await?;
        }
        let after = serde_json::json!({"lines": arrived.iter().map(|(l, q)| serde_json::json!({"line": l.line, "quantity": q})).collect::<Vec<_>>(), "status": next.as_str()});
        record(&mut tx, actor, now, &[Change::new("purchase_order.receive", format!("purchase_order:{id}")).after(after)]).await?;
        tx.commit().await?;
        self.purchase_order(id).await
    }
}

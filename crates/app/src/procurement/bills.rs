//! The supplier's bill against a purchase order: matched within tolerance, or disputed with an
//! exception that says why; the payable is booked either way.

use super::*;
use crate::Procurement;

impl Procurement<'_> {
    /// The supplier's bill for a purchase order: matched against what was received. Goods
    /// received not invoiced is cleared at the order's price, the payable is what the bill
    /// says, and the difference is purchase price variance. A quantity beyond what was
    /// received, or a price off by more than the tolerance, disputes the bill: a `procurement`
    /// exception with the evidence.
    pub async fn bill_purchase_order(self, id: Uuid, new: NewBill, actor: &Actor) -> AppResult<PurchaseOrder> {
        let invoice = ordo_domain::field::text("invoice", &new.invoice)?;
        if new.lines.is_empty() {
            return Err(FieldError::new("lines", "a bill has at least one line").into());
        }
        let now = self.now();
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        let (po, lines) = po_to_move(&mut tx, id, PoStatus::Billed, |current| format!("a purchase order that is {current} cannot be billed")).await?;
        let code = currency(&po.currency)?;
        let mut problems = Vec::new();
        let mut billed = Vec::with_capacity(new.lines.len());
        let (mut total, mut at_order_price) = (0i64, 0i64);
        for (i, (line, quantity, cost)) in new.lines.iter().enumerate() {
            if new.lines[..i].iter().any(|(earlier, ..)| earlier == line) {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("line {line} is named twice")).into());
            }
            let Some(l) = lines.iter().find(|l| l.line == *line) else {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("the order has no line {line}")).into());
            };
            let quantity = ordo_domain::field::bounded(&format!("lines[{i}].quantity"), *quantity, 0, 10_000_000)?;
            let cost = Money::parse_non_negative(&format!("lines[{i}].unit_cost"), cost, code)?.minor();
            if l.billed + quantity > l.received {
                problems.push(format!("line {line}: billed {} but {} received", l.billed + quantity, l.received));
            }
            let off = (cost - l.unit_cost_minor).abs();
            if off * 100 > l.unit_cost_minor * PRICE_TOLERANCE_PERCENT {
                problems.push(format!(
                    "line {line}: billed at {} but ordered at {}",
                    Money::from_minor(cost, code).to_decimal_string(),
                    Money::from_minor(l.unit_cost_minor, code).to_decimal_string()
                ));
            }
            total = total.saturating_add(cost.saturating_mul(quantity));
            at_order_price = at_order_price.saturating_add(l.unit_cost_minor.saturating_mul(quantity));
            billed.push((*line, quantity, cost));
        }
        let payment_days = tx.supplier_payment_days(&po.supplier).await?.unwrap_or(30);
        let bill = BillRecord {
            id: Uuid::now_v7(),
            po_id: id,
            supplier: po.supplier.clone(),
            invoice: invoice.clone(),
            currency: po.currency.clone(),
            total_minor: total,
            due_at: now + Duration::days(payment_days),
            status: if problems.is_empty() { BillStatus::Matched } else { BillStatus::Disputed },
            created_by: who.clone(),
            created_at: now,
        };
        tx.insert_bill(&bill, &billed).await.map_err(|e| match e {
            e if e.is_duplicate() => AppError::Duplicate(FieldError::new("invoice", format!("{} already sent invoice {invoice}", po.supplier))),
            e => e.into(),
        })?;
        for (line, quantity, _) in &billed {
            tx.add_billed(id, *line, *quantity).await?;
        }
        // In base currency: goods received not invoiced at the order's price, the payable at
        // the bill's, the difference to purchase price variance.
        let cleared = self.in_base(&mut tx, at_order_price, &po.currency, now).await?;
        let owed = self.in_base(&mut tx, total, &po.currency, now).await?;
        let entry = ledger::supplier_bill(
            format!("bill:{}", bill.id),
            format!("{} invoice {invoice} from {}", po.number, po.supplier),
            Money::from_minor(cleared, self.settings.base_currency),
            Money::from_minor(owed, self.settings.base_currency),
        )
        .map_err(FieldError::from)?;
        self.ledger().post(&mut tx, entry, &who, now).await?;
        if !tx.move_purchase_order(id, po.status.as_str(), PoStatus::Billed.as_str(), &who, now).await? {
            return Err(AppError::InvalidTransition { current: po.status.as_str(), message: "the order changed meanwhile".into() });
        }
        if !problems.is_empty() {
            let kind = ExceptionKind::Procurement;
            let details = serde_json::json!({"reason": "the bill does not match the receipts", "invoice": invoice, "problems": problems});
            tx.raise_exception(kind.as_str(), &format!("bill:{}", bill.id), ordo_domain::access::Role::Finance.as_str(), now + kind.sla(), &details, now).await?;
        }
        let after = serde_json::json!({"invoice": invoice, "total": Money::from_minor(total, code).to_decimal_string(), "status": bill.status});
        record(&mut tx, actor, now, &[Change::new("purchase_order.bill", format!("purchase_order:{id}")).after(after)]).await?;
        tx.commit().await?;
        self.purchase_order(id).await
    }
}

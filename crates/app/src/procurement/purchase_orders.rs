//! Purchase orders from draft through approval (within the approver's limit) to sent, and the
//! watch on orders past their expected date.

use super::*;
use crate::Procurement;

impl Procurement<'_> {
    pub async fn create_purchase_order(self, new: NewPurchaseOrder, actor: &Actor) -> AppResult<PurchaseOrder> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let id = self.draft_purchase_order(&mut tx, new, actor, now).await?;
        tx.commit().await?;
        self.purchase_order(id).await
    }

    pub(super) async fn draft_purchase_order(self, tx: &mut Tx, new: NewPurchaseOrder, actor: &Actor, now: DateTime<Utc>) -> AppResult<Uuid> {
        if new.lines.is_empty() || new.lines.len() > 500 {
            return Err(FieldError::new("lines", "must have 1 to 500 lines").into());
        }
        let Some(supplier) = tx.suppliers().await?.into_iter().find(|s| s.code == new.supplier) else {
            return Err(FieldError::new("supplier", format!("unknown supplier {:?}", new.supplier)).into());
        };
        let locations = tx.locations().await?;
        let location = match new.location {
            Some(code) if locations.iter().any(|l| l.code == code) => code,
            Some(code) => return Err(FieldError::new("location", format!("unknown location {code:?}")).into()),
            None => locations.iter().min_by_key(|l| l.priority).map(|l| l.code.clone()).ok_or_else(|| FieldError::new("location", "there is no location"))?,
        };
        let prices = tx.supplier_skus(None).await?;
        let mut lines = Vec::with_capacity(new.lines.len());
        let mut total = 0i64;
        for (i, l) in new.lines.iter().enumerate() {
            if tx.product(&l.sku).await?.is_none() {
                return Err(FieldError::new(format!("lines[{i}].sku"), format!("unknown SKU {:?}", l.sku)).into());
            }
            let quantity = ordo_domain::field::bounded(&format!("lines[{i}].quantity"), l.quantity, 1, 10_000_000)?;
            let cost = match &l.unit_cost {
                Some(text) => Money::parse_non_negative(&format!("lines[{i}].unit_cost"), text, supplier.currency)?.minor(),
                None => prices.iter().find(|p| p.supplier == supplier.code && p.sku == l.sku).map(|p| p.unit_cost_minor).ok_or_else(|| {
                    FieldError::new(format!("lines[{i}].unit_cost"), format!("{} has no price for {}: give one", supplier.code, l.sku))
                })?,
            };
            total = total.saturating_add(cost.saturating_mul(quantity));
            lines.push(PoLineRecord { line: i as i64 + 1, sku: l.sku.clone(), quantity, unit_cost_minor: cost, received: 0, billed: 0 });
        }
        let id = Uuid::now_v7();
        let po = PurchaseOrderRecord {
            id,
            number: tx.next_po_number().await?,
            supplier: supplier.code.clone(),
            location,
            currency: supplier.currency.code().to_owned(),
            status: PoStatus::Draft,
            total_minor: total,
            expected_at: now + Duration::days(supplier.lead_time_days),
            created_by: actor.to_string(),
            created_at: now,
            approved_by: None,
            approved_at: None,
            sent_at: None,
            closed_at: None,
        };
        tx.insert_purchase_order(&po, &lines).await?;
        let after = serde_json::json!({"number": po.number, "supplier": po.supplier, "total": Money::from_minor(total, supplier.currency).to_decimal_string()});
        record(tx, actor, now, &[Change::new("purchase_order.draft", format!("purchase_order:{id}")).after(after)]).await?;
        Ok(id)
    }

    pub async fn purchase_order(self, id: Uuid) -> AppResult<PurchaseOrder> {
        let mut tx = self.db.read().await?;
        let (po, lines) = tx.purchase_order(id).await?.ok_or_else(|| po_not_found(id))?;
        let bills = tx.bills(id).await?;
        po_view(po, lines, bills)
    }

    /// The value on order, still to arrive, per supplier.
    pub async fn procurement_exposure(self) -> AppResult<Vec<Exposure>> {
        let rows = self.db.read().await?.open_order_value().await?;
        rows.into_iter()
            .map(|row| {
                let value = Money::from_minor(row.value_minor, currency(&row.currency)?).to_decimal_string();
                Ok(Exposure { supplier: row.supplier, open_orders: row.open_orders, value, currency: row.currency })
            })
            .collect()
    }

    pub async fn purchase_orders(self, status: Option<&str>) -> AppResult<Vec<PurchaseOrder>> {
        if let Some(status) = status {
            PoStatus::parse("status", status)?;
        }
        let mut tx = self.db.read().await?;
        let mut out = Vec::new();
        for po in tx.purchase_orders(status, 500).await? {
            let lines = tx.purchase_order(po.id).await?.map(|(_, l)| l).unwrap_or_default();
            let bills = tx.bills(po.id).await?;
            out.push(po_view(po, lines, bills)?);
        }
        Ok(out)
    }

    /// Approves, sends or cancels a purchase order. Approving needs a role whose approval
    /// limit covers the order's value in the base currency.
    pub async fn move_purchase_order(self, id: Uuid, to: &str, actor: &Actor) -> AppResult<PurchaseOrder> {
        let next = PoStatus::parse("status", to)?;
        if !matches!(next, PoStatus::Approved | PoStatus::Sent | PoStatus::Cancelled | PoStatus::Closed) {
            return Err(FieldError::new("status", "may be approved, sent, cancelled or closed; receipts and bills move the rest").into());
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let (po, lines) = tx.purchase_order(id).await?.ok_or_else(|| po_not_found(id))?;
        let current = po.status;
        if !current.can_become(next) || (next == PoStatus::Cancelled && lines.iter().any(|l| l.received > 0)) {
            return Err(AppError::InvalidTransition {
                current: current.as_str(),
                message: format!("a purchase order that is {} cannot become {}", current.as_str(), next.as_str()),
            });
        }
        if next == PoStatus::Approved {
            let value = self.in_base(&mut tx, po.total_minor, &po.currency, now).await?;
            match approval_limit(actor.role) {
                Some(limit) if value <= limit => {}
                limit => {
                    let limit = limit.map_or_else(|| "none".to_owned(), |l| Money::from_minor(l, self.settings.base_currency).to_decimal_string());
                    return Err(AppError::Forbidden(format!(
                        "the order is worth {} {}; the {} role approves up to {limit}",
                        Money::from_minor(value, self.settings.base_currency).to_decimal_string(),
                        self.settings.base_currency,
                        actor.role
                    )));
                }
            }
        }
        if !tx.move_purchase_order(id, current.as_str(), next.as_str(), &actor.to_string(), now).await? {
            return Err(AppError::InvalidTransition { current: current.as_str(), message: "the order changed meanwhile".into() });
        }
        if matches!(next, PoStatus::Closed | PoStatus::Cancelled) {
            tx.resolve_exception(ExceptionKind::Procurement.as_str(), &format!("purchase_order:{id}"), next.as_str(), now).await?;
        }
        let change = Change::new(&format!("purchase_order.{}", next.as_str()), format!("purchase_order:{id}"))
            .before(serde_json::json!({"status": current.as_str()}))
            .after(serde_json::json!({"status": next.as_str()}));
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        self.purchase_order(id).await
    }

    /// Raises a `procurement` exception for each sent order past its expected date.
    pub async fn watch_purchase_orders(self) -> AppResult<u64> {
        let now = self.now();
        let kind = ExceptionKind::Procurement;
        let mut tx = self.db.write().await?;
        let mut raised = 0;
        for po in tx.overdue_purchase_orders(now).await? {
            let details = serde_json::json!({"reason": "past its expected date", "number": po.number, "supplier": po.supplier, "expected_at": po.expected_at});
            if tx.raise_exception(kind.as_str(), &format!("purchase_order:{}", po.id), kind.owner_role().as_str(), now + kind.sla(), &details, now).await? {
                raised += 1;
            }
        }
        tx.commit().await?;
        Ok(raised)
    }
}

//! Fulfilment: parcels leave a location with carrier and tracking, and are delivered.

use ordo_domain::order::{Order, OrderStatus};
use ordo_domain::FieldError;
use uuid::Uuid;

use crate::{Actor, AppError, AppResult, Ordo};

impl Ordo {
    /// Records a parcel leaving a location: its units leave on-hand and reserved, and the order
    /// becomes partially shipped or shipped. Shipping more than is reserved there is refused
    /// with the order's current state.
    pub async fn ship_order(&self, id: Uuid, new: ordo_domain::order::NewShipment, actor: &Actor) -> AppResult<Order> {
        use ordo_domain::order::{Shipment, ShipmentLine};
        let new = new.check()?;
        let now = Self::now();
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        let order = tx.order(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })?;
        let refuse = |message: String| AppError::InvalidTransition { current: order.status, message };
        if !matches!(order.status, OrderStatus::Allocated | OrderStatus::Backordered | OrderStatus::PartiallyShipped) {
            return Err(refuse(format!("an order that is {} cannot ship", order.status)));
        }
        let reserved_here = |line: i64| {
            order.lines.iter().find(|l| l.line == line).map_or(0, |l| {
                l.allocations.iter().filter(|a| a.location == new.location).map(|a| a.quantity).sum::<i64>()
            })
        };
        let lines: Vec<ShipmentLine> = match &new.lines {
            Some(lines) => lines.clone(),
            None => order
                .lines
                .iter()
                .map(|l| ShipmentLine { line: l.line, quantity: reserved_here(l.line) })
                .filter(|l| l.quantity > 0)
                .collect(),
        };
        if lines.is_empty() {
            return Err(refuse(format!("nothing of this order is reserved at {}", new.location)));
        }
        let reason = format!("shipped by {} {}", new.carrier, new.tracking_number);
        for (i, l) in lines.iter().enumerate() {
            let Some(line) = order.lines.iter().find(|x| x.line == l.line) else {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("the order has no line {}", l.line)).into());
            };
            if !tx.ship_units(id, l.line, &line.sku, &new.location, l.quantity, &reason, &who, now).await? {
                let message = format!(
                    "line {} has {} reserved at {}, fewer than the {} shipped",
                    l.line,
                    reserved_here(l.line),
                    new.location,
                    l.quantity
                );
                return Err(refuse(message));
            }
        }
        let shipment = Shipment {
            id: Uuid::now_v7(),
            location: new.location.clone(),
            status: "shipped".to_owned(),
            carrier: new.carrier.clone(),
            tracking_number: new.tracking_number.clone(),
            shipped_at: now,
            delivered_at: None,
            lines,
        };
        tx.insert_shipment(&shipment, id).await?;
        let after = tx.order(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })?;
        let complete = after.lines.iter().all(|l| l.shipped == l.quantity);
        let next = if complete { OrderStatus::Shipped } else { OrderStatus::PartiallyShipped };
        order.status.become_(next).map_err(|e| refuse(e.to_string()))?;
        tx.record_transition(id, Some(order.status), next, &who, &reason, now).await?;
        let saved = tx.order(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })?;
        tx.commit().await?;
        Ok(saved)
    }

    /// Confirms a shipment's delivery; the order is delivered when all of it is shipped and
    /// every shipment delivered.
    pub async fn deliver_shipment(&self, shipment: Uuid, actor: &Actor) -> AppResult<Order> {
        let now = Self::now();
        let mut tx = self.db.write().await?;
        let Some(order_id) = tx.deliver_shipment(shipment, now).await? else {
            let Some(order_id) = tx.shipment_order(shipment).await? else {
                return Err(AppError::NotFound { what: "shipment", key: shipment.to_string() });
            };
            let current = tx.order_status(order_id).await?.unwrap_or(OrderStatus::Delivered);
            return Err(AppError::InvalidTransition { current, message: "this shipment was delivered before".into() });
        };
        let order = tx.order(order_id).await?.ok_or(AppError::NotFound { what: "order", key: order_id.to_string() })?;
        if order.status == OrderStatus::Shipped && order.shipments.iter().all(|s| s.status == "delivered") {
            let reason = "every parcel delivered";
            tx.record_transition(order_id, Some(OrderStatus::Shipped), OrderStatus::Delivered, &actor.to_string(), reason, now)
                .await?;
        }
        let saved = tx.order(order_id).await?.ok_or(AppError::NotFound { what: "order", key: order_id.to_string() })?;
        tx.commit().await?;
        Ok(saved)
    }
}

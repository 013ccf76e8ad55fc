//! Fulfilment: waves that batch a location's orders into one pick list, then pick, pack and
//! ship with carrier and tracking; parcels shipped directly; delivery confirmation.

use std::collections::BTreeMap;

use ordo_domain::exception::ExceptionKind;
use ordo_domain::notification::Topic;
use ordo_domain::order::{NewShipment, Order, OrderStatus, Shipment, ShipmentLine, ShipmentStatus};
use ordo_domain::wave::{Dispatch, NewWave, Wave, WaveOrderStatus, WaveStatus, WaveSummary};
use ordo_domain::FieldError;
use ordo_storage::{ConfirmationKind, PickableLine, Tx};
use uuid::Uuid;

use ordo_domain::audit::Change;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Fulfilment, Ordo};

fn order_not_found(id: Uuid) -> AppError {
    AppError::NotFound { what: "order", key: id.to_string() }
}

fn wave_not_found(id: Uuid) -> AppError {
    AppError::NotFound { what: "wave", key: id.to_string() }
}

impl Fulfilment<'_> {
    /// Records a parcel leaving a location: its units leave on-hand and reserved, and the order
    /// becomes partially shipped or shipped. Shipping more than is reserved there is refused
    /// with the order's current state.
    pub async fn ship_order(self, id: Uuid, new: NewShipment, actor: &Actor) -> AppResult<Order> {
        let new = new.check()?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let order = tx.order_for_update(id).await?.ok_or_else(|| order_not_found(id))?;
        ours_to_ship(&order)?;
        let lines: Vec<ShipmentLine> = match &new.lines {
            Some(lines) => lines.clone(),
            None => order
                .lines
                .iter()
                .map(|l| ShipmentLine { line: l.line, quantity: reserved_at(&order, l.line, &new.location) })
                .filter(|l| l.quantity > 0)
                .collect(),
        };
        let dispatch = Dispatch { carrier: new.carrier, tracking_number: new.tracking_number };
        let shipment = ship(self.0, &mut tx, &order, &new.location, lines, &dispatch, &actor.to_string(), now).await?;
        let saved = tx.order(id).await?.ok_or_else(|| order_not_found(id))?;
        record(&mut tx, actor, now, &[shipped(&order, &saved, shipment, &new.location, &dispatch)]).await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// The channel shipped an order it fulfils itself (Amazon FBA): what is reserved for it at
    /// the locations the channel manages leaves there, booked like any shipment. Says what it
    /// did.
    pub(crate) async fn ship_by_channel(self, id: Uuid, carrier: &str, actor: &Actor) -> AppResult<String> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut order = tx.order_for_update(id).await?.ok_or_else(|| order_not_found(id))?;
        if !order.fulfilled_by_channel {
            let message = "Ordo ships this order, not its channel".to_owned();
            return Err(AppError::InvalidTransition { current: order.status.as_str(), message });
        }
        if !matches!(order.status, OrderStatus::Allocated | OrderStatus::Backordered | OrderStatus::PartiallyShipped) {
            return Ok(format!("order {id} is {} already", order.status));
        }
        let mut reserved: BTreeMap<String, Vec<ShipmentLine>> = BTreeMap::new();
        for line in &order.lines {
            for a in &line.allocations {
                reserved.entry(a.location.clone()).or_default().push(ShipmentLine { line: line.line, quantity: a.quantity });
            }
        }
        if reserved.is_empty() {
            return Ok(format!("order {id} is {}: nothing of it is in the channel's stock in Ordo", order.status));
        }
        let dispatch = Dispatch { carrier: carrier.to_owned(), tracking_number: order.external_id.clone() };
        let who = actor.to_string();
        // The audit log's head is one row every writer takes: it is recorded last, so that no
        // stock row is waited for while holding it.
        let mut changes = Vec::with_capacity(reserved.len());
        for (location, lines) in reserved {
            let shipment = ship(self.0, &mut tx, &order, &location, lines, &dispatch, &who, now).await?;
            let saved = tx.order(id).await?.ok_or_else(|| order_not_found(id))?;
            changes.push(shipped(&order, &saved, shipment, &location, &dispatch));
            order = saved;
        }
        record(&mut tx, actor, now, &changes).await?;
        tx.commit().await?;
        Ok(format!("order {id} is {}: the channel shipped it", order.status))
    }

    /// The order a shipment (parcel) belongs to, for a link from where the parcel is named.
    pub async fn shipment_order(self, shipment: Uuid) -> AppResult<Uuid> {
        self.db.read().await?.shipment_order(shipment).await?.ok_or_else(|| AppError::NotFound { what: "shipment", key: shipment.to_string() })
    }

    /// Confirms a shipment's delivery; the order is delivered when all of it is shipped and
    /// every shipment delivered.
    pub async fn deliver_shipment(self, shipment: Uuid, actor: &Actor) -> AppResult<Order> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let Some(order_id) = tx.deliver_shipment(shipment, now).await? else {
            let Some(order_id) = tx.shipment_order(shipment).await? else {
                return Err(AppError::NotFound { what: "shipment", key: shipment.to_string() });
            };
            let current = tx.order_status(order_id).await?.unwrap_or(OrderStatus::Delivered).as_str();
            return Err(AppError::InvalidTransition { current, message: "this shipment was delivered before".into() });
        };
        let order = tx.order_for_update(order_id).await?.ok_or_else(|| order_not_found(order_id))?;
        if order.status == OrderStatus::Shipped && order.shipments.iter().all(|s| s.status == ShipmentStatus::Delivered) {
            let reason = "every parcel delivered";
            tx.record_transition(order_id, Some(OrderStatus::Shipped), OrderStatus::Delivered, &actor.to_string(), reason, now)
                .await?;
        }
        let saved = tx.order(order_id).await?.ok_or_else(|| order_not_found(order_id))?;
        let change = Change::new("shipment.deliver", format!("order:{order_id}"))
            .before(crate::orders::order_state(&order))
            .after(crate::orders::order_state(&saved))
            .reason(&format!("shipment {shipment} delivered"));
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// Releases a wave at a location: the orders with stock reserved there that are in no
    /// other unfinished wave, due first (the next carrier cut-off's), up to `max_orders`,
    /// with a pick list ordered by bin. Nothing to pick is refused, naming the location.
    pub async fn release_wave(self, new: NewWave, actor: &Actor) -> AppResult<Wave> {
        let new = new.check()?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let Some(site) = tx.location(&new.location).await? else {
            return Err(FieldError::new("location", format!("unknown location {:?}", new.location)).into());
        };
        let cutoff_at = site.schedule().next_cutoff(now);

        let mut by_order: BTreeMap<Uuid, Vec<&PickableLine>> = BTreeMap::new();
        let mut due_order: Vec<Uuid> = Vec::new();
        let pickable = tx.pickable_lines(&site.code, new.shipping_method.as_deref()).await?;
        for line in &pickable {
            let lines = by_order.entry(line.order_id).or_default();
            if lines.is_empty() {
                due_order.push(line.order_id);
            }
            lines.push(line);
        }
        let id = Uuid::now_v7();
        tx.insert_wave(id, &site.code, new.shipping_method.as_deref(), cutoff_at, &actor.to_string(), now).await?;
        let mut taken = 0;
        for order in due_order.into_iter().take(new.max_orders.unwrap_or(NewWave::DEFAULT_MAX_ORDERS) as usize) {
            taken += i64::from(tx.insert_wave_order(id, &site.code, order, &by_order[&order]).await?);
        }
        if taken == 0 {
            let method = new.shipping_method.map(|m| format!(" by {m}")).unwrap_or_default();
            let message = format!("no order has stock reserved at {}{method} that is not in a wave already", site.code);
            return Err(FieldError::new("location", message).into());
        }
        let wave = tx.wave(id).await?.ok_or_else(|| wave_not_found(id))?;
        let orders: Vec<Uuid> = wave.orders.iter().map(|o| o.order_id).collect();
        let change = Change::new("wave.release", format!("wave:{id}"))
            .after(serde_json::json!({"location": wave.location, "shipping_method": new.shipping_method, "orders": orders}));
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok(wave)
    }

    pub async fn wave(self, id: Uuid) -> AppResult<Wave> {
        self.db.read().await?.wave(id).await?.ok_or_else(|| wave_not_found(id))
    }

    /// Waves, newest first, of one location and status or all.
    pub async fn waves(self, location: Option<&str>, status: Option<&str>) -> AppResult<Vec<WaveSummary>> {
        self.wave_page(location, status, 200, None).await
    }

    /// Waves newest first, `limit` of them, after the one `after` names when given.
    pub async fn wave_page(self, location: Option<&str>, status: Option<&str>, limit: i64, after: Option<ordo_domain::field::PageCursor>) -> AppResult<Vec<WaveSummary>> {
        if let Some(s) = status.filter(|s| WaveStatus::parse(s).is_none()) {
            return Err(FieldError::new("status", format!("{s:?} is not open, picked or closed")).into());
        }
        let limit = ordo_domain::field::bounded("limit", limit, 1, crate::master::MAX_PAGE_SIZE)?;
        Ok(self.db.read().await?.waves(location, status, limit, after).await?)
    }

    /// Confirms the pick list was walked: every order still to pick is picked and goes to
    /// packing. 409 when the wave is not open.
    pub async fn pick_wave(self, id: Uuid, actor: &Actor) -> AppResult<Wave> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let wave = tx.wave(id).await?.ok_or_else(|| wave_not_found(id))?;
        if !wave.status.can_become(WaveStatus::Picked) || !tx.set_wave_status(id, WaveStatus::Open, WaveStatus::Picked, now).await? {
            return Err(AppError::InvalidTransition { current: wave.status.as_str(), message: format!("a wave that is {} cannot be picked", wave.status.as_str()) });
        }
        tx.set_wave_orders_status(id, None, WaveOrderStatus::ToPick, WaveOrderStatus::Picked, None).await?;
        let change = Change::new("wave.pick", format!("wave:{id}")).before(wave.status.as_str()).after(WaveStatus::Picked.as_str());
        record(&mut tx, actor, now, &[change]).await?;
        let wave = tx.wave(id).await?.ok_or_else(|| wave_not_found(id))?;
        tx.commit().await?;
        Ok(wave)
    }

    /// Packs one picked order of the wave into its parcel.
    pub async fn pack_wave_order(self, id: Uuid, order: Uuid, actor: &Actor) -> AppResult<Wave> {
        let mut tx = self.db.write().await?;
        let wave = tx.wave(id).await?.ok_or_else(|| wave_not_found(id))?;
        let current = wave_order_status(&wave, order)?;
        if tx.set_wave_orders_status(id, Some(order), WaveOrderStatus::Picked, WaveOrderStatus::Packed, None).await? != 1 {
            let message = format!("an order that is {} in its wave cannot be packed", current.as_str());
            return Err(AppError::InvalidTransition { current: wave.status.as_str(), message });
        }
        let change = Change::new("wave.pack", format!("order:{order}"))
            .before(current.as_str())
            .after(WaveOrderStatus::Packed.as_str())
            .reason(&format!("wave {id}"));
        record(&mut tx, actor, self.now(), &[change]).await?;
        let wave = tx.wave(id).await?.ok_or_else(|| wave_not_found(id))?;
        tx.commit().await?;
        Ok(wave)
    }

    /// Ships one packed order of the wave with carrier and tracking: what its pick list held
    /// leaves on-hand and reserved. The wave closes with its last order.
    pub async fn ship_wave_order(self, id: Uuid, order_id: Uuid, dispatch: Dispatch, actor: &Actor) -> AppResult<Order> {
        let dispatch = dispatch.check()?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let wave = tx.wave(id).await?.ok_or_else(|| wave_not_found(id))?;
        let current = wave_order_status(&wave, order_id)?;
        if !current.can_become(WaveOrderStatus::Shipped) {
            let message = format!("an order that is {} in its wave cannot ship; pack it first", current.as_str());
            return Err(AppError::InvalidTransition { current: wave.status.as_str(), message });
        }
        let order = tx.order_for_update(order_id).await?.ok_or_else(|| order_not_found(order_id))?;
        ours_to_ship(&order)?;
        let lines = wave
            .orders
            .iter()
            .filter(|o| o.order_id == order_id)
            .flat_map(|o| o.lines.iter().map(|l| ShipmentLine { line: l.line, quantity: l.quantity }))
            .collect();
        let shipment = ship(self.0, &mut tx, &order, &wave.location, lines, &dispatch, &actor.to_string(), now).await?;
        tx.set_wave_orders_status(id, Some(order_id), WaveOrderStatus::Packed, WaveOrderStatus::Shipped, Some(shipment))
            .await?;
        tx.close_wave_if_done(id, now).await?;
        let saved = tx.order(order_id).await?.ok_or_else(|| order_not_found(order_id))?;
        record(&mut tx, actor, now, &[shipped(&order, &saved, shipment, &wave.location, &dispatch)]).await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// Sets the bin a SKU is picked from at a location.
    pub async fn set_bin(self, assignment: ordo_domain::wave::BinAssignment, actor: &Actor) -> AppResult<()> {
        let a = assignment.check()?;
        let mut tx = self.db.write().await?;
        if tx.location(&a.location).await?.is_none() {
            return Err(FieldError::new("location", format!("unknown location {:?}", a.location)).into());
        }
        if tx.product(&a.sku).await?.is_none() {
            return Err(FieldError::new("sku", format!("unknown SKU {:?}", a.sku)).into());
        }
        tx.set_bin(&a.location, &a.sku, &a.bin).await?;
        let change = Change::new("bin.set", format!("stock:{}/{}", a.sku, a.location)).after(serde_json::json!({"bin": a.bin}));
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The audit record of a parcel leaving: the order before and after (with the parcel's id),
/// and in words what left how, as people know a parcel: its carrier and tracking number.
fn shipped(before: &Order, after: &Order, shipment: Uuid, location: &str, dispatch: &Dispatch) -> Change {
    let mut state = crate::orders::order_state(after);
    state["shipment"] = serde_json::json!(shipment);
    Change::new("shipment.ship", format!("order:{}", before.id))
        .before(crate::orders::order_state(before))
        .after(state)
        .reason(&format!("parcel from {location} by {} {}", dispatch.carrier, dispatch.tracking_number))
}

fn wave_order_status(wave: &Wave, order: Uuid) -> AppResult<WaveOrderStatus> {
    wave.orders
        .iter()
        .find(|o| o.order_id == order)
        .map(|o| o.status)
        .ok_or_else(|| AppError::NotFound { what: "order in wave", key: order.to_string() })
}

/// Ordo may ship an order unless its channel holds it back or ships it itself.
fn ours_to_ship(order: &Order) -> AppResult<()> {
    match &order.waiting_for {
        Some(why) => Err(AppError::InvalidTransition {
            current: order.status.as_str(),
            message: format!("the channel holds this order back: {why}"),
        }),
        None => Ok(()),
    }
}

/// Units of an order line reserved at a location.
fn reserved_at(order: &Order, line: i64, location: &str) -> i64 {
    order.lines.iter().find(|l| l.line == line).map_or(0, |l| {
        l.allocations.iter().filter(|a| a.location == location).map(|a| a.quantity).sum()
    })
}

/// Ships `lines` of `order` from `location` in the caller's transaction: the units leave
/// on-hand and reserved, the shipment is recorded, the order moves on, and once it has all
/// left, its ship-by exceptions are resolved. Returns the shipment.
#[allow(clippy::too_many_arguments)]
async fn ship(
    ordo: &Ordo,
    tx: &mut Tx,
    order: &Order,
    location: &str,
    lines: Vec<ShipmentLine>,
    dispatch: &Dispatch,
    who: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Uuid> {
    let refuse = |message: String| AppError::InvalidTransition { current: order.status.as_str(), message };
    if !matches!(order.status, OrderStatus::Allocated | OrderStatus::Backordered | OrderStatus::PartiallyShipped) {
        return Err(refuse(format!("an order that is {} cannot ship", order.status)));
    }
    if lines.is_empty() {
        return Err(refuse(format!("nothing of this order is reserved at {location}")));
    }
    let reason = format!("shipped by {} {}", dispatch.carrier, dispatch.tracking_number);
    let mut leaving = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let Some(line) = order.lines.iter().find(|x| x.line == l.line) else {
            return Err(FieldError::new(format!("lines[{i}].line"), format!("the order has no line {}", l.line)).into());
        };
        leaving.push((line.sku.as_str(), l));
    }
    // The stock rows are taken in the one order intake takes them (SKU, then location; the
    // location is one here), so two writers never wait on each other on PostgreSQL.
    leaving.sort_by_key(|(sku, l)| (*sku, l.line));
    for (sku, l) in leaving {
        if !tx.ship_units(order.id, l.line, sku, location, l.quantity, &reason, who, now).await? {
            let reserved = reserved_at(order, l.line, location);
            let message =
                format!("line {} has {reserved} reserved at {location}, fewer than the {} shipped", l.line, l.quantity);
            return Err(refuse(message));
        }
    }
    let shipment = Shipment {
        id: Uuid::now_v7(),
        location: location.to_owned(),
        status: ShipmentStatus::Shipped,
        carrier: dispatch.carrier.clone(),
        tracking_number: dispatch.tracking_number.clone(),
        shipped_at: now,
        delivered_at: None,
        lines: lines.clone(),
        tracking: Vec::new(),
    };
    tx.insert_shipment(&shipment, order.id).await?;
    crate::confirmations::confirm_to_channel(tx, order, ConfirmationKind::Shipment(shipment.id), &reason, now).await?;
    post_shipment(ordo, tx, order, &shipment, who, now).await?;
    let shipped = |line: i64| order.lines.iter().find(|l| l.line == line).map_or(0, |l| l.shipped);
    // A kit's own line carries no stock: it is complete when its components are.
    let complete = order
        .lines
        .iter()
        .filter(|l| !l.kit)
        .all(|l| shipped(l.line) + lines.iter().filter(|s| s.line == l.line).map(|s| s.quantity).sum::<i64>() == l.quantity);
    let next = if complete { OrderStatus::Shipped } else { OrderStatus::PartiallyShipped };
    order.status.become_(next).map_err(|e| refuse(e.to_string()))?;
    tx.record_transition(order.id, Some(order.status), next, who, &reason, now).await?;
    let listeners = crate::outbox::Listeners::read(tx).await?;
    if listeners.hear(Topic::OrderDispatched) || listeners.hear(Topic::ReplacementShipped) {
        let topic = if tx.replaces_return(order.id).await?.is_some() { Topic::ReplacementShipped } else { Topic::OrderDispatched };
        let subject = format!("order:{}", order.id);
        listeners
            .notify_all(tx, topic, now, || {
                vec![(subject, serde_json::json!({
                    "order_id": order.id,
                    "channel": order.channel,
                    "external_id": order.external_id,
                    "customer_email": order.customer.email,
                    "shipment_id": shipment.id,
                    "carrier": shipment.carrier,
                    "tracking_number": shipment.tracking_number,
                    "lines": lines.iter().map(|l| serde_json::json!({"line": l.line, "quantity": l.quantity})).collect::<Vec<_>>(),
                    "complete": complete,
                }))]
            })
            .await?;
    }
    if complete {
        let subject = format!("order:{}", order.id);
        for kind in [ExceptionKind::ShipmentAtRisk, ExceptionKind::LateShipment] {
            tx.resolve_exception(kind.as_str(), &subject, &format!("shipped at {}", now.to_rfc3339()), now).await?;
        }
    }
    Ok(shipment.id)
}

/// Books a shipment: what it sold (its lines' share of price less discount, tax, and the
/// order's shipping charge on its first parcel) against the channel's receivable, and what
/// its goods cost from inventory to cost of goods sold.
async fn post_shipment(
    ordo: &Ordo,
    tx: &mut Tx,
    order: &Order,
    shipment: &Shipment,
    who: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    use ordo_domain::ledger::{self, share};
    let money = |minor: i64| ordo_domain::Money::from_minor(minor, order.currency);
    let in_parcel = |line: i64| shipment.lines.iter().filter(|s| s.line == line).map(|s| s.quantity).sum::<i64>();
    let (mut net, mut tax, mut cost) = (0i64, 0i64, 0i64);
    // (SKU, amount) of what was sold and what it cost.
    let mut net_by_sku: Vec<(String, i64)> = Vec::new();
    let mut cost_by_sku: Vec<(String, i64)> = Vec::new();
    let add = |by_sku: &mut Vec<(String, i64)>, sku: &str, amount: i64| match by_sku.iter_mut().find(|(s, _)| s == sku) {
        Some(entry) => entry.1 += amount,
        None => by_sku.push((sku.to_owned(), amount)),
    };
    // The stock rows are locked already (`ship`); the valuations come next.
    let leaving: Vec<&str> = order.lines.iter().filter(|l| !l.kit && in_parcel(l.line) > 0).map(|l| l.sku.as_str()).collect();
    tx.lock_valuations(&leaving).await?;
    for line in &order.lines {
        // A kit's line sells as many kits as its scarcest component has shipped.
        let (before, after) = if line.kit {
            let parts: Vec<&ordo_domain::order::OrderLine> =
                order.lines.iter().filter(|c| c.part_of == Some(line.line)).collect();
            let kits = |extra: &dyn Fn(i64) -> i64| {
                parts.iter().map(|c| (c.shipped + extra(c.line)) * line.quantity / c.quantity.max(1)).min().unwrap_or(0)
            };
            (kits(&|_| 0), kits(&in_parcel))
        } else {
            (line.shipped, line.shipped + in_parcel(line.line))
        };
        let gross = line.unit_price.minor().checked_mul(line.quantity).ok_or_else(|| FieldError::new("lines", "too large"))?;
        let line_net = share(gross - line.discount.minor(), line.quantity, before, after);
        net += line_net;
        add(&mut net_by_sku, &line.sku, line_net);
        tax += share(line.tax.minor(), line.quantity, before, after);
        // The goods leave at their SKU's moving-average cost; a kit's components cost the kit.
        if !line.kit && in_parcel(line.line) > 0 {
            let (after, taken) = tx.valuation(&line.sku).await?.issue(in_parcel(line.line));
            tx.set_valuation(&line.sku, after).await?;
            cost += taken;
            let sold_as = line.part_of.and_then(|kit| order.lines.iter().find(|l| l.line == kit)).map_or(&line.sku, |kit| &kit.sku);
            add(&mut cost_by_sku, sold_as, taken);
        }
    }
    let shipping = if order.shipments.is_empty() { order.shipping_price.minor() } else { 0 };
    let source = format!("shipment:{}", shipment.id);
    let memo = format!("order {} on {}, {} {}", order.external_id, order.channel, shipment.carrier, shipment.tracking_number);
    net_by_sku.retain(|(_, amount)| *amount != 0);
    // Sales and their cost belong to the customer's segment: consumer when Ordo does not know them.
    let segment = tx.customer_segment(&order.customer.email).await?.unwrap_or_else(|| "consumer".to_owned());
    let sold = ledger::ShipmentValue {
        channel: order.channel.clone(),
        net: money(net),
        net_by_sku,
        segment: Some(segment.clone()),
        tax: money(tax),
        shipping: money(shipping),
    };
    let revenue = ledger::shipment_revenue(source.clone(), memo.clone(), &sold).map_err(FieldError::from)?;
    ordo.ledger().post(tx, revenue, who, now).await?;
    let base = ordo_domain::Money::from_minor(cost, ordo.settings.base_currency);
    let cost = ledger::shipment_cost(source, memo, base, &cost_by_sku, Some(&segment)).map_err(FieldError::from)?.for_channel(&order.channel);
    ordo.ledger().post(tx, cost, who, now).await?;
    Ok(())
}

/// What one look at the ship-by clock raised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShipByWatch {
    pub at_risk: u64,
    pub late: u64,
}

impl Fulfilment<'_> {
    /// Raises a `shipment_at_risk` exception for each unshipped order whose ship-by time is
    /// within the at-risk window, and a `late_shipment` one (resolving the at-risk one) for each
    /// whose ship-by time has passed. Raising is idempotent: an open exception is not raised
    /// twice. `ordo serve` runs this every minute; the demo at each simulated hour it looks.
    pub async fn watch_ship_by(self) -> AppResult<ShipByWatch> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut raised = ShipByWatch::default();
        let listeners = crate::outbox::Listeners::read(&mut tx).await?;
        for order in tx.unshipped_due_before(now + self.settings.at_risk_window).await? {
            if ordo_domain::exception::ship_by_waits(order.status) {
                continue;
            }
            let subject = format!("order:{}", order.id);
            let late = order.ship_by <= now;
            let kind = if late { ExceptionKind::LateShipment } else { ExceptionKind::ShipmentAtRisk };
            let details = serde_json::json!({
                "channel": order.channel,
                "external_id": order.external_id,
                "status": order.status,
                "ship_by": order.ship_by,
            });
            let due = if late { now + kind.sla() } else { order.ship_by.min(now + kind.sla()) };
            if tx.raise_exception(kind.as_str(), &subject, kind.owner_role().as_str(), due, &details, now).await? {
                if late {
                    raised.late += 1;
                    tx.resolve_exception(ExceptionKind::ShipmentAtRisk.as_str(), &subject, "now late", now).await?;
                    listeners.notify_all(&mut tx, Topic::OrderDelayed, now, || vec![(subject.clone(), details)]).await?;
                } else {
                    raised.at_risk += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(raised)
    }
}

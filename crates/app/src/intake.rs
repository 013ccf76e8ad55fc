//! Order intake: an order from a channel checked against master data, its lines planned
//! (listings resolved, tax, kits expanded), reviewed for risk, routed and reserved, and written
//! in one grouped write. Idempotent on (channel, external id).

use ordo_domain::exception::ExceptionKind;
use ordo_domain::order::{LineAllocation, NewOrder, Order, OrderEvent, OrderLine, OrderStatus, RoutingRecord};
use ordo_domain::routing::LineDemand;
use ordo_domain::FieldError;
use ordo_storage::{NewEvent, NewLineRecord, NewOrderRecord, RoutingSites};
use uuid::Uuid;

use crate::cache::{cached, Key, MasterCache};
use crate::reserving::{record_routing, route_and_reserve, Routed};
use crate::{Actor, AppError, AppResult, Ordo};

/// The outcome of receiving an order: the order, and whether this call created it.
#[derive(Debug, Clone)]
pub struct Intake {
    pub order: Order,
    pub created: bool,
}

/// Checks an order against master data and plans its lines: the channel exists and sells in
/// the order's currency, each line names our SKU or the channel's listing, tax where the
/// channel sent none, kits expanded into their components. Returns the channel, the lines
/// and the order's total. Reads only.
pub(crate) async fn plan(
    tx: &mut ordo_storage::Tx,
    cache: &MasterCache,
    order: &ordo_domain::order::CheckedOrder,
) -> AppResult<(ordo_domain::master::Channel, Vec<PlannedLine>, ordo_domain::Money)> {
    let channel = cached!(cache, Key::Channel(order.channel.clone()), Channel, tx.channel(&order.channel).await?);
    // What the cache does not know is asked of the database before it is refused.
    let channel = match channel {
        Some(channel) => Some(channel),
        None => tx.channel(&order.channel).await?,
    };
    let Some(channel) = channel else {
        return Err(FieldError::new("channel", format!("unknown channel {:?}", order.channel)).into());
    };
    if channel.currency != order.currency {
        let message = format!("must be the channel's currency, {}", channel.currency);
        return Err(FieldError::new("currency", message).into());
    }

    // Each line names our SKU or the channel's listing SKU; the listing wins.
    let mut skus = Vec::with_capacity(order.lines.len());
    for (i, line) in order.lines.iter().enumerate() {
        let listing = cached!(cache, Key::Listing(channel.code.clone(), line.sku.clone()), Listing, {
            tx.listing(&channel.code, &line.sku).await?
        });
        let product = match &listing {
            Some(_) => None,
            None => cached!(cache, Key::Product(line.sku.clone()), Product, tx.product(&line.sku).await?),
        };
        let sku = match (listing, product) {
            (Some(listing), _) => (listing.sku, Some(line.sku.as_str())),
            (None, Some(_)) => (line.sku.clone(), None),
            (None, None) if tx.listing(&channel.code, &line.sku).await?.is_some() || tx.product(&line.sku).await?.is_some() => {
                cache.clear();
                return Box::pin(plan(tx, cache, order)).await;
            }
            (None, None) => {
                let message = format!("unknown SKU {:?}: neither ours nor listed on {}", line.sku, channel.code);
                return Err(FieldError::new(format!("lines[{i}].sku"), message).into());
            }
        };
        skus.push(sku);
    }

    // Tax as the channel sent it; where it sent none, from the product's tax class and the
    // rate for the ship-to country (none set: no tax). A kit's line carries the price and
    // tax; its components follow as lines of their own that carry the stock.
    let mut total = order.shipping_price;
    let mut planned: Vec<PlannedLine> = Vec::with_capacity(order.lines.len());
    for (i, (line, (sku, channel_sku))) in order.lines.iter().zip(&skus).enumerate() {
        let field = format!("lines[{i}]");
        let gross = line.unit_price.checked_times(line.quantity).map_err(money_field(&field))?;
        let net = gross.checked_sub(line.discount).map_err(money_field(&field))?;
        if net.is_negative() {
            return Err(FieldError::new(format!("{field}.discount"), "is more than the line's price").into());
        }
        let tax = match line.tax {
            Some(tax) => tax,
            None => {
                let product = cached!(cache, Key::Product(sku.clone()), Product, tx.product(sku).await?);
                let class = product.map(|p| p.tax_class).unwrap_or_default();
                let key = Key::TaxRate(order.ship_to.country.clone(), class.clone());
                let rate = cached!(cache, key, TaxRate, tx.tax_rate(&order.ship_to.country, &class).await?).unwrap_or(0);
                net.scaled(rate, 10_000).map_err(money_field(&field))?
            }
        };
        total = total.checked_add(net).and_then(|t| t.checked_add(tax)).map_err(money_field(&field))?;
        let components = cached!(cache, Key::Kit(sku.clone()), Kit, tx.kit_components(sku).await?);
        let number = planned.len() as i64 + 1;
        planned.push(PlannedLine {
            line: number,
            sku: sku.clone(),
            channel_sku: channel_sku.map(str::to_owned),
            quantity: line.quantity,
            unit_price: line.unit_price,
            tax,
            discount: line.discount,
            kit: !components.is_empty(),
            part_of: None,
        });
        let zero = ordo_domain::Money::zero(order.currency);
        for (component, per_kit) in components {
            let quantity = per_kit.checked_mul(line.quantity).filter(|q| *q <= 1_000_000).ok_or_else(|| {
                FieldError::new(format!("{field}.quantity"), "is too many kits: their components exceed 1000000 units")
            })?;
            let line = planned.len() as i64 + 1;
            planned.push(PlannedLine {
                line,
                sku: component,
                channel_sku: None,
                quantity,
                unit_price: zero,
                tax: zero,
                discount: zero,
                kit: false,
                part_of: Some(number),
            });
        }
    }

    Ok((channel, planned, total))
}

/// What intake hands to its write.
struct NewOrderWrite {
    channel: ordo_domain::master::Channel,
    sites: RoutingSites,
    order: ordo_domain::order::CheckedOrder,
    planned: Vec<PlannedLine>,
    lines: Vec<LineDemand>,
    holds: Vec<String>,
    total: ordo_domain::Money,
    payload: String,
    who: String,
    now: chrono::DateTime<chrono::Utc>,
}

/// What intake's write did.
enum Written {
    New { id: Uuid, status: OrderStatus, ship_by: chrono::DateTime<chrono::Utc>, routed: Option<Routed> },
    /// The channel's order was already here.
    Existing(Uuid),
}

/// The timeline of a new order: received, validated, then routed or held.
fn intake_events<'a>(routed: Option<&Routed>, hold_reason: &'a str) -> Vec<NewEvent<'a>> {
    let last = match routed {
        Some(routed) => NewEvent { from: Some(OrderStatus::Validated), to: routed.status(), reason: routed.why() },
        None => NewEvent { from: Some(OrderStatus::Validated), to: OrderStatus::OnHold, reason: hold_reason },
    };
    vec![
        NewEvent { from: None, to: OrderStatus::Received, reason: "received from the channel" },
        NewEvent { from: Some(OrderStatus::Received), to: OrderStatus::Validated, reason: "SKUs, currency and address check out" },
        last,
    ]
}

/// Intake's write: unless the order is here already, routes and reserves, then writes the
/// order as routing left it. Writes nothing when it fails; a concurrent re-send that took the
/// external id first (possible on PostgreSQL) is a duplicate error, and its transaction gives
/// the reservations back.
async fn write_new_order(tx: &mut ordo_storage::Tx, w: NewOrderWrite) -> Result<Written, ordo_storage::StorageError> {
    let (channel, order, now) = (&w.channel, &w.order, w.now);
    if let Some(existing) = tx.order_id_by_external_id(&channel.code, &order.external_id).await? {
        return Ok(Written::Existing(existing));
    }
    let storage = |e: AppError| match e {
        AppError::Storage(e) => e,
        other => ordo_storage::StorageError::Corrupt(other.to_string()),
    };
    let placed = (order.placed_at, channel.ship_by_sla_hours);
    let routed = match w.holds.is_empty() {
        true => Some(route_and_reserve(tx, &w.sites, &w.lines, placed).await.map_err(storage)?),
        false => None,
    };
    let id = Uuid::now_v7();
    let status = routed.as_ref().map_or(OrderStatus::OnHold, Routed::status);
    let ship_by = routed.as_ref().map_or(order.placed_at + chrono::Duration::hours(channel.ship_by_sla_hours), |r| r.ship_by);
    let customer = ordo_domain::order::NewCustomerRef { email: order.customer_email.clone(), name: order.customer_name.clone() };
    let record = NewOrderRecord {
        id,
        channel: &channel.code,
        external_id: &order.external_id,
        status,
        placed_at: order.placed_at,
        ship_by,
        currency: order.currency,
        customer: &customer,
        ship_to: &order.ship_to,
        billing_country: order.billing_country.as_deref(),
        shipping_method: &order.shipping_method,
        payment_status: order.payment_status,
        shipping_price: order.shipping_price,
        total: w.total,
        payload: &w.payload,
    };
    if !tx.insert_order(&record, now).await? {
        return Err(ordo_storage::StorageError::Duplicate { constraint: "orders.channel, orders.external_id".into() });
    }
    insert_lines(tx, id, &w.planned).await.map_err(storage)?;
    let hold_reason = w.holds.join("; ");
    match &routed {
        Some(routed) => record_routing(tx, id, &channel.code, &w.lines, routed, now).await.map_err(storage)?,
        None => {
            let kind = ExceptionKind::PaymentReview;
            let details = serde_json::json!({"external_id": order.external_id, "channel": channel.code, "reasons": w.holds});
            let subject = format!("order:{id}");
            tx.raise_exception(kind.as_str(), &subject, kind.owner_role().as_str(), now + kind.sla(), &details, now).await?;
        }
    }
    tx.insert_order_events(id, &intake_events(routed.as_ref(), &hold_reason), &w.who, now).await?;
    Ok(Written::New { id, status, ship_by, routed })
}

/// Writes the planned lines of order `id`.
pub(crate) async fn insert_lines(tx: &mut ordo_storage::Tx, id: Uuid, planned: &[PlannedLine]) -> AppResult<()> {
    let records: Vec<NewLineRecord> = planned
        .iter()
        .map(|line| NewLineRecord {
            line: line.line,
            kit: line.kit,
            part_of: line.part_of,
            sku: &line.sku,
            channel_sku: line.channel_sku.as_deref(),
            quantity: line.quantity,
            unit_price: line.unit_price,
            tax: line.tax,
            discount: line.discount,
        })
        .collect();
    Ok(tx.insert_order_lines(id, &records).await?)
}

/// What the planned lines ask of stock: every line but a kit's own, which holds none.
pub(crate) fn demand(planned: &[PlannedLine]) -> Vec<LineDemand> {
    planned
        .iter()
        .filter(|l| !l.kit)
        .map(|l| LineDemand { line: l.line, sku: l.sku.clone(), quantity: l.quantity, kit: l.part_of })
        .collect()
}

/// An order line as intake plans it, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedLine {
    pub(crate) line: i64,
    pub(crate) sku: String,
    pub(crate) channel_sku: Option<String>,
    pub(crate) quantity: i64,
    pub(crate) unit_price: ordo_domain::Money,
    pub(crate) tax: ordo_domain::Money,
    pub(crate) discount: ordo_domain::Money,
    pub(crate) kit: bool,
    pub(crate) part_of: Option<i64>,
}

fn money_field(field: &str) -> impl FnOnce(ordo_domain::MoneyError) -> AppError + '_ {
    move |e| FieldError::new(field, e.to_string()).into()
}

impl Ordo {
    /// Receives an order from a channel. Sending the same (channel, external id) again returns
    /// the order already made, unchanged. `payload` is the body as the channel sent it.
    pub async fn receive_order(&self, new: NewOrder, payload: &str, actor: &Actor) -> AppResult<Intake> {
        let order = new.check()?;
        let now = self.now();
        // Everything that only reads happens before the write transaction, so the write lock
        // (SQLite's one writer) is held for the writes alone.
        let mut tx = self.db.read().await?;
        let (channel, planned, total) = plan(&mut tx, &self.cache, &order).await?;
        // A re-send of an order we have: answer with it, touching nothing.
        if let Some(existing) = tx.order_id_by_external_id(&channel.code, &order.external_id).await? {
            let order = tx.order(existing).await?.ok_or(AppError::NotFound { what: "order", key: existing.to_string() })?;
            return Ok(Intake { order, created: false });
        }
        let key = Key::ChannelStats(channel.code.clone());
        let stats = cached!(self.cache, key, ChannelStats, tx.channel_order_stats(&channel.code).await?);
        let key = Key::Sites(channel.code.clone(), order.shipping_method.clone());
        let sites = cached!(self.cache, key, Sites, tx.routing_sites(&channel.code, &order.shipping_method).await?);
        drop(tx);

        // Risk review first: a held order reserves nothing until a person releases it.
        let holds = self.risk_holds(&order, total, stats);
        let hold_reason = holds.join("; ");
        let lines = demand(&planned);
        let who = actor.to_string();

        // Route and reserve, then write the order as routing left it, one statement per table,
        // in a write grouped with the others arriving now: one commit for all of them.
        let write = NewOrderWrite {
            channel: channel.clone(),
            sites,
            order: order.clone(),
            planned: planned.clone(),
            lines,
            holds: holds.clone(),
            total,
            payload: payload.to_owned(),
            who: who.clone(),
            now,
        };
        let written = self.db.write_grouped(move |tx| Box::pin(write_new_order(tx, write))).await;
        let (id, status, ship_by, routed) = match written {
            Ok(Written::New { id, status, ship_by, routed }) => (id, status, ship_by, routed),
            // The channel sent it again meanwhile: answer with the order that one made.
            Ok(Written::Existing(existing)) => return Ok(Intake { order: self.order(existing).await?, created: false }),
            Err(e) if e.is_duplicate() => {
                let existing = self.db.read().await?.order_id_by_external_id(&channel.code, &order.external_id).await?;
                let existing = existing.ok_or_else(|| AppError::NotFound { what: "order", key: order.external_id.clone() })?;
                return Ok(Intake { order: self.order(existing).await?, created: false });
            }
            Err(e) => return Err(e.into()),
        };
        let customer = ordo_domain::order::NewCustomerRef { email: order.customer_email.clone(), name: order.customer_name.clone() };
        let events = intake_events(routed.as_ref(), &hold_reason);

        // The answer is what was just written, without reading it back.
        let lines = planned
            .into_iter()
            .map(|l| {
                let (allocations, backordered) = match &routed {
                    Some(r) => (
                        r.allocations
                            .iter()
                            .filter(|a| a.0 == l.line)
                            .map(|a| LineAllocation { location: a.1.clone(), quantity: a.2 })
                            .collect(),
                        r.short.iter().filter(|s| s.0 == l.line).map(|s| s.2).sum(),
                    ),
                    None => (Vec::new(), 0),
                };
                OrderLine {
                    line: l.line,
                    kit: l.kit,
                    part_of: l.part_of,
                    sku: l.sku,
                    channel_sku: l.channel_sku,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    tax: l.tax,
                    discount: l.discount,
                    allocations,
                    backordered,
                    shipped: 0,
                }
            })
            .collect();
        let timeline = events
            .iter()
            .map(|e| OrderEvent { at: now, from: e.from, to: e.to, actor: who.clone(), reason: e.reason.to_owned() })
            .collect();
        let routing = routed
            .map(|r| vec![RoutingRecord { decided_at: now, decider: r.decider, reasons: r.reasons }])
            .unwrap_or_default();
        let order = Order {
            id,
            channel: channel.code,
            external_id: order.external_id,
            status,
            placed_at: order.placed_at,
            ship_by,
            currency: order.currency,
            customer,
            ship_to: order.ship_to,
            billing_country: order.billing_country,
            shipping_method: order.shipping_method,
            payment_status: order.payment_status,
            shipping_price: order.shipping_price,
            total,
            lines,
            shipments: Vec::new(),
            timeline,
            routing,
        };
        Ok(Intake { order, created: true })
    }
}

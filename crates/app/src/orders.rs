//! Order intake and the order's life until it is routed: idempotent on (channel, external
//! id), reserved in the same transaction, with what cannot be reserved waiting as backorders.

use std::collections::BTreeSet;

use ordo_domain::exception::ExceptionKind;
use ordo_domain::order::{LineAllocation, NewOrder, Order, OrderEvent, OrderLine, OrderStatus, RoutingRecord};
use ordo_domain::risk::{hold_reasons, RiskFacts};
use ordo_domain::routing::{LineDemand, PreferWholeOrder, Routing, RoutingFacts};
use ordo_domain::FieldError;
use ordo_storage::{NewEvent, NewLineRecord, NewOrderRecord, RoutingSites};
use uuid::Uuid;

use crate::cache::{cached, Key, MasterCache};
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

/// What routing and reservation did for an order's lines: reserved stock, nothing yet
/// written about the order itself.
pub(crate) struct Routed {
    /// (line, location, units) reserved.
    pub(crate) allocations: Vec<(i64, String, i64)>,
    /// (line, SKU, units) waiting for stock.
    pub(crate) short: Vec<(i64, String, i64)>,
    pub(crate) reasons: Vec<String>,
    pub(crate) decider: String,
    /// The last cut-off at the order's first location that meets the channel's SLA.
    pub(crate) ship_by: chrono::DateTime<chrono::Utc>,
}

impl Routed {
    pub(crate) fn status(&self) -> OrderStatus {
        if self.short.is_empty() { OrderStatus::Allocated } else { OrderStatus::Backordered }
    }

    pub(crate) fn why(&self) -> &'static str {
        if self.short.is_empty() { "every unit is reserved" } else { "some units wait for stock" }
    }
}

/// Routes `lines` and reserves what the plan says; a reservation the database refuses
/// (another order took the stock first) becomes a shortfall, never an oversell, and a kit with
/// a component short gives the others back. `placed` is when the order was placed and the
/// channel's SLA in hours. Touches stock levels only.
async fn route_and_reserve(
    tx: &mut ordo_storage::Tx,
    sites: &RoutingSites,
    lines: &[LineDemand],
    (placed_at, sla_hours): (chrono::DateTime<chrono::Utc>, i64),
) -> AppResult<Routed> {
    let distinct: BTreeSet<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let distinct: Vec<&str> = distinct.into_iter().collect();
    let mut candidates = sites.candidates.clone();
    for (sku, location, available) in tx.available_stock(&distinct).await? {
        if let Some(candidate) = candidates.iter_mut().find(|c| c.location == location) {
            candidate.available.insert(sku, available);
        }
    }
    let router = PreferWholeOrder;
    let plan = router.route(&RoutingFacts { lines: lines.to_vec(), candidates, allow_split: sites.allow_split });
    let mut reasons = plan.reasons.clone();
    let mut short: Vec<(i64, String, i64)> = plan.shortfalls.iter().map(|s| (s.line, s.sku.clone(), s.quantity)).collect();
    // Reserve in one global order (SKU, then location) so two orders taking the same SKUs
    // lock the stock rows in the same order and cannot deadlock on PostgreSQL.
    let demand = |line: i64| lines.iter().find(|l| l.line == line);
    let mut in_lock_order: Vec<&ordo_domain::routing::Allocation> = plan.allocations.iter().collect();
    in_lock_order.sort_by(|a, b| {
        let sku = |x: &ordo_domain::routing::Allocation| demand(x.line).map_or("", |l| l.sku.as_str());
        sku(a).cmp(sku(b)).then_with(|| a.location.cmp(&b.location))
    });
    // One reservation per SKU and location, however many lines share it.
    let mut wanted: Vec<(&str, &str, i64)> = Vec::new();
    for allocation in &in_lock_order {
        let Some(line) = demand(allocation.line) else { continue };
        match wanted.iter_mut().find(|(sku, location, _)| *sku == line.sku && *location == allocation.location) {
            Some(pair) => pair.2 += allocation.quantity,
            None => wanted.push((&line.sku, &allocation.location, allocation.quantity)),
        }
    }
    let taken = tx.reserve_many(&wanted).await?;
    let mut reserved: Vec<(&LineDemand, &str, i64)> = Vec::new();
    for allocation in in_lock_order {
        let Some(line) = demand(allocation.line) else { continue };
        let held = wanted.iter().zip(&taken).any(|((sku, location, _), ok)| *ok && *sku == line.sku && *location == allocation.location);
        if held {
            reserved.push((line, &allocation.location, allocation.quantity));
        } else {
            reasons.push(format!("{} was taken at {} by another order meanwhile", line.sku, allocation.location));
            short.push((allocation.line, line.sku.clone(), allocation.quantity));
        }
    }
    let broken: BTreeSet<i64> = short.iter().filter_map(|(line, _, _)| demand(*line).and_then(|l| l.kit)).collect();
    let mut allocations = Vec::with_capacity(reserved.len());
    for (line, location, quantity) in reserved {
        if line.kit.is_some_and(|kit| broken.contains(&kit)) {
            tx.release(&line.sku, location, quantity).await?;
            short.push((line.line, line.sku.clone(), quantity));
        } else {
            allocations.push((line.line, location.to_owned(), quantity));
        }
    }
    allocations.sort();
    let mut ship_by = placed_at + chrono::Duration::hours(sla_hours);
    if let Some(first) = plan.allocations.first()
        && let Some((cutoff_time, time_zone)) = sites.cutoffs.get(&first.location)
    {
        let cutoff = chrono::NaiveTime::parse_from_str(cutoff_time, "%H:%M").unwrap_or_default();
        let zone: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::UTC);
        ship_by = ordo_domain::order::ship_by(placed_at, sla_hours, cutoff, zone);
        reasons.push(format!("ships by the {cutoff_time} cut-off at {} ({time_zone})", first.location));
    }
    Ok(Routed { allocations, short, reasons, decider: router.name().to_owned(), ship_by })
}

/// Writes what routing did for order `id`: its allocations, its backorders with their
/// stockout exceptions, and the decision with its reasons.
async fn record_routing(
    tx: &mut ordo_storage::Tx,
    id: Uuid,
    channel: &str,
    lines: &[LineDemand],
    routed: &Routed,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    tx.insert_allocations(id, &routed.allocations).await?;
    for (line, sku, quantity) in &routed.short {
        tx.insert_backorder(id, *line, sku, *quantity, routed.ship_by, now).await?;
        // A kit's component that is in stock waits for a sibling that is not: no stockout.
        let in_kit = lines.iter().any(|l| l.line == *line && l.kit.is_some());
        if in_kit && tx.stock_levels(Some(sku)).await?.iter().map(|l| l.available).sum::<i64>() >= *quantity {
            continue;
        }
        let kind = ExceptionKind::Stockout;
        let details = serde_json::json!({"first_order": id, "channel": channel});
        tx.raise_exception(kind.as_str(), &format!("sku:{sku}"), kind.owner_role().as_str(), now + kind.sla(), &details, now)
            .await?;
    }
    tx.insert_routing_decision(id, &routed.decider, &routed.reasons, now).await?;
    Ok(())
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

    /// Reviews a validated order for risk and routes it: held for a person (reserving nothing,
    /// with a `payment_review` exception), or routed and reserved. `stats` is the channel's
    /// recent order count and average total in minor units. Runs in the caller's transaction.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn review_and_route(
        &self,
        tx: &mut ordo_storage::Tx,
        id: Uuid,
        channel: &ordo_domain::master::Channel,
        order: &ordo_domain::order::CheckedOrder,
        planned: &[PlannedLine],
        total: ordo_domain::Money,
        stats: (i64, i64),
        who: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<()> {
        // Risk review first: a held order reserves nothing until a person releases it.
        let holds = self.risk_holds(order, total, stats);
        if holds.is_empty() {
            let when = (order.placed_at, channel.ship_by_sla_hours);
            Self::allocate(tx, id, &channel.code, &order.shipping_method, &demand(planned), when, who, now).await?;
        } else {
            let reason = holds.join("; ");
            tx.record_transition(id, Some(OrderStatus::Validated), OrderStatus::OnHold, who, &reason, now).await?;
            let kind = ExceptionKind::PaymentReview;
            let details = serde_json::json!({"external_id": order.external_id, "channel": channel.code, "reasons": holds});
            let subject = format!("order:{id}");
            tx.raise_exception(kind.as_str(), &subject, kind.owner_role().as_str(), now + kind.sla(), &details, now).await?;
        }
        Ok(())
    }

    /// Why the order must wait for a person, if it must: unpaid, billed abroad, or far above
    /// the channel's usual value. `stats` is the channel's recent order count and average total
    /// in minor units.
    fn risk_holds(&self, order: &ordo_domain::order::CheckedOrder, total: ordo_domain::Money, stats: (i64, i64)) -> Vec<String> {
        let facts = RiskFacts {
            payment_status: order.payment_status,
            ship_country: &order.ship_to.country,
            billing_country: order.billing_country.as_deref(),
            total_minor: total.minor(),
            channel_orders: stats.0,
            channel_average_minor: stats.1,
        };
        hold_reasons(&self.settings.risk, &facts)
    }

    /// Routes a validated order and reserves its stock; what cannot be reserved waits as
    /// backorders with a stockout exception. Sets the order's ship-by and moves it on from
    /// validated. Runs in the caller's transaction.
    #[allow(clippy::too_many_arguments)]
    async fn allocate(
        tx: &mut ordo_storage::Tx,
        id: Uuid,
        channel: &str,
        shipping_method: &str,
        lines: &[LineDemand],
        placed: (chrono::DateTime<chrono::Utc>, i64),
        who: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<()> {
        let sites = tx.routing_sites(channel, shipping_method).await?;
        let routed = route_and_reserve(tx, &sites, lines, placed).await?;
        tx.set_order_ship_by(id, routed.ship_by).await?;
        record_routing(tx, id, channel, lines, &routed, now).await?;
        tx.record_transition(id, Some(OrderStatus::Validated), routed.status(), who, routed.why(), now).await?;
        Ok(())
    }

    /// Releases an order held for review: it is routed and reserved as if it had just come.
    pub async fn release_hold(&self, id: Uuid, reason: &str, actor: &Actor) -> AppResult<Order> {
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
        let sla = tx.channel(&order.channel).await?.map_or(48, |c| c.ship_by_sla_hours);
        let when = (order.placed_at, sla);
        Self::allocate(&mut tx, id, &order.channel, &order.shipping_method, &lines, when, &who, now).await?;
        tx.resolve_exception(ExceptionKind::PaymentReview.as_str(), &format!("order:{id}"), &reason, now).await?;
        let order = tx.order(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })?;
        tx.commit().await?;
        Ok(order)
    }

    /// Orders by channel, status and the start of the channel's order id, newest first;
    /// with how many match in all.
    pub async fn orders(
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

    pub async fn order(&self, id: Uuid) -> AppResult<Order> {
        self.db.read().await?.order(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })
    }

    /// Cancels an order that has not shipped, releasing its reservations.
    pub async fn cancel_order(&self, id: Uuid, reason: &str, actor: &Actor) -> AppResult<Order> {
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
        let order = tx.order(id).await?.ok_or(AppError::NotFound { what: "order", key: id.to_string() })?;
        tx.commit().await?;
        Ok(order)
    }

    /// Exceptions in `status` (such as "open"), or all of them.
    pub async fn exceptions(&self, status: Option<&str>) -> AppResult<Vec<ordo_domain::exception::Exception>> {
        if let Some(s) = status.filter(|s| !["open", "acknowledged", "escalated", "resolved"].contains(s)) {
            return Err(FieldError::new("status", format!("{s:?} is not open, acknowledged, escalated or resolved")).into());
        }
        Ok(self.db.read().await?.exceptions(status).await?)
    }

    /// How many exceptions there are of each kind: (kind, open ones, all).
    pub async fn exception_counts(&self) -> AppResult<Vec<(String, i64, i64)>> {
        Ok(self.db.read().await?.exception_counts().await?)
    }

    /// Of the orders shipped in full, how many left by their ship-by time, and how many there are.
    pub async fn ship_by_adherence(&self) -> AppResult<(i64, i64)> {
        Ok(self.db.read().await?.ship_by_adherence().await?)
    }

    /// Whether reserved stock exceeds on-hand anywhere; always 0 unless something is broken.
    pub async fn oversold_levels(&self) -> AppResult<i64> {
        Ok(self.db.read().await?.oversold_levels().await?)
    }
}

impl Ordo {
    /// Stock arrived for `sku` at `location`: reserve it for the orders waiting for it, oldest
    /// ship-by first, where their channel may ship from there. Runs in the caller's transaction.
    pub(crate) async fn fill_backorders(
        tx: &mut ordo_storage::Tx,
        sku: &str,
        location: &str,
        actor: &Actor,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<()> {
        let who = actor.to_string();
        for waiting in tx.waiting_lines(sku).await? {
            if !tx.may_ship_from(&waiting.channel, location, &waiting.shipping_method).await? {
                continue;
            }
            if let Some(kit) = waiting.part_of {
                if Self::fill_kit(tx, waiting.order_id, kit, location).await? {
                    Self::note_filled(tx, waiting.order_id, sku, location, &who, now).await?;
                }
                continue;
            }
            let available = tx
                .stock_levels(Some(sku))
                .await?
                .into_iter()
                .find(|level| level.location == location)
                .map_or(0, |level| level.available);
            let take = available.min(waiting.quantity);
            if take <= 0 {
                break;
            }
            if !tx.reserve(sku, location, take).await? {
                break;
            }
            tx.insert_allocation(waiting.order_id, waiting.line_no, location, take).await?;
            tx.reduce_backorder(waiting.order_id, waiting.line_no, take).await?;
            Self::note_filled(tx, waiting.order_id, sku, location, &who, now).await?;
        }
        if tx.backordered_sku_units(sku).await? == 0 {
            tx.resolve_exception(ExceptionKind::Stockout.as_str(), &format!("sku:{sku}"), "stock arrived for every waiting order", now)
                .await?;
        }
        Ok(())
    }

    /// An order whose last waiting unit was just reserved is allocated.
    async fn note_filled(
        tx: &mut ordo_storage::Tx,
        order: Uuid,
        sku: &str,
        location: &str,
        who: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<()> {
        if tx.backordered_units(order).await? == 0
            && let Some(status @ (OrderStatus::Backordered | OrderStatus::PartiallyShipped)) = tx.order_status(order).await?
        {
            let reason = format!("{sku} arrived at {location}; every unit is reserved");
            tx.record_transition(order, Some(status), OrderStatus::Allocated, who, &reason, now).await?;
        }
        Ok(())
    }

    /// Reserves every waiting component of one kit line at `location`, or none of them when
    /// the location lacks any: a kit is never half reserved. Whether it was reserved.
    async fn fill_kit(tx: &mut ordo_storage::Tx, order: Uuid, kit: i64, location: &str) -> AppResult<bool> {
        let parts = tx.kit_backorders(order, kit).await?;
        let mut taken: Vec<(&str, i64)> = Vec::with_capacity(parts.len());
        for (_, sku, quantity) in &parts {
            if !tx.reserve(sku, location, *quantity).await? {
                for (sku, quantity) in taken {
                    tx.release(sku, location, quantity).await?;
                }
                return Ok(false);
            }
            taken.push((sku, *quantity));
        }
        for (line, _, quantity) in &parts {
            tx.insert_allocation(order, *line, location, *quantity).await?;
            tx.reduce_backorder(order, *line, *quantity).await?;
        }
        Ok(!parts.is_empty())
    }
}

//! Routing and reservation: where an order's units come from, reserved by conditional updates
//! the database decides; what cannot be reserved waits as backorders, filled oldest ship-by
//! first when stock arrives.

use std::collections::BTreeSet;

use ordo_domain::exception::ExceptionKind;
use ordo_domain::order::OrderStatus;
use ordo_domain::risk::{hold_reasons, RiskFacts};
use ordo_domain::routing::{LineDemand, PreferWholeOrder, Routing, RoutingFacts};
use ordo_storage::RoutingSites;
use uuid::Uuid;

use crate::intake::{demand, PlannedLine};
use crate::{Actor, AppResult, Ordo};

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
pub(crate) async fn route_and_reserve(
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
pub(crate) async fn record_routing(
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

impl Ordo {
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
    pub(crate) fn risk_holds(&self, order: &ordo_domain::order::CheckedOrder, total: ordo_domain::Money, stats: (i64, i64)) -> Vec<String> {
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
    pub(crate) async fn allocate(
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

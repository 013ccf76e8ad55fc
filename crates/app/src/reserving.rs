//! Routing and reservation: where an order's units come from, reserved by conditional updates
//! the database decides; what cannot be reserved waits as backorders, filled oldest ship-by
//! first when stock arrives.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ordo_domain::exception::ExceptionKind;
use ordo_domain::order::OrderStatus;
use ordo_domain::rules::RuleKind;
use ordo_domain::routing::{LineDemand, PreferWholeOrder, Preference, Routing, RoutingFacts, RoutingPlan};
use ordo_storage::RoutingSites;
use uuid::Uuid;

use ordo_domain::planning::{demand, PlannedLine};
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

/// Stock available (on hand less reserved) per (SKU, location), as routing sees it.
type Stock = HashMap<(String, String), i64>;

/// What one order asks of routing: where it may ship from, its lines, when it was placed and
/// the channel's SLA in hours.
pub(crate) struct RouteRequest<'a> {
    pub(crate) sites: &'a RoutingSites,
    pub(crate) lines: &'a [LineDemand],
    pub(crate) placed: (chrono::DateTime<chrono::Utc>, i64),
    /// The routing rule in force that chose this order; the default decision without one.
    pub(crate) preference: Option<&'a Preference>,
}

/// The SKUs `lines` ask for, each once.
fn skus<'a>(lines: impl Iterator<Item = &'a LineDemand>) -> Vec<&'a str> {
    let distinct: BTreeSet<&str> = lines.map(|l| l.sku.as_str()).collect();
    distinct.into_iter().collect()
}

fn stock(levels: Vec<ordo_storage::StockUnits>) -> Stock {
    levels.into_iter().map(|s| ((s.sku, s.location), s.units)).collect()
}

/// Decides where the order's units come from, given `stock`. Reads and changes nothing.
fn plan_route(request: &RouteRequest<'_>, stock: &Stock) -> RoutingPlan {
    let mut candidates = request.sites.candidates.clone();
    for candidate in &mut candidates {
        for line in request.lines {
            if let Some(available) = stock.get(&(line.sku.clone(), candidate.location.clone())) {
                candidate.available.insert(line.sku.clone(), *available);
            }
        }
    }
    let facts = RoutingFacts { lines: request.lines.to_vec(), candidates, allow_split: request.sites.allow_split };
    match request.preference {
        Some(preference) => preference.route(&facts),
        None => PreferWholeOrder.route(&facts),
    }
}

/// One reservation per SKU and location, however many lines share it, in one global order
/// (SKU, then location) so two writers taking the same SKUs lock the stock rows in the same
/// order and cannot deadlock on PostgreSQL.
fn wanted<'a>(lines: &'a [LineDemand], plan: &'a RoutingPlan) -> BTreeMap<(&'a str, &'a str), i64> {
    let mut wanted = BTreeMap::new();
    for allocation in &plan.allocations {
        if let Some(line) = lines.iter().find(|l| l.line == allocation.line) {
            *wanted.entry((line.sku.as_str(), allocation.location.as_str())).or_default() += allocation.quantity;
        }
    }
    wanted
}

/// Turns a plan into what was reserved: allocations the database `refused` (another order took
/// the stock first) become shortfalls, never oversells, and a kit with a component short gives
/// the others back. Returns the outcome and what to give back.
fn settle(request: &RouteRequest<'_>, plan: &RoutingPlan, refused: &[(&str, &str)]) -> (Routed, Vec<(String, String, i64)>) {
    let lines = request.lines;
    let demand = |line: i64| lines.iter().find(|l| l.line == line);
    let mut reasons = plan.reasons.clone();
    let mut short: Vec<(i64, String, i64)> = plan.shortfalls.iter().map(|s| (s.line, s.sku.clone(), s.quantity)).collect();
    let mut reserved: Vec<(&LineDemand, &str, i64)> = Vec::new();
    for allocation in &plan.allocations {
        let Some(line) = demand(allocation.line) else { continue };
        if refused.contains(&(line.sku.as_str(), allocation.location.as_str())) {
            reasons.push(format!("{} was taken at {} by another order meanwhile", line.sku, allocation.location));
            short.push((allocation.line, line.sku.clone(), allocation.quantity));
        } else {
            reserved.push((line, &allocation.location, allocation.quantity));
        }
    }
    let broken: BTreeSet<i64> = short.iter().filter_map(|(line, _, _)| demand(*line).and_then(|l| l.kit)).collect();
    let mut allocations = Vec::with_capacity(reserved.len());
    let mut give_back = Vec::new();
    for (line, location, quantity) in reserved {
        if line.kit.is_some_and(|kit| broken.contains(&kit)) {
            give_back.push((line.sku.clone(), location.to_owned(), quantity));
            short.push((line.line, line.sku.clone(), quantity));
        } else {
            allocations.push((line.line, location.to_owned(), quantity));
        }
    }
    allocations.sort();
    let (placed_at, sla_hours) = request.placed;
    let mut ship_by = placed_at + chrono::Duration::hours(sla_hours);
    if let Some(first) = plan.allocations.first()
        && let Some(site) = request.sites.schedules.get(&first.location)
    {
        ship_by = site.ship_by(placed_at, sla_hours);
        reasons.push(format!("ships by the {} cut-off at {} ({})", site.cutoff.format("%H:%M"), first.location, site.zone.name()));
    }
    let decider = request.preference.map_or_else(|| PreferWholeOrder.name().to_owned(), |p| p.name().to_owned());
    let routed = Routed { allocations, short, reasons, decider, ship_by };
    (routed, give_back)
}

/// Routes one order and reserves what the plan says, by conditional updates the database
/// decides: what it refuses waits as backorders. Touches stock levels only.
pub(crate) async fn route_and_reserve(tx: &mut ordo_storage::Tx, request: &RouteRequest<'_>) -> AppResult<Routed> {
    let stock = stock(tx.available_stock(&skus(request.lines.iter())).await?);
    let plan = plan_route(request, &stock);
    let wanted: Vec<(&str, &str, i64)> = wanted(request.lines, &plan).into_iter().map(|((s, l), q)| (s, l, q)).collect();
    let taken = tx.reserve_many(&wanted).await?;
    let refused: Vec<(&str, &str)> = wanted.iter().zip(&taken).filter(|(_, ok)| !**ok).map(|((s, l, _), _)| (*s, *l)).collect();
    let (routed, give_back) = settle(request, &plan, &refused);
    for (sku, location, quantity) in give_back {
        tx.release(&sku, &location, quantity).await?;
    }
    Ok(routed)
}

/// Routes several orders in turn against stock read once, held by this transaction until it
/// ends, and reserves for all of them in one statement. `None` should the database refuse a
/// reservation all the same: the caller must roll back and route the orders one by one.
pub(crate) async fn route_and_reserve_many(tx: &mut ordo_storage::Tx, requests: &[RouteRequest<'_>]) -> AppResult<Option<Vec<Routed>>> {
    let mut stock = stock(tx.lock_available_stock(&skus(requests.iter().flat_map(|r| r.lines.iter()))).await?);
    let mut plans = Vec::with_capacity(requests.len());
    let mut total: BTreeMap<(String, String), i64> = BTreeMap::new();
    for request in requests {
        let plan = plan_route(request, &stock);
        for ((sku, location), quantity) in wanted(request.lines, &plan) {
            let key = (sku.to_owned(), location.to_owned());
            *stock.entry(key.clone()).or_default() -= quantity;
            *total.entry(key).or_default() += quantity;
        }
        plans.push(plan);
    }
    let wanted: Vec<(&str, &str, i64)> = total.iter().map(|((s, l), q)| (s.as_str(), l.as_str(), *q)).collect();
    if tx.reserve_many(&wanted).await?.contains(&false) {
        return Ok(None);
    }
    Ok(Some(requests.iter().zip(plans).map(|(request, plan)| settle(request, &plan, &[]).0).collect()))
}

/// An order routing has just served, to be recorded.
pub(crate) struct RoutedOrder<'a> {
    pub(crate) id: Uuid,
    pub(crate) channel: &'a str,
    pub(crate) lines: &'a [LineDemand],
    pub(crate) routed: &'a Routed,
    pub(crate) at: chrono::DateTime<chrono::Utc>,
}

/// Writes what routing did for orders: their allocations, their backorders with their
/// stockout exceptions, and each decision with its reasons.
pub(crate) async fn record_routing(tx: &mut ordo_storage::Tx, orders: &[RoutedOrder<'_>]) -> AppResult<()> {
    let allocations: Vec<ordo_storage::OrderAllocations> = orders.iter().map(|o| (o.id, o.routed.allocations.as_slice())).collect();
    tx.insert_allocations(&allocations).await?;
    // What waits, one row per order line however many parts of it fell short.
    let mut waiting: BTreeMap<(Uuid, i64), ordo_storage::NewBackorder> = BTreeMap::new();
    for o in orders {
        for (line, sku, quantity) in &o.routed.short {
            waiting.entry((o.id, *line)).or_insert((o.id, *line, sku.as_str(), 0, o.routed.ship_by, o.at)).3 += quantity;
        }
    }
    tx.insert_backorders(&waiting.into_values().collect::<Vec<_>>()).await?;
    // A stockout per SKU, raised once however many orders of the group wait for it. A kit's
    // component that is in stock waits for a sibling that is not: no stockout.
    let mut raised: BTreeSet<&str> = BTreeSet::new();
    for o in orders {
        for (line, sku, quantity) in &o.routed.short {
            if raised.contains(sku.as_str()) {
                continue;
            }
            let in_kit = o.lines.iter().any(|l| l.line == *line && l.kit.is_some());
            if in_kit && tx.stock_levels(Some(sku)).await?.iter().map(|l| l.available).sum::<i64>() >= *quantity {
                continue;
            }
            raised.insert(sku);
            let kind = ExceptionKind::Stockout;
            let details = serde_json::json!({"first_order": o.id, "channel": o.channel});
            let due = o.at + kind.sla();
            tx.raise_exception(kind.as_str(), &format!("sku:{sku}"), kind.owner_role().as_str(), due, &details, o.at).await?;
        }
    }
    let decisions: Vec<(Uuid, &str, &[String], chrono::DateTime<chrono::Utc>)> =
        orders.iter().map(|o| (o.id, o.routed.decider.as_str(), o.routed.reasons.as_slice(), o.at)).collect();
    tx.insert_routing_decisions(&decisions).await?;
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
        stats: ordo_domain::decide::ChannelStats,
        who: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<()> {
        let decided = self.review(tx, channel, order, planned, total, stats, now).await?;
        self.route_reviewed(tx, id, channel, order, planned, decided, who, now).await
    }

    /// What the active risk and routing rules decide for a validated order: the holds (none
    /// lets it be routed) and the routing preference.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn review(
        &self,
        tx: &mut ordo_storage::Tx,
        channel: &ordo_domain::master::Channel,
        order: &ordo_domain::order::CheckedOrder,
        planned: &[PlannedLine],
        total: ordo_domain::Money,
        stats: ordo_domain::decide::ChannelStats,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<ordo_domain::decide::OrderDecisions> {
        // Risk review first: a held order reserves nothing until a person releases it.
        let risk = crate::rules::load_active(tx, RuleKind::RiskHold).await?;
        let routing = crate::rules::load_active(tx, RuleKind::Routing).await?;
        let rules = ordo_domain::decide::OrderRules { risk: &risk, routing: &routing, ..Default::default() };
        let decided = ordo_domain::decide::decide_order(rules, |lines| {
            crate::rules::order_facts(channel, order, planned, total, stats, now, lines)
        });
        crate::rules::log_passed_over(&decided.passed_over);
        Ok(decided)
    }

    /// Holds the reviewed order for a person (reserving nothing, with a `payment_review`
    /// exception) or routes it and reserves its stock, as `decided` says.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn route_reviewed(
        &self,
        tx: &mut ordo_storage::Tx,
        id: Uuid,
        channel: &ordo_domain::master::Channel,
        order: &ordo_domain::order::CheckedOrder,
        planned: &[PlannedLine],
        decided: ordo_domain::decide::OrderDecisions,
        who: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<()> {
        let holds = decided.holds;
        if holds.is_empty() {
            let when = (order.placed_at, channel.ship_by_sla_hours);
            let lines = demand(planned);
            Self::allocate(tx, id, &channel.code, &order.shipping_method, &lines, when, decided.preference.as_ref(), who, now).await?;
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
        preference: Option<&Preference>,
        who: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<()> {
        let by_channel = tx.order_fulfilled_by_channel(id).await?;
        let sites = tx.routing_sites(channel, shipping_method, by_channel).await?;
        let routed = route_and_reserve(tx, &RouteRequest { sites: &sites, lines, placed, preference }).await?;
        tx.set_order_ship_by(id, routed.ship_by).await?;
        record_routing(tx, &[RoutedOrder { id, channel, lines, routed: &routed, at: now }]).await?;
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
        for waiting in tx.waiting_lines(sku).await? {
            if !tx.may_ship_from(&waiting, location).await? {
                continue;
            }
            if let Some(kit) = waiting.part_of {
                if Self::fill_kit(tx, waiting.order_id, kit, location).await? {
                    Self::note_filled(tx, waiting.order_id, sku, location, actor, now).await?;
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
            Self::note_filled(tx, waiting.order_id, sku, location, actor, now).await?;
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
        actor: &Actor,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<()> {
        let change = ordo_domain::audit::Change::new("order.fill_backorder", format!("order:{order}"))
            .after(serde_json::json!({"sku": sku, "location": location}))
            .reason("stock arrived for a waiting line");
        crate::audit::record(tx, actor, now, &[change]).await?;
        if tx.backordered_units(order).await? == 0
            && let Some(status @ (OrderStatus::Backordered | OrderStatus::PartiallyShipped)) = tx.order_status(order).await?
        {
            let reason = format!("{sku} arrived at {location}; every unit is reserved");
            tx.record_transition(order, Some(status), OrderStatus::Allocated, &actor.to_string(), &reason, now).await?;
        }
        Ok(())
    }

    /// Reserves every waiting component of one kit line at `location`, or none of them when
    /// the location lacks any: a kit is never half reserved. Whether it was reserved.
    async fn fill_kit(tx: &mut ordo_storage::Tx, order: Uuid, kit: i64, location: &str) -> AppResult<bool> {
        let parts = tx.kit_backorders(order, kit).await?;
        let mut taken: Vec<(&str, i64)> = Vec::with_capacity(parts.len());
        for part in &parts {
            let (sku, quantity) = (&part.sku, &part.quantity);
            if !tx.reserve(sku, location, *quantity).await? {
                for (sku, quantity) in taken {
                    tx.release(sku, location, quantity).await?;
                }
                return Ok(false);
            }
            taken.push((sku, *quantity));
        }
        for part in &parts {
            tx.insert_allocation(order, part.line, location, part.quantity).await?;
            tx.reduce_backorder(order, part.line, part.quantity).await?;
        }
        Ok(!parts.is_empty())
    }
}

//! Sandbox replay: a proposed rule set decided over the orders of the last days, from their
//! stored facts, against what the rules in force decide over the same facts. It reads in one
//! snapshot and writes nothing: not the orders, not the audit log.

use std::collections::HashMap;
use std::sync::Arc;

use ordo_domain::decide::{decide_order_by, reads_lines, ChannelStats, CompiledRule, FactLine, OrderFacts, OrderRules};
use ordo_domain::master::Channel;
use ordo_domain::rules::{Condition, Facts, RuleAction, RuleKind, RuleStatus};
use ordo_domain::FieldError;
use ordo_storage::{ReplayOrder, RoutingSites};
use serde::Serialize;
use uuid::Uuid;

use crate::rules::{compile, load_active};
use crate::{AppError, AppResult, Rules};

/// Orders read per page while replaying.
const PAGE: i64 = 5_000;
/// Example orders kept per kind of change.
const EXAMPLES: usize = 5;
/// The longest look back.
pub const MAX_DAYS: i64 = 366;

/// What the proposed rules would have done differently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Simulation {
    /// The proposed versions, as `name vN`.
    pub proposed: Vec<String>,
    pub days: i64,
    /// Orders replayed.
    pub orders: u64,
    /// Held by the proposed rules, not by those in force.
    pub newly_held: ChangeCount,
    /// Held by the rules in force, not by the proposed ones.
    pub no_longer_held: ChangeCount,
    /// Their first choice of location differs.
    pub routed_elsewhere: ChangeCount,
    /// May now split across locations where they could not, or the other way round.
    pub split_changed: ChangeCount,
    /// Would get other tags.
    pub tags_changed: ChangeCount,
    /// Orders a proposed rule could not decide.
    pub errors: ChangeCount,
}

/// How many orders a change touches, and a few of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeCount {
    pub count: u64,
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    pub order_id: Uuid,
    pub channel: String,
    pub external_id: String,
    /// What the rules in force decide, then what the proposed ones would.
    pub before: String,
    pub after: String,
}

impl ChangeCount {
    fn add(&mut self, order: &ReplayOrder, before: String, after: String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(Example { order_id: order.id, channel: order.channel.clone(), external_id: order.external_id.clone(), before, after });
        }
    }
}

/// What one rule set decides about one order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    holds: Vec<String>,
    tags: Vec<String>,
    /// The locations in order of preference, and whether the order may split.
    route: (Vec<String>, bool),
    decider: String,
}

/// A rule set: the risk, routing and tagging rules, by priority.
struct RuleSet {
    risk: Vec<CompiledRule>,
    routing: Vec<CompiledRule>,
    tagging: Vec<CompiledRule>,
}

impl RuleSet {
    /// The set's decision on one order, as intake makes it; `answers` keeps each rule's
    /// answer for the other set.
    fn decide(&self, facts: &Facts, default_route: &(Vec<String>, bool), answers: &mut HashMap<String, Result<bool, String>>) -> Outcome {
        let mut holds_for = |rule: &CompiledRule| answers.entry(rule.label()).or_insert_with(|| rule.condition.evaluate(facts)).clone();
        let rules = OrderRules { risk: &self.risk, routing: &self.routing, tagging: &self.tagging, notification: &[] };
        let decided = decide_order_by(rules, facts, &mut holds_for);
        let (route, decider) = match decided.preference {
            Some(p) => ((p.locations, p.allow_split), p.decider),
            None => (default_route.clone(), "prefer-whole-order".to_owned()),
        };
        Outcome { holds: decided.holds, tags: decided.tags.into_iter().map(|(tag, _)| tag).collect(), route, decider }
    }
}

impl Rules<'_> {
    /// Replays the rules in force with `versions` put in (each replacing the version of its
    /// rule in force, or added) over the orders placed in the last `days` days, and tells
    /// what would change. The versions may be drafts, submitted or approved; each must compile.
    /// A version in force is replayed the other way round: the rules without it, then with it,
    /// which tells what it does.
    pub async fn simulate_rules(self, versions: &[Uuid], days: i64) -> AppResult<Simulation> {
        let days = ordo_domain::field::bounded("days", days, 1, MAX_DAYS)?;
        if versions.is_empty() || versions.len() > 50 {
            return Err(FieldError::new("versions", "name 1 to 50 rule versions to try").into());
        }
        let now = self.now();
        let since = now - chrono::Duration::days(days);
        let mut tx = self.db.read().await?;
        let mut current = RuleSet {
            risk: own(load_active(&mut tx, RuleKind::RiskHold).await?),
            routing: own(load_active(&mut tx, RuleKind::Routing).await?),
            tagging: own(load_active(&mut tx, RuleKind::Tagging).await?),
        };
        let mut proposed = RuleSet { risk: current.risk.clone(), routing: current.routing.clone(), tagging: current.tagging.clone() };
        let mut simulation = Simulation { days, ..Simulation::default() };
        for (i, id) in versions.iter().enumerate() {
            let field = format!("versions[{i}]");
            let rule = tx.rule_version(*id).await?.ok_or_else(|| AppError::NotFound { what: "rule version", key: id.to_string() })?;
            if !matches!(rule.status, RuleStatus::Draft | RuleStatus::Submitted | RuleStatus::Approved | RuleStatus::Active) {
                return Err(FieldError::new(field, format!("is {}; only a version in force or one that may come into force is tried", rule.status)).into());
            }
            let kind = RuleKind::parse(&field, &rule.kind)?;
            if rule.status == RuleStatus::Active {
                // What the version in force does: the rules without it against the rules as they are.
                let without = match kind {
                    RuleKind::RiskHold => &mut current.risk,
                    RuleKind::Routing => &mut current.routing,
                    RuleKind::Tagging => &mut current.tagging,
                    _ => continue,
                };
                without.retain(|r| !(r.name == rule.name && r.version == rule.version));
                simulation.proposed.push(format!("{} v{}", rule.name, rule.version));
                continue;
            }
            let condition: Condition = compile(&rule.condition, kind).map_err(|e| FieldError::new(field.clone(), e.message))?;
            let action = RuleAction::parse(kind, &rule.action)?;
            let active = CompiledRule { name: rule.name.clone(), version: rule.version, priority: rule.priority, condition, action };
            simulation.proposed.push(active.label());
            let set = match kind {
                RuleKind::RiskHold => &mut proposed.risk,
                RuleKind::Routing => &mut proposed.routing,
                RuleKind::Tagging => &mut proposed.tagging,
                // Other kinds decide nothing replay can see yet.
                _ => continue,
            };
            set.retain(|r| r.name != rule.name);
            // Kept in priority order, as the rules in force are.
            let position = set.iter().position(|r| r.priority > rule.priority).unwrap_or(set.len());
            set.insert(position, active);
        }

        let lines = [&current.risk, &current.routing, &current.tagging, &proposed.risk, &proposed.routing, &proposed.tagging]
            .into_iter()
            .any(|set| reads_lines(set));
        // Each channel's usual order value as it stood when each order came: the last 200
        // orders before it, starting from those before the replayed days.
        let mut channels: HashMap<String, (Channel, std::collections::VecDeque<i64>)> = HashMap::new();
        let mut defaults: HashMap<(String, String, bool), (Vec<String>, bool)> = HashMap::new();
        let mut after = None;
        loop {
            let page = tx.replay_orders(since, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for order in &page {
                if !channels.contains_key(&order.channel) {
                    let Some(channel) = tx.channel(&order.channel).await? else { continue };
                    let mut earlier = tx.order_totals_before(&order.channel, since, STATS_WINDOW as i64).await?;
                    earlier.reverse();
                    channels.insert(order.channel.clone(), (channel, earlier.into()));
                }
                let key = (order.channel.clone(), order.shipping_method.clone(), order.fulfilled_by_channel);
                if !defaults.contains_key(&key) {
                    let sites = tx.routing_sites(&order.channel, &order.shipping_method, order.fulfilled_by_channel).await?;
                    defaults.insert(key.clone(), default_route(&sites));
                }
                let Some((channel, window)) = channels.get_mut(&order.channel) else { continue };
                let count = window.len() as i64;
                let stats = ChannelStats { orders: count, average_order_minor: if count == 0 { 0 } else { window.iter().sum::<i64>() / count } };
                let facts = replay_facts(order, channel, stats, lines);
                if order.status != ordo_domain::order::OrderStatus::Cancelled {
                    window.push_back(order.total_minor);
                    if window.len() > STATS_WINDOW {
                        window.pop_front();
                    }
                }
                let default = &defaults[&key];
                let mut answers = HashMap::new();
                let before = current.decide(&facts, default, &mut answers);
                let next = proposed.decide(&facts, default, &mut answers);
                simulation.orders += 1;
                compare(&mut simulation, order, &before, &next);
            }
        }
        Ok(simulation)
    }
}

/// How many recent orders make a channel's usual order value, as intake counts them.
const STATS_WINDOW: usize = 200;

fn own(rules: Arc<Vec<CompiledRule>>) -> Vec<CompiledRule> {
    rules.as_ref().clone()
}

/// Where the default decision looks first: the locations that may serve the channel with the
/// shipping method, by priority, and whether the channel splits.
fn default_route(sites: &RoutingSites) -> (Vec<String>, bool) {
    let mut usable: Vec<_> = sites.candidates.iter().filter(|c| c.allowed_for_channel && c.offers_shipping_method).collect();
    usable.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.location.cmp(&b.location)));
    (usable.into_iter().map(|c| c.location.clone()).collect(), sites.allow_split)
}

fn compare(simulation: &mut Simulation, order: &ReplayOrder, before: &Outcome, after: &Outcome) {
    let errors: Vec<&String> = after.holds.iter().filter(|h| h.contains("could not decide")).collect();
    if !errors.is_empty() {
        simulation.errors.add(order, String::new(), errors.iter().map(|e| e.as_str()).collect::<Vec<_>>().join("; "));
    }
    match (before.holds.is_empty(), after.holds.is_empty()) {
        (true, false) => simulation.newly_held.add(order, "goes ahead".into(), after.holds.join("; ")),
        (false, true) => simulation.no_longer_held.add(order, before.holds.join("; "), "goes ahead".into()),
        _ => {}
    }
    // Only an order that goes ahead is routed.
    if after.holds.is_empty() {
        let first = |o: &Outcome| o.route.0.first().cloned().unwrap_or_else(|| "nowhere".to_owned());
        if first(before) != first(after) {
            simulation.routed_elsewhere.add(
                order,
                format!("{} ({})", first(before), before.decider),
                format!("{} ({})", first(after), after.decider),
            );
        }
        if before.route.1 != after.route.1 {
            let split = |o: &Outcome| if o.route.1 { "may split" } else { "ships from one location" };
            simulation.split_changed.add(order, split(before).into(), split(after).into());
        }
    }
    if before.tags != after.tags {
        let tags = |o: &Outcome| if o.tags.is_empty() { "no tags".to_owned() } else { o.tags.join(", ") };
        simulation.tags_changed.add(order, tags(before), tags(after));
    }
}

/// The facts about a stored order as at the time it was placed; its lines only when `lines`.
fn replay_facts(order: &ReplayOrder, channel: &Channel, stats: ChannelStats, lines: bool) -> Facts {
    OrderFacts {
        external_id: &order.external_id,
        currency: &order.currency,
        total_minor: order.total_minor,
        shipping_method: &order.shipping_method,
        payment_status: order.payment_status.as_str(),
        ship_country: &order.ship_country,
        billing_country: order.billing_country.as_deref(),
        placed_at: order.placed_at,
        customer_email: &order.customer_email,
        customer_name: &order.customer_name,
        lines: order
            .lines
            .iter()
            .filter(|l| l.part_of.is_none())
            .map(|l| FactLine { sku: &l.sku, quantity: l.quantity, unit_price_minor: l.unit_price_minor, kit: l.kit })
            .collect(),
    }
    .facts(channel, stats, order.placed_at, lines)
}

//! Routing: which location serves each line of an order, and why.
//!
//! The application gathers the facts (the order's lines, the locations the channel may ship
//! from, what each has available) and a [`Routing`] decides. Today's decider is
//! [`PreferWholeOrder`]; rules written by users will implement the same trait.

use std::collections::BTreeMap;

/// One line to route: which SKU and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDemand {
    pub line: i64,
    pub sku: String,
    pub quantity: i64,
    /// The kit line this component line belongs to: a kit's components are served from one
    /// location, all of them, or all wait.
    pub kit: Option<i64>,
}

/// A location the order might ship from, with what it has available now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub location: String,
    pub priority: i64,
    /// Whether the channel may ship from here.
    pub allowed_for_channel: bool,
    /// Whether the order's shipping method is offered here.
    pub offers_shipping_method: bool,
    /// Units available (on hand less reserved) per SKU.
    pub available: BTreeMap<String, i64>,
}

impl Candidate {
    fn available(&self, sku: &str) -> i64 {
        self.available.get(sku).copied().unwrap_or(0).max(0)
    }
}

/// Everything a routing decision may look at.
#[derive(Debug, Clone)]
pub struct RoutingFacts {
    pub lines: Vec<LineDemand>,
    pub candidates: Vec<Candidate>,
    /// Whether the channel lets one order ship from several locations.
    pub allow_split: bool,
}

/// Units of one line to reserve at one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub line: i64,
    pub location: String,
    pub quantity: i64,
}

/// Units of one line that no location can serve now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    pub line: i64,
    pub sku: String,
    pub quantity: i64,
}

/// A routing decision: what goes where, what waits, and the reasons in words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoutingPlan {
    pub allocations: Vec<Allocation>,
    pub shortfalls: Vec<Shortfall>,
    pub reasons: Vec<String>,
}

/// Decides where an order ships from.
pub trait Routing {
    /// A short name for the decider, stored with each decision.
    fn name(&self) -> &str;
    fn route(&self, facts: &RoutingFacts) -> RoutingPlan;
}

/// The default: one location that can ship the whole order, by priority; else split across
/// locations by priority where the channel allows it; else the best single location, with
/// what it lacks waiting as backorders.
#[derive(Debug, Clone, Copy, Default)]
pub struct PreferWholeOrder;

impl Routing for PreferWholeOrder {
    fn name(&self) -> &str {
        "prefer-whole-order"
    }

    fn route(&self, facts: &RoutingFacts) -> RoutingPlan {
        let mut plan = RoutingPlan::default();
        let mut usable: Vec<&Candidate> = Vec::new();
        for candidate in &facts.candidates {
            if !candidate.allowed_for_channel {
                plan.reasons.push(format!("{} is not allowed for this channel", candidate.location));
            } else if !candidate.offers_shipping_method {
                plan.reasons.push(format!("{} does not offer the shipping method", candidate.location));
            } else {
                usable.push(candidate);
            }
        }
        usable.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.location.cmp(&b.location)));

        // A SKU may appear on several lines: a location ships the whole order only if it has
        // the SKU's total demand.
        let mut demand: BTreeMap<&str, i64> = BTreeMap::new();
        for line in &facts.lines {
            *demand.entry(line.sku.as_str()).or_default() += line.quantity;
        }
        let whole = usable.iter().find(|c| demand.iter().all(|(sku, wanted)| c.available(sku) >= *wanted));
        let (sources, how): (Vec<&Candidate>, String) = match whole {
            Some(whole) => (vec![*whole], format!("{} can ship the whole order (priority {})", whole.location, whole.priority)),
            None if usable.is_empty() => (Vec::new(), "no location may serve this order".to_owned()),
            None if facts.allow_split => {
                (usable.clone(), "no single location can ship the whole order; splitting by priority".to_owned())
            }
            None => {
                // One location must serve it all: the one covering most units, ties by priority.
                let covered =
                    |c: &Candidate| demand.iter().map(|(sku, wanted)| c.available(sku).min(*wanted)).sum::<i64>();
                let mut best = usable[0];
                for candidate in &usable[1..] {
                    if covered(candidate) > covered(best) {
                        best = candidate;
                    }
                }
                let how = format!(
                    "no single location can ship the whole order and the channel does not split; {} covers the most",
                    best.location
                );
                (vec![best], how)
            }
        };
        plan.reasons.push(how);

        // Take each line from the sources in order, never more than a source has left.
        let mut left: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        let mut kits_done: Vec<i64> = Vec::new();
        for line in &facts.lines {
            if let Some(kit) = line.kit {
                if !kits_done.contains(&kit) {
                    kits_done.push(kit);
                    take_kit(&mut plan, &mut left, &sources, &facts.lines, kit);
                }
                continue;
            }
            let mut wanted = line.quantity;
            for source in &sources {
                let free = left.entry((source.location.as_str(), line.sku.as_str())).or_insert(source.available(&line.sku));
                let take = wanted.min(*free);
                if take > 0 {
                    *free -= take;
                    wanted -= take;
                    plan.allocations.push(Allocation { line: line.line, location: source.location.clone(), quantity: take });
                }
                if wanted == 0 {
                    break;
                }
            }
            if wanted > 0 {
                plan.shortfalls.push(Shortfall { line: line.line, sku: line.sku.clone(), quantity: wanted });
            }
        }
        for shortfall in &plan.shortfalls {
            plan.reasons.push(format!("{} units of {} wait for stock", shortfall.quantity, shortfall.sku));
        }
        plan
    }
}

/// A routing rule's choice: serve from these locations in this order, split or not. The
/// channel's own limits (allowed locations, shipping methods, whether it splits) still apply:
/// a rule may forbid a split the channel allows, never allow one it forbids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preference {
    /// The rule and version, such as `rule fragile-local v2`: stored as the decider.
    pub decider: String,
    pub locations: Vec<String>,
    pub allow_split: bool,
}

impl Routing for Preference {
    fn name(&self) -> &str {
        &self.decider
    }

    /// Only the rule's locations, ranked as it lists them, then the default decision.
    fn route(&self, facts: &RoutingFacts) -> RoutingPlan {
        let mut reasons = Vec::new();
        let mut candidates = Vec::new();
        for candidate in &facts.candidates {
            match self.locations.iter().position(|l| *l == candidate.location) {
                Some(rank) => candidates.push(Candidate { priority: rank as i64, ..candidate.clone() }),
                None => reasons.push(format!("{} is not among the rule's locations", candidate.location)),
            }
        }
        let allow_split = self.allow_split && facts.allow_split;
        reasons.push(format!(
            "{} prefers {}{}",
            self.decider,
            self.locations.join(", then "),
            match (self.allow_split, facts.allow_split) {
                (true, true) => ", split allowed",
                (true, false) => ", no split: the channel does not split",
                (false, _) => ", no split",
            }
        ));
        let mut plan = PreferWholeOrder.route(&RoutingFacts { lines: facts.lines.clone(), candidates, allow_split });
        reasons.append(&mut plan.reasons);
        plan.reasons = reasons;
        plan
    }
}

/// Serves the component lines of kit line `kit` from the first source that has all of them,
/// or leaves every one of them short: a kit is never half reserved.
fn take_kit<'a>(
    plan: &mut RoutingPlan,
    left: &mut BTreeMap<(&'a str, &'a str), i64>,
    sources: &[&'a Candidate],
    lines: &'a [LineDemand],
    kit: i64,
) {
    let parts: Vec<&LineDemand> = lines.iter().filter(|l| l.kit == Some(kit)).collect();
    let mut demand: BTreeMap<&str, i64> = BTreeMap::new();
    for part in &parts {
        *demand.entry(part.sku.as_str()).or_default() += part.quantity;
    }
    let free = |left: &BTreeMap<(&str, &str), i64>, source: &Candidate, sku: &str| {
        left.get(&(source.location.as_str(), sku)).copied().unwrap_or_else(|| source.available(sku))
    };
    let Some(source) = sources.iter().find(|source| demand.iter().all(|(sku, wanted)| free(left, source, sku) >= *wanted)) else {
        plan.reasons.push(format!("no location has every component of the kit on line {kit}; the kit waits whole"));
        for part in parts {
            plan.shortfalls.push(Shortfall { line: part.line, sku: part.sku.clone(), quantity: part.quantity });
        }
        return;
    };
    for part in parts {
        let remaining = free(left, source, &part.sku) - part.quantity;
        left.insert((source.location.as_str(), part.sku.as_str()), remaining);
        plan.allocations.push(Allocation { line: part.line, location: source.location.clone(), quantity: part.quantity });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_preference_ranks_its_locations_and_decides_the_split() {
        let stock = |location: &str, priority, units| Candidate {
            location: location.into(),
            priority,
            allowed_for_channel: true,
            offers_shipping_method: true,
            available: [("MUG".to_owned(), units)].into(),
        };
        let facts = RoutingFacts {
            lines: vec![LineDemand { line: 1, sku: "MUG".into(), quantity: 4, kit: None }],
            candidates: vec![stock("central", 1, 10), stock("store", 2, 3), stock("overflow", 3, 3)],
            allow_split: true,
        };
        let by_default = PreferWholeOrder.route(&facts);
        assert_eq!(by_default.allocations[0].location, "central");
        let rule = Preference { decider: "rule local v1".into(), locations: vec!["store".into(), "overflow".into()], allow_split: false };
        let plan = rule.route(&facts);
        assert_eq!(plan.allocations.iter().map(|a| (a.location.as_str(), a.quantity)).collect::<Vec<_>>(), [("store", 3)]);
        assert_eq!(plan.shortfalls.len(), 1, "no split: what the first location lacks waits");
        assert!(plan.reasons.iter().any(|r| r == "central is not among the rule's locations"), "{:?}", plan.reasons);
        let split = Preference { allow_split: true, ..rule };
        let plan = split.route(&facts);
        assert_eq!(plan.allocations.iter().map(|a| (a.location.as_str(), a.quantity)).collect::<Vec<_>>(), [("store", 3), ("overflow", 1)]);
        let whole_only = RoutingFacts { allow_split: false, ..facts };
        let plan = split.route(&whole_only);
        assert_eq!(plan.allocations.iter().map(|a| (a.location.as_str(), a.quantity)).collect::<Vec<_>>(), [("store", 3)], "the channel does not split");
    }

    fn candidate(location: &str, priority: i64, stock: &[(&str, i64)]) -> Candidate {
        Candidate {
            location: location.into(),
            priority,
            allowed_for_channel: true,
            offers_shipping_method: true,
            available: stock.iter().map(|(s, q)| ((*s).to_owned(), *q)).collect(),
        }
    }

    fn facts(lines: &[(&str, i64)], candidates: Vec<Candidate>, allow_split: bool) -> RoutingFacts {
        RoutingFacts {
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (sku, quantity))| LineDemand { line: i as i64 + 1, sku: (*sku).into(), quantity: *quantity, kit: None })
                .collect(),
            candidates,
            allow_split,
        }
    }

    fn placed(plan: &RoutingPlan) -> Vec<(i64, &str, i64)> {
        plan.allocations.iter().map(|a| (a.line, a.location.as_str(), a.quantity)).collect()
    }

    #[test]
    fn one_location_ships_the_whole_order_by_priority() {
        let plan = PreferWholeOrder.route(&facts(
            &[("MUG", 2), ("VASE", 1)],
            vec![candidate("3pl", 2, &[("MUG", 9), ("VASE", 9)]), candidate("central", 1, &[("MUG", 5), ("VASE", 1)])],
            true,
        ));
        assert_eq!(placed(&plan), vec![(1, "central", 2), (2, "central", 1)]);
        assert!(plan.shortfalls.is_empty());
        assert!(plan.reasons[0].contains("central can ship the whole order"));
    }

    #[test]
    fn a_lower_priority_site_takes_the_order_when_the_first_cannot_ship_it_whole() {
        let plan = PreferWholeOrder.route(&facts(
            &[("MUG", 2), ("VASE", 1)],
            vec![candidate("central", 1, &[("MUG", 5)]), candidate("3pl", 2, &[("MUG", 2), ("VASE", 1)])],
            true,
        ));
        assert_eq!(placed(&plan), vec![(1, "3pl", 2), (2, "3pl", 1)]);
    }

    #[test]
    fn splits_where_allowed_and_backorders_the_rest() {
        let plan = PreferWholeOrder.route(&facts(
            &[("MUG", 5), ("VASE", 3)],
            vec![candidate("central", 1, &[("MUG", 3), ("VASE", 1)]), candidate("3pl", 2, &[("MUG", 1)])],
            true,
        ));
        assert_eq!(placed(&plan), vec![(1, "central", 3), (1, "3pl", 1), (2, "central", 1)]);
        assert_eq!(plan.shortfalls, vec![
            Shortfall { line: 1, sku: "MUG".into(), quantity: 1 },
            Shortfall { line: 2, sku: "VASE".into(), quantity: 2 },
        ]);
    }

    #[test]
    fn without_split_one_location_serves_and_the_rest_waits_there() {
        let plan = PreferWholeOrder.route(&facts(
            &[("MUG", 5), ("VASE", 3)],
            vec![candidate("central", 1, &[("MUG", 1), ("VASE", 1)]), candidate("3pl", 2, &[("MUG", 5)])],
            false,
        ));
        assert_eq!(placed(&plan), vec![(1, "3pl", 5)]);
        assert_eq!(plan.shortfalls, vec![Shortfall { line: 2, sku: "VASE".into(), quantity: 3 }]);
    }

    #[test]
    fn excluded_locations_are_named_with_their_reason() {
        let mut closed = candidate("central", 1, &[("MUG", 9)]);
        closed.allowed_for_channel = false;
        let mut no_express = candidate("3pl", 2, &[("MUG", 9)]);
        no_express.offers_shipping_method = false;
        let plan = PreferWholeOrder.route(&facts(&[("MUG", 1)], vec![closed, no_express], true));
        assert!(plan.allocations.is_empty());
        assert_eq!(plan.shortfalls.len(), 1);
        assert!(plan.reasons.iter().any(|r| r == "central is not allowed for this channel"));
        assert!(plan.reasons.iter().any(|r| r == "3pl does not offer the shipping method"));
    }

    #[test]
    fn a_plan_never_places_more_than_is_available_or_asked() {
        // Exhaustive over small stocks: allocations per line plus shortfall equal the demand,
        // and no location gives more of a SKU than it has.
        for a in 0..4 {
            for b in 0..4 {
                for split in [false, true] {
                    let f = facts(
                        &[("MUG", 3), ("MUG", 2)],
                        vec![candidate("central", 1, &[("MUG", a)]), candidate("3pl", 2, &[("MUG", b)])],
                        split,
                    );
                    let plan = PreferWholeOrder.route(&f);
                    for line in &f.lines {
                        let placed: i64 = plan.allocations.iter().filter(|x| x.line == line.line).map(|x| x.quantity).sum();
                        let short: i64 = plan.shortfalls.iter().filter(|x| x.line == line.line).map(|x| x.quantity).sum();
                        assert_eq!(placed + short, line.quantity, "a={a} b={b} split={split}");
                    }
                    for (location, have) in [("central", a), ("3pl", b)] {
                        let given: i64 = plan.allocations.iter().filter(|x| x.location == location).map(|x| x.quantity).sum();
                        assert!(given <= have, "a={a} b={b} split={split}: {location} gave {given} of {have}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_kit_is_served_whole_from_one_location_or_waits_whole() {
        let kit = |lines: &[(&str, i64)]| -> Vec<LineDemand> {
            lines
                .iter()
                .enumerate()
                .map(|(i, (sku, quantity))| LineDemand { line: i as i64 + 2, sku: (*sku).into(), quantity: *quantity, kit: Some(1) })
                .collect()
        };
        // Central has the mugs, the 3PL the saucers: neither has the whole kit, so none of it
        // is reserved even though the channel splits.
        let apart = RoutingFacts {
            lines: kit(&[("MUG", 2), ("SAUCER", 2)]),
            candidates: vec![candidate("central", 1, &[("MUG", 5)]), candidate("3pl", 2, &[("SAUCER", 5)])],
            allow_split: true,
        };
        let plan = PreferWholeOrder.route(&apart);
        assert!(plan.allocations.is_empty(), "{plan:?}");
        assert_eq!(plan.shortfalls.iter().map(|s| s.quantity).sum::<i64>(), 4);
        assert!(plan.reasons.iter().any(|r| r.contains("kit on line 1")), "{:?}", plan.reasons);

        // With a plain line beside it, the plain line splits and the kit goes whole to the 3PL.
        let mut lines = vec![LineDemand { line: 1, sku: "MUG".into(), quantity: 4, kit: None }];
        lines.extend(kit(&[("MUG", 2), ("SAUCER", 2)]));
        let together = RoutingFacts {
            lines,
            candidates: vec![candidate("central", 1, &[("MUG", 5)]), candidate("3pl", 2, &[("MUG", 2), ("SAUCER", 5)])],
            allow_split: true,
        };
        let plan = PreferWholeOrder.route(&together);
        let kit_sources: Vec<&str> =
            plan.allocations.iter().filter(|a| a.line >= 2).map(|a| a.location.as_str()).collect();
        assert_eq!(kit_sources, ["3pl", "3pl"], "{plan:?}");
        assert!(plan.shortfalls.is_empty(), "{plan:?}");
    }
}

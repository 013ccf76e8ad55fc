//! What the rules in force decide: whether an order waits for a person, where it ships from
//! first, its tags and the notices about it, and where an overdue exception goes. Pure
//! functions over facts and compiled rules: intake decides an arriving order with them and
//! replay decides history with them, so a replay shows what intake would have done.

use chrono::{DateTime, Utc};

use crate::FieldError;
use crate::access::Role;
use crate::exception::Exception;
use crate::master::Channel;
use crate::routing::Preference;
use crate::rules::{Condition, Facts, RuleAction, RuleKind};

/// A rule version compiled, ready to decide.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub name: String,
    pub version: i64,
    /// Lower decides first among rules of one kind.
    pub priority: i64,
    pub condition: Condition,
    pub action: RuleAction,
}

impl CompiledRule {
    /// Compiles a stored version: its condition against the facts of its kind, its action as
    /// the kind asks. The error names the field at fault.
    pub fn compile(
        name: &str,
        version: i64,
        priority: i64,
        kind: RuleKind,
        condition: &str,
        action: &serde_json::Value,
    ) -> Result<Self, FieldError> {
        Ok(CompiledRule {
            name: name.to_owned(),
            version,
            priority,
            condition: Condition::compile_for(condition, kind)
                .map_err(|e| FieldError::new("condition", e.to_string()))?,
            action: RuleAction::parse(kind, action)?,
        })
    }

    /// How decisions name the rule: `name v3`.
    pub fn label(&self) -> String {
        format!("{} v{}", self.name, self.version)
    }
}

/// Whether any of `rules` reads an order's lines: the facts leave them out otherwise, which
/// spares most of the work of building them.
pub fn reads_lines(rules: &[CompiledRule]) -> bool {
    rules.iter().any(|rule| {
        rule.condition
            .facts_used
            .iter()
            .any(|fact| fact == "order" || fact.starts_with("order.lines"))
    })
}

/// One line of an order as rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactLine<'a> {
    pub sku: &'a str,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub kit: bool,
}

/// What an order's facts are made of, however the order is held: as intake plans it, as Ordo
/// keeps it, or as a replay reads it.
#[derive(Debug, Clone)]
pub struct OrderFacts<'a> {
    pub external_id: &'a str,
    pub currency: &'a str,
    pub total_minor: i64,
    pub shipping_method: &'a str,
    pub payment_status: &'a str,
    pub ship_country: &'a str,
    pub billing_country: Option<&'a str>,
    pub placed_at: DateTime<Utc>,
    pub customer_email: &'a str,
    pub customer_name: &'a str,
    /// The lines the channel sent, not a kit's components.
    pub lines: Vec<FactLine<'a>>,
}

/// How a channel's orders usually look: the recent order count and their average total in
/// minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelStats {
    pub orders: i64,
    pub average_order_minor: i64,
}

impl OrderFacts<'_> {
    /// The facts by top-level name; the order's lines only when `with_lines` (see
    /// [`reads_lines`]).
    pub fn facts(
        &self,
        channel: &Channel,
        stats: ChannelStats,
        now: DateTime<Utc>,
        with_lines: bool,
    ) -> Facts {
        let lines: Vec<serde_json::Value> = self
            .lines
            .iter()
            .filter(|_| with_lines)
            .map(|l| serde_json::json!({"sku": l.sku, "quantity": l.quantity, "unit_price_minor": l.unit_price_minor, "kit": l.kit}))
            .collect();
        let order = serde_json::json!({
            "channel": channel.code, "external_id": self.external_id, "currency": self.currency,
            "total_minor": self.total_minor, "units": self.lines.iter().map(|l| l.quantity).sum::<i64>(), "line_count": self.lines.len(),
            "shipping_method": self.shipping_method, "payment_status": self.payment_status,
            "ship_country": self.ship_country, "billing_country": self.billing_country.unwrap_or_default(),
            "placed_at": self.placed_at.to_rfc3339(), "lines": lines,
        });
        let channel = serde_json::json!({
            "code": channel.code, "kind": channel.kind.as_str(), "orders": stats.orders, "average_order_minor": stats.average_order_minor,
        });
        Facts::from_json(vec![
            ("order".into(), order),
            (
                "customer".into(),
                serde_json::json!({"email": self.customer_email, "name": self.customer_name}),
            ),
            ("channel".into(), channel),
            ("now".into(), serde_json::json!(now.to_rfc3339())),
        ])
    }
}

/// The rules in force that decide an order as it arrives, one list per kind, each by priority.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderRules<'a> {
    pub risk: &'a [CompiledRule],
    pub routing: &'a [CompiledRule],
    pub tagging: &'a [CompiledRule],
    pub notification: &'a [CompiledRule],
}

impl OrderRules<'_> {
    fn all(&self) -> [&[CompiledRule]; 4] {
        [self.risk, self.routing, self.tagging, self.notification]
    }

    pub fn is_empty(&self) -> bool {
        self.all().iter().all(|kind| kind.is_empty())
    }

    /// Whether any rule reads the order's lines.
    pub fn read_lines(&self) -> bool {
        self.all().iter().any(|kind| reads_lines(kind))
    }
}

/// A rule that could not decide (a fact missing from old data, say), and why: it was passed
/// over, or, for a risk rule, held the order so a person looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassedOver {
    pub rule: String,
    pub error: String,
}

/// What the rules decide about an order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderDecisions {
    /// Why the order waits for a person: each holding rule's reason with its name and
    /// version. Empty when it may go ahead; a held order is not routed.
    pub holds: Vec<String>,
    /// The locations the first routing rule whose condition holds prefers; none for the
    /// default decision, and none for a held order.
    pub preference: Option<Preference>,
    /// (tag, `rule NAME vN`), each tag once.
    pub tags: Vec<(String, String)>,
    /// Who is to hear of the order (`rule`, `to`, `text`), from the notification rules.
    pub notices: Vec<serde_json::Value>,
    /// Tagging, routing and notification rules that could not decide.
    pub passed_over: Vec<PassedOver>,
}

/// Decides an order by `rules`, building its facts once by `facts` (lines included only when
/// a rule reads them), and not at all when there is no rule.
pub fn decide_order(rules: OrderRules<'_>, facts: impl FnOnce(bool) -> Facts) -> OrderDecisions {
    if rules.is_empty() {
        return OrderDecisions::default();
    }
    let facts = facts(rules.read_lines());
    decide_order_by(rules, &facts, &mut |rule| rule.condition.evaluate(&facts))
}

/// [`decide_order`] over facts already built, asking `holds` whether each rule's condition
/// holds: a replay answers each rule once for the rule set in force and the proposed one.
pub fn decide_order_by(
    rules: OrderRules<'_>,
    facts: &Facts,
    holds: &mut dyn FnMut(&CompiledRule) -> Result<bool, String>,
) -> OrderDecisions {
    let mut held = Vec::new();
    for rule in rules.risk {
        match (holds(rule), &rule.action) {
            (Ok(true), RuleAction::RiskHold { reason }) => {
                held.push(format!("{} (rule {})", facts.fill(reason), rule.label()))
            }
            (Ok(_), _) => {}
            (Err(e), _) => held.push(format!("rule {} could not decide: {e}", rule.label())),
        }
    }
    let mut passed_over = Vec::new();
    let mut passed = |rule: &CompiledRule, error: String| {
        passed_over.push(PassedOver {
            rule: rule.label(),
            error,
        })
    };
    let mut preference = None;
    if held.is_empty() {
        for rule in rules.routing {
            match (holds(rule), &rule.action) {
                (
                    Ok(true),
                    RuleAction::Routing {
                        locations,
                        allow_split,
                    },
                ) => {
                    let decider = format!("rule {}", rule.label());
                    preference = Some(Preference {
                        decider,
                        locations: locations.clone(),
                        allow_split: *allow_split,
                    });
                    break;
                }
                (Ok(_), _) => {}
                (Err(e), _) => passed(rule, e),
            }
        }
    }
    let mut tags: Vec<(String, String)> = Vec::new();
    for rule in rules.tagging {
        match (holds(rule), &rule.action) {
            (Ok(true), RuleAction::Tagging { tag }) if !tags.iter().any(|(t, _)| t == tag) => {
                tags.push((tag.clone(), format!("rule {}", rule.label())))
            }
            (Ok(_), _) => {}
            (Err(e), _) => passed(rule, e),
        }
    }
    let mut notices = Vec::new();
    for rule in rules.notification {
        match (holds(rule), &rule.action) {
            (Ok(true), RuleAction::Notification { to, template }) => notices.push(
                serde_json::json!({"rule": rule.label(), "to": to, "text": facts.fill(template)}),
            ),
            (Ok(_), _) => {}
            (Err(e), _) => passed(rule, e),
        }
    }
    OrderDecisions {
        holds: held,
        preference,
        tags,
        notices,
        passed_over,
    }
}

/// Where the first escalation rule whose condition holds for an overdue `exception` sends
/// it: the role, and the rule as `rule NAME vN`. A rule that cannot decide is passed over.
pub fn escalation_target(
    rules: &[CompiledRule],
    exception: &Exception,
    now: DateTime<Utc>,
) -> (Option<(Role, String)>, Vec<PassedOver>) {
    let mut passed_over = Vec::new();
    if rules.is_empty() {
        return (None, passed_over);
    }
    let facts = Facts::from_json(vec![
        (
            "exception".into(),
            serde_json::json!({
                "kind": exception.kind, "subject": exception.subject, "owner_role": exception.owner_role,
                "status": exception.status, "escalations": exception.escalations,
                "age_hours": (now - exception.created_at).num_hours().max(0),
                "overdue_hours": (now - exception.due_at).num_hours().max(0),
            }),
        ),
        ("now".into(), serde_json::json!(now.to_rfc3339())),
    ]);
    for rule in rules {
        match (rule.condition.evaluate(&facts), &rule.action) {
            (Ok(true), RuleAction::Escalation { to_role }) => {
                if let Ok(role) = Role::parse("to_role", to_role) {
                    return (Some((role, format!("rule {}", rule.label()))), passed_over);
                }
            }
            (Ok(_), _) => {}
            (Err(error), _) => passed_over.push(PassedOver {
                rule: rule.label(),
                error,
            }),
        }
    }
    (None, passed_over)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;
    use crate::Currency;
    use crate::master::ChannelKind;

    fn rule(
        name: &str,
        kind: RuleKind,
        condition: &str,
        action: serde_json::Value,
    ) -> CompiledRule {
        CompiledRule {
            name: name.into(),
            version: 1,
            priority: 100,
            condition: Condition::compile_for(condition, kind).unwrap(),
            action: RuleAction::parse(kind, &action).unwrap(),
        }
    }

    fn facts(total_minor: i64, country: &str) -> Facts {
        let channel = Channel {
            code: "web".into(),
            name: "Web".into(),
            kind: ChannelKind::Web,
            currency: Currency::EUR,
            ship_by_sla_hours: 48,
        };
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .unwrap();
        let order = OrderFacts {
            external_id: "1001",
            currency: "EUR",
            total_minor,
            shipping_method: "standard",
            payment_status: "captured",
            ship_country: country,
            billing_country: None,
            placed_at: at,
            customer_email: "ann@example.com",
            customer_name: "Ann Berg",
            lines: vec![FactLine {
                sku: "MUG-1",
                quantity: 2,
                unit_price_minor: total_minor / 2,
                kit: false,
            }],
        };
        order.facts(
            &channel,
            ChannelStats {
                orders: 10,
                average_order_minor: 5_000,
            },
            at,
            true,
        )
    }

    fn big_orders() -> Vec<CompiledRule> {
        vec![rule(
            "big",
            RuleKind::RiskHold,
            "order.total_minor > 5 * channel.average_order_minor",
            serde_json::json!({"reason": "large order {order.total_minor}"}),
        )]
    }

    fn austrian_stock() -> Vec<CompiledRule> {
        vec![rule(
            "at-local",
            RuleKind::Routing,
            "order.ship_country == 'AT'",
            serde_json::json!({"locations": ["vienna"], "allow_split": true}),
        )]
    }

    #[test]
    fn a_held_order_says_why_and_is_not_routed() {
        let (risk, routing) = (big_orders(), austrian_stock());
        let rules = OrderRules {
            risk: &risk,
            routing: &routing,
            ..Default::default()
        };
        let held = decide_order(rules, |_| facts(30_000, "AT"));
        assert_eq!(held.holds, ["large order 30000 (rule big v1)"]);
        assert_eq!(held.preference, None, "a held order reserves nothing");
        let goes = decide_order(rules, |_| facts(3_000, "AT"));
        assert!(goes.holds.is_empty());
        let preference = goes.preference.unwrap();
        assert_eq!(
            (
                preference.decider.as_str(),
                preference.locations,
                preference.allow_split
            ),
            ("rule at-local v1", vec!["vienna".to_owned()], true)
        );
        assert_eq!(
            decide_order(rules, |_| facts(3_000, "DE")).preference,
            None,
            "no rule holds: the default decides"
        );
    }

    #[test]
    fn tags_are_given_once_and_notices_filled_in() {
        let tagging = vec![
            rule(
                "export",
                RuleKind::Tagging,
                "order.ship_country != 'DE'",
                serde_json::json!({"tag": "export"}),
            ),
            rule(
                "export-again",
                RuleKind::Tagging,
                "true",
                serde_json::json!({"tag": "export"}),
            ),
        ];
        let notification = vec![rule(
            "tell",
            RuleKind::Notification,
            "true",
            serde_json::json!({"to": "role:warehouse", "template": "order {order.external_id}"}),
        )];
        let decided = decide_order(
            OrderRules {
                tagging: &tagging,
                notification: &notification,
                ..Default::default()
            },
            |_| facts(100, "AT"),
        );
        assert_eq!(
            decided.tags,
            [("export".to_owned(), "rule export v1".to_owned())]
        );
        assert_eq!(decided.notices[0]["text"], "order 1001");
    }

    #[test]
    fn without_rules_no_facts_are_built() {
        let decided = decide_order(OrderRules::default(), |_| panic!("no rule reads facts"));
        assert_eq!(decided, OrderDecisions::default());
    }

    #[test]
    fn a_rule_that_cannot_decide_holds_for_risk_and_is_passed_over_otherwise() {
        let (risk, routing) = (big_orders(), austrian_stock());
        let rules = OrderRules {
            risk: &risk,
            routing: &routing,
            ..Default::default()
        };
        let mut broken = |r: &CompiledRule| {
            if r.name == "big" {
                Err("no such key".to_owned())
            } else {
                Ok(true)
            }
        };
        let held = decide_order_by(rules, &facts(100, "AT"), &mut broken);
        assert_eq!(
            held.holds,
            ["rule big v1 could not decide: no such key"],
            "a person looks"
        );
        let rules = OrderRules {
            routing: &routing,
            ..Default::default()
        };
        let passed = decide_order_by(rules, &facts(100, "AT"), &mut |_| Err("boom".to_owned()));
        assert_eq!((passed.preference, passed.passed_over.len()), (None, 1));
    }

    #[test]
    fn an_escalation_rule_sends_an_exception_to_its_role() {
        let rules = vec![rule(
            "finance-breaks",
            RuleKind::Escalation,
            "exception.kind == 'reconciliation_break'",
            serde_json::json!({"to_role": "finance"}),
        )];
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .unwrap();
        let exception = |kind: &str| Exception {
            id: uuid::Uuid::nil(),
            kind: kind.into(),
            subject: "settlement:1".into(),
            owner_role: "admin".into(),
            due_at: now - chrono::Duration::hours(2),
            status: crate::exception::ExceptionStatus::Open,
            details: serde_json::json!({}),
            created_at: now - chrono::Duration::hours(30),
            escalations: 1,
            assigned_to: None,
            acknowledged_by: None,
            acknowledged_at: None,
            resolved_by: None,
            resolved_at: None,
            resolution_code: None,
            resolution: None,
        };
        let (target, _) = escalation_target(&rules, &exception("reconciliation_break"), now);
        assert_eq!(
            target,
            Some((Role::Finance, "rule finance-breaks v1".to_owned()))
        );
        assert_eq!(
            escalation_target(&rules, &exception("stockout"), now).0,
            None
        );
    }

    proptest! {
        /// Intake (facts built, each rule asked) and replay (each rule's answer given) decide
        /// alike for any order.
        #[test]
        fn intake_and_replay_decide_alike(total in 0i64..100_000, austria in any::<bool>()) {
            let (risk, routing) = (big_orders(), austrian_stock());
            let rules = OrderRules { risk: &risk, routing: &routing, ..Default::default() };
            let country = if austria { "AT" } else { "DE" };
            let facts = facts(total, country);
            let replayed = decide_order_by(rules, &facts, &mut |r| r.condition.evaluate(&facts));
            prop_assert_eq!(decide_order(rules, |_| facts.clone()), replayed);
        }
    }
}

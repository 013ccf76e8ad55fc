//! Risk review: which orders wait for a person before any stock is reserved for them.
//!
//! Risk-hold rules decide it (see the rules module). A new database starts with the rules
//! that [`RiskPolicy::initial_rules`] writes from the risk settings: unpaid orders, orders
//! billed to another country than they ship to, and orders far above the channel's usual
//! value wait for review. From then on they are rules like any other: changed by a new
//! version, approved by another person, replayed first.

/// The risk settings a new database's initial rules are written from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskPolicy {
    /// Hold orders whose payment is not yet captured.
    pub hold_uncaptured: bool,
    /// Hold orders whose billing country differs from the shipping country.
    pub hold_country_mismatch: bool,
    /// Hold orders worth more than this many times the channel's average; 0 turns it off.
    pub value_factor: i64,
    /// The channel needs this many earlier orders before its average means anything.
    pub min_history: i64,
}

impl Default for RiskPolicy {
    fn default() -> Self {
        Self { hold_uncaptured: true, hold_country_mismatch: true, value_factor: 5, min_history: 20 }
    }
}

/// A rule of the initial set: its name, condition and the reason it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialRule {
    pub name: &'static str,
    pub description: &'static str,
    pub condition: String,
    pub reason: String,
}

impl RiskPolicy {
    /// The risk-hold rules that do what these settings say. Reasons name facts in braces,
    /// filled in from the order held.
    pub fn initial_rules(&self) -> Vec<InitialRule> {
        let mut rules = Vec::new();
        if self.hold_uncaptured {
            rules.push(InitialRule {
                name: "payment-not-captured",
                description: "Orders whose payment is not captured wait for review.",
                condition: "order.payment_status != 'captured'".to_owned(),
                reason: "payment is {order.payment_status}, not captured".to_owned(),
            });
        }
        if self.hold_country_mismatch {
            rules.push(InitialRule {
                name: "billed-abroad",
                description: "Orders billed to another country than they ship to wait for review.",
                condition: "order.billing_country != '' && order.billing_country != order.ship_country".to_owned(),
                reason: "billed to {order.billing_country} but shipped to {order.ship_country}".to_owned(),
            });
        }
        if self.value_factor > 0 {
            rules.push(InitialRule {
                name: "unusually-large",
                description: "Orders far above the channel's average wait for review, once the channel has a history.",
                condition: format!(
                    "channel.orders >= {} && channel.average_order_minor > 0 && order.total_minor > {} * channel.average_order_minor",
                    self.min_history, self.value_factor
                ),
                reason: format!("worth more than {} times the channel's average order", self.value_factor),
            });
        }
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Condition, Facts};

    fn facts(payment: &str, billing: &str, total: i64, orders: i64) -> Facts {
        Facts::from_json(vec![
            (
                "order".into(),
                serde_json::json!({"payment_status": payment, "ship_country": "DE", "billing_country": billing, "total_minor": total}),
            ),
            ("channel".into(), serde_json::json!({"orders": orders, "average_order_minor": 4_000})),
        ])
    }

    /// The reasons the initial rules give for `facts`, filled in.
    fn holds(policy: &RiskPolicy, facts: &Facts) -> Vec<String> {
        policy
            .initial_rules()
            .into_iter()
            .filter(|rule| Condition::compile(&rule.condition).unwrap().evaluate(facts).unwrap())
            .map(|rule| facts.fill(&rule.reason))
            .collect()
    }

    #[test]
    fn an_ordinary_paid_order_goes_ahead() {
        assert!(holds(&RiskPolicy::default(), &facts("captured", "DE", 5_000, 100)).is_empty());
        assert!(holds(&RiskPolicy::default(), &facts("captured", "", 5_000, 100)).is_empty(), "no billing country sent");
    }

    #[test]
    fn each_risk_names_itself() {
        let policy = RiskPolicy::default();
        assert_eq!(holds(&policy, &facts("authorized", "DE", 5_000, 100)), ["payment is authorized, not captured"]);
        assert_eq!(holds(&policy, &facts("captured", "FR", 5_000, 100)), ["billed to FR but shipped to DE"]);
        assert_eq!(holds(&policy, &facts("captured", "DE", 20_001, 100)).len(), 1);
        assert!(holds(&policy, &facts("captured", "DE", 20_000, 100)).is_empty(), "at the limit");
    }

    #[test]
    fn a_young_channel_has_no_usual_value_yet_and_settings_turn_rules_off() {
        assert!(holds(&RiskPolicy::default(), &facts("captured", "DE", 1_000_000, 3)).is_empty());
        let off = RiskPolicy { value_factor: 0, hold_uncaptured: false, ..RiskPolicy::default() };
        assert_eq!(off.initial_rules().len(), 1);
        assert!(holds(&off, &facts("pending", "DE", 1_000_000, 100)).is_empty());
    }
}

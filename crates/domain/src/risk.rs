//! Risk review: which orders wait for a person before any stock is reserved for them.
//! The thresholds are settings today; user-written rules will take over in a later step.

use crate::order::PaymentStatus;

/// When to hold an order for review.
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

/// What risk review looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskFacts<'a> {
    pub payment_status: PaymentStatus,
    pub ship_country: &'a str,
    pub billing_country: Option<&'a str>,
    /// The order's total in minor units of its currency.
    pub total_minor: i64,
    /// The channel's earlier orders: how many, and their average total in the same currency.
    pub channel_orders: i64,
    pub channel_average_minor: i64,
}

/// Why the order must wait for a person; empty when it may go ahead.
pub fn hold_reasons(policy: &RiskPolicy, facts: &RiskFacts<'_>) -> Vec<String> {
    let mut reasons = Vec::new();
    if policy.hold_uncaptured && facts.payment_status != PaymentStatus::Captured {
        reasons.push(format!("payment is {}, not captured", facts.payment_status.as_str()));
    }
    if policy.hold_country_mismatch
        && let Some(billing) = facts.billing_country.filter(|b| *b != facts.ship_country)
    {
        reasons.push(format!("billed to {billing} but shipped to {}", facts.ship_country));
    }
    if policy.value_factor > 0
        && facts.channel_orders >= policy.min_history
        && facts.channel_average_minor > 0
        && i128::from(facts.total_minor) > i128::from(facts.channel_average_minor) * i128::from(policy.value_factor)
    {
        reasons.push(format!("worth more than {} times the channel's average order", policy.value_factor));
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RiskFacts<'static> {
        RiskFacts {
            payment_status: PaymentStatus::Captured,
            ship_country: "DE",
            billing_country: Some("DE"),
            total_minor: 5_000,
            channel_orders: 100,
            channel_average_minor: 4_000,
        }
    }

    #[test]
    fn an_ordinary_paid_order_goes_ahead() {
        assert!(hold_reasons(&RiskPolicy::default(), &facts()).is_empty());
    }

    #[test]
    fn each_risk_names_itself() {
        let policy = RiskPolicy::default();
        let unpaid = RiskFacts { payment_status: PaymentStatus::Authorized, ..facts() };
        assert_eq!(hold_reasons(&policy, &unpaid), ["payment is authorized, not captured"]);
        let abroad = RiskFacts { billing_country: Some("FR"), ..facts() };
        assert_eq!(hold_reasons(&policy, &abroad), ["billed to FR but shipped to DE"]);
        let big = RiskFacts { total_minor: 20_001, ..facts() };
        assert_eq!(hold_reasons(&policy, &big).len(), 1);
        let at_limit = RiskFacts { total_minor: 20_000, ..facts() };
        assert!(hold_reasons(&policy, &at_limit).is_empty());
    }

    #[test]
    fn a_young_channel_has_no_usual_value_yet() {
        let big_but_new = RiskFacts { total_minor: 1_000_000, channel_orders: 3, ..facts() };
        assert!(hold_reasons(&RiskPolicy::default(), &big_but_new).is_empty());
        let off = RiskPolicy { value_factor: 0, ..RiskPolicy::default() };
        assert!(hold_reasons(&off, &RiskFacts { total_minor: 1_000_000, ..facts() }).is_empty());
    }
}

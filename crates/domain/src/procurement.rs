//! Procurement: replenishment policies and the arithmetic that turns a forecast into a
//! proposal (safety stock, reorder point, order-up-to level, rounding to the supplier's minimum
//! and pack), and purchase orders from draft to closed.
//!
//! Demand is forecast as a rate (units a day, a statistical estimate); what is proposed is
//! always whole units, rounded up, so the arithmetic may estimate in `f64` but every quantity
//! that leaves this module is an integer.

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// How a SKU is replenished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Policy {
    /// Order when the position falls to the reorder point (demand over the lead time plus
    /// safety stock for the service level), up to the reorder point plus `cover_days` of demand.
    ReorderPoint {
        /// Chance of not running out during a lead time, such as 0.95.
        service_level: f64,
        cover_days: i64,
    },
    /// Order up to `max` when the position falls to `min`.
    MinMax { min: i64, max: i64 },
    /// Every `review_days`, order up to the demand over the review period and the lead time,
    /// plus safety stock for both.
    PeriodicReview { review_days: i64, service_level: f64 },
}

impl Policy {
    pub fn validate(&self) -> Result<(), FieldError> {
        let level = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(FieldError::new(field, "must be between 0 and 1, such as 0.95"))
            }
        };
        match *self {
            Policy::ReorderPoint { service_level, cover_days } => {
                level("service_level", service_level)?;
                if !(1..=365).contains(&cover_days) {
                    return Err(FieldError::new("cover_days", "must be 1 to 365"));
                }
            }
            Policy::MinMax { min, max } => {
                if min < 0 {
                    return Err(FieldError::new("min", "must not be negative"));
                }
                if max <= min || max > 10_000_000 {
                    return Err(FieldError::new("max", "must be more than min (and at most 10,000,000)"));
                }
            }
            Policy::PeriodicReview { review_days, service_level } => {
                level("service_level", service_level)?;
                if !(1..=365).contains(&review_days) {
                    return Err(FieldError::new("review_days", "must be 1 to 365"));
                }
            }
        }
        Ok(())
    }
}

/// What a supplier needs to be ordered from, for one SKU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupplyTerms {
    pub lead_time_days: i64,
    /// Standard deviation of the lead time, in days.
    pub lead_time_sd_days: f64,
    pub moq: i64,
    pub pack_size: i64,
}

/// Where a SKU stands: on hand, allocated to orders, on order from suppliers, and demand
/// waiting for stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Position {
    pub on_hand: i64,
    pub reserved: i64,
    pub on_order: i64,
    pub backordered: i64,
}

impl Position {
    /// The inventory position: on hand and on order, less what orders hold and wait for.
    pub fn units(&self) -> i64 {
        self.on_hand + self.on_order - self.reserved - self.backordered
    }
}

/// The numbers behind a proposal, each shown to the buyer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Explanation {
    /// Forecast demand a day.
    pub daily_demand: f64,
    /// Forecast demand over the lead time (and the review period), in units.
    pub demand_over_lead_time: i64,
    pub safety_stock: i64,
    /// The position at or below which to order.
    pub reorder_point: i64,
    /// What to bring the position up to.
    pub order_up_to: i64,
    pub position: i64,
    /// Before rounding to the minimum order and the pack.
    pub raw_quantity: i64,
    pub quantity: i64,
}

/// The standard normal quantile of `p` (Acklam's rational approximation, relative error below
/// 1.2e-9): how many standard deviations of safety a service level needs.
#[allow(clippy::excessive_precision)] // Acklam's published coefficients, as published.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.383577518672690e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0);
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Safety stock for `days` of cover: z × √(days × σ² + d² × σ_LT²), where σ is the forecast's
/// daily error and σ_LT the lead time's spread; whole units, rounded up.
pub fn safety_stock(service_level: f64, daily_demand: f64, daily_error: f64, days: i64, lead_time_sd_days: f64) -> i64 {
    let z = normal_quantile(service_level).max(0.0);
    let spread = (days as f64 * daily_error * daily_error + daily_demand * daily_demand * lead_time_sd_days * lead_time_sd_days).sqrt();
    units_up(z * spread)
}

/// Whole units, rounded up, never negative.
fn units_up(x: f64) -> i64 {
    if x.is_finite() && x > 0.0 { x.ceil().min(1e12) as i64 } else { 0 }
}

/// At least the minimum order, then up to a whole number of packs.
pub fn round_to_terms(quantity: i64, moq: i64, pack_size: i64) -> i64 {
    if quantity <= 0 {
        return 0;
    }
    let quantity = quantity.max(moq);
    let pack = pack_size.max(1);
    (quantity + pack - 1) / pack * pack
}

/// What `policy` proposes to order, given a forecast of `daily_demand` with `daily_error`, the
/// supplier's terms and where the SKU stands. `None` when the position is above the point at
/// which the policy orders.
pub fn propose(policy: &Policy, daily_demand: f64, daily_error: f64, terms: SupplyTerms, position: Position) -> Option<Explanation> {
    let lead = terms.lead_time_days.max(0);
    let over = |days: i64| units_up(daily_demand * days as f64);
    let (demand, safety, reorder_point, order_up_to) = match *policy {
        Policy::ReorderPoint { service_level, cover_days } => {
            let safety = safety_stock(service_level, daily_demand, daily_error, lead, terms.lead_time_sd_days);
            let demand = over(lead);
            (demand, safety, demand + safety, demand + safety + over(cover_days))
        }
        Policy::MinMax { min, max } => (over(lead), 0, min, max),
        Policy::PeriodicReview { review_days, service_level } => {
            let days = review_days + lead;
            let safety = safety_stock(service_level, daily_demand, daily_error, days, terms.lead_time_sd_days);
            let demand = over(days);
            // At each review the position goes up to the target, whatever it is.
            (demand, safety, demand + safety, demand + safety)
        }
    };
    let position_units = position.units();
    if position_units > reorder_point {
        return None;
    }
    let raw = (order_up_to - position_units).max(0);
    let quantity = round_to_terms(raw, terms.moq, terms.pack_size);
    (quantity > 0).then_some(Explanation {
        daily_demand,
        demand_over_lead_time: demand,
        safety_stock: safety,
        reorder_point,
        order_up_to,
        position: position_units,
        raw_quantity: raw,
        quantity,
    })
}

/// Where a purchase order stands. Its moves:
///
/// | from | to |
/// |---|---|
/// | draft | approved, cancelled |
/// | approved | sent, cancelled |
/// | sent | partially_received, received, cancelled |
/// | partially_received | partially_received, received, billed |
/// | received | billed |
/// | billed | closed |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PoStatus {
    Draft,
    /// Approved by someone whose limit covers its value.
    Approved,
    /// Sent to the supplier.
    Sent,
    PartiallyReceived,
    Received,
    /// The supplier's bill is matched.
    Billed,
    Closed,
    Cancelled,
}

named!(PoStatus, "a status", {
    Draft => "draft", Approved => "approved", Sent => "sent", PartiallyReceived => "partially_received",
    Received => "received", Billed => "billed", Closed => "closed", Cancelled => "cancelled",
});

impl PoStatus {
    pub fn can_become(self, next: PoStatus) -> bool {
        use PoStatus::*;
        matches!(
            (self, next),
            (Draft, Approved | Cancelled)
                | (Approved, Sent | Cancelled)
                | (Sent, PartiallyReceived | Received | Cancelled)
                | (PartiallyReceived, PartiallyReceived | Received)
                | (Received, Billed)
                | (PartiallyReceived, Billed)
                | (Billed, Closed)
        )
    }
}

/// Where a replenishment proposal stands: proposed, then approved (onto a purchase order) or
/// rejected, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Proposed,
    Approved,
    Rejected,
}
named!(ProposalStatus, "a status", { Proposed => "proposed", Approved => "approved", Rejected => "rejected" });

impl ProposalStatus {
    pub fn can_become(self, next: ProposalStatus) -> bool {
        matches!((self, next), (ProposalStatus::Proposed, ProposalStatus::Approved | ProposalStatus::Rejected))
    }
}

/// How a supplier's bill stands against its purchase order: matched, or disputed (a
/// `procurement` exception says why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BillStatus {
    Matched,
    Disputed,
}
named!(BillStatus, "a status", { Matched => "matched", Disputed => "disputed" });

/// The most a role may approve on one purchase order, in base currency minor units; none for a
/// role that approves none.
pub fn approval_limit(role: crate::access::Role) -> Option<i64> {
    use crate::access::Role;
    match role {
        Role::Admin => Some(i64::MAX),
        Role::Ops => Some(5_000_000),
        Role::Procurement => Some(2_500_000),
        Role::Finance => Some(10_000_000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_quantile_is_the_tables() {
        for (p, z) in [(0.5, 0.0), (0.9, 1.281_551_6), (0.95, 1.644_853_6), (0.975, 1.959_964), (0.99, 2.326_347_9), (0.01, -2.326_347_9)] {
            assert!((normal_quantile(p) - z).abs() < 1e-6, "{p}: {}", normal_quantile(p));
        }
    }

    #[test]
    fn safety_stock_grows_with_the_service_level_and_the_spreads() {
        // z(0.95) = 1.645; √(9 × 4² + 10² × 2²) = √(144 + 400) = 23.32; × 1.645 = 38.36 → 39.
        assert_eq!(safety_stock(0.95, 10.0, 4.0, 9, 2.0), 39);
        assert_eq!(safety_stock(0.95, 10.0, 4.0, 9, 0.0), 20);
        assert!(safety_stock(0.99, 10.0, 4.0, 9, 2.0) > 39);
        assert_eq!(safety_stock(0.5, 10.0, 4.0, 9, 2.0), 0);
    }

    #[test]
    fn quantities_round_up_to_the_minimum_then_the_pack() {
        assert_eq!(round_to_terms(7, 50, 12), 60);
        assert_eq!(round_to_terms(61, 50, 12), 72);
        assert_eq!(round_to_terms(72, 0, 12), 72);
        assert_eq!(round_to_terms(0, 50, 12), 0);
        assert_eq!(round_to_terms(5, 0, 0), 5);
    }

    #[test]
    fn a_reorder_point_policy_orders_up_to_its_cover() {
        let terms = SupplyTerms { lead_time_days: 9, lead_time_sd_days: 2.0, moq: 0, pack_size: 1 };
        let policy = Policy::ReorderPoint { service_level: 0.95, cover_days: 14 };
        let low = Position { on_hand: 100, reserved: 10, on_order: 0, backordered: 5 };
        let proposal = propose(&policy, 10.0, 4.0, terms, low).unwrap();
        // Demand over the lead time 90, safety 39, reorder point 129; position 85; up to 129 + 140.
        assert_eq!((proposal.demand_over_lead_time, proposal.safety_stock, proposal.reorder_point), (90, 39, 129));
        assert_eq!((proposal.position, proposal.order_up_to, proposal.quantity), (85, 269, 184));
        let high = Position { on_hand: 200, ..low };
        assert_eq!(propose(&policy, 10.0, 4.0, terms, high), None, "above the reorder point nothing is ordered");
    }

    #[test]
    fn min_max_and_periodic_review_follow_their_rules() {
        let terms = SupplyTerms { lead_time_days: 5, lead_time_sd_days: 0.0, moq: 24, pack_size: 6 };
        let at = |on_hand| Position { on_hand, ..Position::default() };
        let minmax = Policy::MinMax { min: 20, max: 100 };
        assert_eq!(propose(&minmax, 3.0, 1.0, terms, at(20)).map(|p| p.quantity), Some(84));
        let narrow = Policy::MinMax { min: 20, max: 30 };
        assert_eq!(propose(&narrow, 3.0, 1.0, terms, at(15)).map(|p| p.quantity), Some(24), "the minimum order, to the pack");
        assert_eq!(propose(&minmax, 3.0, 1.0, terms, at(21)), None);
        let review = Policy::PeriodicReview { review_days: 7, service_level: 0.9 };
        // Demand over 12 days 36; safety 1.2816 × √12 × 1 = 4.44 → 5; up to 41; from 10, 31 → 36.
        let p = propose(&review, 3.0, 1.0, terms, at(10)).unwrap();
        assert_eq!((p.demand_over_lead_time, p.safety_stock, p.order_up_to, p.raw_quantity, p.quantity), (36, 5, 41, 31, 36));
    }

    #[test]
    fn bad_policies_name_their_field() {
        let bad = [
            (Policy::ReorderPoint { service_level: 1.0, cover_days: 7 }, "service_level"),
            (Policy::ReorderPoint { service_level: 0.0, cover_days: 7 }, "service_level"),
            (Policy::PeriodicReview { review_days: 0, service_level: 0.9 }, "review_days"),
            (Policy::MinMax { min: 10, max: 10 }, "max"),
            (Policy::MinMax { min: -1, max: 10 }, "min"),
        ];
        for (policy, field) in bad {
            assert_eq!(policy.validate().unwrap_err().field, field, "{policy:?}");
        }
    }

    #[test]
    fn a_purchase_order_moves_forward_only() {
        use PoStatus::*;
        assert!(Draft.can_become(Approved) && Sent.can_become(PartiallyReceived) && Received.can_become(Billed));
        assert!(!Draft.can_become(Sent) && !Billed.can_become(Received) && !Closed.can_become(Draft));
    }
}

//! Exceptions: everything that needs a person, with the role that owns it, a due time from its
//! kind's SLA, and where it goes when nobody acts in time.
//!
//! An exception is open when raised; its owner acknowledges it (someone is on it), comments,
//! and resolves it with a [`Resolution`]. Past its due time, an unresolved exception escalates
//! to the next role on its kind's path and is marked escalated, with a new due time.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::access::Role;
use crate::FieldError;

/// What went wrong. Each kind has an owner role, a time to act and an escalation path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionKind {
    /// Sold units that no location can serve.
    Stockout,
    /// An order held for review: payment, address or value.
    PaymentReview,
    /// An order not yet shipped whose ship-by time is close.
    ShipmentAtRisk,
    /// An order not yet shipped whose ship-by time has passed.
    LateShipment,
    /// A settlement line that matches nothing, an amount that differs from the order, or a
    /// fee outside the channel's expected range.
    Reconciliation,
    /// A return authorised but not received within its window.
    ReturnOverdue,
    /// A purchase order past its expected date, or a stockout projected before the next receipt.
    Procurement,
    /// A channel connector that could not send or fetch, or a notification that could not be
    /// delivered.
    SyncFailure,
    /// A helpdesk ticket not solved within its priority's time.
    TicketOverdue,
    /// A channel's delivery that could not be made into an order (an unknown SKU, no
    /// shipping address): kept in the inbox until the data is fixed and it is replayed.
    ChannelMapping,
    /// A parcel the carrier could not deliver, or is sending back.
    DeliveryProblem,
    /// A channel that has not been told of a stock change for longer than its threshold;
    /// resolved by itself once the channel has caught up.
    SyncLag,
    /// A channel or SKU whose orders were cancelled far more than usual on one day (see
    /// [`crate::anomaly`]).
    CancellationSpike,
    /// A location whose counts and adjustments removed far more stock on one day than its own
    /// history of write-offs per unit shipped explains.
    StockVariance,
    /// A channel's or SKU's contribution margin in a week far below its own weekly history.
    MarginDrop,
    /// A settlement fee far above the channel's own history for that fee (per unit or as a
    /// rate of the line), or a fee charged on a cancelled order.
    FeeAnomaly,
    /// A SKU returned for one reason far more than usual on one day: a quality or listing
    /// problem.
    ReturnSpike,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 17] = [
        ExceptionKind::Stockout,
        ExceptionKind::PaymentReview,
        ExceptionKind::ShipmentAtRisk,
        ExceptionKind::LateShipment,
        ExceptionKind::Reconciliation,
        ExceptionKind::ReturnOverdue,
        ExceptionKind::Procurement,
        ExceptionKind::SyncFailure,
        ExceptionKind::TicketOverdue,
        ExceptionKind::ChannelMapping,
        ExceptionKind::DeliveryProblem,
        ExceptionKind::SyncLag,
        ExceptionKind::CancellationSpike,
        ExceptionKind::StockVariance,
        ExceptionKind::MarginDrop,
        ExceptionKind::FeeAnomaly,
        ExceptionKind::ReturnSpike,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::Stockout => "stockout",
            ExceptionKind::PaymentReview => "payment_review",
            ExceptionKind::ShipmentAtRisk => "shipment_at_risk",
            ExceptionKind::LateShipment => "late_shipment",
            ExceptionKind::Reconciliation => "reconciliation",
            ExceptionKind::ReturnOverdue => "return_overdue",
            ExceptionKind::Procurement => "procurement",
            ExceptionKind::SyncFailure => "sync_failure",
            ExceptionKind::TicketOverdue => "ticket_overdue",
            ExceptionKind::ChannelMapping => "channel_mapping",
            ExceptionKind::DeliveryProblem => "delivery_problem",
            ExceptionKind::SyncLag => "sync_lag",
            ExceptionKind::CancellationSpike => "cancellation_spike",
            ExceptionKind::StockVariance => "stock_variance",
            ExceptionKind::MarginDrop => "margin_drop",
            ExceptionKind::FeeAnomaly => "fee_anomaly",
            ExceptionKind::ReturnSpike => "return_spike",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<ExceptionKind, FieldError> {
        ExceptionKind::ALL.into_iter().find(|k| k.as_str() == value).ok_or_else(|| {
            let names: Vec<&str> = ExceptionKind::ALL.iter().map(|k| k.as_str()).collect();
            FieldError::new(field, format!("must be one of {}", names.join(", ")))
        })
    }

    /// The role that owns this kind of exception when it is raised.
    pub fn owner_role(self) -> Role {
        self.escalation_path()[0]
    }

    /// Who owns it, in turn, as it goes past due: the first role is the owner.
    pub fn escalation_path(self) -> &'static [Role] {
        match self {
            ExceptionKind::Stockout => &[Role::Ops, Role::Admin],
            ExceptionKind::PaymentReview | ExceptionKind::Reconciliation => &[Role::Finance, Role::Admin],
            ExceptionKind::ShipmentAtRisk | ExceptionKind::LateShipment => &[Role::Warehouse, Role::Ops, Role::Admin],
            ExceptionKind::ReturnOverdue => &[Role::Service, Role::Ops, Role::Admin],
            ExceptionKind::Procurement => &[Role::Procurement, Role::Ops, Role::Admin],
            ExceptionKind::SyncFailure => &[Role::Ops, Role::Admin],
            ExceptionKind::TicketOverdue => &[Role::Service, Role::Ops, Role::Admin],
            ExceptionKind::ChannelMapping => &[Role::Integration, Role::Ops, Role::Admin],
            ExceptionKind::DeliveryProblem => &[Role::Service, Role::Ops, Role::Admin],
            ExceptionKind::SyncLag => &[Role::Integration, Role::Ops, Role::Admin],
            ExceptionKind::CancellationSpike | ExceptionKind::ReturnSpike => &[Role::Ops, Role::Admin],
            ExceptionKind::StockVariance => &[Role::Warehouse, Role::Ops, Role::Admin],
            ExceptionKind::MarginDrop | ExceptionKind::FeeAnomaly => &[Role::Finance, Role::Admin],
        }
    }

    /// The role after `owner` on the path; none when `owner` is the last (or not on it).
    pub fn escalates_to(self, owner: Role) -> Option<Role> {
        let path = self.escalation_path();
        path.iter().position(|r| *r == owner).and_then(|i| path.get(i + 1)).copied()
    }

    /// Where an exception owned by `owner` goes when it is past due: to the lead of `owner`
    /// when the role has one (`lead`) and the exception is not with them yet (`with_lead`),
    /// else to the next role on the path, whose lead it reaches on the step after. None when
    /// it is with the last role and, if it has one, its lead.
    pub fn next_step(self, owner: Role, with_lead: bool, lead: Option<&str>) -> Option<EscalationStep> {
        match lead {
            Some(lead) if !with_lead => Some(EscalationStep::Lead(lead.to_owned())),
            _ => self.escalates_to(owner).map(EscalationStep::Role),
        }
    }

    /// Whether `role` may act on an exception of this kind now owned by `owner`: an admin, the
    /// owner, and every role it passed through on the way up. Escalation adds hands; it does
    /// not take the exception from the role that owns its kind.
    pub fn may_act(self, role: Role, owner: Role) -> bool {
        let path = self.escalation_path();
        role == Role::Admin || role == owner || path.iter().position(|r| *r == role).is_some_and(|mine| path.iter().position(|r| *r == owner).is_some_and(|now| mine <= now))
    }

    /// The kinds `role` owns when they are raised: its own queue, escalated or not.
    pub fn owned_by(role: Role) -> Vec<ExceptionKind> {
        ExceptionKind::ALL.into_iter().filter(|kind| kind.owner_role() == role).collect()
    }

    /// How long the owner has to act, from raising and again from each escalation.
    pub fn sla(self) -> chrono::Duration {
        match self {
            ExceptionKind::Stockout | ExceptionKind::Procurement | ExceptionKind::CancellationSpike | ExceptionKind::StockVariance => {
                chrono::Duration::hours(24)
            }
            ExceptionKind::PaymentReview => chrono::Duration::hours(4),
            ExceptionKind::ShipmentAtRisk
            | ExceptionKind::SyncFailure
            | ExceptionKind::TicketOverdue
            | ExceptionKind::ChannelMapping
            | ExceptionKind::SyncLag => {
                chrono::Duration::hours(2)
            }
            ExceptionKind::LateShipment => chrono::Duration::hours(1),
            ExceptionKind::ReturnOverdue | ExceptionKind::ReturnSpike => chrono::Duration::hours(48),
            ExceptionKind::DeliveryProblem => chrono::Duration::hours(8),
            ExceptionKind::Reconciliation | ExceptionKind::MarginDrop | ExceptionKind::FeeAnomaly => chrono::Duration::hours(72),
        }
    }
}

/// One step up an escalation path: to a person who leads the owning role (the exception stays
/// in that role's queue, assigned to them), or on to the next role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscalationStep {
    Lead(String),
    Role(Role),
}

/// Where an exception stands. Its moves:
///
/// | from | to |
/// |---|---|
/// | open | acknowledged, escalated, resolved |
/// | acknowledged | escalated, resolved |
/// | escalated | acknowledged, escalated (again, to the next role), resolved |
/// | resolved | nothing: a new one is raised if the cause returns |
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExceptionStatus {
    Open,
    /// Its owner has seen it and is on it.
    Acknowledged,
    /// It went past due and moved to the next role.
    Escalated,
    Resolved,
}

named!(ExceptionStatus, "a status", { Open => "open", Acknowledged => "acknowledged", Escalated => "escalated", Resolved => "resolved" });

impl ExceptionStatus {
    /// Whether a person may acknowledge it from here.
    pub fn may_acknowledge(self) -> bool {
        self.can_become(ExceptionStatus::Acknowledged)
    }

    /// Whether an exception may go from here to `next`.
    pub fn can_become(self, next: ExceptionStatus) -> bool {
        use ExceptionStatus::*;
        matches!((self, next), (Open, Acknowledged | Escalated | Resolved) | (Acknowledged, Escalated | Resolved) | (Escalated, Acknowledged | Escalated | Resolved))
    }
}


/// How many exceptions there are of one kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExceptionCount {
    pub kind: String,
    /// Not yet resolved.
    pub unresolved: i64,
    pub all: i64,
}

/// Whether an order's ship-by alarm (at risk, late) waits: an order on hold cannot be picked
/// until its review is decided, so its lateness is that review's, whose owner can act, not the
/// warehouse's. Once released, a late order raises its alarm at the next look.
pub fn ship_by_waits(status: crate::order::OrderStatus) -> bool {
    status == crate::order::OrderStatus::OnHold
}

/// How an exception was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The cause was put right (stock moved, order fixed, line matched by hand).
    Fixed,
    /// The difference or the risk is accepted as it is.
    Accepted,
    /// What it was about was cancelled.
    Cancelled,
    /// Another exception covers it.
    Duplicate,
    /// Nothing was wrong.
    NotAnIssue,
    /// Ordo saw the cause go away by itself (stock arrived, the order shipped).
    Automatic,
}

impl Resolution {
    /// The codes a person may choose; [`Resolution::Automatic`] is Ordo's alone.
    pub const CHOSEN: [Resolution; 5] =
        [Resolution::Fixed, Resolution::Accepted, Resolution::Cancelled, Resolution::Duplicate, Resolution::NotAnIssue];

    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Fixed => "fixed",
            Resolution::Accepted => "accepted",
            Resolution::Cancelled => "cancelled",
            Resolution::Duplicate => "duplicate",
            Resolution::NotAnIssue => "not_an_issue",
            Resolution::Automatic => "automatic",
        }
    }

    /// A code a person chose.
    pub fn parse(field: &str, value: &str) -> Result<Resolution, FieldError> {
        Resolution::CHOSEN.into_iter().find(|r| r.as_str() == value).ok_or_else(|| {
            let names: Vec<&str> = Resolution::CHOSEN.iter().map(|r| r.as_str()).collect();
            FieldError::new(field, format!("must be one of {}", names.join(", ")))
        })
    }
}

/// An exception as the queue shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Exception {
    pub id: Uuid,
    pub kind: String,
    /// What it is about, such as `sku:MUG-1`.
    pub subject: String,
    pub owner_role: String,
    pub due_at: DateTime<Utc>,
    pub status: ExceptionStatus,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// How many times it went past due and moved to the next role.
    pub escalations: i64,
    /// The person it was escalated to: the lead of its owning role; none while it is with the
    /// role as a whole.
    pub assigned_to: Option<String>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The resolution code: fixed, accepted, cancelled, duplicate, not_an_issue or automatic.
    pub resolution_code: Option<String>,
    /// What the person (or Ordo) said on resolving it.
    pub resolution: Option<String>,
}

/// A note on an exception, by its owner or anyone who may work the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExceptionComment {
    pub at: DateTime<Utc>,
    pub author: String,
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalation_adds_hands_and_the_owning_role_keeps_its_queue() {
        let kind = ExceptionKind::Reconciliation;
        assert!(kind.may_act(Role::Finance, Role::Admin), "finance still works its escalated break");
        assert!(kind.may_act(Role::Admin, Role::Finance));
        assert!(!kind.may_act(Role::Ops, Role::Finance) && !kind.may_act(Role::Ops, Role::Admin), "ops is not on finance's path");
        let late = ExceptionKind::LateShipment;
        assert!(late.may_act(Role::Warehouse, Role::Ops) && late.may_act(Role::Ops, Role::Ops));
        assert!(!late.may_act(Role::Ops, Role::Warehouse), "not before it gets there");
        assert!(ExceptionKind::owned_by(Role::Finance).contains(&ExceptionKind::Reconciliation));
        assert!(!ExceptionKind::owned_by(Role::Finance).contains(&ExceptionKind::Stockout));
    }

    #[test]
    fn a_role_with_a_lead_escalates_to_the_lead_before_the_next_role() {
        let kind = ExceptionKind::Reconciliation;
        let lead = EscalationStep::Lead("fiona".into());
        assert_eq!(kind.next_step(Role::Finance, false, Some("fiona")), Some(lead), "finance, then the finance lead");
        assert_eq!(kind.next_step(Role::Finance, true, Some("fiona")), Some(EscalationStep::Role(Role::Admin)), "then admin");
        assert_eq!(kind.next_step(Role::Finance, false, None), Some(EscalationStep::Role(Role::Admin)), "no lead: straight on");
        assert_eq!(kind.next_step(Role::Admin, false, Some("alex")), Some(EscalationStep::Lead("alex".into())));
        assert_eq!(kind.next_step(Role::Admin, true, Some("alex")), None, "nowhere further");
        assert_eq!(kind.next_step(Role::Admin, false, None), None);
    }

    #[test]
    fn a_held_orders_lateness_waits_for_its_review() {
        use crate::order::OrderStatus;
        assert!(ship_by_waits(OrderStatus::OnHold));
        assert!(!ship_by_waits(OrderStatus::Allocated) && !ship_by_waits(OrderStatus::Backordered));
    }

    #[test]
    fn every_kind_starts_with_its_owner_and_ends_with_admin() {
        for kind in ExceptionKind::ALL {
            let path = kind.escalation_path();
            assert_eq!(path[0], kind.owner_role());
            assert_eq!(path.last(), Some(&Role::Admin), "{}", kind.as_str());
            assert_eq!(kind.escalates_to(Role::Admin), None);
            assert_eq!(ExceptionKind::parse("kind", kind.as_str()), Ok(kind));
        }
        assert_eq!(ExceptionKind::LateShipment.escalates_to(Role::Warehouse), Some(Role::Ops));
        assert_eq!(ExceptionKind::LateShipment.escalates_to(Role::Ops), Some(Role::Admin));
        assert_eq!(ExceptionKind::Stockout.escalates_to(Role::Viewer), None);
        assert_eq!(ExceptionKind::parse("kind", "fire").unwrap_err().field, "kind");
    }

    #[test]
    fn people_choose_every_resolution_but_the_automatic_one() {
        for code in Resolution::CHOSEN {
            assert_eq!(Resolution::parse("code", code.as_str()), Ok(code));
        }
        assert!(Resolution::parse("code", "automatic").is_err());
        assert!(ExceptionStatus::Escalated.may_acknowledge() && !ExceptionStatus::Resolved.may_acknowledge());
    }
}

//! Exceptions: everything that needs a person, with the role that owns it and a due time.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// What went wrong. Each kind has an owner role and a time to act.
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
}

impl ExceptionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::Stockout => "stockout",
            ExceptionKind::PaymentReview => "payment_review",
            ExceptionKind::ShipmentAtRisk => "shipment_at_risk",
            ExceptionKind::LateShipment => "late_shipment",
            ExceptionKind::Reconciliation => "reconciliation",
        }
    }

    /// The role that owns this kind of exception.
    pub fn owner_role(self) -> crate::access::Role {
        match self {
            ExceptionKind::Stockout => crate::access::Role::Ops,
            ExceptionKind::PaymentReview | ExceptionKind::Reconciliation => crate::access::Role::Finance,
            ExceptionKind::ShipmentAtRisk | ExceptionKind::LateShipment => crate::access::Role::Warehouse,
        }
    }

    /// How long the owner has to act.
    pub fn sla(self) -> chrono::Duration {
        match self {
            ExceptionKind::Stockout => chrono::Duration::hours(24),
            ExceptionKind::PaymentReview => chrono::Duration::hours(4),
            ExceptionKind::ShipmentAtRisk => chrono::Duration::hours(2),
            ExceptionKind::LateShipment => chrono::Duration::hours(1),
            ExceptionKind::Reconciliation => chrono::Duration::hours(72),
        }
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
    pub status: String,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

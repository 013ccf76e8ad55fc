//! Stock: every change to on-hand quantity is a movement with a reason, so the stock at any
//! past moment is the sum of the movements up to it.

use serde::{Deserialize, Serialize};

use crate::field::{self, FieldError};

/// Why stock changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Goods arrived; the quantity is added.
    Receipt,
    /// A correction; the quantity (positive or negative) is added.
    Adjustment,
    /// A physical count; on-hand becomes the quantity.
    Count,
}

impl MovementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::Receipt => "receipt",
            MovementKind::Adjustment => "adjustment",
            MovementKind::Count => "count",
        }
    }
}

const MAX_QUANTITY: i64 = 1_000_000_000;

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewMovement {
    pub sku: String,
    pub location: String,
    /// Units received or adjusted by, or the counted on-hand for a `count`.
    pub quantity: i64,
    pub kind: MovementKind,
    pub reason: String,
    /// What one unit cost, in the base currency, for a receipt; the product's unit cost when
    /// absent. Receipts move the SKU's average cost; other movements take units at it.
    #[serde(default)]
    pub unit_cost: Option<String>,
}

/// A stock change as asked for, before it is turned into a delta against current stock.
#[derive(Debug, Clone, PartialEq)]
pub struct MovementRequest {
    pub sku: String,
    pub location: String,
    pub quantity: i64,
    pub kind: MovementKind,
    pub reason: String,
}

impl NewMovement {
    pub fn validate(self) -> Result<MovementRequest, FieldError> {
        let (min, max) = match self.kind {
            MovementKind::Receipt => (1, MAX_QUANTITY),
            MovementKind::Adjustment => (-MAX_QUANTITY, MAX_QUANTITY),
            MovementKind::Count => (0, MAX_QUANTITY),
        };
        if self.kind == MovementKind::Adjustment && self.quantity == 0 {
            return Err(FieldError::new("quantity", "an adjustment must change stock"));
        }
        Ok(MovementRequest {
            sku: field::code("sku", &self.sku)?,
            location: field::code("location", &self.location)?,
            quantity: field::bounded("quantity", self.quantity, min, max)?,
            kind: self.kind,
            reason: field::text("reason", &self.reason)?,
        })
    }
}

/// On-hand and reserved units of one SKU at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockLevel {
    pub sku: String,
    pub location: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// One recorded change of on-hand: the append-only history stock levels are the sum of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockMovement {
    pub id: i64,
    pub sku: String,
    pub location: String,
    /// receipt, adjustment, count, shipment, transfer_out, transfer_in, …
    pub kind: String,
    /// Signed: what it added to on-hand.
    pub quantity: i64,
    pub reason: String,
    pub actor: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movement(kind: MovementKind, quantity: i64) -> NewMovement {
        NewMovement { sku: "MUG".into(), location: "WH".into(), quantity, kind, reason: "opening stock".into(), unit_cost: None }
    }

    #[test]
    fn quantities_fit_the_kind_of_movement() {
        assert!(movement(MovementKind::Receipt, 5).validate().is_ok());
        assert_eq!(movement(MovementKind::Receipt, -5).validate().unwrap_err().field, "quantity");
        assert_eq!(movement(MovementKind::Receipt, 0).validate().unwrap_err().field, "quantity");
        assert!(movement(MovementKind::Adjustment, -5).validate().is_ok());
        assert_eq!(movement(MovementKind::Adjustment, 0).validate().unwrap_err().field, "quantity");
        assert!(movement(MovementKind::Count, 0).validate().is_ok());
        assert_eq!(movement(MovementKind::Count, -1).validate().unwrap_err().field, "quantity");
    }
}

/// Stock sent from one location to another.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTransfer {
    pub sku: String,
    pub from: String,
    pub to: String,
    pub quantity: i64,
    pub reason: String,
}

impl NewTransfer {
    pub fn validate(self) -> Result<NewTransfer, FieldError> {
        let transfer = NewTransfer {
            sku: field::code("sku", &self.sku)?,
            from: field::code("from", &self.from)?,
            to: field::code("to", &self.to)?,
            quantity: field::bounded("quantity", self.quantity, 1, MAX_QUANTITY)?,
            reason: field::text("reason", &self.reason)?,
        };
        if transfer.from == transfer.to {
            return Err(FieldError::new("to", "must be another location than from"));
        }
        Ok(transfer)
    }
}

/// A transfer between locations, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transfer {
    pub id: uuid::Uuid,
    pub sku: String,
    pub from: String,
    pub to: String,
    pub quantity: i64,
    pub status: TransferStatus,
}

/// Where a transfer stands: on its way, then received at its destination, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    InTransit,
    Received,
}
named!(TransferStatus, "a transfer status", { InTransit => "in_transit", Received => "received" });

impl TransferStatus {
    pub fn can_become(self, next: TransferStatus) -> bool {
        matches!((self, next), (TransferStatus::InTransit, TransferStatus::Received))
    }
}

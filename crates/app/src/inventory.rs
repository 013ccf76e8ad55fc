//! Stock use cases: record receipts, adjustments and counts; read stock levels.

use ordo_domain::inventory::{NewMovement, StockLevel};
use ordo_domain::FieldError;

use crate::{Actor, AppError, AppResult, Ordo};

impl Ordo {
    /// Records a stock movement and returns the stock level after it.
    pub async fn record_movement(&self, new: NewMovement, actor: &Actor) -> AppResult<StockLevel> {
        let movement = new.validate()?;
        let mut tx = self.db.write().await?;
        if tx.product(&movement.sku).await?.is_none() {
            return Err(FieldError::new("sku", format!("unknown SKU {:?}", movement.sku)).into());
        }
        if tx.location(&movement.location).await?.is_none() {
            return Err(FieldError::new("location", format!("unknown location {:?}", movement.location)).into());
        }
        let now = Self::now();
        let Some(mut level) = tx.record_movement(&movement, &actor.to_string(), now).await? else {
            return Err(AppError::InsufficientStock(FieldError::new(
                "quantity",
                "would take on-hand below zero or below the reserved quantity",
            )));
        };
        if level.available > 0 {
            Self::fill_backorders(&mut tx, &movement.sku, &movement.location, actor, now).await?;
            let after = tx.stock_levels(Some(&movement.sku)).await?;
            if let Some(current) = after.into_iter().find(|l| l.location == movement.location) {
                level = current;
            }
        }
        tx.commit().await?;
        Ok(level)
    }

    /// Stock levels of one SKU, or of all when `sku` is `None`.
    pub async fn stock_levels(&self, sku: Option<&str>) -> AppResult<Vec<StockLevel>> {
        Ok(self.db.read().await?.stock_levels(sku).await?)
    }

    /// Every way stock disagrees with its movements and reservations; empty when all is well.
    pub async fn stock_discrepancies(&self) -> AppResult<Vec<String>> {
        Ok(self.db.read().await?.stock_discrepancies().await?)
    }

    /// On-hand of `sku` per location as it stood at `at`, read back from the movements.
    pub async fn on_hand_as_of(&self, sku: &str, at: chrono::DateTime<chrono::Utc>) -> AppResult<Vec<StockLevel>> {
        let sku = ordo_domain::field::code("sku", sku)?;
        let rows = self.db.read().await?.on_hand_as_of(&sku, at).await?;
        // Reservations are not kept as history; as of a past time only on-hand is known.
        Ok(rows
            .into_iter()
            .map(|(location, on_hand)| StockLevel { sku: sku.clone(), location, on_hand, reserved: 0, available: on_hand })
            .collect())
    }
}

//! Stock use cases: record receipts, adjustments and counts; read stock levels.

use ordo_domain::inventory::{MovementKind, NewMovement, NewTransfer, StockLevel, Transfer};
use ordo_domain::ledger;
use ordo_domain::FieldError;

use ordo_domain::audit::Change;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Inventory, Ordo};

impl Inventory<'_> {
    /// Records a stock movement and returns the stock level after it.
    pub async fn record_movement(self, new: NewMovement, actor: &Actor) -> AppResult<StockLevel> {
        let base = self.settings.base_currency;
        let unit_cost = match new.unit_cost.as_deref() {
            Some(_) if new.kind != MovementKind::Receipt => {
                return Err(FieldError::new("unit_cost", "only a receipt carries a unit cost; other movements take the average").into());
            }
            Some(cost) => Some(ordo_domain::Money::parse_non_negative("unit_cost", cost, base)?),
            None => None,
        };
        let movement = new.validate()?;
        let mut tx = self.db.write().await?;
        let Some(product) = tx.product(&movement.sku).await? else {
            return Err(FieldError::new("sku", format!("unknown SKU {:?}", movement.sku)).into());
        };
        if tx.location(&movement.location).await?.is_none() {
            return Err(FieldError::new("location", format!("unknown location {:?}", movement.location)).into());
        }
        let now = self.now();
        let Some((mut level, delta)) = tx.record_movement(&movement, &actor.to_string(), now).await? else {
            return Err(AppError::InsufficientStock(FieldError::new(
                "quantity",
                "would take on-hand below zero or below the reserved quantity",
            )));
        };
        // The books follow the stock at moving-average cost: a receipt at its cost against
        // goods received not invoiced; an adjustment or count as a gain or a write-off at the
        // average.
        tx.lock_valuations(&[&movement.sku]).await?;
        let held = tx.valuation(&movement.sku).await?;
        let overflow = |e: ledger::EntryError| FieldError::new("quantity", e.to_string());
        let (after, value) = match (movement.kind, delta) {
            (MovementKind::Receipt, _) => held.purchase(delta, unit_cost.unwrap_or(product.unit_cost).minor()).map_err(overflow)?,
            (_, found) if found >= 0 => held.found(found, product.unit_cost.minor()).map_err(overflow)?,
            (_, lost) => {
                let (after, taken) = held.issue(-lost);
                (after, -taken)
            }
        };
        tx.set_valuation(&movement.sku, after).await?;
        let value = ordo_domain::Money::from_minor(value, base);
        let source = format!("movement:{}:{}:{}", movement.kind.as_str(), movement.sku, movement.location);
        let memo = format!("{} {delta:+} {} at {}: {}", movement.kind.as_str(), movement.sku, movement.location, movement.reason);
        let entry = match movement.kind {
            MovementKind::Receipt => ledger::receipt(source, memo, value),
            MovementKind::Adjustment | MovementKind::Count => ledger::stock_correction(source, memo, value),
        }
        .map_err(FieldError::from)?;
        self.ledger().post(&mut tx, entry, &actor.to_string(), now).await?;
        let change = Change::new("stock.move", format!("stock:{}/{}", movement.sku, movement.location))
            .before(serde_json::json!({"on_hand": level.on_hand - delta}))
            .after(serde_json::json!({"on_hand": level.on_hand, "kind": movement.kind.as_str(), "quantity": movement.quantity}))
            .reason(&movement.reason);
        record(&mut tx, actor, now, &[change]).await?;
        if level.available > 0 {
            Ordo::fill_backorders(&mut tx, &movement.sku, &movement.location, actor, now).await?;
            let after = tx.stock_levels(Some(&movement.sku)).await?;
            if let Some(current) = after.into_iter().find(|l| l.location == movement.location) {
                level = current;
            }
        }
        tx.commit().await?;
        Ok(level)
    }

    /// Stock levels of one SKU, or of all when `sku` is `None`.
    pub async fn stock_levels(self, sku: Option<&str>) -> AppResult<Vec<StockLevel>> {
        Ok(self.db.read().await?.stock_levels(sku).await?)
    }

    /// The latest `limit` movements of a SKU, newest first.
    pub async fn movements(self, sku: &str, limit: i64) -> AppResult<Vec<ordo_domain::inventory::StockMovement>> {
        let sku = ordo_domain::field::code("sku", sku)?;
        let limit = ordo_domain::field::bounded("limit", limit, 1, crate::master::MAX_PAGE_SIZE)?;
        Ok(self.db.read().await?.movements(&sku, limit).await?)
    }

    /// The bins of a location's SKUs, by SKU.
    pub async fn bins(self, location: &str) -> AppResult<Vec<(String, String)>> {
        Ok(self.db.read().await?.bins(location).await?)
    }

    /// Every way stock disagrees with its movements and reservations; empty when all is well.
    pub async fn stock_discrepancies(self) -> AppResult<Vec<String>> {
        Ok(self.db.read().await?.stock_discrepancies().await?)
    }

    /// On-hand of `sku` per location as it stood at `at`, read back from the movements.
    pub async fn on_hand_as_of(self, sku: &str, at: chrono::DateTime<chrono::Utc>) -> AppResult<Vec<StockLevel>> {
        let sku = ordo_domain::field::code("sku", sku)?;
        let rows = self.db.read().await?.on_hand_as_of(&sku, at).await?;
        // Reservations are not kept as history; as of a past time only on-hand is known.
        Ok(rows
            .into_iter()
            .map(|(location, on_hand)| StockLevel { sku: sku.clone(), location, on_hand, reserved: 0, available: on_hand })
            .collect())
    }

    /// Available-to-sell of `skus` on `channel`; see [`ordo_storage::Tx::available_to_sell`].
    pub async fn available_to_sell(self, channel: &str, skus: &[String]) -> AppResult<Vec<(String, i64)>> {
        if skus.len() > crate::master::MAX_PAGE_SIZE as usize {
            return Err(FieldError::new("sku", format!("at most {} SKUs at once", crate::master::MAX_PAGE_SIZE)).into());
        }
        let mut tx = self.db.read().await?;
        if tx.channel(channel).await?.is_none() {
            return Err(AppError::NotFound { what: "channel", key: channel.to_owned() });
        }
        Ok(tx.available_to_sell(channel, skus).await?)
    }

    /// What changed on `channel` after `cursor`: the SKUs whose availability may have moved,
    /// with their available-to-sell now, and the cursor to ask from next.
    pub async fn availability_changes(self, channel: &str, cursor: i64, limit: i64) -> AppResult<(Vec<(String, i64)>, i64)> {
        let limit = ordo_domain::field::bounded("limit", limit, 1, 5000)?;
        let cursor = ordo_domain::field::bounded("since", cursor, 0, i64::MAX)?;
        let mut tx = self.db.read().await?;
        if tx.channel(channel).await?.is_none() {
            return Err(AppError::NotFound { what: "channel", key: channel.to_owned() });
        }
        let (skus, next) = tx.stock_changes_since(cursor, limit).await?;
        Ok((tx.available_to_sell(channel, &skus).await?, next))
    }

    /// Sets how many units of each SKU in an ABC class a channel keeps back.
    pub async fn set_channel_buffer(self, channel: &str, abc_class: &str, units: i64, actor: &Actor) -> AppResult<()> {
        let class = ordo_domain::master::AbcClass::parse("abc_class", abc_class)?;
        let units = ordo_domain::field::bounded("units", units, 0, 1_000_000)?;
        let mut tx = self.db.write().await?;
        if tx.channel(channel).await?.is_none() {
            return Err(AppError::NotFound { what: "channel", key: channel.to_owned() });
        }
        tx.set_channel_buffer(channel, class.as_str(), units).await?;
        let change = Change::new("channel.set_buffer", format!("channel:{channel}"))
            .after(serde_json::json!({"abc_class": class.as_str(), "units": units}));
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The units a channel keeps back of each SKU, by ABC class; classes without a buffer keep
    /// none back.
    pub async fn channel_buffers(self, channel: &str) -> AppResult<Vec<(String, i64)>> {
        Ok(self.db.read().await?.channel_buffers(channel).await?)
    }

    /// Sends stock from one location to another: it leaves the source now and is in transit
    /// until received.
    pub async fn start_transfer(self, new: NewTransfer, actor: &Actor) -> AppResult<Transfer> {
        let t = new.validate()?;
        let mut tx = self.db.write().await?;
        if tx.product(&t.sku).await?.is_none() {
            return Err(FieldError::new("sku", format!("unknown SKU {:?}", t.sku)).into());
        }
        for (field, code) in [("from", &t.from), ("to", &t.to)] {
            if tx.location(code).await?.is_none() {
                return Err(FieldError::new(field, format!("unknown location {code:?}")).into());
            }
        }
        let id = uuid::Uuid::now_v7();
        let sent = tx.start_transfer(id, &t.sku, &t.from, &t.to, t.quantity, &t.reason, &actor.to_string(), self.now()).await?;
        if sent.is_none() {
            return Err(AppError::InsufficientStock(FieldError::new(
                "quantity",
                format!("{} has fewer than {} unreserved units of {}", t.from, t.quantity, t.sku),
            )));
        }
        let change = Change::new("transfer.start", format!("transfer:{id}"))
            .after(serde_json::json!({"sku": t.sku, "from": t.from, "to": t.to, "quantity": t.quantity}))
            .reason(&t.reason);
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(Transfer { id, sku: t.sku, from: t.from, to: t.to, quantity: t.quantity, status: ordo_domain::inventory::TransferStatus::InTransit })
    }

    /// Receives a transfer at its destination; the stock is then available there and fills
    /// backorders waiting for it.
    pub async fn receive_transfer(self, id: uuid::Uuid, actor: &Actor) -> AppResult<StockLevel> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let Some(level) = tx.receive_transfer(id, &actor.to_string(), now).await? else {
            return Err(AppError::NotFound { what: "transfer in transit", key: id.to_string() });
        };
        Ordo::fill_backorders(&mut tx, &level.sku, &level.location, actor, now).await?;
        record(&mut tx, actor, now, &[Change::new("transfer.receive", format!("transfer:{id}"))]).await?;
        let level = tx.stock_levels(Some(&level.sku)).await?.into_iter().find(|l| l.location == level.location).unwrap_or(level);
        tx.commit().await?;
        Ok(level)
    }

    /// Transfers on their way, oldest first.
    pub async fn transfers_in_transit(self) -> AppResult<Vec<Transfer>> {
        Ok(self.db.read().await?.transfers_in_transit().await?)
    }
}

//! Drift: what a channel shows of its listings' stock, read back through its API, against
//! what Ordo can sell. A listing that differs (someone changed it on the channel by hand, an
//! app there moved it, a push was lost on the channel's side) is marked to be told again at
//! once, whatever Ordo thought the channel had.

use std::future::Future;

use chrono::Utc;
use ordo_domain::audit::Change;
use serde::Serialize;

use crate::stock_sync::PushError;
use crate::{Actor, AppError, Channels};

/// A channel's stock API, read: the quantity each listing shows, by channel SKU; a listing
/// the channel does not have is left out.
pub trait StockReader: Send + Sync {
    fn read(&self, channel_skus: &[String]) -> impl Future<Output = Result<std::collections::HashMap<String, i64>, PushError>> + Send;
}

/// What reconciling a channel found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// Listings compared.
    pub checked: usize,
    /// Listings the channel shows differently from Ordo, marked to be told again.
    pub differing: Vec<DriftedListing>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftedListing {
    pub channel_sku: String,
    /// What the channel shows; none when it does not have the listing.
    pub channel_shows: Option<i64>,
    pub ordo_can_sell: i64,
}

/// Why a channel could not be reconciled.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Ordo(#[from] AppError),
    #[error("reading the channel's stock: {0}")]
    Channel(PushError),
}

impl From<ordo_storage::StorageError> for ReconcileError {
    fn from(error: ordo_storage::StorageError) -> Self {
        ReconcileError::Ordo(error.into())
    }
}

impl Channels<'_> {
    /// Reads what `channel` shows of each of its listings through `reader`, compares it with
    /// what Ordo can sell, and marks the listings that differ to be told again; the next
    /// push rounds tell them.
    pub async fn reconcile_stock<R: StockReader>(self, channel: &str, reader: &R, actor: &Actor) -> Result<Drift, ReconcileError> {
        if self.db.read().await?.connector(channel).await?.is_none() {
            return Err(AppError::NotFound { what: "connector", key: channel.to_owned() }.into());
        }
        let ours = self.listings_available(channel).await?;
        let skus: Vec<String> = ours.iter().map(|(channel_sku, _)| channel_sku.clone()).collect();
        let shows = reader.read(&skus).await.map_err(ReconcileError::Channel)?;
        let differing: Vec<DriftedListing> = ours
            .iter()
            .filter(|(channel_sku, units)| shows.get(channel_sku) != Some(units))
            .map(|(channel_sku, units)| DriftedListing { channel_sku: channel_sku.clone(), channel_shows: shows.get(channel_sku).copied(), ordo_can_sell: *units })
            .collect();
        let drift = Drift { checked: ours.len(), differing };
        let mut tx = self.db.write().await?;
        let drifted: Vec<&str> = drift.differing.iter().map(|d| d.channel_sku.as_str()).collect();
        tx.mark_listings_drifted(channel, &drifted, Utc::now()).await?;
        let sample: Vec<&DriftedListing> = drift.differing.iter().take(20).collect();
        let change = Change::new("channel.stock_reconcile", format!("channel:{channel}"))
            .after(serde_json::json!({"checked": drift.checked, "differing": drift.differing.len(), "first_differing": sample}));
        crate::audit::record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        let labels = [("channel", channel.to_owned())];
        metrics::gauge!("ordo_channel_stock_drift", &labels).set(drift.differing.len() as f64);
        Ok(drift)
    }
}

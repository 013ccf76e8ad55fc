//! Carrier tracking in: EasyPost's signed tracker events put each status a parcel reaches on
//! its shipment's timeline; delivered confirms the delivery, and a failure or a return to
//! sender raises a `delivery_problem` exception for service.

use ordo_channels::{carrier, signature};
use ordo_domain::access::Role;
use ordo_domain::exception::ExceptionKind;
use ordo_domain::order::TrackingStatus;

use crate::{Actor, AppError, AppResult, Fulfilment};

/// What became of a tracking event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingReceipt {
    /// On the shipment's timeline now.
    Recorded,
    /// The shipment had reached this status before: nothing changed.
    Duplicate,
    /// Not about a parcel Ordo shipped, or not about tracking: kept nowhere, and why.
    Ignored(String),
}

impl Fulfilment<'_> {
    /// Takes an EasyPost webhook: the signature over the raw body first (against each of the
    /// configured secrets), then the tracker's status onto its shipment.
    pub async fn receive_tracking(self, headers: &[(String, String)], body: &[u8]) -> AppResult<TrackingReceipt> {
        let signed = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-hmac-signature"))
            .is_some_and(|(_, value)| signature::easypost_matches(body, value, &self.settings.carrier_webhook_secrets));
        if !signed {
            return Err(AppError::BadSignature);
        }
        let Some(update) = carrier::easypost(body).map_err(AppError::Invalid)? else {
            return Ok(TrackingReceipt::Ignored("not a tracker event".to_owned()));
        };
        let now = self.now();
        let mut tx = self.db.write().await?;
        let Some((shipment, order)) = tx.shipment_by_tracking(&update.tracking_code).await? else {
            return Ok(TrackingReceipt::Ignored(format!("no shipment has the tracking number {:?}", update.tracking_code)));
        };
        let fresh = tx.insert_tracking_event(shipment, update.status.as_str(), update.message.as_deref(), update.at, now).await?;
        if !fresh && update.status != TrackingStatus::Delivered {
            return Ok(TrackingReceipt::Duplicate);
        }
        if fresh && update.status.is_problem() {
            let kind = ExceptionKind::DeliveryProblem;
            let details = serde_json::json!({
                "order": order,
                "shipment": shipment,
                "tracking_number": update.tracking_code,
                "carrier": update.carrier,
                "status": update.status.as_str(),
                "message": update.message,
            });
            tx.raise_exception(kind.as_str(), &format!("shipment:{shipment}"), kind.owner_role().as_str(), now + kind.sla(), &details, now).await?;
        }
        tx.commit().await?;
        // A repeated "delivered" confirms again: the first may have been recorded and then
        // failed to confirm; confirming twice changes nothing.
        if update.status == TrackingStatus::Delivered {
            let carrier = Actor::system_as("carrier:easypost", Role::Warehouse);
            match self.deliver_shipment(shipment, &carrier).await {
                // Confirmed before, by a person or an earlier event.
                Ok(_) | Err(AppError::InvalidTransition { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if !fresh {
            return Ok(TrackingReceipt::Duplicate);
        }
        metrics::counter!("ordo_tracking_events_total", "status" => update.status.as_str()).increment(1);
        Ok(TrackingReceipt::Recorded)
    }
}

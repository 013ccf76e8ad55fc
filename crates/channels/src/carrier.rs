//! Carriers' tracking events, as EasyPost delivers them: an `Event` whose `result` is a
//! `Tracker` with its status. Signed with `X-Hmac-Signature: hmac-sha256-hex=…` (see
//! [`crate::signature::easypost_matches`]).

use chrono::{DateTime, Utc};
use ordo_domain::order::TrackingStatus;
use ordo_domain::FieldError;
use serde::Deserialize;

use crate::wire;

/// What a tracking event says of a parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingUpdate {
    pub tracking_code: String,
    pub carrier: Option<String>,
    pub status: TrackingStatus,
    /// The carrier's words for it, where it gave them.
    pub message: Option<String>,
    /// When the carrier scanned it (the latest tracking detail), else when EasyPost heard.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct Detail {
    datetime: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Tracker {
    tracking_code: String,
    status: String,
    status_detail: Option<String>,
    carrier: Option<String>,
    #[serde(default)]
    tracking_details: Vec<Detail>,
    updated_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Event {
    description: String,
    result: Option<serde_json::Value>,
    created_at: Option<String>,
}

/// The tracking update an EasyPost event carries; `None` for events about anything else.
pub fn easypost(body: &[u8]) -> Result<Option<TrackingUpdate>, FieldError> {
    let event: Event = wire::parse(body)?;
    if !event.description.starts_with("tracker.") {
        return Ok(None);
    }
    let result = event.result.ok_or_else(|| FieldError::new("result", "is missing: a tracker event carries its tracker"))?;
    let tracker: Tracker = serde_path_to_error::deserialize(result).map_err(|e| FieldError::new(format!("result.{}", e.path()), e.inner().to_string()))?;
    let status = TrackingStatus::parse(&tracker.status).ok_or_else(|| FieldError::new("result.status", format!("{:?} is not an EasyPost tracker status", tracker.status)))?;
    let last = tracker.tracking_details.last();
    // The time of the last tracking detail, else the tracker's, else the event's: named where it came from.
    let detail = last.and_then(|d| d.datetime.as_deref()).map(|t| (format!("result.tracking_details[{}].datetime", tracker.tracking_details.len() - 1), t));
    let stamp = detail
        .or_else(|| tracker.updated_at.as_deref().map(|t| ("result.updated_at".to_owned(), t)))
        .or_else(|| event.created_at.as_deref().map(|t| ("created_at".to_owned(), t)));
    let at = match stamp {
        Some((field, text)) => wire::utc(&field, text)?,
        None => return Err(FieldError::new("result.updated_at", "is missing: the event has no time")),
    };
    let message = last.and_then(|d| d.message.clone()).or(tracker.status_detail).filter(|m| !m.trim().is_empty());
    Ok(Some(TrackingUpdate { tracking_code: wire::required("result.tracking_code", Some(&tracker.tracking_code))?, carrier: tracker.carrier, status, message, at }))
}

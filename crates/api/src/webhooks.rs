//! Webhooks in from the channels, at `/webhooks/{source}/{channel}`. No bearer token: the
//! signature over the raw body is the authentication, checked before anything is parsed. A
//! signed delivery is kept in the inbox and answered at once; processing follows from there,
//! so a channel never waits on (or sees a 5xx for) Ordo's mapping of its payload.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use ordo_app::domain::connector::ConnectorKind;
use ordo_app::{Ordo, Receipt, TrackingReceipt};

use crate::error::ApiError;

/// The largest delivery taken: a Shopify order with hundreds of lines stays well inside it.
const MAX_DELIVERY_BYTES: usize = 2 * 1024 * 1024;

pub fn routes() -> Router<Ordo> {
    Router::new()
        .route("/webhooks/shopify/{channel}", post(shopify))
        .route("/webhooks/woocommerce/{channel}", post(woocommerce))
        .route("/webhooks/easypost", post(easypost))
        .layer(DefaultBodyLimit::max(MAX_DELIVERY_BYTES))
}

async fn shopify(State(ordo): State<Ordo>, Path(channel): Path<String>, headers: HeaderMap, body: Bytes) -> Result<Json<serde_json::Value>, ApiError> {
    receive(&ordo, ConnectorKind::Shopify, &channel, &headers, &body).await
}

async fn woocommerce(State(ordo): State<Ordo>, Path(channel): Path<String>, headers: HeaderMap, body: Bytes) -> Result<Json<serde_json::Value>, ApiError> {
    receive(&ordo, ConnectorKind::WooCommerce, &channel, &headers, &body).await
}

async fn easypost(State(ordo): State<Ordo>, headers: HeaderMap, body: Bytes) -> Result<Json<serde_json::Value>, ApiError> {
    let answer = match ordo.fulfilment().receive_tracking(&header_list(&headers), &body).await? {
        TrackingReceipt::Recorded => serde_json::json!({"status": "recorded"}),
        TrackingReceipt::Duplicate => serde_json::json!({"status": "duplicate"}),
        TrackingReceipt::Ignored(why) => serde_json::json!({"status": "ignored", "reason": why}),
    };
    Ok(Json(answer))
}

fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers.iter().filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str().to_owned(), v.to_owned()))).collect()
}

async fn receive(ordo: &Ordo, source: ConnectorKind, channel: &str, headers: &HeaderMap, body: &[u8]) -> Result<Json<serde_json::Value>, ApiError> {
    let answer = match ordo.channels().receive_webhook(source, channel, &header_list(headers), body).await? {
        Receipt::Stored(id) => serde_json::json!({"status": "stored", "id": id}),
        Receipt::Duplicate => serde_json::json!({"status": "duplicate"}),
        Receipt::Ignored => serde_json::json!({"status": "ignored"}),
    };
    Ok(Json(answer))
}

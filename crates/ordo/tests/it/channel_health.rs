//! A channel whose polls fail shows as failing, with a `sync_failure` for its owner, until a
//! poll goes through again: refused credentials and a channel that keeps refusing the request
//! alike.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::common::Server;
use crate::orders::shop;

/// eBay's `getOrders` answering with the status it is set to (an empty page when 200).
async fn ebay_answering(status: Arc<Mutex<StatusCode>>) -> String {
    async fn orders(State(status): State<Arc<Mutex<StatusCode>>>) -> Response {
        let status = *status.lock().unwrap();
        if status == StatusCode::OK {
            return Json(json!({"orders": [], "total": 0, "limit": 200, "offset": 0})).into_response();
        }
        (status, Json(json!({"errors": [{"errorId": 1001, "message": "refused by the stand-in"}]}))).into_response()
    }
    let app = Router::new().route("/sell/fulfillment/v1/order", get(orders)).with_state(status);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn poll(server: &Server) {
    let http = ordo_connectors::Http::new().unwrap();
    let target = server.ordo.channels().poll_targets().await.unwrap().into_iter().find(|t| t.channel == "ebay").unwrap();
    let feed = ordo_connectors::Feed::for_target(&http, &target).unwrap();
    server.ordo.channels().poll_channel(&target, &feed, "test-poller").await.unwrap();
}

async fn state(server: &Server) -> &'static str {
    let connections = server.ordo.channels().channel_connections().await.unwrap();
    connections.into_iter().find(|c| c.channel.code == "ebay").unwrap().state.as_str()
}

async fn poll_failures(server: &Server, status: &str) -> Vec<Value> {
    let (_, found) = server.get(&server.admin, &format!("/api/v1/exceptions?kind=sync_failure&status={status}")).await;
    found.as_array().unwrap().iter().filter(|e| e["subject"] == "connector:ebay").cloned().collect()
}

#[tokio::test]
async fn a_channel_whose_polls_fail_shows_failing_until_a_poll_goes_through() {
    let answer = Arc::new(Mutex::new(StatusCode::UNAUTHORIZED));
    let base = ebay_answering(answer.clone()).await;
    let server = Server::start().await;
    shop(&server, 10).await;
    let t = &server.admin;
    assert_eq!(server.post(t, "/api/v1/channels", json!({"code": "ebay", "name": "eBay DE", "kind": "marketplace", "currency": "EUR"})).await.0, 201);
    let connector = json!({"kind": "ebay", "base_url": base, "credentials": {"access_token": "v^1.1#revoked"}});
    assert_eq!(server.put(t, "/api/v1/channels/ebay/connector", connector).await.0, 200);
    assert_eq!(state(&server).await, "active");

    // Credentials refused: one exception for ops, however often it happens.
    poll(&server).await;
    poll(&server).await;
    let open = poll_failures(&server, "open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["owner_role"], "ops");
    assert!(open[0]["details"]["what"].as_str().unwrap().contains("refused the connector's credentials"), "{}", open[0]);
    assert_eq!(state(&server).await, "failing");

    // A poll that goes through ends it.
    *answer.lock().unwrap() = StatusCode::OK;
    poll(&server).await;
    assert!(poll_failures(&server, "open").await.is_empty());
    let resolved = poll_failures(&server, "resolved").await;
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["resolution"], "the channel answered the poll again", "{}", resolved[0]);
    assert_eq!(state(&server).await, "active");

    // A channel that refuses the request itself (not the credentials) fails the channel too.
    *answer.lock().unwrap() = StatusCode::BAD_REQUEST;
    poll(&server).await;
    let open = poll_failures(&server, "open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(open[0]["details"]["error"].as_str().unwrap().contains("400"), "{}", open[0]);
    assert_eq!(state(&server).await, "failing");
}

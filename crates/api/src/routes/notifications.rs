//! Notification endpoints and the outbox: where messages go, what waits, what was tried, and
//! the replay of a dead message.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use ordo_app::{DeliveryAttempt, NewEndpoint, Ordo, OutboxMessage, OutboxQuery};
use ordo_domain::notification::{DeliveryStatus, Endpoint};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, path_id, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(switch_endpoint))
        .routes(routes!(list_messages))
        .routes(routes!(get_message))
        .routes(routes!(replay))
}

#[derive(Serialize, ToSchema)]
struct EndpointView {
    code: String,
    /// webhook or log.
    transport: String,
    url: Option<String>,
    /// The topics it hears; empty for all.
    topics: Vec<String>,
    active: bool,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        EndpointView {
            code: e.code,
            transport: e.transport.as_str().to_owned(),
            url: e.url,
            topics: e.topics.iter().map(|t| t.as_str().to_owned()).collect(),
            active: e.active,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/notification-endpoints", security(("bearer" = ["notifications.read"])), tag = "notifications",
    responses((status = 200, body = Vec<EndpointView>), (status = "4XX", body = ErrorBody)))]
async fn list_endpoints(State(ordo): State<Ordo>, _: Authorized<need::NotificationsRead>) -> Result<Json<Vec<EndpointView>>, ApiError> {
    Ok(Json(ordo.outbox().endpoints().await?.into_iter().map(EndpointView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EndpointRequest {
    code: String,
    /// webhook (an HTTP POST signed with the secret) or log (a line in the server's log).
    transport: String,
    /// A webhook's `http://` address (no TLS: an https endpoint needs a forwarding proxy).
    url: Option<String>,
    /// order_confirmed, order_dispatched, order_delayed, return_authorized, refund_issued,
    /// replacement_shipped, rule_triggered; all when absent or empty.
    #[serde(default)]
    topics: Vec<String>,
    /// 16–200 characters; made up when absent.
    secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct CreatedEndpoint {
    #[serde(flatten)]
    endpoint: EndpointView,
    /// Signs every webhook body: `Ordo-Signature: sha256=HEX(HMAC-SHA256(secret, body))`. Shown
    /// this once.
    secret: String,
}

/// Adds an endpoint; it hears its topics from now on.
#[utoipa::path(post, path = "/api/v1/notification-endpoints", security(("bearer" = ["notifications.manage"])), tag = "notifications",
    request_body = EndpointRequest, responses((status = 201, body = CreatedEndpoint), (status = "4XX", body = ErrorBody)))]
async fn create_endpoint(
    State(ordo): State<Ordo>,
    caller: Authorized<need::NotificationsManage>,
    ValidJson(body): ValidJson<EndpointRequest>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), ApiError> {
    let new = NewEndpoint { code: body.code, transport: body.transport, url: body.url, topics: body.topics, secret: body.secret };
    let created = ordo.outbox().create_endpoint(&caller.actor, new).await?;
    Ok((StatusCode::CREATED, Json(CreatedEndpoint { endpoint: created.endpoint.into(), secret: created.secret })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Switch {
    active: bool,
}

/// Switches an endpoint on or off. Messages already written for it are still delivered.
#[utoipa::path(patch, path = "/api/v1/notification-endpoints/{code}", security(("bearer" = ["notifications.manage"])), tag = "notifications",
    params(("code" = String, Path)), request_body = Switch, responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn switch_endpoint(
    State(ordo): State<Ordo>,
    caller: Authorized<need::NotificationsManage>,
    Path(code): Path<String>,
    ValidJson(body): ValidJson<Switch>,
) -> Result<StatusCode, ApiError> {
    ordo.outbox().set_endpoint_active(&caller.actor, &code, body.active).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
struct MessageView {
    /// Also the delivery id the receiver sees in `Ordo-Delivery-Id`.
    id: Uuid,
    endpoint: String,
    topic: String,
    subject: String,
    status: ordo_domain::notification::DeliveryStatus,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    /// The message as it is sent.
    #[schema(value_type = Object)]
    body: serde_json::Value,
}

impl From<OutboxMessage> for MessageView {
    fn from(m: OutboxMessage) -> Self {
        MessageView {
            id: m.id,
            endpoint: m.endpoint,
            topic: m.topic,
            subject: m.subject,
            status: m.status,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            created_at: m.created_at,
            delivered_at: m.delivered_at,
            last_error: m.last_error,
            body: serde_json::from_str(&m.body).unwrap_or(serde_json::Value::String(m.body)),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filter {
    /// pending, delivered or dead.
    #[param(inline, value_type = Option<super::choices::MessageStatusFilter>)]
    status: Option<String>,
    endpoint: Option<String>,
    /// `order:ID` and the like.
    subject: Option<String>,
    /// At most this many (1–500, 100 when absent).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
}

/// The outbox, newest first.
#[utoipa::path(get, path = "/api/v1/outbox", security(("bearer" = ["notifications.read"])), tag = "notifications", params(Filter),
    responses((status = 200, body = Vec<MessageView>), (status = "4XX", body = ErrorBody)))]
async fn list_messages(
    State(ordo): State<Ordo>,
    _: Authorized<need::NotificationsRead>,
    ValidQuery(filter): ValidQuery<Filter>,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    let status = filter.status.as_deref().map(|s| DeliveryStatus::parse("status", s)).transpose()?;
    let query = OutboxQuery {
        status,
        endpoint: filter.endpoint,
        subject: filter.subject,
        limit: filter.limit.unwrap_or(100),
        offset: filter.offset.unwrap_or(0),
        after: None,
    };
    Ok(Json(ordo.outbox().list(query).await?.0.into_iter().map(MessageView::from).collect()))
}

#[derive(Serialize, ToSchema)]
struct AttemptView {
    attempt: i64,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    worker: String,
    /// What the endpoint answered, when it answered.
    status_code: Option<i64>,
    error: Option<String>,
}

impl From<DeliveryAttempt> for AttemptView {
    fn from(a: DeliveryAttempt) -> Self {
        AttemptView {
            attempt: a.attempt,
            started_at: a.started_at,
            finished_at: a.finished_at,
            worker: a.worker,
            status_code: a.status_code,
            error: a.error,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct MessageWithAttempts {
    #[serde(flatten)]
    message: MessageView,
    attempts_made: Vec<AttemptView>,
}

#[utoipa::path(get, path = "/api/v1/outbox/{id}", security(("bearer" = ["notifications.read"])), tag = "notifications",
    params(("id" = String, Path)), responses((status = 200, body = MessageWithAttempts), (status = "4XX", body = ErrorBody)))]
async fn get_message(
    State(ordo): State<Ordo>,
    _: Authorized<need::NotificationsRead>,
    Path(id): Path<String>,
) -> Result<Json<MessageWithAttempts>, ApiError> {
    let detail = ordo.outbox().outbox_message(path_id(&id)?).await?;
    let attempts_made = detail.attempts.into_iter().map(AttemptView::from).collect();
    Ok(Json(MessageWithAttempts { message: detail.message.into(), attempts_made }))
}

/// Puts a dead message back in the queue for a fresh set of tries (409 unless it is dead).
#[utoipa::path(post, path = "/api/v1/outbox/{id}/replay", security(("bearer" = ["notifications.manage"])), tag = "notifications",
    params(("id" = String, Path)), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn replay(State(ordo): State<Ordo>, caller: Authorized<need::NotificationsManage>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    ordo.outbox().replay_message(&caller.actor, path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

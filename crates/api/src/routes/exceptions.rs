//! The exceptions queue: list with filters, one exception with its comments, and what people
//! do to them (acknowledge, comment, resolve), one at a time or many at once.

use axum::extract::{Path, State};
use axum::Json;
use ordo_app::{ExceptionAction, ExceptionFilter, Ordo};
use ordo_domain::exception::{Exception, ExceptionComment, Resolution};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, path_id, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(list_exceptions))
        .routes(routes!(get_exception))
        .routes(routes!(acknowledge))
        .routes(routes!(comment_on_exception))
        .routes(routes!(resolve))
        .routes(routes!(bulk))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filter {
    /// open, acknowledged, escalated, resolved, or unresolved (the first three); all when absent.
    #[param(inline, value_type = Option<super::choices::ExceptionStatusFilter>)]
    status: Option<String>,
    /// stockout, payment_review, shipment_at_risk, late_shipment, reconciliation,
    /// return_overdue, procurement, sync_failure, ticket_overdue, channel_mapping, delivery_problem, sync_lag, cancellation_spike, stock_variance, margin_drop, fee_anomaly or return_spike.
    kind: Option<String>,
    /// The role that owns them now.
    owner_role: Option<String>,
    /// Only those past their due time.
    overdue: Option<bool>,
    /// At most this many (1–1000, 1000 when absent).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
}

/// Exceptions, earliest due first.
#[utoipa::path(get, path = "/api/v1/exceptions", security(("bearer" = ["exceptions.read"])), tag = "exceptions", params(Filter),
    responses((status = 200, body = Vec<Exception>), (status = "4XX", body = ErrorBody)))]
async fn list_exceptions(
    State(ordo): State<Ordo>,
    _: Authorized<need::ExceptionsRead>,
    ValidQuery(filter): ValidQuery<Filter>,
) -> Result<Json<Vec<Exception>>, ApiError> {
    let filter = ExceptionFilter {
        status: filter.status,
        kind: filter.kind,
        owner_role: filter.owner_role,
        overdue: filter.overdue.unwrap_or(false),
        limit: filter.limit.unwrap_or(ordo_app::MAX_EXCEPTION_PAGE),
        offset: filter.offset.unwrap_or(0),
        after: None,
    };
    Ok(Json(ordo.exceptions().list(filter).await?.0))
}

#[derive(Serialize, ToSchema)]
struct ExceptionWithComments {
    #[serde(flatten)]
    exception: Exception,
    comments: Vec<ExceptionComment>,
}

#[utoipa::path(get, path = "/api/v1/exceptions/{id}", security(("bearer" = ["exceptions.read"])), tag = "exceptions", params(("id" = String, Path)),
    responses((status = 200, body = ExceptionWithComments), (status = "4XX", body = ErrorBody)))]
async fn get_exception(
    State(ordo): State<Ordo>,
    _: Authorized<need::ExceptionsRead>,
    Path(id): Path<String>,
) -> Result<Json<ExceptionWithComments>, ApiError> {
    let detail = ordo.exceptions().exception(path_id(&id)?).await?;
    Ok(Json(ExceptionWithComments { exception: detail.exception, comments: detail.comments }))
}

async fn act(ordo: &Ordo, id: &str, action: ExceptionAction, actor: &ordo_app::Actor) -> Result<Json<Exception>, ApiError> {
    let mut after = ordo.exceptions().act_on_exceptions(&[path_id(id)?], &action, actor).await?;
    after.pop().map(Json).ok_or_else(|| ApiError::new(crate::error::ErrorCode::NotFound))
}

/// Someone of the owning role is on it. 409 when it is not open or escalated.
#[utoipa::path(post, path = "/api/v1/exceptions/{id}/acknowledge", security(("bearer" = ["exceptions.work"])), tag = "exceptions", params(("id" = String, Path)),
    responses((status = 200, body = Exception), (status = "4XX", body = ErrorBody)))]
async fn acknowledge(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ExceptionsWork>,
    Path(id): Path<String>,
) -> Result<Json<Exception>, ApiError> {
    act(&ordo, &id, ExceptionAction::Acknowledge, &caller.actor).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewComment {
    /// 1 to 2,000 characters.
    body: String,
}

/// Adds a comment; anyone who works the queue may.
#[utoipa::path(post, path = "/api/v1/exceptions/{id}/comments", security(("bearer" = ["exceptions.work"])), tag = "exceptions", params(("id" = String, Path)),
    request_body = NewComment, responses((status = 200, body = Exception), (status = "4XX", body = ErrorBody)))]
async fn comment_on_exception(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ExceptionsWork>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<NewComment>,
) -> Result<Json<Exception>, ApiError> {
    act(&ordo, &id, ExceptionAction::Comment { body: body.body }, &caller.actor).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Resolve {
    /// fixed, accepted, cancelled, duplicate or not_an_issue.
    code: String,
    /// What was done, up to 500 characters.
    note: Option<String>,
}

/// Resolves it with a code. Only the owning role or an admin; 409 when resolved already.
#[utoipa::path(post, path = "/api/v1/exceptions/{id}/resolve", security(("bearer" = ["exceptions.work"])), tag = "exceptions", params(("id" = String, Path)),
    request_body = Resolve, responses((status = 200, body = Exception), (status = "4XX", body = ErrorBody)))]
async fn resolve(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ExceptionsWork>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<Resolve>,
) -> Result<Json<Exception>, ApiError> {
    let code = Resolution::parse("code", &body.code)?;
    act(&ordo, &id, ExceptionAction::Resolve { code, note: body.note.unwrap_or_default() }, &caller.actor).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Bulk {
    /// acknowledge or resolve.
    action: String,
    /// 1 to 500 exception ids.
    ids: Vec<Uuid>,
    /// For resolve: fixed, accepted, cancelled, duplicate or not_an_issue.
    code: Option<String>,
    note: Option<String>,
}

/// Acknowledges or resolves many exceptions at once, all or none: one that does not exist,
/// that another role owns, or whose state forbids the action refuses the batch.
#[utoipa::path(post, path = "/api/v1/exceptions/bulk", security(("bearer" = ["exceptions.work"])), tag = "exceptions", request_body = Bulk,
    responses((status = 200, body = Vec<Exception>), (status = "4XX", body = ErrorBody)))]
async fn bulk(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ExceptionsWork>,
    ValidJson(body): ValidJson<Bulk>,
) -> Result<Json<Vec<Exception>>, ApiError> {
    let action = match body.action.as_str() {
        "acknowledge" => ExceptionAction::Acknowledge,
        "resolve" => {
            let code = Resolution::parse("code", body.code.as_deref().unwrap_or_default())?;
            ExceptionAction::Resolve { code, note: body.note.unwrap_or_default() }
        }
        _ => return Err(ordo_domain::FieldError::new("action", "must be acknowledge or resolve").into()),
    };
    Ok(Json(ordo.exceptions().act_on_exceptions(&body.ids, &action, &caller.actor).await?))
}

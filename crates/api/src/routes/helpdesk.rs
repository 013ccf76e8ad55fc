//! Helpdesk tickets, and documents attached to tickets, returns, orders and suppliers.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use ordo_app::{AttachError, NewTicket, Ordo, TicketDetail, TicketQuery};
use ordo_domain::ticket::{Attachment, Ticket, TicketComment, MAX_DOCUMENT_BYTES};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{need, path_id, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(attach_to_ticket))
        .routes(routes!(attach_to_return))
        .routes(routes!(attach_to_order))
        .routes(routes!(attach_to_supplier))
        // One byte over the limit is enough to tell a document that is too large.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 1));
    OpenApiRouter::new()
        .routes(routes!(list_tickets, open_ticket))
        .routes(routes!(get_ticket))
        .routes(routes!(comment_on_ticket))
        .routes(routes!(set_status))
        .routes(routes!(assign))
        .routes(routes!(link_order))
        .routes(routes!(label))
        .routes(routes!(retrain))
        .routes(routes!(list_attachments))
        .routes(routes!(download))
        .merge(uploads)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TicketRequest {
    channel: Option<String>,
    /// where_is_my_order, return_request, damaged_item, wrong_item, billing, product_question,
    /// dispute or other.
    reason: String,
    /// low, normal, high or urgent: 72, 24, 8 or 4 hours to solve it.
    priority: String,
    subject: String,
    customer_email: String,
    order_id: Option<String>,
    return_id: Option<String>,
    /// The customer's message.
    body: String,
}

#[derive(Serialize, ToSchema)]
struct TicketView {
    #[serde(flatten)]
    ticket: Ticket,
    comments: Vec<TicketComment>,
    attachments: Vec<Attachment>,
    /// What triage suggested when the ticket was opened, and the label a person gave it.
    triage: Option<ordo_domain::ticket::TicketTriage>,
}

impl From<TicketDetail> for TicketView {
    fn from(d: TicketDetail) -> Self {
        TicketView { ticket: d.ticket, comments: d.comments, attachments: d.attachments, triage: d.triage }
    }
}

#[utoipa::path(post, path = "/api/v1/tickets", security(("bearer" = ["tickets.write"])), tag = "helpdesk",
    request_body = TicketRequest, responses((status = 201, body = TicketView), (status = "4XX", body = ErrorBody)))]
async fn open_ticket(
    State(ordo): State<Ordo>,
    caller: Authorized<need::TicketsWrite>,
    ValidJson(body): ValidJson<TicketRequest>,
) -> Result<(StatusCode, Json<TicketView>), ApiError> {
    let new = NewTicket {
        channel: body.channel,
        reason: body.reason,
        priority: body.priority,
        subject: body.subject,
        customer_email: body.customer_email,
        order_id: body.order_id.as_deref().map(|id| ordo_domain::field::uuid("order_id", id)).transpose()?,
        return_id: body.return_id.as_deref().map(|id| ordo_domain::field::uuid("return_id", id)).transpose()?,
        body: body.body,
    };
    Ok((StatusCode::CREATED, Json(ordo.helpdesk().open_ticket(new, &caller.actor).await?.into())))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filter {
    /// Comma-separated statuses, such as `open,pending`; all when absent.
    status: Option<String>,
    priority: Option<String>,
    assignee: Option<String>,
    order_id: Option<String>,
    /// Only tickets whose customer's e-mail address contains this, in any case.
    customer_email: Option<String>,
    /// Only tickets about the order with this number (the channel's order id, such as `WEB-1001`).
    order: Option<String>,
    /// Only tickets opened on or after this day (UTC).
    opened_from: Option<chrono::NaiveDate>,
    /// Only tickets opened on or before this day (UTC).
    opened_to: Option<chrono::NaiveDate>,
    /// At most this many (1–1000, 200 when absent).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// The queue, earliest due first; by status, priority, assignee, order (its id or its
/// number), part of the customer's e-mail and the days opened.
#[utoipa::path(get, path = "/api/v1/tickets", security(("bearer" = ["orders.read"])), tag = "helpdesk", params(Filter),
    responses((status = 200, body = Vec<Ticket>), (status = "4XX", body = ErrorBody)))]
async fn list_tickets(State(ordo): State<Ordo>, _: Authorized<need::OrdersRead>, ValidQuery(filter): ValidQuery<Filter>) -> Result<Json<Vec<Ticket>>, ApiError> {
    if let (Some(from), Some(to)) = (filter.opened_from, filter.opened_to)
        && to < from
    {
        return Err(ordo_domain::FieldError::new("opened_to", "must not be before opened_from").into());
    }
    let day_start = |day: chrono::NaiveDate| day.and_time(chrono::NaiveTime::MIN).and_utc();
    let text = |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let query = TicketQuery {
        statuses: filter.status.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        priority: filter.priority,
        assignee: filter.assignee,
        order_id: filter.order_id.as_deref().map(|id| ordo_domain::field::uuid("order_id", id)).transpose()?,
        limit: filter.limit.unwrap_or(200),
        offset: 0,
        customer_email: text(filter.customer_email),
        order_ref: text(filter.order),
        created_from: filter.opened_from.map(day_start),
        created_to: filter.opened_to.and_then(|to| to.succ_opt()).map(day_start),
        ..TicketQuery::default()
    };
    Ok(Json(ordo.helpdesk().tickets(query).await?))
}

#[utoipa::path(get, path = "/api/v1/tickets/{id}", security(("bearer" = ["orders.read"])), tag = "helpdesk",
    params(("id" = String, Path)), responses((status = 200, body = TicketView), (status = "4XX", body = ErrorBody)))]
async fn get_ticket(State(ordo): State<Ordo>, _: Authorized<need::OrdersRead>, Path(id): Path<String>) -> Result<Json<TicketView>, ApiError> {
    Ok(Json(ordo.helpdesk().ticket(path_id(&id)?).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CommentRequest {
    body: String,
    /// For colleagues only (the default), or a reply to the customer.
    #[serde(default = "yes")]
    internal: bool,
}

fn yes() -> bool {
    true
}

#[utoipa::path(post, path = "/api/v1/tickets/{id}/comments", security(("bearer" = ["tickets.write"])), tag = "helpdesk",
    params(("id" = String, Path)), request_body = CommentRequest, responses((status = 200, body = TicketView), (status = "4XX", body = ErrorBody)))]
async fn comment_on_ticket(
    State(ordo): State<Ordo>,
    caller: Authorized<need::TicketsWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<CommentRequest>,
) -> Result<Json<TicketView>, ApiError> {
    Ok(Json(ordo.helpdesk().comment_on_ticket(path_id(&id)?, &body.body, body.internal, &caller.actor).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    /// open, pending, solved or closed.
    status: String,
}

#[utoipa::path(post, path = "/api/v1/tickets/{id}/status", security(("bearer" = ["tickets.write"])), tag = "helpdesk",
    params(("id" = String, Path)), request_body = StatusRequest, responses((status = 200, body = TicketView), (status = "4XX", body = ErrorBody)))]
async fn set_status(
    State(ordo): State<Ordo>,
    caller: Authorized<need::TicketsWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<StatusRequest>,
) -> Result<Json<TicketView>, ApiError> {
    Ok(Json(ordo.helpdesk().set_ticket_status(path_id(&id)?, &body.status, &caller.actor).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignRequest {
    /// Who is on it; none to unassign.
    assignee: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/tickets/{id}/assign", security(("bearer" = ["tickets.write"])), tag = "helpdesk",
    params(("id" = String, Path)), request_body = AssignRequest, responses((status = 200, body = TicketView), (status = "4XX", body = ErrorBody)))]
async fn assign(
    State(ordo): State<Ordo>,
    caller: Authorized<need::TicketsWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<AssignRequest>,
) -> Result<Json<TicketView>, ApiError> {
    Ok(Json(ordo.helpdesk().assign_ticket(path_id(&id)?, body.assignee.as_deref(), &caller.actor).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Label {
    /// The intent the ticket has, such as `cancel_order`: the suggestion accepted, or another.
    intent: String,
}

/// Labels the ticket with its intent (its category follows). Labels are what triage learns
/// from when retrained.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/label", security(("bearer" = ["tickets.write"])), tag = "helpdesk",
    params(("id" = String, Path)), request_body = Label, responses((status = 200, body = TicketView), (status = "4XX", body = ErrorBody)))]
async fn label(
    State(ordo): State<Ordo>,
    caller: Authorized<need::TicketsWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<Label>,
) -> Result<Json<TicketView>, ApiError> {
    Ok(Json(ordo.helpdesk().label_ticket(path_id(&id)?, &body.intent, &caller.actor).await?.into()))
}

/// Retrains ticket triage on Ordo's own labelled tickets and every ticket labelled here; the
/// serving process suggests with it from now on.
#[utoipa::path(post, path = "/api/v1/triage/retrain", security(("bearer" = ["tickets.write"])), tag = "helpdesk",
    responses((status = 200, body = ordo_app::Retrained), (status = "4XX", body = ErrorBody)))]
async fn retrain(State(ordo): State<Ordo>, caller: Authorized<need::TicketsWrite>) -> Result<Json<ordo_app::Retrained>, ApiError> {
    Ok(Json(ordo.helpdesk().retrain_triage(&caller.actor).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OrderLink {
    /// The order's channel.
    channel: String,
    /// The order's number on that channel.
    external_id: String,
}

/// Links the ticket to the order it is about, found by its channel and number: the ticket then
/// shows where the order stands and its parcels.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/order", security(("bearer" = ["tickets.write"])), tag = "helpdesk",
    params(("id" = String, Path)), request_body = OrderLink, responses((status = 200, body = TicketView), (status = "4XX", body = ErrorBody)))]
async fn link_order(
    State(ordo): State<Ordo>,
    caller: Authorized<need::TicketsWrite>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<OrderLink>,
) -> Result<Json<TicketView>, ApiError> {
    Ok(Json(ordo.helpdesk().link_order(path_id(&id)?, &body.channel, &body.external_id, &caller.actor).await?.into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Upload {
    /// The file's name, as shown to people.
    file_name: String,
}

/// Stores the body (at most 10 MiB: 413 beyond; a PDF, PNG, JPEG, WebP or plain text whose
/// bytes match its Content-Type: 415 otherwise) and attaches it to `subject`.
async fn attach(
    ordo: &Ordo,
    actor: &ordo_app::Actor,
    subject: String,
    file_name: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Attachment>), ApiError> {
    let too_large = || ApiError::with_message(ErrorCode::PayloadTooLarge, format!("a document may be at most {MAX_DOCUMENT_BYTES} bytes"));
    let body = body.map_err(|e| if e.status() == StatusCode::PAYLOAD_TOO_LARGE { too_large() } else { ApiError::with_message(ErrorCode::MalformedJson, format!("the body could not be read: {e}")) })?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    match ordo.helpdesk().attach(&subject, file_name, content_type, &body, actor).await {
        Ok(attachment) => Ok((StatusCode::CREATED, Json(attachment))),
        Err(AttachError::TooLarge { .. }) => Err(too_large()),
        Err(AttachError::Unsupported(why)) => Err(ApiError::with_message(ErrorCode::UnsupportedMediaType, why)),
        Err(AttachError::App(e)) => Err(e.into()),
    }
}

#[utoipa::path(post, path = "/api/v1/tickets/{id}/attachments", security(("bearer" = ["tickets.write"])), tag = "helpdesk",
    params(("id" = String, Path), Upload), request_body(content = Vec<u8>, content_type = "application/pdf", description = "The file: a PDF, PNG, JPEG, WebP or plain text, at most 10 MiB, sent with the Content-Type its bytes bear out"),
    responses((status = 201, body = Attachment), (status = "4XX", body = ErrorBody)))]
async fn attach_to_ticket(
    State(ordo): State<Ordo>,
    caller: Authorized<need::TicketsWrite>,
    Path(id): Path<String>,
    ValidQuery(upload): ValidQuery<Upload>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Attachment>), ApiError> {
    attach(&ordo, &caller.actor, format!("ticket:{}", path_id(&id)?), &upload.file_name, &headers, body).await
}

#[utoipa::path(post, path = "/api/v1/returns/{id}/attachments", security(("bearer" = ["returns.write"])), tag = "helpdesk",
    params(("id" = String, Path), Upload), request_body(content = Vec<u8>, content_type = "application/pdf", description = "The file: a PDF, PNG, JPEG, WebP or plain text, at most 10 MiB, sent with the Content-Type its bytes bear out"),
    responses((status = 201, body = Attachment), (status = "4XX", body = ErrorBody)))]
async fn attach_to_return(
    State(ordo): State<Ordo>,
    caller: Authorized<need::ReturnsWrite>,
    Path(id): Path<String>,
    ValidQuery(upload): ValidQuery<Upload>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Attachment>), ApiError> {
    attach(&ordo, &caller.actor, format!("return:{}", path_id(&id)?), &upload.file_name, &headers, body).await
}

#[utoipa::path(post, path = "/api/v1/orders/{id}/attachments", security(("bearer" = ["orders.write"])), tag = "helpdesk",
    params(("id" = String, Path), Upload), request_body(content = Vec<u8>, content_type = "application/pdf", description = "The file: a PDF, PNG, JPEG, WebP or plain text, at most 10 MiB, sent with the Content-Type its bytes bear out"),
    responses((status = 201, body = Attachment), (status = "4XX", body = ErrorBody)))]
async fn attach_to_order(
    State(ordo): State<Ordo>,
    caller: Authorized<need::OrdersWrite>,
    Path(id): Path<String>,
    ValidQuery(upload): ValidQuery<Upload>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Attachment>), ApiError> {
    attach(&ordo, &caller.actor, format!("order:{}", path_id(&id)?), &upload.file_name, &headers, body).await
}

#[utoipa::path(post, path = "/api/v1/suppliers/{code}/attachments", security(("bearer" = ["suppliers.write"])), tag = "helpdesk",
    params(("code" = String, Path), Upload), request_body(content = Vec<u8>, content_type = "application/pdf", description = "The file: a PDF, PNG, JPEG, WebP or plain text, at most 10 MiB, sent with the Content-Type its bytes bear out"),
    responses((status = 201, body = Attachment), (status = "4XX", body = ErrorBody)))]
async fn attach_to_supplier(
    State(ordo): State<Ordo>,
    caller: Authorized<need::SuppliersWrite>,
    Path(code): Path<String>,
    ValidQuery(upload): ValidQuery<Upload>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Attachment>), ApiError> {
    attach(&ordo, &caller.actor, format!("supplier:{code}"), &upload.file_name, &headers, body).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Subject {
    /// `ticket:ID`, `return:ID`, `order:ID` or `supplier:CODE`.
    subject: String,
}

#[utoipa::path(get, path = "/api/v1/attachments", security(("bearer" = ["orders.read"])), tag = "helpdesk", params(Subject),
    responses((status = 200, body = Vec<Attachment>), (status = "4XX", body = ErrorBody)))]
async fn list_attachments(State(ordo): State<Ordo>, _: Authorized<need::OrdersRead>, ValidQuery(q): ValidQuery<Subject>) -> Result<Json<Vec<Attachment>>, ApiError> {
    Ok(Json(ordo.helpdesk().attachments(&q.subject).await?))
}

/// The document itself, with its type; always as a download, never rendered in place.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", security(("bearer" = ["orders.read"])), tag = "helpdesk",
    params(("id" = String, Path)), responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = "4XX", body = ErrorBody)))]
async fn download(State(ordo): State<Ordo>, _: Authorized<need::OrdersRead>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let ordo_app::AttachmentContent { file_name, content_type, content } = ordo.helpdesk().attachment_content(path_id(&id)?).await?;
    let disposition = format!("attachment; filename=\"{}\"", file_name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect::<String>());
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        content,
    ))
}

//! API tokens, made by an admin for an integration or a person, listed and revoked; dashboard
//! users disabled, enabled, given a new password, or let in again after a lockout.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ordo_app::Ordo;
use ordo_domain::access::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, Authorized, ValidJson};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
        .routes(routes!(unlock_user))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(reset_password))
        .routes(routes!(set_role_lead))
        .routes(routes!(set_user_role))
        .routes(routes!(role_leads))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Lead {
    /// A user of the role (or an admin) who can log in; null leaves the role without a lead.
    username: Option<String>,
}

/// A role and the person its overdue exceptions go to before the next role.
#[derive(Serialize, ToSchema)]
struct RoleLead {
    role: String,
    username: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewRole {
    role: Role,
}

/// Gives a user another role, from their next request on. The last administrator keeps theirs.
#[utoipa::path(put, path = "/api/v1/users/{username}/role", security(("bearer" = ["access.manage"])), tag = "access",
    params(("username" = String, Path)), request_body = NewRole, responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn set_user_role(
    State(ordo): State<Ordo>,
    caller: Authorized<need::AccessManage>,
    Path(username): Path<String>,
    ValidJson(body): ValidJson<NewRole>,
) -> Result<StatusCode, ApiError> {
    ordo.access().set_user_role(&username, body.role, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the lead of a role: an exception the role leaves past due goes to them (assigned,
/// still in the role's queue) before it moves on to the next role.
#[utoipa::path(put, path = "/api/v1/roles/{role}/lead", security(("bearer" = ["access.manage"])), tag = "access",
    params(("role" = String, Path)), request_body = Lead, responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn set_role_lead(
    State(ordo): State<Ordo>,
    caller: Authorized<need::AccessManage>,
    Path(role): Path<String>,
    ValidJson(lead): ValidJson<Lead>,
) -> Result<StatusCode, ApiError> {
    ordo.access().set_role_lead(&role, lead.username.as_deref().unwrap_or_default(), &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The roles that have a lead, with their lead.
#[utoipa::path(get, path = "/api/v1/roles/leads", security(("bearer" = ["access.manage"])), tag = "access",
    responses((status = 200, body = Vec<RoleLead>), (status = "4XX", body = ErrorBody)))]
async fn role_leads(State(ordo): State<Ordo>, _: Authorized<need::AccessManage>) -> Result<Json<Vec<RoleLead>>, ApiError> {
    let leads = ordo.access().role_leads().await?;
    Ok(Json(leads.into_iter().map(|(role, username)| RoleLead { role, username }).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewToken {
    role: Role,
    /// Who or what will use the token, such as "shop connector".
    name: String,
    /// When the token stops working; never when left out.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
struct CreatedToken {
    /// The secret. It is shown this once and stored only as a hash.
    token: String,
    id: Uuid,
    name: String,
    role: Role,
}

#[utoipa::path(post, path = "/api/v1/tokens", security(("bearer" = ["access.manage"])), tag = "access", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = "4XX", body = ErrorBody)))]
async fn create_token(
    State(ordo): State<Ordo>,
    caller: Authorized<need::AccessManage>,
    ValidJson(new): ValidJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let issued = ordo.access().create_expiring_token(new.role, &new.name, new.expires_at, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token: issued.token, id: issued.id, name: issued.name, role: issued.role })))
}

/// A token as listed: never its secret.
#[derive(Serialize, ToSchema)]
struct TokenView {
    id: Uuid,
    name: String,
    role: Role,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    /// To the minute.
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Every token, newest first, revoked and expired ones too.
#[utoipa::path(get, path = "/api/v1/tokens", security(("bearer" = ["access.manage"])), tag = "access",
    responses((status = 200, body = Vec<TokenView>), (status = "4XX", body = ErrorBody)))]
async fn list_tokens(State(ordo): State<Ordo>, _: Authorized<need::AccessManage>) -> Result<Json<Vec<TokenView>>, ApiError> {
    let tokens = ordo.access().tokens().await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenView {
                id: t.token.id,
                name: t.token.name,
                role: t.token.role,
                created_at: t.token.created_at,
                expires_at: t.token.expires_at,
                last_used_at: t.last_used_at,
                revoked_at: t.revoked_at,
            })
            .collect(),
    ))
}

/// Revokes a token: from the next request on it answers 401, on every instance.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", security(("bearer" = ["access.manage"])), tag = "access",
    params(("id" = Uuid, Path)), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn revoke_token(State(ordo): State<Ordo>, caller: Authorized<need::AccessManage>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    ordo.access().revoke_token(crate::extract::path_id(&id)?, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts the lockout failed log-ins put on a user's account.
#[utoipa::path(post, path = "/api/v1/users/{username}/unlock", security(("bearer" = ["access.manage"])), tag = "access",
    params(("username" = String, Path)), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn unlock_user(State(ordo): State<Ordo>, caller: Authorized<need::AccessManage>, Path(username): Path<String>) -> Result<StatusCode, ApiError> {
    ordo.access().unlock_user(&username, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables a user: they cannot log in, and their sessions end at once.
#[utoipa::path(post, path = "/api/v1/users/{username}/disable", security(("bearer" = ["access.manage"])), tag = "access",
    params(("username" = String, Path)), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn disable_user(State(ordo): State<Ordo>, caller: Authorized<need::AccessManage>, Path(username): Path<String>) -> Result<StatusCode, ApiError> {
    ordo.access().set_user_disabled(&username, true, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lets a disabled user log in again.
#[utoipa::path(post, path = "/api/v1/users/{username}/enable", security(("bearer" = ["access.manage"])), tag = "access",
    params(("username" = String, Path)), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn enable_user(State(ordo): State<Ordo>, caller: Authorized<need::AccessManage>, Path(username): Path<String>) -> Result<StatusCode, ApiError> {
    ordo.access().set_user_disabled(&username, false, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    /// At least ten characters.
    #[schema(min_length = 10)]
    password: String,
}

/// Sets a user's password; their sessions end at once.
#[utoipa::path(put, path = "/api/v1/users/{username}/password", security(("bearer" = ["access.manage"])), tag = "access",
    params(("username" = String, Path)), request_body = NewPassword, responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn reset_password(
    State(ordo): State<Ordo>,
    caller: Authorized<need::AccessManage>,
    Path(username): Path<String>,
    ValidJson(new): ValidJson<NewPassword>,
) -> Result<StatusCode, ApiError> {
    ordo.access().reset_password(&username, &new.password, &caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

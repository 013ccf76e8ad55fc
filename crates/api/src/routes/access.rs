//! API tokens, made by an admin for an integration or a person.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use ordo_app::Ordo;
use ordo_domain::access::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, Authorized, ValidJson};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new().routes(routes!(create_token))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewToken {
    role: Role,
    /// Who or what will use the token, such as "shop connector".
    name: String,
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
    let issued = ordo.create_token(new.role, &new.name, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token: issued.token, id: issued.id, name: issued.name, role: issued.role })))
}

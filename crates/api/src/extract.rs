//! Request extractors: who is calling and with what permission, and bodies and query strings
//! parsed so that every rejection names the field it is about.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use ordo_app::{Actor, Ordo};
use ordo_domain::access::Permission;
use ordo_domain::FieldError;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// The header the server's request-id layer sets on every request; audit records carry it.
pub const REQUEST_ID: &str = "x-request-id";

/// An id from the path; one that is not a UUID names nothing, so 404.
/// The token of an `Authorization: Bearer TOKEN` header; the scheme's case does not matter
/// (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
}

pub(crate) fn path_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    id.parse().map_err(|_| ApiError::new(ErrorCode::NotFound))
}

/// A permission a route needs, as a type, so the handler's signature declares it.
pub trait Need: Send + Sync {
    const PERMISSION: Permission;
}

/// The permissions, one type each: `Authorized<need::MasterDataWrite>`.
pub mod need {
    use super::{Need, Permission};

    macro_rules! needs {
        ($($name:ident),+) => {$(
            pub struct $name;
            impl Need for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )+};
    }
    needs!(
        MasterDataRead, MasterDataWrite, CustomersWrite, SuppliersWrite, InventoryRead, InventoryWrite, OrdersRead,
        OrdersWrite, OrdersReview, ExceptionsRead, ExceptionsWork, LedgerRead, LedgerWrite, AuditRead, ChangesPropose, ChangesApprove, RulesRead, RulesWrite, RulesApprove,
        ReturnsWrite, RefundsIssue, TicketsWrite, NotificationsRead, NotificationsManage, ProcurementWrite, AccessManage
    );
}

/// A caller with a valid bearer token whose role has permission `P`.
/// Rejects with 401 without a valid token and 403 without the permission.
pub struct Authorized<P: Need> {
    pub actor: Actor,
    _permission: PhantomData<P>,
}

impl<P: Need, S: Send + Sync> FromRequestParts<S> for Authorized<P>
where
    Ordo: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)
            .ok_or(ErrorCode::Unauthorized)?;
        let request_id = parts.headers.get(REQUEST_ID).and_then(|value| value.to_str().ok());
        let actor = Ordo::from_ref(state).access().authenticate_token(token).await?.on_request(request_id);
        if !actor.can(P::PERMISSION) {
            return Err(ApiError::with_message(
                ErrorCode::Forbidden,
                format!("role {} lacks the permission {}", actor.role, P::PERMISSION),
            ));
        }
        Ok(Authorized { actor, _permission: PhantomData })
    }
}

/// A JSON body of type `T`. Syntax errors are `malformed_json`; a wrong type, a missing or
/// unknown field is `validation_failed` with the field's path, such as `lines[0].quantity`.
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_body(request, state).await?;
        parse_json(&bytes).map(ValidJson)
    }
}

/// Like [`ValidJson`], keeping the body exactly as it came, for records that must show what a
/// channel sent.
pub struct ValidJsonWithRaw<T> {
    pub value: T,
    pub raw: String,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ValidJsonWithRaw<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_body(request, state).await?;
        let value = parse_json(&bytes)?;
        // parse_json accepted it, so it is valid UTF-8 JSON.
        let raw = String::from_utf8_lossy(&bytes).into_owned();
        Ok(ValidJsonWithRaw { value, raw })
    }
}

/// The body of a request declared as JSON, within the size limit.
async fn json_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
        if !is_json {
            return Err(ErrorCode::UnsupportedMediaType.into());
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::PayloadTooLarge)
            } else {
                ApiError::with_message(ErrorCode::MalformedJson, rejection.body_text())
            }
        })?;
        Ok(bytes)
    }
}

/// An optional JSON body: empty (or only whitespace) gives `T::default()`.
pub(crate) fn optional_json<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) { Ok(T::default()) } else { parse_json(bytes) }
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => field_error(&path, &inner.to_string()),
            _ => ApiError::with_message(ErrorCode::MalformedJson, inner.to_string()),
        }
    })?;
    deserializer.end().map_err(|e| ApiError::with_message(ErrorCode::MalformedJson, e.to_string()))?;
    Ok(value)
}

/// Turns a serde message at `path` into a field error. Unknown and missing fields are
/// reported at their parent's path, with the name in backticks: put them together.
fn field_error(path: &str, message: &str) -> ApiError {
    let message = message.split(" at line ").next().unwrap_or(message);
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let field = match (named, path) {
        // An unknown field's path already ends in its name; a missing field's is its parent.
        (Some(name), path) if path == name || path.ends_with(&format!(".{name}")) => path.to_owned(),
        (Some(name), "." | "") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, "." | "") => "body".to_owned(),
        (None, path) => path.to_owned(),
    };
    ApiError::field(ErrorCode::ValidationFailed, FieldError::new(field, message))
}

/// A query string of type `T`, rejected like a body when a parameter is wrong.
pub struct ValidQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(ValidQuery).map_err(|error| {
            let path = error.path().to_string();
            field_error(&path, &error.into_inner().to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        for header in ["Bearer ordo_x", "bearer ordo_x", "BEARER  ordo_x ", " Bearer ordo_x"] {
            assert_eq!(bearer_token(header), Some("ordo_x"), "{header:?}");
        }
        for header in ["Basic ordo_x", "Bearer", "Bearer ", "Bearerordo_x", ""] {
            assert_eq!(bearer_token(header), None, "{header:?}");
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        sku: String,
        quantity: i64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Order {
        lines: Vec<Line>,
    }

    fn field_of(json: &str) -> (ErrorCode, Option<String>) {
        let error = parse_json::<Order>(json.as_bytes()).unwrap_err();
        (error.code, error.field)
    }

    #[test]
    fn rejections_name_the_field() {
        let v = ErrorCode::ValidationFailed;
        assert_eq!(field_of(r#"{"lines":[{"sku":"A","quantity":"2"}]}"#), (v, Some("lines[0].quantity".into())));
        assert_eq!(field_of(r#"{"lines":[{"sku":"A"}]}"#), (v, Some("lines[0].quantity".into())));
        assert_eq!(field_of(r#"{"lines":[],"colour":1}"#), (v, Some("colour".into())));
        assert_eq!(field_of(r#"{}"#), (v, Some("lines".into())));
        assert_eq!(field_of(r#"[]"#), (v, Some("body".into())));
        assert_eq!(field_of(r#"{"lines":[]"#).0, ErrorCode::MalformedJson);
        assert_eq!(field_of(r#"{"lines":[]} trailing"#).0, ErrorCode::MalformedJson);
    }

    proptest::proptest! {
        /// Whatever bytes arrive, the body parser answers with an error or a value, never a panic.
        #[test]
        fn any_body_gets_an_answer(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = parse_json::<Order>(&bytes);
            let _ = parse_json::<ordo_domain::master::NewProduct>(&bytes);
        }

        #[test]
        fn json_shaped_bodies_get_an_answer(text in "[{}\\[\\]\"a-z0-9:,. -]{0,80}") {
            let _ = parse_json::<Order>(text.as_bytes());
        }
    }
}

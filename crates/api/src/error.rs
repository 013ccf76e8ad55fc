//! Every error the API answers with, declared once: code, HTTP status and message.
//!
//! The body is `{"error": {"code", "message", "field"?}}`. Database and other internal
//! errors are logged with the request's id and never shown to the caller.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ordo_app::{AppError, StorageError};
use ordo_domain::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

macro_rules! error_codes {
    ($($variant:ident => ($status:ident, $code:literal, $message:literal),)+) => {
        /// The API's error codes. Each has one status and one default message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($variant,)+ }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)+];

            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status,)+ }
            }

            /// The snake_case code callers match on.
            pub fn code(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)+ }
            }

            pub fn default_message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $message,)+ }
            }
        }
    };
}

error_codes! {
    Unauthorized => (UNAUTHORIZED, "unauthorized", "a valid API token is required: Authorization: Bearer TOKEN"),
    InvalidSignature => (UNAUTHORIZED, "invalid_signature", "the webhook's signature matches none of the channel's secrets"),
    Forbidden => (FORBIDDEN, "forbidden", "the token's role lacks the permission this needs"),
    NotFound => (NOT_FOUND, "not_found", "no such resource"),
    MethodNotAllowed => (METHOD_NOT_ALLOWED, "method_not_allowed", "this path does not take that method"),
    MalformedJson => (BAD_REQUEST, "malformed_json", "the body is not valid JSON"),
    UnsupportedMediaType => (UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the body as Content-Type: application/json"),
    PayloadTooLarge => (PAYLOAD_TOO_LARGE, "payload_too_large", "the body is larger than this server accepts"),
    ValidationFailed => (UNPROCESSABLE_ENTITY, "validation_failed", "a field is missing or invalid"),
    Duplicate => (CONFLICT, "duplicate", "a record with this key already exists"),
    IdempotencyConflict => (CONFLICT, "idempotency_conflict", "this key was used before for a different request"),
    InsufficientStock => (CONFLICT, "insufficient_stock", "not enough stock for this change"),
    InvalidTransition => (CONFLICT, "invalid_transition", "not allowed from the current state"),
    TooManyRequests => (TOO_MANY_REQUESTS, "too_many_requests", "too many attempts: wait as Retry-After says"),
    Unavailable => (SERVICE_UNAVAILABLE, "unavailable", "the database cannot be reached right now: try again as Retry-After says"),
    StorageFull => (INSUFFICIENT_STORAGE, "storage_full", "the database's disk is full: nothing was written"),
    Internal => (INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side; it has been logged"),
}

/// An error answer: a code from the table, a message for people, the field it is about.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// For a refused state change: the state the thing is in now.
    pub current_state: Option<&'static str>,
    /// For `too_many_requests`: the seconds to wait, sent as `Retry-After`.
    pub retry_after_s: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, such as `validation_failed`.
    pub code: &'static str,
    pub message: String,
    /// The request field the error is about, such as `lines[0].sku`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `invalid_transition`: the state the thing is in now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_state: Option<&'static str>,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        Self { code, message: code.default_message().to_owned(), field: None, current_state: None, retry_after_s: None }
    }

    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None, current_state: None, retry_after_s: None }
    }

    pub fn field(code: ErrorCode, error: FieldError) -> Self {
        let message = format!("{}: {}", error.field, error.message);
        Self { code, message, field: Some(error.field), current_state: None, retry_after_s: None }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::new(code)
    }
}

/// A field the handler itself found wrong.
impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::field(ErrorCode::ValidationFailed, error)
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Invalid(e) => ApiError::field(ErrorCode::ValidationFailed, e),
            AppError::Duplicate(e) => ApiError::field(ErrorCode::Duplicate, e),
            AppError::IdempotencyConflict(e) => ApiError::field(ErrorCode::IdempotencyConflict, e),
            AppError::InsufficientStock(e) => ApiError::field(ErrorCode::InsufficientStock, e),
            AppError::InvalidTransition { current, message } => ApiError {
                code: ErrorCode::InvalidTransition,
                message,
                field: None,
                current_state: Some(current),
                retry_after_s: None,
            },
            AppError::TooManyAttempts { retry_after_s } => ApiError {
                retry_after_s: Some(retry_after_s),
                ..ApiError::with_message(ErrorCode::TooManyRequests, format!("too many failed attempts: try again in {retry_after_s} seconds"))
            },
            AppError::NotFound { what, key } => ApiError::with_message(ErrorCode::NotFound, format!("{what} {key:?} not found")),
            AppError::Unauthenticated => ApiError::new(ErrorCode::Unauthorized),
            AppError::BadSignature => ApiError::new(ErrorCode::InvalidSignature),
            AppError::Forbidden(message) => ApiError::with_message(ErrorCode::Forbidden, message),
            AppError::Storage(e @ StorageError::Unavailable(_)) => {
                tracing::warn!(error = %e, "the database is unavailable");
                ApiError { retry_after_s: Some(5), ..ApiError::new(ErrorCode::Unavailable) }
            }
            AppError::Storage(e @ StorageError::Full(_)) => {
                tracing::error!(error = %e, "the database's disk is full");
                ApiError::new(ErrorCode::StorageFull)
            }
            // A concurrent writer won a race that the application's own checks could not see
            // (the same key written by two requests at once): nothing was written.
            AppError::Storage(e @ StorageError::Duplicate { .. }) => {
                tracing::warn!(error = %e, "a concurrent write took the key first");
                ApiError::with_message(ErrorCode::Duplicate, "another request wrote the same record at the same moment: read it again")
            }
            AppError::Storage(e @ StorageError::Contended(_)) => {
                tracing::warn!(error = %e, "the database gave this request up to another");
                ApiError { retry_after_s: Some(1), ..ApiError::with_message(ErrorCode::Unavailable, "another request held what this one needed; nothing was written: try again") }
            }
            AppError::Storage(e) => {
                // The trace layer's span carries the request id into this event.
                tracing::error!(error = %e, "storage failure");
                ApiError::new(ErrorCode::Internal)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail { code: self.code.code(), message: self.message, field: self.field, current_state: self.current_state },
        };
        let mut response = (self.code.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after_s {
            headers.insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds.max(0)));
        }
        if self.code == ErrorCode::Unauthorized {
            headers.insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer realm=\"ordo\""));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_documented_with_its_status() {
        let doc = include_str!("../../../docs/api.md");
        for code in ErrorCode::ALL {
            let row = format!("| `{}` | {} |", code.code(), code.status().as_u16());
            assert!(doc.contains(&row), "docs/api.md lacks the row {row}");
        }
    }

    #[test]
    fn a_race_lost_in_the_database_is_a_conflict_or_a_retry_never_an_internal_error() {
        let duplicate = ApiError::from(AppError::Storage(StorageError::Duplicate { constraint: "purchase_orders_number_key".into() }));
        assert_eq!((duplicate.code.status().as_u16(), duplicate.retry_after_s), (409, None));
        let contended = ApiError::from(AppError::Storage(StorageError::Contended("deadlock detected".into())));
        assert_eq!((contended.code.status().as_u16(), contended.retry_after_s), (503, Some(1)));
        let broken = ApiError::from(AppError::Storage(StorageError::Corrupt("a stock row".into())));
        assert_eq!(broken.code.status().as_u16(), 500);
    }

    #[test]
    fn codes_are_unique_snake_case_and_client_or_server_errors() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.code()), "{} declared twice", code.code());
            assert!(code.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }
}

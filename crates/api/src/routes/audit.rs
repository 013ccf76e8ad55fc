//! The audit log, newest first, with filters.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use ordo_app::{AuditQuery, Ordo};
use ordo_domain::audit::AuditRecord;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, Authorized, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new().routes(routes!(audit_log))
}

/// Which records to show; every filter is optional.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AuditFilter {
    /// `user:NAME`, `token:NAME` or `system`.
    actor: Option<String>,
    /// Actions starting with this, such as `order.` or `order.cancel`.
    action: Option<String>,
    /// One subject, such as `order:0190…` or `channel:AMZ`.
    subject: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    /// Records older than this sequence number: the next page.
    before: Option<i64>,
    /// At most this many records (1–500, 100 when absent).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Records of the audit log, newest first. Each carries its place in the hash chain;
/// `ordo audit verify` checks the chain.
#[utoipa::path(get, path = "/api/v1/audit", security(("bearer" = ["audit.read"])), tag = "audit", params(AuditFilter),
    responses((status = 200, body = Vec<AuditRecord>), (status = "4XX", body = ErrorBody)))]
async fn audit_log(
    State(ordo): State<Ordo>,
    _: Authorized<need::AuditRead>,
    ValidQuery(filter): ValidQuery<AuditFilter>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let query = AuditQuery {
        actor: filter.actor,
        action: filter.action,
        subject: filter.subject,
        since: filter.since,
        until: filter.until,
        before_seq: filter.before,
        limit: filter.limit.unwrap_or(100),
    };
    Ok(Json(ordo.audit().audit_log(query).await?))
}

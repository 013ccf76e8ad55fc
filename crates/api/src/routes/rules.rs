//! Rules as versioned code: drafts, submission (the condition must check out), approval by
//! another person, activation and retirement. Every version stays readable.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use ordo_app::{NewRule, Ordo};
use ordo_domain::rules::{ConditionError, RuleVersion};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, optional_json, path_id, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, draft_rule))
        .routes(routes!(get_rule))
        .routes(routes!(submit_rule))
        .routes(routes!(approve_rule))
        .routes(routes!(reject_rule))
        .routes(routes!(activate_rule))
        .routes(routes!(retire_rule))
        .routes(routes!(simulate))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Trial {
    /// Rule versions to try in place of the versions of their rules in force (or beside them).
    versions: Vec<uuid::Uuid>,
    /// How many days of orders to replay (1–366, 30 when absent).
    days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct Example {
    order_id: uuid::Uuid,
    channel: String,
    external_id: String,
    /// What the rules in force decide.
    before: String,
    /// What the proposed rules would decide.
    after: String,
}

#[derive(Serialize, ToSchema)]
struct ChangeCount {
    count: u64,
    examples: Vec<Example>,
}

#[derive(Serialize, ToSchema)]
struct Simulation {
    proposed: Vec<String>,
    days: i64,
    orders: u64,
    newly_held: ChangeCount,
    no_longer_held: ChangeCount,
    routed_elsewhere: ChangeCount,
    split_changed: ChangeCount,
    tags_changed: ChangeCount,
    errors: ChangeCount,
}

impl From<ordo_app::ChangeCount> for ChangeCount {
    fn from(c: ordo_app::ChangeCount) -> Self {
        let examples = c
            .examples
            .into_iter()
            .map(|e| Example { order_id: e.order_id, channel: e.channel, external_id: e.external_id, before: e.before, after: e.after })
            .collect();
        ChangeCount { count: c.count, examples }
    }
}

/// Replays the orders of the last days under the rules in force with the given versions put
/// in, and tells how many orders would be held, released, routed elsewhere or split
/// differently, with examples. Reads only; changes nothing.
#[utoipa::path(post, path = "/api/v1/rules/simulate", security(("bearer" = ["rules.read"])), tag = "rules", request_body = Trial,
    responses((status = 200, body = Simulation), (status = "4XX", body = ErrorBody)))]
async fn simulate(State(ordo): State<Ordo>, _: Authorized<need::RulesRead>, ValidJson(trial): ValidJson<Trial>) -> Result<Json<Simulation>, ApiError> {
    let s = ordo.rules().simulate_rules(&trial.versions, trial.days.unwrap_or(30)).await?;
    Ok(Json(Simulation {
        proposed: s.proposed,
        days: s.days,
        orders: s.orders,
        newly_held: s.newly_held.into(),
        no_longer_held: s.no_longer_held.into(),
        routed_elsewhere: s.routed_elsewhere.into(),
        split_changed: s.split_changed.into(),
        tags_changed: s.tags_changed.into(),
        errors: s.errors.into(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Draft {
    /// The rule's code; a draft under an existing name is its next version.
    name: String,
    /// routing, risk_hold, tagging, notification or escalation.
    kind: String,
    /// Lower runs first among rules of one kind; 100 when absent.
    priority: Option<i64>,
    description: Option<String>,
    /// A CEL expression over the documented facts, such as
    /// `order.total_minor > 5 * channel.average_order_minor`.
    condition: String,
    /// What happens when it holds, by kind: `{"reason"}` for risk_hold,
    /// `{"locations", "allow_split"}` for routing, `{"tag"}`, `{"to", "template"}`, `{"to_role"}`.
    #[schema(value_type = Object)]
    action: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
struct Drafted {
    #[serde(flatten)]
    rule: RuleVersion,
    /// What checking the condition found; a draft with a problem cannot be submitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    problem: Option<ConditionError>,
}

/// Saves a draft (the next version when the name exists).
#[utoipa::path(post, path = "/api/v1/rules", security(("bearer" = ["rules.write"])), tag = "rules", request_body = Draft,
    responses((status = 201, body = Drafted), (status = "4XX", body = ErrorBody)))]
async fn draft_rule(
    State(ordo): State<Ordo>,
    caller: Authorized<need::RulesWrite>,
    ValidJson(draft): ValidJson<Draft>,
) -> Result<(StatusCode, Json<Drafted>), ApiError> {
    let new = NewRule {
        name: draft.name,
        kind: draft.kind,
        priority: draft.priority,
        description: draft.description,
        condition: draft.condition,
        action: draft.action,
    };
    let drafted = ordo.rules().draft_rule(new, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(Drafted { rule: drafted.rule, problem: drafted.problem })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filter {
    /// draft, submitted, approved, active, retired or rejected.
    status: Option<String>,
    /// One rule's versions.
    name: Option<String>,
}

/// Rule versions, by kind, priority, name and newest version first.
#[utoipa::path(get, path = "/api/v1/rules", security(("bearer" = ["rules.read"])), tag = "rules", params(Filter),
    responses((status = 200, body = Vec<RuleVersion>), (status = "4XX", body = ErrorBody)))]
async fn list_rules(
    State(ordo): State<Ordo>,
    _: Authorized<need::RulesRead>,
    ValidQuery(filter): ValidQuery<Filter>,
) -> Result<Json<Vec<RuleVersion>>, ApiError> {
    Ok(Json(ordo.rules().list(filter.status.as_deref(), filter.name.as_deref()).await?))
}

#[utoipa::path(get, path = "/api/v1/rules/{id}", security(("bearer" = ["rules.read"])), tag = "rules", params(("id" = String, Path)),
    responses((status = 200, body = RuleVersion), (status = "4XX", body = ErrorBody)))]
async fn get_rule(State(ordo): State<Ordo>, _: Authorized<need::RulesRead>, Path(id): Path<String>) -> Result<Json<RuleVersion>, ApiError> {
    Ok(Json(ordo.rules().rule(path_id(&id)?).await?))
}

/// Submits a draft for approval. A condition that does not compile, or that names an unknown
/// fact or function, is refused (422) with the line and column in the message.
#[utoipa::path(post, path = "/api/v1/rules/{id}/submit", security(("bearer" = ["rules.write"])), tag = "rules",
    params(("id" = String, Path)), responses((status = 200, body = RuleVersion), (status = "4XX", body = ErrorBody)))]
async fn submit_rule(State(ordo): State<Ordo>, caller: Authorized<need::RulesWrite>, Path(id): Path<String>) -> Result<Json<RuleVersion>, ApiError> {
    Ok(Json(ordo.rules().submit_rule(path_id(&id)?, &caller.actor).await?))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct RuleApproval {
    /// When the version goes into force; now when absent.
    effective_from: Option<DateTime<Utc>>,
}

/// Approves a submitted version. The approver must be another person than its author, of a
/// role that owns the rule's kind (403 otherwise).
#[utoipa::path(post, path = "/api/v1/rules/{id}/approve", security(("bearer" = ["rules.approve"])), tag = "rules",
    params(("id" = String, Path)), request_body(content = RuleApproval, description = "optional"),
    responses((status = 200, body = RuleVersion), (status = "4XX", body = ErrorBody)))]
async fn approve_rule(
    State(ordo): State<Ordo>,
    caller: Authorized<need::RulesApprove>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<RuleVersion>, ApiError> {
    let approval: RuleApproval = optional_json(&body)?;
    Ok(Json(ordo.rules().approve_rule(path_id(&id)?, approval.effective_from, &caller.actor).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RuleReason {
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/rules/{id}/reject", security(("bearer" = ["rules.approve"])), tag = "rules",
    params(("id" = String, Path)), request_body = RuleReason,
    responses((status = 200, body = RuleVersion), (status = "4XX", body = ErrorBody)))]
async fn reject_rule(
    State(ordo): State<Ordo>,
    caller: Authorized<need::RulesApprove>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<RuleReason>,
) -> Result<Json<RuleVersion>, ApiError> {
    Ok(Json(ordo.rules().reject_rule(path_id(&id)?, &body.reason, &caller.actor).await?))
}

/// Puts an approved version in force once its effective time has come, retiring the version
/// of the same rule in force before it, atomically.
#[utoipa::path(post, path = "/api/v1/rules/{id}/activate", security(("bearer" = ["rules.approve"])), tag = "rules",
    params(("id" = String, Path)), responses((status = 200, body = RuleVersion), (status = "4XX", body = ErrorBody)))]
async fn activate_rule(State(ordo): State<Ordo>, caller: Authorized<need::RulesApprove>, Path(id): Path<String>) -> Result<Json<RuleVersion>, ApiError> {
    Ok(Json(ordo.rules().activate_rule(path_id(&id)?, &caller.actor).await?))
}

#[utoipa::path(post, path = "/api/v1/rules/{id}/retire", security(("bearer" = ["rules.approve"])), tag = "rules",
    params(("id" = String, Path)), request_body = RuleReason,
    responses((status = 200, body = RuleVersion), (status = "4XX", body = ErrorBody)))]
async fn retire_rule(
    State(ordo): State<Ordo>,
    caller: Authorized<need::RulesApprove>,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<RuleReason>,
) -> Result<Json<RuleVersion>, ApiError> {
    Ok(Json(ordo.rules().retire_rule(path_id(&id)?, &body.reason, &caller.actor).await?))
}

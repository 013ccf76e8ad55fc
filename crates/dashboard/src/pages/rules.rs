//! Rules: every rule with its versions, one version with its condition and life cycle, a form
//! for a new draft, and the replay of a version over recent orders, which is where it is
//! approved or rejected: nobody approves from the dashboard without seeing what it would do.

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ordo_app::{NewRule, Simulation};
use ordo_domain::access::Permission;
use ordo_domain::rules::{Condition, RuleKind, RuleStatus, RuleVersion};
use ordo_domain::FieldError;
use serde::Deserialize;
use uuid::Uuid;

use super::{field, Layout, Page};
use crate::Dashboard;
use crate::error::{render, PageError, Problem};
use crate::forms::{refusal, Control, Entered, EntryForm, Input};
use crate::session::Session;

fn rule_href(id: Uuid) -> String {
    format!("{}/{id}", Page::Rules.href())
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    layout: Layout,
    rules: Vec<RuleVersion>,
    forms: Vec<EntryForm>,
}

/// The draft form. Its first kind, a risk hold, is the one its example action is for; each
/// kind's action is shown beside it.
fn draft_form(entered: Option<&Entered>) -> EntryForm {
    let kinds: Vec<(&str, &str)> = [RuleKind::RiskHold, RuleKind::Routing, RuleKind::Tagging, RuleKind::Notification, RuleKind::Escalation]
        .into_iter()
        .filter(|k| RuleKind::ALL.contains(k))
        .map(|k| (k.as_str(), k.as_str()))
        .collect();
    EntryForm::new("new-rule", "New draft", Page::Rules.href(), "Save draft", vec![
        Input::text("name", "Name").hint("a new version when a rule of that name exists"),
        Input::text("kind", "Kind").select(&kinds),
        Input::text("priority", "Priority").optional().hint("lower runs first; 100 when empty"),
        Input::text("description", "Description").optional(),
        Input::text("condition", "Condition (CEL)").of(Control::TextArea).hint("such as order.total_minor > 5 * channel.average_order_minor; text in quotes, && for and, || for or"),
        Input::text("action", "Action (JSON)").of(Control::TextArea).value(r#"{"reason": "unusually large"}"#).hint(
            r#"risk_hold: {"reason": "…"}; routing: {"locations": ["central"], "allow_split": false}; tagging: {"tag": "vip"}"#,
        ),
    ])
    .about("A draft changes nothing: it is submitted, replayed against the last orders, approved by another person and then put in force.")
    .entered(entered)
    .mark_choices()
}

pub(crate) async fn rules(session: Session, State(dashboard): State<Dashboard>, query: Result<Query<super::ExportQuery>, QueryRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Rules)?;
    if super::ExportQuery::csv(&layout, query)? {
        let rules = dashboard.ordo.rules().list(None, None).await.map_err(|e| layout.fail(e))?;
        let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
        let rows = rules.into_iter().map(|r| {
            vec![
                r.name, r.version.to_string(), r.kind, r.priority.to_string(), r.status.as_str().to_owned(), r.condition, r.action.to_string(),
                r.author, r.approver.unwrap_or_default(), at(r.activated_at), at(r.retired_at),
            ]
        });
        let header = ["name", "version", "kind", "priority", "status", "condition", "action", "author", "approver", "activated_at", "retired_at"];
        return Ok(super::csv_file("rules.csv", super::csv_rows(&header, rows)));
    }
    rules_page(&session, &dashboard, None).await
}

async fn rules_page(session: &Session, dashboard: &Dashboard, entered: Option<Entered>) -> Result<Response, PageError> {
    let layout = session.open(Page::Rules)?;
    let rules = dashboard.ordo.rules().list(None, None).await.map_err(|e| layout.fail(e))?;
    let forms = if session.actor.can(Permission::RulesWrite) { vec![draft_form(entered.as_ref())] } else { Vec::new() };
    let status = if entered.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render(status, &RulesPage { layout, rules, forms }))
}

/// The draft the form describes.
fn new_rule(fields: &[(String, String)]) -> Result<NewRule, FieldError> {
    let action: serde_json::Value = serde_json::from_str(field(fields, "action"))
        .map_err(|_| FieldError::new("action", r#"is not JSON: write it as {"name": "value"}, text in double quotes"#))?;
    let priority = match field(fields, "priority").trim() {
        "" => None,
        p => Some(p.parse::<i64>().map_err(|_| FieldError::new("priority", "must be a whole number"))?),
    };
    Ok(NewRule {
        name: field(fields, "name").to_owned(),
        kind: field(fields, "kind").to_owned(),
        priority,
        description: Some(field(fields, "description").to_owned()),
        condition: field(fields, "condition").to_owned(),
        action,
    })
}

/// Saves a draft from the form, then shows it (with what checking its condition found); a
/// refused draft comes back in the form, the field named.
pub(crate) async fn draft(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Rules, &headers, Permission::RulesWrite)?;
    let fields = super::form_fields(&body);
    let drafted = match new_rule(&fields) {
        Ok(new) => dashboard.ordo.rules().draft_rule(new, &session.actor).await,
        Err(error) => Err(error.into()),
    };
    match drafted {
        Ok(drafted) => Ok(Redirect::to(&rule_href(drafted.rule.id)).into_response()),
        Err(error) => {
            let mut refused = refusal(error).map_err(|e| layout.fail(e))?;
            // `action.locations` is the action's.
            if refused.field.starts_with("action.") {
                refused.message = format!("{}: {}", refused.field.trim_start_matches("action."), refused.message);
                refused.field = "action".to_owned();
            }
            rules_page(&session, &dashboard, Some(Entered::new(fields, refused))).await
        }
    }
}

#[derive(Template)]
#[template(path = "rule.html")]
struct RulePage {
    layout: Layout,
    rule: RuleVersion,
    action: String,
    /// What checking the condition finds now: the facts it reads, or its problem.
    facts_used: Vec<String>,
    problem: Option<String>,
    may_submit: bool,
    may_decide: bool,
    may_activate: bool,
    may_retire: bool,
    simulate_href: String,
}

pub(crate) async fn rule(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Rules)?;
    let id = layout.path_id(path)?;
    let rule = dashboard.ordo.rules().rule(id).await.map_err(|e| layout.fail(e))?;
    let layout = layout.titled(format!("Rule {} v{}", rule.name, rule.version));
    // Checked, not tried: a page view runs nothing.
    let kind = RuleKind::parse("kind", &rule.kind).unwrap_or(RuleKind::RiskHold);
    let (facts_used, problem) = match Condition::reload(&rule.condition, kind) {
        Ok(condition) => (condition.facts_used, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let status = rule.status;
    let approves = session.actor.can(Permission::RulesApprove);
    let simulate_href = format!("{}/simulate", rule_href(id));
    Ok(render(
        StatusCode::OK,
        &RulePage {
            action: serde_json::to_string_pretty(&rule.action).unwrap_or_default(),
            may_submit: session.actor.can(Permission::RulesWrite) && status == RuleStatus::Draft && problem.is_none(),
            may_decide: approves && status == RuleStatus::Submitted,
            may_activate: approves && status == RuleStatus::Approved,
            may_retire: approves && status == RuleStatus::Active,
            rule,
            facts_used,
            problem,
            simulate_href,
            layout,
        },
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SimulateQuery {
    #[serde(default)]
    days: Option<String>,
}

#[derive(Template)]
#[template(path = "rule_simulation.html")]
struct SimulationPage {
    layout: Layout,
    rule: RuleVersion,
    simulation: Simulation,
    /// Each kind of change with its count and examples, in the order shown.
    changes: Vec<(&'static str, ordo_app::ChangeCount)>,
    days: i64,
    rule_href: String,
    /// The approve and reject forms: only here, under the replay.
    may_decide: bool,
}

/// The replay of one version over the last days' orders; approving and rejecting happen here.
pub(crate) async fn simulate(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<SimulateQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Rules)?;
    let id = layout.path_id(path)?;
    let query = layout.query(query)?;
    let days = match query.days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => 30,
        Some(d) => d.parse().map_err(|_| layout.fail(FieldError::new("days", "must be a whole number of days")))?,
    };
    let rule = dashboard.ordo.rules().rule(id).await.map_err(|e| layout.fail(e))?;
    let simulation = dashboard.ordo.rules().simulate_rules(&[id], days).await.map_err(|e| layout.fail(e))?;
    let layout = layout.titled(format!("Replay of {} v{}", rule.name, rule.version));
    let may_decide = session.actor.can(Permission::RulesApprove) && rule.status == RuleStatus::Submitted;
    let changes = vec![
        ("Newly held", simulation.newly_held.clone()),
        ("No longer held", simulation.no_longer_held.clone()),
        ("Routed elsewhere", simulation.routed_elsewhere.clone()),
        ("Split changed", simulation.split_changed.clone()),
        ("Tags changed", simulation.tags_changed.clone()),
        ("Could not decide", simulation.errors.clone()),
    ];
    Ok(render(StatusCode::OK, &SimulationPage { layout, rule_href: rule_href(id), rule, simulation, changes, days, may_decide }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct StepForm {
    /// submit, approve, reject, activate or retire.
    step: String,
    #[serde(default)]
    reason: String,
    /// For approve: `YYYY-MM-DDTHH:MM` in UTC; now when empty.
    #[serde(default)]
    effective_from: String,
}

/// Moves a version one step along its life cycle, then shows it.
pub(crate) async fn step(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<StepForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Rules, &headers, Permission::RulesRead)?;
    let id = layout.path_id(path)?;
    let Form(form) = form.map_err(|rejection| layout.fail(FieldError::new("form", rejection.body_text())))?;
    let need = if form.step == "submit" { Permission::RulesWrite } else { Permission::RulesApprove };
    if !session.actor.can(need) {
        return Err(layout.fail(Problem::Forbidden));
    }
    let ordo = &dashboard.ordo;
    let actor = &session.actor;
    let done = match form.step.as_str() {
        "submit" => ordo.rules().submit_rule(id, actor).await,
        "approve" => {
            let from = match form.effective_from.trim() {
                "" => None,
                text => Some(
                    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
                        .map_err(|_| layout.fail(FieldError::new("effective_from", "must be a date and time such as 2026-12-01T06:00")))?
                        .and_utc(),
                ),
            };
            ordo.rules().approve_rule(id, from, actor).await
        }
        "reject" => ordo.rules().reject_rule(id, &form.reason, actor).await,
        "activate" => ordo.rules().activate_rule(id, actor).await,
        "retire" => ordo.rules().retire_rule(id, &form.reason, actor).await,
        _ => return Err(layout.fail(FieldError::new("step", "must be submit, approve, reject, activate or retire"))),
    };
    done.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to(&rule_href(id)))
}


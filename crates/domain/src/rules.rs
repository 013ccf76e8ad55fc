//! Rules people write: a condition in CEL (the Common Expression Language) over a documented
//! set of facts about an order, its lines, the customer, the channel and the time.
//!
//! A condition is checked before it may be submitted: it must parse (a syntax error names its
//! line and column), fit the size limits, use only known facts and functions, compare like with
//! like, and answer true or false on a sample order within [`EVALUATION_BUDGET`]. CEL has no
//! loops and no side effects; what could still run long (comprehensions nested over lists) is
//! bounded by those limits, so evaluating an accepted rule on a real order is bounded too.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cel::common::ast::{Expr, IdedExpr, LiteralValue};
use cel::{Context, Env, Program};
use serde::Serialize;

/// The longest condition accepted, in characters.
pub const MAX_CONDITION_LEN: usize = 2_000;
/// How deep brackets and parentheses may nest: the parser recurses on each.
pub const MAX_NESTING: usize = 24;
/// How many comprehensions (`all`, `exists`, `exists_one`, `map`, `filter`) one condition may
/// use, and how deep they may nest.
pub const MAX_COMPREHENSIONS: usize = 4;
pub const MAX_COMPREHENSION_DEPTH: usize = 2;
/// How long a condition may take on the sample order at submission.
pub const EVALUATION_BUDGET: Duration = Duration::from_millis(250);

/// What a rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Which locations serve an order, in order of preference, and whether it may split.
    Routing,
    /// Hold the order for a person, with a reason.
    RiskHold,
    /// Put a tag on the order.
    Tagging,
    /// Send a message to a customer or a team.
    Notification,
    /// Move an exception to another role.
    Escalation,
}

impl RuleKind {
    pub const ALL: [RuleKind; 5] = [RuleKind::Routing, RuleKind::RiskHold, RuleKind::Tagging, RuleKind::Notification, RuleKind::Escalation];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Routing => "routing",
            RuleKind::RiskHold => "risk_hold",
            RuleKind::Tagging => "tagging",
            RuleKind::Notification => "notification",
            RuleKind::Escalation => "escalation",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<RuleKind, crate::FieldError> {
        RuleKind::ALL.into_iter().find(|k| k.as_str() == value).ok_or_else(|| {
            crate::FieldError::new(field, "must be routing, risk_hold, tagging, notification or escalation")
        })
    }
}

impl RuleKind {
    /// Who may approve a rule of this kind: the role that owns its decisions, or an admin.
    pub fn approvers(self) -> &'static [crate::access::Role] {
        use crate::access::Role;
        match self {
            RuleKind::RiskHold => &[Role::Finance, Role::Admin],
            RuleKind::Routing | RuleKind::Tagging | RuleKind::Notification | RuleKind::Escalation => &[Role::Ops, Role::Admin],
        }
    }
}

/// What a rule does when its condition holds, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RuleAction {
    /// Serve from these locations, most preferred first; split the order across them or not.
    Routing { locations: Vec<String>, allow_split: bool },
    /// Hold the order for review, saying why.
    RiskHold { reason: String },
    Tagging { tag: String },
    /// Tell `to` (`customer` or `role:NAME`) with the message template named.
    Notification { to: String, template: String },
    /// Move the exception to this role.
    Escalation { to_role: String },
}

impl RuleAction {
    /// The action of a rule of `kind`, from its JSON; the field names what is wrong.
    pub fn parse(kind: RuleKind, json: &serde_json::Value) -> Result<RuleAction, crate::FieldError> {
        use crate::FieldError;
        let text = |name: &str| -> Result<String, FieldError> {
            let field = format!("action.{name}");
            let value = json.get(name).and_then(|v| v.as_str()).map(str::trim).unwrap_or_default();
            if value.is_empty() || value.chars().count() > 200 {
                return Err(FieldError::new(field, "must be 1 to 200 characters"));
            }
            Ok(value.to_owned())
        };
        if !json.is_object() {
            return Err(FieldError::new("action", "must be an object"));
        }
        Ok(match kind {
            RuleKind::Routing => {
                let locations: Vec<String> = match json.get("locations").and_then(|v| v.as_array()) {
                    Some(items) if !items.is_empty() && items.len() <= 50 => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| crate::field::code(&format!("action.locations[{i}]"), v.as_str().unwrap_or_default()))
                        .collect::<Result<_, _>>()?,
                    _ => return Err(FieldError::new("action.locations", "must list 1 to 50 location codes, most preferred first")),
                };
                let allow_split = match json.get("allow_split") {
                    Some(v) => v.as_bool().ok_or_else(|| FieldError::new("action.allow_split", "must be true or false"))?,
                    None => false,
                };
                RuleAction::Routing { locations, allow_split }
            }
            RuleKind::RiskHold => RuleAction::RiskHold { reason: text("reason")? },
            RuleKind::Tagging => RuleAction::Tagging { tag: crate::field::code("action.tag", json.get("tag").and_then(|v| v.as_str()).unwrap_or_default())? },
            RuleKind::Notification => {
                let to = text("to")?;
                if to != "customer" && to.strip_prefix("role:").is_none_or(|r| crate::access::Role::parse("action.to", r).is_err()) {
                    return Err(FieldError::new("action.to", "must be customer or role:NAME"));
                }
                RuleAction::Notification { to, template: text("template")? }
            }
            RuleKind::Escalation => {
                let role = crate::access::Role::parse("action.to_role", &text("to_role")?)?;
                RuleAction::Escalation { to_role: role.as_str().to_owned() }
            }
        })
    }
}

/// Where a version of a rule stands. Its moves:
///
/// | from | to |
/// |---|---|
/// | draft | submitted |
/// | submitted | approved, rejected |
/// | approved | active |
/// | active | retired |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// Being written; may not compile yet.
    Draft,
    /// Checked and waiting for another person to approve or reject it.
    Submitted,
    /// Approved; goes into force at its effective time.
    Approved,
    /// In force: decisions follow it.
    Active,
    /// Was in force; replaced by a later version or withdrawn. Still readable.
    Retired,
    Rejected,
}

impl std::fmt::Display for RuleStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RuleStatus {
    pub const ALL: [RuleStatus; 6] =
        [RuleStatus::Draft, RuleStatus::Submitted, RuleStatus::Approved, RuleStatus::Active, RuleStatus::Retired, RuleStatus::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Draft => "draft",
            RuleStatus::Submitted => "submitted",
            RuleStatus::Approved => "approved",
            RuleStatus::Active => "active",
            RuleStatus::Retired => "retired",
            RuleStatus::Rejected => "rejected",
        }
    }

    pub fn parse(value: &str) -> Option<RuleStatus> {
        RuleStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Whether a version may go from here to `next`.
    pub fn can_become(self, next: RuleStatus) -> bool {
        use RuleStatus::*;
        matches!((self, next), (Draft, Submitted) | (Submitted, Approved | Rejected) | (Approved, Active) | (Active, Retired))
    }
}

/// One version of a rule, as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleVersion {
    pub id: uuid::Uuid,
    pub name: String,
    pub version: i64,
    pub kind: String,
    pub priority: i64,
    pub description: String,
    pub condition: String,
    pub action: serde_json::Value,
    pub status: RuleStatus,
    pub author: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    pub approver: Option<String>,
    pub approved_at: Option<chrono::DateTime<chrono::Utc>>,
    pub effective_from: Option<chrono::DateTime<chrono::Utc>>,
    pub activated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub retired_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The type of a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactType {
    Int,
    String,
    Bool,
    Timestamp,
    /// A list of records with these fields.
    List(&'static [Fact]),
    /// A record with these fields.
    Record(&'static [Fact]),
}

/// One fact a condition may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    pub name: &'static str,
    pub ty: FactType,
    pub doc: &'static str,
}

const fn fact(name: &'static str, ty: FactType, doc: &'static str) -> Fact {
    Fact { name, ty, doc }
}

const LINE: &[Fact] = &[
    fact("sku", FactType::String, "the SKU the line holds (a kit's component lines have their own)"),
    fact("quantity", FactType::Int, "units ordered"),
    fact("unit_price_minor", FactType::Int, "the unit price in minor units of the order's currency"),
    fact("kit", FactType::Bool, "whether the line is a kit, reserved through its components"),
];

const ORDER: &[Fact] = &[
    fact("channel", FactType::String, "the channel's code"),
    fact("external_id", FactType::String, "the channel's id of the order"),
    fact("currency", FactType::String, "ISO 4217 code, such as EUR"),
    fact("total_minor", FactType::Int, "the order's total in minor units (cents) of its currency"),
    fact("units", FactType::Int, "units over every line"),
    fact("line_count", FactType::Int, "how many lines the channel sent"),
    fact("shipping_method", FactType::String, "such as standard or express"),
    fact("payment_status", FactType::String, "pending, authorized or captured"),
    fact("ship_country", FactType::String, "ISO 3166 two-letter code of the ship-to address"),
    fact("billing_country", FactType::String, "the billing country, or \"\" when the channel sent none"),
    fact("placed_at", FactType::Timestamp, "when the customer placed it"),
    fact("lines", FactType::List(LINE), "the order's lines"),
];

const CUSTOMER: &[Fact] = &[
    fact("email", FactType::String, "lower case"),
    fact("name", FactType::String, "as the channel sent it"),
];

const CHANNEL: &[Fact] = &[
    fact("code", FactType::String, "the channel's code"),
    fact("kind", FactType::String, "web, marketplace, social or b2b"),
    fact("orders", FactType::Int, "how many orders the channel sent before this one"),
    fact("average_order_minor", FactType::Int, "the average total of those orders, in minor units"),
];

/// Every fact a condition may use, by its top-level name.
pub const FACTS: &[Fact] = &[
    fact("order", FactType::Record(ORDER), "the order being decided"),
    fact("customer", FactType::Record(CUSTOMER), "who placed it"),
    fact("channel", FactType::Record(CHANNEL), "the channel it came from"),
    fact("now", FactType::Timestamp, "the time of the decision"),
];

const EXCEPTION: &[Fact] = &[
    fact("kind", FactType::String, "stockout, payment_review, shipment_at_risk, late_shipment, reconciliation, return_overdue, procurement, sync_failure, ticket_overdue, channel_mapping, delivery_problem, sync_lag, cancellation_spike, stock_variance, margin_drop, fee_anomaly or return_spike"),
    fact("subject", FactType::String, "what it is about, such as sku:MUG-1 or order:…"),
    fact("owner_role", FactType::String, "the role that owns it now"),
    fact("status", FactType::String, "open, acknowledged or escalated"),
    fact("escalations", FactType::Int, "how many times it went past due before"),
    fact("age_hours", FactType::Int, "whole hours since it was raised"),
    fact("overdue_hours", FactType::Int, "whole hours past its due time"),
];

/// The facts an escalation rule decides on: the exception past its due time.
pub const EXCEPTION_FACTS: &[Fact] = &[
    fact("exception", FactType::Record(EXCEPTION), "the exception past its due time"),
    fact("now", FactType::Timestamp, "the time of the decision"),
];

impl RuleKind {
    /// The facts a condition of this kind may use: an order's, or an exception's for
    /// escalation rules.
    pub fn facts(self) -> &'static [Fact] {
        match self {
            RuleKind::Escalation => EXCEPTION_FACTS,
            _ => FACTS,
        }
    }
}

/// The order facts as a Markdown table, the form the rules documentation carries.
pub fn facts_markdown() -> String {
    facts_markdown_for(FACTS)
}

/// `facts` as a Markdown table.
pub fn facts_markdown_for(facts: &'static [Fact]) -> String {
    fn rows(out: &mut String, prefix: &str, facts: &[Fact]) {
        for f in facts {
            let path = if prefix.is_empty() { f.name.to_owned() } else { format!("{prefix}.{}", f.name) };
            let ty = match f.ty {
                FactType::Int => "int",
                FactType::String => "string",
                FactType::Bool => "bool",
                FactType::Timestamp => "timestamp",
                FactType::List(_) => "list",
                FactType::Record(_) => "record",
            };
            out.push_str(&format!("| `{path}` | {ty} | {} |\n", f.doc));
            match f.ty {
                FactType::List(fields) => rows(out, &format!("{path}[]"), fields),
                FactType::Record(fields) => rows(out, &path, fields),
                _ => {}
            }
        }
    }
    let mut out = String::from("| fact | type | meaning |\n| --- | --- | --- |\n");
    rows(&mut out, "", facts);
    out
}

/// Why a condition was refused, and where in it (1-based line and column) when that is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionError {
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl ConditionError {
    fn new(message: impl Into<String>) -> ConditionError {
        ConditionError { message: message.into(), line: None, column: None }
    }

    fn at(message: impl Into<String>, (line, column): (u32, u32)) -> ConditionError {
        ConditionError { message: message.into(), line: Some(line), column: Some(column) }
    }
}

impl std::fmt::Display for ConditionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// A condition that passed every check, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Condition {
    source: String,
    program: Arc<Program>,
    /// The facts it reads, such as `order.total_minor`, for people to see.
    pub facts_used: Vec<String>,
}

impl Condition {
    /// Checks `source` over an order's facts, as described in the module documentation.
    pub fn compile(source: &str) -> Result<Condition, ConditionError> {
        Condition::compile_for(source, RuleKind::RiskHold)
    }

    /// Checks `source` over the facts of `kind` ([`RuleKind::facts`]) and tries it on a sample
    /// of them: what a condition must pass to be submitted.
    pub fn compile_for(source: &str, kind: RuleKind) -> Result<Condition, ConditionError> {
        let condition = Condition::check(source, kind.facts())?;
        condition.trial(Facts::sample_for(kind))?;
        Ok(condition)
    }

    /// A condition accepted before (a rule in force read back): checked again, but not tried,
    /// since it was tried when it was submitted. Cheap enough to run whenever the rules in
    /// force are read.
    pub fn reload(source: &str, kind: RuleKind) -> Result<Condition, ConditionError> {
        Condition::check(source, kind.facts())
    }

    /// Parses `source` and checks it against `facts`, without running it.
    fn check(source: &str, facts: &'static [Fact]) -> Result<Condition, ConditionError> {
        let source = source.trim();
        if source.is_empty() {
            return Err(ConditionError::new("a condition is needed, such as order.total_minor > 50000"));
        }
        if source.chars().count() > MAX_CONDITION_LEN {
            return Err(ConditionError::new(format!("is longer than {MAX_CONDITION_LEN} characters")));
        }
        check_nesting(source)?;
        let program = Program::compile(source).map_err(|errors| match errors.errors.first() {
            Some(e) => ConditionError::at(
                plain_syntax(&e.msg),
                (u32::try_from(e.pos.0).unwrap_or(1).max(1), u32::try_from(e.pos.1).unwrap_or(1).max(1)),
            ),
            None => ConditionError::new("does not parse"),
        })?;
        let mut checker = Checker { source, program: &program, facts, facts_used: Vec::new(), comprehensions: 0 };
        let root = program.expression();
        let scope = facts.iter().map(|f| (f.name.to_owned(), Ty::from(f.ty))).collect();
        let ty = checker.check(root, &scope, 0)?;
        if !matches!(ty, Ty::Bool | Ty::Dyn) {
            return Err(ConditionError::at(format!("must be true or false, not {}", ty.name()), checker.position(root.id)));
        }
        let mut facts_used = checker.facts_used;
        facts_used.sort();
        facts_used.dedup();
        Ok(Condition { source: source.to_owned(), program: Arc::new(program), facts_used })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the condition holds for `facts`. An error (a value the facts lacked, say) is
    /// reported, never taken for true or false.
    pub fn evaluate(&self, facts: &Facts) -> Result<bool, String> {
        // The standard library is built once: building it per evaluation cost more than the
        // evaluation itself.
        static STDLIB: OnceLock<Arc<Env>> = OnceLock::new();
        let mut context = Context::with_env(STDLIB.get_or_init(|| Arc::new(Env::stdlib())).clone());
        for (name, value) in &facts.0 {
            context.add_variable_from_value(name.as_str(), value.clone());
        }
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(holds)) => Ok(holds),
            Ok(other) => Err(format!("answered {other:?}, not true or false")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Runs the condition on the sample order on another thread, within the budget: a
    /// condition that errs or runs long there is refused, and the thread is left to finish
    /// on its own.
    fn trial(&self, sample: Facts) -> Result<(), ConditionError> {
        let (answer, answered) = std::sync::mpsc::channel();
        let condition = self.clone();
        std::thread::Builder::new()
            .name("rule-trial".into())
            .spawn(move || {
                let _ = answer.send(condition.evaluate(&sample));
            })
            .map_err(|e| ConditionError::new(format!("could not be tried: {e}")))?;
        match answered.recv_timeout(EVALUATION_BUDGET) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(ConditionError::new(format!("fails on a sample order: {e}"))),
            Err(_) => Err(ConditionError::new(format!(
                "ran longer than {} ms on a sample order; simplify it",
                EVALUATION_BUDGET.as_millis()
            ))),
        }
    }
}

/// The facts about one decision, by top-level name, made once and read by every rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts(Vec<(String, cel::Value)>);

impl Facts {
    /// The facts from JSON values by top-level name. Whole numbers become CEL `int`s, so
    /// `order.total_minor > 5 * channel.average_order_minor` needs no `u` suffixes.
    pub fn from_json(facts: Vec<(String, serde_json::Value)>) -> Facts {
        fn value(json: &serde_json::Value) -> cel::Value {
            match json {
                serde_json::Value::Null => cel::Value::Null,
                serde_json::Value::Bool(b) => cel::Value::Bool(*b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => cel::Value::Int(i),
                    None => cel::Value::Int(i64::MAX),
                },
                serde_json::Value::String(s) => cel::Value::String(Arc::new(s.clone())),
                serde_json::Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(value).collect())),
                serde_json::Value::Object(fields) => {
                    let map: HashMap<String, cel::Value> = fields.iter().map(|(k, v)| (k.clone(), value(v))).collect();
                    cel::Value::from(map)
                }
            }
        }
        Facts(facts.into_iter().map(|(name, json)| (name, value(&json))).collect())
    }

    /// `template` with each `{fact.path}` replaced by that fact's value (text as it is, other
    /// values as CEL prints them); a path that names no fact stays as written.
    pub fn fill(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let found = after.find('}').and_then(|close| self.lookup(&after[..close]).map(|value| (value, close)));
            match found {
                Some((value, close)) => {
                    match value {
                        cel::Value::String(text) => out.push_str(text),
                        cel::Value::Int(n) => out.push_str(&n.to_string()),
                        cel::Value::Bool(b) => out.push_str(&b.to_string()),
                        other => out.push_str(&format!("{other:?}")),
                    }
                    rest = &after[close + 1..];
                }
                _ => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The value at a dotted path such as `order.payment_status`.
    fn lookup(&self, path: &str) -> Option<&cel::Value> {
        let mut parts = path.split('.');
        let first = parts.next()?;
        let mut value = self.0.iter().find(|(name, _)| name == first).map(|(_, v)| v)?;
        for part in parts {
            value = match value {
                cel::Value::Map(map) => map.get(&cel::objects::KeyRef::String(part))?,
                _ => return None,
            };
        }
        Some(value)
    }

    /// A sample of the facts a rule of `kind` decides on.
    pub fn sample_for(kind: RuleKind) -> Facts {
        match kind {
            RuleKind::Escalation => Facts::sample_exception(),
            _ => Facts::sample(),
        }
    }

    /// An exception with every fact present, for trying escalation rules.
    pub fn sample_exception() -> Facts {
        Facts::from_json(vec![
            (
                "exception".into(),
                serde_json::json!({"kind": "stockout", "subject": "sku:MUG-1", "owner_role": "ops", "status": "open",
                    "escalations": 0, "age_hours": 30, "overdue_hours": 6}),
            ),
            ("now".into(), serde_json::json!("2026-11-27T10:00:05Z")),
        ])
    }

    /// An order with every fact present: what a condition is tried on before it may be
    /// submitted. Its lists are as long as an order's may be, so a condition that is slow on
    /// a big order is slow here too.
    pub fn sample() -> Facts {
        let lines: Vec<serde_json::Value> = (0..100)
            .map(|i| serde_json::json!({"sku": format!("SKU-{i}"), "quantity": 1 + i % 3, "unit_price_minor": 1_000 + i, "kit": false}))
            .collect();
        Facts::from_json(vec![
            (
                "order".into(),
                serde_json::json!({
                    "channel": "web", "external_id": "1001", "currency": "EUR", "total_minor": 25_000, "units": 200,
                    "line_count": 100, "shipping_method": "standard", "payment_status": "captured", "ship_country": "DE",
                    "billing_country": "DE", "placed_at": "2026-11-27T10:00:00Z", "lines": lines,
                }),
            ),
            ("customer".into(), serde_json::json!({"email": "ann@example.com", "name": "Ann Berg"})),
            ("channel".into(), serde_json::json!({"code": "web", "kind": "web", "orders": 1_000, "average_order_minor": 5_000})),
            ("now".into(), serde_json::json!("2026-11-27T10:00:05Z")),
        ])
    }
}

/// The static type of an expression, as far as the checker can tell.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Int,
    Double,
    String,
    Bool,
    Timestamp,
    Null,
    List(Box<Ty>),
    Record(&'static [Fact]),
    /// Not known before running: a comprehension's accumulator, a map literal's value.
    Dyn,
}

impl From<FactType> for Ty {
    fn from(ty: FactType) -> Ty {
        match ty {
            FactType::Int => Ty::Int,
            FactType::String => Ty::String,
            FactType::Bool => Ty::Bool,
            // Facts carry times as RFC 3339 strings; `timestamp(order.placed_at)` makes a time.
            FactType::Timestamp => Ty::String,
            FactType::List(fields) => Ty::List(Box::new(Ty::Record(fields))),
            FactType::Record(fields) => Ty::Record(fields),
        }
    }
}

impl Ty {
    fn name(&self) -> &'static str {
        match self {
            Ty::Int => "a number",
            Ty::Double => "a fraction",
            Ty::String => "text",
            Ty::Bool => "true or false",
            Ty::Timestamp => "a time",
            Ty::Null => "null",
            Ty::List(_) => "a list",
            Ty::Record(_) => "a record",
            Ty::Dyn => "a value",
        }
    }

    fn comparable_with(&self, other: &Ty) -> bool {
        matches!((self, other), (Ty::Dyn, _) | (_, Ty::Dyn) | (Ty::Null, _) | (_, Ty::Null)) || self == other
    }
}

/// The functions a condition may call, besides operators.
const FUNCTIONS: &[&str] =
    &["size", "contains", "startsWith", "endsWith", "int", "string", "timestamp", "duration", "getHours", "getDayOfWeek", "has"];

struct Checker<'a> {
    source: &'a str,
    program: &'a Program,
    facts: &'static [Fact],
    facts_used: Vec<String>,
    comprehensions: usize,
}

impl Checker<'_> {
    /// 1-based line and column of the node `id`.
    fn position(&self, id: u64) -> (u32, u32) {
        let offset = self.program.source_info().offset_for(id).map_or(0, |(start, _)| start as usize);
        let before: String = self.source.chars().take(offset).collect();
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
    }

    fn fail<T>(&self, id: u64, message: impl Into<String>) -> Result<T, ConditionError> {
        Err(ConditionError::at(message, self.position(id)))
    }

    /// The dotted path `a.b.c` an expression spells, if it is one.
    fn path(expr: &Expr) -> Option<String> {
        match expr {
            Expr::Ident(name) => Some(name.clone()),
            Expr::Select(select) if !select.test => Some(format!("{}.{}", Self::path(&select.operand.expr)?, select.field)),
            _ => None,
        }
    }

    fn check(&mut self, node: &IdedExpr, scope: &HashMap<String, Ty>, depth: usize) -> Result<Ty, ConditionError> {
        match &node.expr {
            Expr::Unspecified => self.fail(node.id, "is incomplete"),
            Expr::Literal(literal) => Ok(match literal {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Int(_) | LiteralValue::UInt(_) => Ty::Int,
                LiteralValue::Double(_) => Ty::Double,
                LiteralValue::String(_) => Ty::String,
                LiteralValue::Null => Ty::Null,
                LiteralValue::Bytes(_) => return self.fail(node.id, "bytes literals are not facts Ordo has"),
            }),
            Expr::Ident(name) => match scope.get(name) {
                Some(ty) => {
                    if self.facts.iter().any(|f| f.name == name) {
                        self.facts_used.push(name.clone());
                    }
                    Ok(ty.clone())
                }
                None => {
                    let known: Vec<&str> = self.facts.iter().map(|f| f.name).collect();
                    self.fail(node.id, format!("unknown fact {name}; the facts are {} (text goes in quotes: '{name}')", known.join(", ")))
                }
            },
            Expr::Select(select) => {
                let operand = self.check(&select.operand, scope, depth)?;
                let ty = match operand {
                    Ty::Record(fields) => match fields.iter().find(|f| f.name == select.field) {
                        Some(f) => Ty::from(f.ty),
                        None => {
                            let path = Self::path(&node.expr).unwrap_or_else(|| select.field.clone());
                            let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
                            return self.fail(node.id, format!("unknown fact {path}; known here: {}", names.join(", ")));
                        }
                    },
                    Ty::Dyn => Ty::Dyn,
                    other => return self.fail(node.id, format!("{} has no field {}", other.name(), select.field)),
                };
                if let Some(path) = Self::path(&node.expr).filter(|p| self.facts.iter().any(|f| p.starts_with(&format!("{}.", f.name)))) {
                    self.facts_used.retain(|used| !path.starts_with(&format!("{used}.")) && used != &path);
                    self.facts_used.push(path);
                }
                Ok(if select.test { Ty::Bool } else { ty })
            }
            Expr::List(list) => {
                let mut element = Ty::Dyn;
                for (i, e) in list.elements.iter().enumerate() {
                    let ty = self.check(e, scope, depth)?;
                    if i == 0 {
                        element = ty;
                    } else if !element.comparable_with(&ty) {
                        element = Ty::Dyn;
                    }
                }
                Ok(Ty::List(Box::new(element)))
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(e) = &entry.expr {
                        self.check(&e.key, scope, depth)?;
                        self.check(&e.value, scope, depth)?;
                    }
                }
                Ok(Ty::Dyn)
            }
            Expr::Struct(_) => self.fail(node.id, "message literals are not supported"),
            Expr::Comprehension(comprehension) => {
                self.comprehensions += 1;
                if self.comprehensions > MAX_COMPREHENSIONS || depth >= MAX_COMPREHENSION_DEPTH {
                    return self.fail(
                        node.id,
                        format!("uses too many list macros (at most {MAX_COMPREHENSIONS}, nested {MAX_COMPREHENSION_DEPTH} deep)"),
                    );
                }
                let range = self.check(&comprehension.iter_range, scope, depth)?;
                let element = match range {
                    Ty::List(element) => *element,
                    Ty::Dyn => Ty::Dyn,
                    other => return self.fail(comprehension.iter_range.id, format!("{} is not a list", other.name())),
                };
                let mut inner = scope.clone();
                inner.insert(comprehension.iter_var.clone(), element);
                if let Some(second) = &comprehension.iter_var2 {
                    inner.insert(second.clone(), Ty::Dyn);
                }
                inner.insert(comprehension.accu_var.clone(), Ty::Dyn);
                self.check(&comprehension.accu_init, &inner, depth + 1)?;
                self.check(&comprehension.loop_cond, &inner, depth + 1)?;
                self.check(&comprehension.loop_step, &inner, depth + 1)?;
                self.check(&comprehension.result, &inner, depth + 1)
            }
            Expr::Call(call) => self.check_call(node, call, scope, depth),
        }
    }

    fn check_call(
        &mut self,
        node: &IdedExpr,
        call: &cel::common::ast::CallExpr,
        scope: &HashMap<String, Ty>,
        depth: usize,
    ) -> Result<Ty, ConditionError> {
        let name = call.func_name.as_str();
        let target = match &call.target {
            Some(target) => Some(self.check(target, scope, depth)?),
            None => None,
        };
        let mut args = Vec::with_capacity(call.args.len());
        for arg in &call.args {
            args.push(self.check(arg, scope, depth)?);
        }
        let operand = |i: usize| call.args.get(i).map_or(node.id, |a| a.id);
        match name {
            "_&&_" | "_||_" | "!_" | "@not_strictly_false" => {
                for (i, ty) in args.iter().enumerate() {
                    if !matches!(ty, Ty::Bool | Ty::Dyn) {
                        return self.fail(operand(i), format!("is {}, but {} needs true or false", ty.name(), operator(name)));
                    }
                }
                Ok(Ty::Bool)
            }
            "_==_" | "_!=_" | "_<_" | "_<=_" | "_>_" | "_>=_" => {
                if let [left, right] = args.as_slice() {
                    if matches!(left, Ty::Double) || matches!(right, Ty::Double) {
                        return self.fail(node.id, "compares with a fraction: money and quantities are whole minor units, such as 50000");
                    }
                    if !left.comparable_with(right) {
                        return self.fail(node.id, format!("compares {} with {}", left.name(), right.name()));
                    }
                }
                Ok(Ty::Bool)
            }
            "_+_" | "_-_" | "_*_" | "_/_" | "_%_" | "-_" => {
                for (i, ty) in args.iter().enumerate() {
                    let fits = match name {
                        "_+_" => matches!(ty, Ty::Int | Ty::String | Ty::List(_) | Ty::Dyn),
                        _ => matches!(ty, Ty::Int | Ty::Dyn),
                    };
                    if !fits {
                        return self.fail(operand(i), format!("is {}, which {} does not take", ty.name(), operator(name)));
                    }
                }
                Ok(args.iter().find(|t| **t != Ty::Dyn).cloned().unwrap_or(Ty::Dyn))
            }
            "_?_:_" => {
                if let [condition, yes, no] = args.as_slice() {
                    if !matches!(condition, Ty::Bool | Ty::Dyn) {
                        return self.fail(operand(0), format!("is {}, but a choice needs true or false", condition.name()));
                    }
                    return Ok(if yes == no { yes.clone() } else { Ty::Dyn });
                }
                Ok(Ty::Dyn)
            }
            "_[_]" => Ok(match args.first() {
                Some(Ty::List(element)) => (**element).clone(),
                _ => Ty::Dyn,
            }),
            "@in" => Ok(Ty::Bool),
            "size" => Ok(Ty::Int),
            "contains" | "startsWith" | "endsWith" => {
                if let Some(target) = target.as_ref().filter(|t| !matches!(t, Ty::String | Ty::Dyn)) {
                    return self.fail(node.id, format!("{name} works on text, not {}", target.name()));
                }
                Ok(Ty::Bool)
            }
            "int" | "getHours" | "getDayOfWeek" => Ok(Ty::Int),
            "string" => Ok(Ty::String),
            "timestamp" => Ok(Ty::Timestamp),
            "duration" => Ok(Ty::Dyn),
            _ if FUNCTIONS.contains(&name) => Ok(Ty::Dyn),
            _ => self.fail(node.id, format!("unknown function {name}; the functions are {}", FUNCTIONS.join(", "))),
        }
    }
}

/// An operator as people write it: `_&&_` is `&&`.
fn operator(name: &str) -> String {
    match name {
        "@not_strictly_false" => "a list macro".to_owned(),
        "-_" => "negation".to_owned(),
        other => format!("`{}`", other.trim_matches('_')),
    }
}

/// The message's first line: the parser adds a picture of the source below it.
/// The parser's complaint in the words of someone writing a rule: what is wrong and what to
/// write instead, not the grammar's token names.
fn plain_syntax(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    let line = line.strip_prefix("Syntax error: ").unwrap_or(line);
    let quoted = |text: &str| text.split_once('\'').and_then(|(_, rest)| rest.rsplit_once('\'')).map(|(inner, _)| inner.to_owned());
    let word_hint = |word: &str| match word {
        "and" | "AND" => Some("write && for and"),
        "or" | "OR" => Some("write || for or"),
        "not" | "NOT" => Some("write ! for not"),
        _ => None,
    };
    if let Some(rest) = line.strip_prefix("mismatched input ").or_else(|| line.strip_prefix("extraneous input ")) {
        let (found, expecting) = rest.split_once(" expecting ").unwrap_or((rest, ""));
        let found = quoted(found).unwrap_or_else(|| found.to_owned());
        let wants_value = expecting.contains("IDENTIFIER");
        return match (found.as_str(), word_hint(&found)) {
            ("<EOF>", _) => "the condition stops too early: a fact, a number or a text in quotes should follow".to_owned(),
            (_, Some(hint)) => format!("{found:?} is not understood here: {hint}"),
            _ if wants_value => format!("{found:?} is not expected here: a fact, a number or a text in quotes should come here"),
            _ => format!("{found:?} is not expected here: after a comparison come &&, || or the end"),
        };
    }
    if let Some(rest) = line.strip_prefix("missing ") {
        let missing = quoted(rest.split(" at ").next().unwrap_or(rest)).unwrap_or_else(|| rest.to_owned());
        return format!("a {missing:?} is missing");
    }
    if let Some(rest) = line.strip_prefix("token recognition error at: ") {
        let text = quoted(rest).unwrap_or_else(|| rest.to_owned());
        let text = text.trim();
        return match text.chars().next() {
            Some('\'' | '"') => "a text is not closed: end it with the quote it starts with".to_owned(),
            Some('=') => "\"=\" is not understood: compare with == (or !=, <, <=, >, >=)".to_owned(),
            Some('&') => "\"&\" is not understood: write && for and".to_owned(),
            Some('|') => "\"|\" is not understood: write || for or".to_owned(),
            _ => format!("{text:?} is not understood"),
        };
    }
    line.to_owned()
}

/// Refuses brackets nested deeper than [`MAX_NESTING`] before the parser recurses into them.
fn check_nesting(source: &str) -> Result<(), ConditionError> {
    let (mut depth, mut line, mut column) = (0usize, 1u32, 0u32);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in source.chars() {
        column += 1;
        if c == '\n' {
            line += 1;
            column = 0;
        }
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(ConditionError::at(format!("nests deeper than {MAX_NESTING} brackets"), (line, column)));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(source: &str) -> ConditionError {
        Condition::compile(source).map(|c| c.source().to_owned()).unwrap_err()
    }

    #[test]
    fn a_condition_over_known_facts_compiles_and_evaluates() {
        let condition = Condition::compile("order.total_minor > 5 * channel.average_order_minor && channel.orders >= 20").unwrap();
        assert_eq!(condition.facts_used, ["channel.average_order_minor", "channel.orders", "order.total_minor"]);
        assert_eq!(condition.evaluate(&Facts::sample()), Ok(false));
        let lines = Condition::compile("order.lines.exists(l, l.quantity > 3 && l.sku.startsWith('SKU-'))").unwrap();
        assert_eq!(lines.evaluate(&Facts::sample()), Ok(false));
        let country = Condition::compile("order.billing_country != '' && order.billing_country != order.ship_country").unwrap();
        assert_eq!(country.evaluate(&Facts::sample()), Ok(false));
        let hour = Condition::compile("timestamp(order.placed_at).getHours() >= 22").unwrap();
        assert_eq!(hour.evaluate(&Facts::sample()), Ok(false));
    }

    #[test]
    fn a_syntax_error_names_its_line_and_column() {
        let e = refused("order.total_minor >");
        assert_eq!((e.line, e.column), (Some(1), Some(20)), "{e}");
        assert!(e.message.starts_with("the condition stops too early"), "{e}");
        let e = refused("order.payment_status == 'captured' &&\n  order.units >> 2");
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn unknown_facts_and_functions_are_refused_where_they_stand() {
        let e = refused("order.totl > 1");
        assert!(e.message.starts_with("unknown fact order.totl"), "{e}");
        assert_eq!((e.line, e.column), (Some(1), Some(6)));
        assert!(refused("stock.available > 0").message.starts_with("unknown fact stock"));
        let words = |source: &str| refused(source).message;
        assert_eq!(words("order.total_minor >"), "the condition stops too early: a fact, a number or a text in quotes should follow");
        assert_eq!(words("order.total_minor > 5 and true"), "\"and\" is not understood here: write && for and");
        assert_eq!(words("order.total_minor >> 5"), "\">\" is not expected here: a fact, a number or a text in quotes should come here");
        assert_eq!(words("(order.total_minor > 5"), "a \")\" is missing");
        assert_eq!(words("order.total_minor = 5"), "\"=\" is not understood: compare with == (or !=, <, <=, >, >=)");
        assert_eq!(words("order.channel == 'web"), "a text is not closed: end it with the quote it starts with");
        assert!(words("order.channel == web").ends_with("(text goes in quotes: 'web')"));
        for source in ["order.total_minor >", "order.total_minor = 5", "order.total_minor > 5 or true", "a b"] {
            let message = words(source);
            assert!(!message.contains("IDENTIFIER") && !message.contains("Syntax error") && !message.contains("<EOF>"), "{source}: {message}");
        }
        assert!(refused("order.lines.exists(l, l.colour == 'red')").message.starts_with("unknown fact l.colour"));
        assert!(refused("sleep(10)").message.starts_with("unknown function sleep"));
    }

    #[test]
    fn wrong_types_are_refused() {
        assert_eq!(refused("order.total_minor > 'a lot'").message, "compares a number with text");
        assert!(refused("order.total_minor > 500.00").message.contains("fraction"));
        assert!(refused("order.total_minor").message.starts_with("must be true or false"));
        assert!(refused("order.units && true").message.contains("needs true or false"));
        assert!(refused("order.lines.contains('x')").message.contains("works on text"));
    }

    #[test]
    fn oversized_deep_and_heavy_conditions_are_refused() {
        let long = format!("order.units > 0{}", " && order.units > 0".repeat(200));
        assert!(refused(&long).message.contains("longer than"));
        let deep = format!("{}true{}", "(".repeat(30), ")".repeat(30));
        assert!(refused(&deep).message.contains("nests deeper"));
        let nested = "order.lines.all(a, order.lines.all(b, order.lines.all(c, a.quantity + b.quantity + c.quantity > 0)))";
        assert!(refused(nested).message.contains("too many list macros"));
        assert!(refused("").message.contains("is needed"));
    }

    #[test]
    fn an_error_while_evaluating_is_reported_not_taken_for_an_answer() {
        let condition = Condition::compile("order.units / channel.orders > 1").unwrap();
        let facts = Facts::from_json(vec![
            ("order".into(), serde_json::json!({"units": 3})),
            ("channel".into(), serde_json::json!({"orders": 0})),
        ]);
        assert!(condition.evaluate(&facts).is_err());
    }

    #[test]
    fn reasons_are_filled_in_from_the_facts() {
        let facts = Facts::sample();
        assert_eq!(facts.fill("payment is {order.payment_status}; {order.units} units"), "payment is captured; 200 units");
        assert_eq!(facts.fill("{order.nope} and {unclosed"), "{order.nope} and {unclosed");
    }

    #[test]
    fn actions_are_checked_by_kind() {
        let routing = serde_json::json!({"locations": ["central", "overflow"], "allow_split": true});
        assert_eq!(
            RuleAction::parse(RuleKind::Routing, &routing),
            Ok(RuleAction::Routing { locations: vec!["central".into(), "overflow".into()], allow_split: true })
        );
        assert_eq!(RuleAction::parse(RuleKind::Routing, &serde_json::json!({"locations": []})).unwrap_err().field, "action.locations");
        assert_eq!(RuleAction::parse(RuleKind::RiskHold, &serde_json::json!({"reason": " "})).unwrap_err().field, "action.reason");
        assert_eq!(RuleAction::parse(RuleKind::Escalation, &serde_json::json!({"to_role": "boss"})).unwrap_err().field, "action.to_role");
        assert_eq!(RuleAction::parse(RuleKind::Notification, &serde_json::json!({"to": "role:ops", "template": "late"})).map(|_| ()), Ok(()));
        assert_eq!(RuleAction::parse(RuleKind::Tagging, &serde_json::json!([])).unwrap_err().field, "action");
    }

    #[test]
    fn a_version_moves_only_forward() {
        use RuleStatus::*;
        assert!(Draft.can_become(Submitted) && Submitted.can_become(Approved) && Approved.can_become(Active) && Active.can_become(Retired));
        assert!(!Draft.can_become(Active) && !Submitted.can_become(Active) && !Retired.can_become(Active) && !Rejected.can_become(Submitted));
    }

    #[test]
    fn an_escalation_rule_may_name_every_exception_kind() {
        let kinds = EXCEPTION.iter().find(|f| f.name == "kind").map(|f| f.doc).unwrap_or_default();
        for kind in crate::exception::ExceptionKind::ALL {
            assert!(kinds.contains(kind.as_str()), "exception.kind does not list {}", kind.as_str());
        }
    }

    #[test]
    fn the_documented_facts_are_the_ones_in_force() {
        let doc = include_str!("../../../docs/rules.md");
        for facts in [FACTS, EXCEPTION_FACTS] {
            let table = facts_markdown_for(facts);
            assert!(doc.contains(&table), "docs/rules.md is stale; paste this table into it:\n{table}");
        }
    }

    #[test]
    fn escalation_rules_read_the_exception_and_not_an_order() {
        let rule = Condition::compile_for("exception.kind == 'stockout' && exception.overdue_hours >= 4", RuleKind::Escalation).unwrap();
        assert_eq!(rule.evaluate(&Facts::sample_exception()), Ok(true));
        let e = Condition::compile_for("order.total_minor > 1", RuleKind::Escalation).unwrap_err();
        assert!(e.message.starts_with("unknown fact order"), "{e}");
    }

    #[test]
    fn every_fact_is_documented() {
        let table = facts_markdown();
        for path in ["`order.total_minor`", "`order.lines[].sku`", "`channel.average_order_minor`", "`now`"] {
            assert!(table.contains(path), "{path}");
        }
    }
}

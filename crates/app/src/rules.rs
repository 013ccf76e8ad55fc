//! Rules through their life cycle: a draft is written, submitted once its condition checks
//! out, approved (or rejected) by another person of a role that owns the rule's kind, and put
//! in force at its effective time, retiring the version before it in the same transaction.
//! Every step is in the audit log.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ordo_domain::audit::Change;
use ordo_domain::decide::{ChannelStats, CompiledRule, FactLine, OrderFacts, PassedOver};
use ordo_domain::planning::{fact_lines, PlannedLine};
use ordo_domain::rules::{Condition, Facts, RuleAction, RuleKind, RuleStatus, RuleVersion, MAX_CONDITION_LEN};
use ordo_domain::FieldError;
use ordo_storage::NewRuleVersion;
use uuid::Uuid;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Rules};

/// A rule as its author writes it.
#[derive(Debug, Clone)]
pub struct NewRule {
    pub name: String,
    pub kind: String,
    /// Lower runs first among rules of one kind; 100 when absent.
    pub priority: Option<i64>,
    pub description: Option<String>,
    pub condition: String,
    pub action: serde_json::Value,
}

/// A draft as saved, with what checking its condition found: a draft may be saved before it
/// compiles, but not submitted.
#[derive(Debug, Clone)]
pub struct Drafted {
    pub rule: RuleVersion,
    pub problem: Option<ordo_domain::rules::ConditionError>,
}

/// The rules of `kind` in force, by priority. A stored rule that no longer compiles (facts
/// renamed by an upgrade, say) decides nothing and is logged.
pub(crate) async fn load_active(tx: &mut ordo_storage::Tx, kind: RuleKind) -> AppResult<Arc<Vec<CompiledRule>>> {
    let mut rules = Vec::new();
    for rule in tx.rule_versions(Some(RuleStatus::Active.as_str()), None).await? {
        if rule.kind != kind.as_str() {
            continue;
        }
        match (Condition::reload(&rule.condition, kind), RuleAction::parse(kind, &rule.action)) {
            (Ok(condition), Ok(action)) => {
                rules.push(CompiledRule { name: rule.name, version: rule.version, priority: rule.priority, condition, action })
            }
            (Err(e), _) => tracing::error!(rule = %rule.name, version = rule.version, error = %e, "a rule in force no longer compiles"),
            (_, Err(e)) => tracing::error!(rule = %rule.name, version = rule.version, error = %e, "a rule in force has a bad action"),
        }
    }
    Ok(Arc::new(rules))
}

/// Logs the rules that could not decide and were passed over.
pub(crate) fn log_passed_over(passed_over: &[PassedOver]) {
    for p in passed_over {
        tracing::warn!(rule = %p.rule, error = %p.error, "a rule could not decide; passed over");
    }
}

/// The facts rules decide an order on at intake; its lines only when `lines`.
pub(crate) fn order_facts(
    channel: &ordo_domain::master::Channel,
    order: &ordo_domain::order::CheckedOrder,
    planned: &[PlannedLine],
    total: ordo_domain::Money,
    stats: ChannelStats,
    now: DateTime<Utc>,
    lines: bool,
) -> Facts {
    OrderFacts {
        external_id: &order.external_id,
        currency: order.currency.code(),
        total_minor: total.minor(),
        shipping_method: &order.shipping_method,
        payment_status: order.payment_status.as_str(),
        ship_country: &order.ship_to.country,
        billing_country: order.billing_country.as_deref(),
        placed_at: order.placed_at,
        customer_email: &order.customer_email,
        customer_name: &order.customer_name,
        lines: fact_lines(planned),
    }
    .facts(channel, stats, now, lines)
}

/// The same facts about an order Ordo keeps: for a held order released.
pub(crate) fn stored_order_facts(order: &ordo_domain::order::Order, channel: &ordo_domain::master::Channel, stats: ChannelStats, now: DateTime<Utc>) -> Facts {
    let lines = order
        .lines
        .iter()
        .filter(|l| l.part_of.is_none())
        .map(|l| FactLine { sku: &l.sku, quantity: l.quantity, unit_price_minor: l.unit_price.minor(), kit: l.kit })
        .collect();
    OrderFacts {
        external_id: &order.external_id,
        currency: order.currency.code(),
        total_minor: order.total.minor(),
        shipping_method: &order.shipping_method,
        payment_status: order.payment_status.as_str(),
        ship_country: &order.ship_to.country,
        billing_country: order.billing_country.as_deref(),
        placed_at: order.placed_at,
        customer_email: &order.customer.email,
        customer_name: &order.customer.name,
        lines,
    }
    .facts(channel, stats, now, true)
}

/// The meta key set once the initial rules are in force.
const INITIAL_RULES: &str = "initial_rules";

/// Whether the initial rules were put in force already.
pub async fn initial_rules_seeded(tx: &mut ordo_storage::Tx) -> AppResult<bool> {
    Ok(tx.meta(INITIAL_RULES).await?.is_some())
}

/// Puts the initial rule set in force on a database that never had one: the risk-hold rules
/// the risk settings describe ([`ordo_domain::risk::RiskPolicy::initial_rules`]), written and
/// approved by `system`. Runs once per database.
pub async fn seed_initial_rules(tx: &mut ordo_storage::Tx, policy: &ordo_domain::risk::RiskPolicy, now: DateTime<Utc>) -> AppResult<()> {
    if initial_rules_seeded(tx).await? {
        return Ok(());
    }
    let system = Actor::system();
    let mut changes = Vec::new();
    for rule in policy.initial_rules() {
        let id = Uuid::now_v7();
        let action = serde_json::json!({"reason": rule.reason});
        let row = NewRuleVersion {
            id,
            name: rule.name,
            kind: RuleKind::RiskHold.as_str(),
            priority: 100,
            description: rule.description,
            condition: &rule.condition,
            action: &action,
            author: "system",
        };
        tx.insert_rule_version(&row, now).await?;
        tx.submit_rule_version(id, now).await?;
        tx.approve_rule_version(id, "system", now, now).await?;
        tx.activate_rule_version(id, now).await?;
        changes.push(
            Change::new("rule.seed", format!("rule:{}", rule.name))
                .after(serde_json::json!({"version": 1, "status": "active", "condition": rule.condition, "action": action}))
                .reason("the initial rule set, from the risk settings"),
        );
    }
    tx.set_meta(INITIAL_RULES, "true").await?;
    record(tx, &system, now, &changes).await
}

fn not_found(id: Uuid) -> AppError {
    AppError::NotFound { what: "rule version", key: id.to_string() }
}

fn refuse(rule: &RuleVersion, next: RuleStatus) -> AppError {
    AppError::InvalidTransition { current: rule.status.as_str(), message: format!("a rule version that is {} cannot become {next}", rule.status) }
}

/// The condition checked, its problem as the `condition` field's error.
pub(crate) fn compile(source: &str, kind: RuleKind) -> Result<Condition, FieldError> {
    Condition::compile_for(source, kind).map_err(|e| FieldError::new("condition", e.to_string()))
}

impl Rules<'_> {
    /// Saves a draft as the next version of the rule `name`.
    pub async fn draft_rule(self, new: NewRule, actor: &Actor) -> AppResult<Drafted> {
        let name = ordo_domain::field::code("name", &new.name)?;
        let kind = RuleKind::parse("kind", &new.kind)?;
        let priority = ordo_domain::field::bounded("priority", new.priority.unwrap_or(100), 0, 1_000_000)?;
        let description = new.description.as_deref().map(str::trim).unwrap_or_default().to_owned();
        if description.chars().count() > 500 {
            return Err(FieldError::new("description", "must be at most 500 characters").into());
        }
        if new.condition.chars().count() > MAX_CONDITION_LEN {
            return Err(FieldError::new("condition", format!("is longer than {MAX_CONDITION_LEN} characters")).into());
        }
        RuleAction::parse(kind, &new.action)?;
        let problem = Condition::compile_for(&new.condition, kind).err();
        let now = self.now();
        let id = Uuid::now_v7();
        let author = actor.to_string();
        let mut tx = self.db.write().await?;
        let row = NewRuleVersion {
            id,
            name: &name,
            kind: kind.as_str(),
            priority,
            description: &description,
            condition: new.condition.trim(),
            action: &new.action,
            author: &author,
        };
        let version = tx.insert_rule_version(&row, now).await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        let change = Change::new("rule.draft", format!("rule:{name}"))
            .after(serde_json::json!({"version": version, "kind": kind.as_str(), "condition": rule.condition, "action": rule.action}));
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok(Drafted { rule, problem })
    }

    /// Rule versions in `status` (or all) of the rule `name` (or all rules).
    pub async fn list(self, status: Option<&str>, name: Option<&str>) -> AppResult<Vec<RuleVersion>> {
        if let Some(s) = status.filter(|s| RuleStatus::parse(s).is_none()) {
            return Err(FieldError::new("status", format!("{s:?} is not draft, submitted, approved, active, retired or rejected")).into());
        }
        Ok(self.db.read().await?.rule_versions(status, name).await?)
    }

    pub async fn rule(self, id: Uuid) -> AppResult<RuleVersion> {
        self.db.read().await?.rule_version(id).await?.ok_or_else(|| not_found(id))
    }

    /// Submits a draft for approval. Its condition must compile and use only known facts;
    /// the error names the line and column.
    pub async fn submit_rule(self, id: Uuid, actor: &Actor) -> AppResult<RuleVersion> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        if !rule.status.can_become(RuleStatus::Submitted) {
            return Err(refuse(&rule, RuleStatus::Submitted));
        }
        let condition = compile(&rule.condition, RuleKind::parse("kind", &rule.kind)?)?;
        tx.submit_rule_version(id, now).await?;
        let change = Change::new("rule.submit", format!("rule:{}", rule.name))
            .before(serde_json::json!({"version": rule.version, "status": rule.status}))
            .after(serde_json::json!({"version": rule.version, "status": "submitted", "facts": condition.facts_used}));
        record(&mut tx, actor, now, &[change]).await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        tx.commit().await?;
        Ok(rule)
    }

    /// Approves a submitted version, in force from `effective_from` (now when absent). The
    /// approver is another person than the author, of a role that owns the rule's kind.
    pub async fn approve_rule(self, id: Uuid, effective_from: Option<DateTime<Utc>>, actor: &Actor) -> AppResult<RuleVersion> {
        self.decide(id, Some(effective_from), "", actor).await
    }

    /// Rejects a submitted version, saying why; the same people may reject as may approve.
    pub async fn reject_rule(self, id: Uuid, reason: &str, actor: &Actor) -> AppResult<RuleVersion> {
        let reason = ordo_domain::field::text("reason", reason)?;
        self.decide(id, None, &reason, actor).await
    }

    /// Approves (`Some` effective time) or rejects (`None`).
    async fn decide(self, id: Uuid, approve: Option<Option<DateTime<Utc>>>, reason: &str, actor: &Actor) -> AppResult<RuleVersion> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        let next = if approve.is_some() { RuleStatus::Approved } else { RuleStatus::Rejected };
        if !rule.status.can_become(next) {
            return Err(refuse(&rule, next));
        }
        let who = actor.to_string();
        if rule.author == who {
            return Err(AppError::Forbidden(format!("{who} wrote this version; another person must approve or reject it")));
        }
        let kind = RuleKind::parse("kind", &rule.kind)?;
        if !kind.approvers().contains(&actor.role) {
            let roles: Vec<&str> = kind.approvers().iter().map(|r| r.as_str()).collect();
            return Err(AppError::Forbidden(format!("a {} rule is approved by {}", kind.as_str(), roles.join(" or "))));
        }
        let change = match approve {
            Some(effective_from) => {
                let from = effective_from.unwrap_or(now);
                tx.approve_rule_version(id, &who, from, now).await?;
                Change::new("rule.approve", format!("rule:{}", rule.name))
                    .before(serde_json::json!({"version": rule.version, "status": rule.status}))
                    .after(serde_json::json!({"version": rule.version, "status": "approved", "effective_from": from}))
            }
            None => {
                tx.reject_rule_version(id, &who, now).await?;
                Change::new("rule.reject", format!("rule:{}", rule.name))
                    .before(serde_json::json!({"version": rule.version, "status": rule.status}))
                    .after(serde_json::json!({"version": rule.version, "status": "rejected"}))
                    .reason(reason)
            }
        };
        record(&mut tx, actor, now, &[change]).await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        tx.commit().await?;
        Ok(rule)
    }

    /// Puts an approved version in force now that its effective time has come, retiring the
    /// version of the same rule in force before it, in one transaction.
    pub async fn activate_rule(self, id: Uuid, actor: &Actor) -> AppResult<RuleVersion> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        if !rule.status.can_become(RuleStatus::Active) {
            return Err(refuse(&rule, RuleStatus::Active));
        }
        if let Some(from) = rule.effective_from.filter(|from| *from > now) {
            let message = format!("this version is in force from {}, not before", from.format("%Y-%m-%d %H:%M UTC"));
            return Err(AppError::InvalidTransition { current: "approved", message });
        }
        self.activate_in(&mut tx, &rule, actor, now).await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        tx.commit().await?;
        self.cache.clear();
        Ok(rule)
    }

    async fn activate_in(self, tx: &mut ordo_storage::Tx, rule: &RuleVersion, actor: &Actor, now: DateTime<Utc>) -> AppResult<()> {
        let Some(previous) = tx.activate_rule_version(rule.id, now).await? else {
            return Err(refuse(rule, RuleStatus::Active));
        };
        let previous = match previous {
            Some(id) => tx.rule_version(id).await?.map(|p| p.version),
            None => None,
        };
        let change = Change::new("rule.activate", format!("rule:{}", rule.name))
            .before(serde_json::json!({"active_version": previous}))
            .after(serde_json::json!({"active_version": rule.version}));
        record(tx, actor, now, &[change]).await
    }

    /// Takes an active version out of force, saying why; the rule then decides nothing.
    pub async fn retire_rule(self, id: Uuid, reason: &str, actor: &Actor) -> AppResult<RuleVersion> {
        let reason = ordo_domain::field::text("reason", reason)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        if !tx.retire_rule_version(id, now).await? {
            return Err(refuse(&rule, RuleStatus::Retired));
        }
        let change = Change::new("rule.retire", format!("rule:{}", rule.name))
            .before(serde_json::json!({"active_version": rule.version}))
            .after(serde_json::json!({"active_version": null}))
            .reason(&reason);
        record(&mut tx, actor, now, &[change]).await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        tx.commit().await?;
        self.cache.clear();
        Ok(rule)
    }

    /// Puts in force every approved version whose effective time has come; the clock watch
    /// runs this every minute. Returns how many went into force.
    pub async fn activate_due_rules(self) -> AppResult<u64> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut activated = 0;
        for id in tx.due_rule_versions(now).await? {
            if let Some(rule) = tx.rule_version(id).await? {
                self.activate_in(&mut tx, &rule, &Actor::system(), now).await?;
                activated += 1;
            }
        }
        tx.commit().await?;
        if activated > 0 {
            self.cache.clear();
        }
        Ok(activated)
    }
}

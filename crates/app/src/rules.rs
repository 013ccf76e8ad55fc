//! Rules through their life cycle: a draft is written, submitted once its condition checks
//! out, approved (or rejected) by another person of a role that owns the rule's kind, and put
//! in force at its effective time, retiring the version before it in the same transaction.
//! Every step is in the audit log.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ordo_domain::audit::Change;
use ordo_domain::routing::Preference;
use ordo_domain::rules::{Condition, Facts, RuleAction, RuleKind, RuleStatus, RuleVersion, MAX_CONDITION_LEN};
use ordo_domain::FieldError;
use ordo_storage::NewRuleVersion;
use uuid::Uuid;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Ordo};

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

/// A rule in force, compiled once and kept with the master data cache.
#[derive(Debug, Clone)]
pub(crate) struct ActiveRule {
    pub(crate) name: String,
    pub(crate) version: i64,
    pub(crate) priority: i64,
    pub(crate) condition: Condition,
    pub(crate) action: RuleAction,
}

impl ActiveRule {
    /// How decisions name the rule: `name v3`.
    pub(crate) fn label(&self) -> String {
        format!("{} v{}", self.name, self.version)
    }
}

/// The rules of `kind` in force, by priority. A stored rule that no longer compiles (facts
/// renamed by an upgrade, say) decides nothing and is logged.
pub(crate) async fn load_active(tx: &mut ordo_storage::Tx, kind: RuleKind) -> AppResult<Arc<Vec<ActiveRule>>> {
    let mut rules = Vec::new();
    for rule in tx.rule_versions(Some(RuleStatus::Active.as_str()), None).await? {
        if rule.kind != kind.as_str() {
            continue;
        }
        match (Condition::reload(&rule.condition, kind), RuleAction::parse(kind, &rule.action)) {
            (Ok(condition), Ok(action)) => {
                rules.push(ActiveRule { name: rule.name, version: rule.version, priority: rule.priority, condition, action })
            }
            (Err(e), _) => tracing::error!(rule = %rule.name, version = rule.version, error = %e, "a rule in force no longer compiles"),
            (_, Err(e)) => tracing::error!(rule = %rule.name, version = rule.version, error = %e, "a rule in force has a bad action"),
        }
    }
    Ok(Arc::new(rules))
}

/// Whether any of `rules` reads the order's lines: the facts leave them out otherwise, which
/// spares intake most of the work of building them.
pub(crate) fn read_lines(rules: &[ActiveRule]) -> bool {
    rules.iter().any(|rule| rule.condition.facts_used.iter().any(|fact| fact == "order" || fact.starts_with("order.lines")))
}

/// What an order's facts are made of, however the order is held: as intake plans it, as Ordo
/// keeps it, or as a replay reads it.
pub(crate) struct OrderFacts<'a> {
    pub(crate) external_id: &'a str,
    pub(crate) currency: &'a str,
    pub(crate) total_minor: i64,
    pub(crate) shipping_method: &'a str,
    pub(crate) payment_status: &'a str,
    pub(crate) ship_country: &'a str,
    pub(crate) billing_country: Option<&'a str>,
    pub(crate) placed_at: DateTime<Utc>,
    pub(crate) customer_email: &'a str,
    pub(crate) customer_name: &'a str,
    /// The lines the channel sent (not a kit's components): SKU, quantity, unit price in
    /// minor units, whether a kit.
    pub(crate) lines: Vec<(&'a str, i64, i64, bool)>,
}

impl OrderFacts<'_> {
    /// The facts by top-level name; the order's lines only when `with_lines` (see [`read_lines`]).
    pub(crate) fn facts(&self, channel: &ordo_domain::master::Channel, stats: (i64, i64), now: DateTime<Utc>, with_lines: bool) -> Facts {
        let lines: Vec<serde_json::Value> = self
            .lines
            .iter()
            .filter(|_| with_lines)
            .map(|(sku, quantity, price, kit)| serde_json::json!({"sku": sku, "quantity": quantity, "unit_price_minor": price, "kit": kit}))
            .collect();
        let order = serde_json::json!({
            "channel": channel.code, "external_id": self.external_id, "currency": self.currency,
            "total_minor": self.total_minor, "units": self.lines.iter().map(|l| l.1).sum::<i64>(), "line_count": self.lines.len(),
            "shipping_method": self.shipping_method, "payment_status": self.payment_status,
            "ship_country": self.ship_country, "billing_country": self.billing_country.unwrap_or_default(),
            "placed_at": self.placed_at.to_rfc3339(), "lines": lines,
        });
        Facts::from_json(vec![
            ("order".into(), order),
            ("customer".into(), serde_json::json!({"email": self.customer_email, "name": self.customer_name})),
            (
                "channel".into(),
                serde_json::json!({"code": channel.code, "kind": channel.kind.as_str(), "orders": stats.0, "average_order_minor": stats.1}),
            ),
            ("now".into(), serde_json::json!(now.to_rfc3339())),
        ])
    }
}

/// The facts risk, routing and tagging rules decide an order on at intake; its lines only
/// when `lines`.
pub(crate) fn order_facts(
    channel: &ordo_domain::master::Channel,
    order: &ordo_domain::order::CheckedOrder,
    planned: &[crate::intake::PlannedLine],
    total: ordo_domain::Money,
    stats: (i64, i64),
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
        lines: planned.iter().filter(|l| l.part_of.is_none()).map(|l| (l.sku.as_str(), l.quantity, l.unit_price.minor(), l.kit)).collect(),
    }
    .facts(channel, stats, now, lines)
}

/// The same facts about an order Ordo keeps: for a held order released.
pub(crate) fn stored_order_facts(
    order: &ordo_domain::order::Order,
    channel: &ordo_domain::master::Channel,
    stats: (i64, i64),
    now: DateTime<Utc>,
) -> Facts {
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
        lines: order.lines.iter().filter(|l| l.part_of.is_none()).map(|l| (l.sku.as_str(), l.quantity, l.unit_price.minor(), l.kit)).collect(),
    }
    .facts(channel, stats, now, true)
}


/// Why the risk rules in force hold an order: each holding rule's reason with its name and
/// version. A rule that cannot decide holds the order too, saying so: a person looks.
pub(crate) fn rule_holds(rules: &[ActiveRule], facts: &Facts) -> Vec<String> {
    rule_holds_by(rules, facts, &mut |rule| rule.condition.evaluate(facts))
}

/// [`rule_holds`], asking `holds` whether each rule's condition holds: a replay answers each
/// rule once for both rule sets.
pub(crate) fn rule_holds_by(rules: &[ActiveRule], facts: &Facts, holds: &mut dyn FnMut(&ActiveRule) -> Result<bool, String>) -> Vec<String> {
    let mut reasons = Vec::new();
    for rule in rules {
        match (holds(rule), &rule.action) {
            (Ok(true), RuleAction::RiskHold { reason }) => reasons.push(format!("{} (rule {})", facts.fill(reason), rule.label())),
            (Ok(_), _) => {}
            (Err(e), _) => reasons.push(format!("rule {} could not decide: {e}", rule.label())),
        }
    }
    reasons
}

/// The tags the tagging rules in force put on an order: (tag, `rule NAME vN`), each tag once.
/// A rule that cannot decide puts none and is logged.
pub(crate) fn rule_tags(rules: &[ActiveRule], facts: &Facts) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for rule in rules {
        match (rule.condition.evaluate(facts), &rule.action) {
            (Ok(true), RuleAction::Tagging { tag }) if !tags.iter().any(|(t, _)| t == tag) => {
                tags.push((tag.clone(), format!("rule {}", rule.label())));
            }
            (Ok(_), _) => {}
            (Err(e), _) => tracing::warn!(rule = %rule.label(), error = %e, "a tagging rule could not decide; passed over"),
        }
    }
    tags
}

/// The notices the notification rules whose conditions hold give about an order: who is to
/// hear, and the rule's template filled with the order's facts.
pub(crate) fn rule_notices(rules: &[ActiveRule], facts: &Facts) -> Vec<serde_json::Value> {
    let mut notices = Vec::new();
    for rule in rules {
        match (rule.condition.evaluate(facts), &rule.action) {
            (Ok(true), RuleAction::Notification { to, template }) => notices.push(serde_json::json!({
                "rule": rule.label(),
                "to": to,
                "text": facts.fill(template),
            })),
            (Ok(_), _) => {}
            (Err(e), _) => tracing::warn!(rule = %rule.label(), error = %e, "a notification rule could not decide; passed over"),
        }
    }
    notices
}

/// The rules in force that decide an order as it arrives, one list per kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderRules<'a> {
    pub(crate) risk: &'a [ActiveRule],
    pub(crate) routing: &'a [ActiveRule],
    pub(crate) tagging: &'a [ActiveRule],
    pub(crate) notification: &'a [ActiveRule],
}

impl OrderRules<'_> {
    fn all(&self) -> [&[ActiveRule]; 4] {
        [self.risk, self.routing, self.tagging, self.notification]
    }
}

/// What the rules in force decide about an order: why it waits for a person (empty when it
/// may go ahead), which routing rule chose its locations (none for the default), its tags,
/// and the notices to send about it.
#[derive(Debug, Default)]
pub(crate) struct OrderDecisions {
    pub(crate) holds: Vec<String>,
    pub(crate) preference: Option<Preference>,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) notices: Vec<serde_json::Value>,
}

/// Decides an order by the rules given, building its facts once (by `facts`, lines included
/// only when a rule reads them) and not at all when there is no rule. A held order is not
/// routed: it reserves nothing until a person releases it.
pub(crate) fn decide_order(rules: OrderRules<'_>, facts: impl FnOnce(bool) -> Facts) -> OrderDecisions {
    if rules.all().iter().all(|kind| kind.is_empty()) {
        return OrderDecisions::default();
    }
    let facts = facts(rules.all().iter().any(|kind| read_lines(kind)));
    let holds = rule_holds(rules.risk, &facts);
    let preference = if holds.is_empty() { routing_choice(rules.routing, &facts) } else { None };
    OrderDecisions {
        holds,
        preference,
        tags: rule_tags(rules.tagging, &facts),
        notices: rule_notices(rules.notification, &facts),
    }
}

/// The location preference of the first routing rule in force (by priority) whose condition
/// holds; none, and the default decision, when no rule's does. A rule that cannot decide is
/// passed over and logged.
pub(crate) fn routing_choice(rules: &[ActiveRule], facts: &Facts) -> Option<Preference> {
    routing_choice_by(rules, &mut |rule| rule.condition.evaluate(facts))
}

/// [`routing_choice`], asking `holds` whether each rule's condition holds.
pub(crate) fn routing_choice_by(rules: &[ActiveRule], holds: &mut dyn FnMut(&ActiveRule) -> Result<bool, String>) -> Option<Preference> {
    rules.iter().find_map(|rule| match (holds(rule), &rule.action) {
        (Ok(true), RuleAction::Routing { locations, allow_split }) => {
            Some(Preference { decider: format!("rule {}", rule.label()), locations: locations.clone(), allow_split: *allow_split })
        }
        (Ok(_), _) => None,
        (Err(e), _) => {
            tracing::warn!(rule = %rule.label(), error = %e, "a routing rule could not decide; passed over");
            None
        }
    })
}

/// Puts the initial rule set in force on a database that never had one: the risk-hold rules
/// the risk settings describe ([`ordo_domain::risk::RiskPolicy::initial_rules`]), written and
/// approved by `system`. Runs once per database.
pub(crate) async fn seed_initial_rules(tx: &mut ordo_storage::Tx, policy: &ordo_domain::risk::RiskPolicy, now: DateTime<Utc>) -> AppResult<()> {
    const MARK: &str = "initial_rules";
    if tx.meta(MARK).await?.is_some() {
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
    tx.set_meta(MARK, "true").await?;
    record(tx, &system, now, &changes).await
}

fn not_found(id: Uuid) -> AppError {
    AppError::NotFound { what: "rule version", key: id.to_string() }
}

fn refuse(rule: &RuleVersion, next: RuleStatus) -> AppError {
    let current = RuleStatus::parse(&rule.status).map_or("unknown", RuleStatus::as_str);
    AppError::InvalidTransition { current, message: format!("a rule version that is {} cannot become {}", rule.status, next.as_str()) }
}

/// The condition checked, its problem as the `condition` field's error.
pub(crate) fn compile(source: &str, kind: RuleKind) -> Result<Condition, FieldError> {
    Condition::compile_for(source, kind).map_err(|e| FieldError::new("condition", e.to_string()))
}

impl Ordo {
    /// Saves a draft as the next version of the rule `name`.
    pub async fn draft_rule(&self, new: NewRule, actor: &Actor) -> AppResult<Drafted> {
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
    pub async fn rules(&self, status: Option<&str>, name: Option<&str>) -> AppResult<Vec<RuleVersion>> {
        if let Some(s) = status.filter(|s| RuleStatus::parse(s).is_none()) {
            return Err(FieldError::new("status", format!("{s:?} is not draft, submitted, approved, active, retired or rejected")).into());
        }
        Ok(self.db.read().await?.rule_versions(status, name).await?)
    }

    pub async fn rule(&self, id: Uuid) -> AppResult<RuleVersion> {
        self.db.read().await?.rule_version(id).await?.ok_or_else(|| not_found(id))
    }

    /// Submits a draft for approval. Its condition must compile and use only known facts;
    /// the error names the line and column.
    pub async fn submit_rule(&self, id: Uuid, actor: &Actor) -> AppResult<RuleVersion> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        if rule.status != RuleStatus::Draft.as_str() {
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
    pub async fn approve_rule(&self, id: Uuid, effective_from: Option<DateTime<Utc>>, actor: &Actor) -> AppResult<RuleVersion> {
        self.decide(id, Some(effective_from), "", actor).await
    }

    /// Rejects a submitted version, saying why; the same people may reject as may approve.
    pub async fn reject_rule(&self, id: Uuid, reason: &str, actor: &Actor) -> AppResult<RuleVersion> {
        let reason = ordo_domain::field::text("reason", reason)?;
        self.decide(id, None, &reason, actor).await
    }

    /// Approves (`Some` effective time) or rejects (`None`).
    async fn decide(&self, id: Uuid, approve: Option<Option<DateTime<Utc>>>, reason: &str, actor: &Actor) -> AppResult<RuleVersion> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        let next = if approve.is_some() { RuleStatus::Approved } else { RuleStatus::Rejected };
        if rule.status != RuleStatus::Submitted.as_str() {
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
    pub async fn activate_rule(&self, id: Uuid, actor: &Actor) -> AppResult<RuleVersion> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let rule = tx.rule_version(id).await?.ok_or_else(|| not_found(id))?;
        if rule.status != RuleStatus::Approved.as_str() {
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

    async fn activate_in(&self, tx: &mut ordo_storage::Tx, rule: &RuleVersion, actor: &Actor, now: DateTime<Utc>) -> AppResult<()> {
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
    pub async fn retire_rule(&self, id: Uuid, reason: &str, actor: &Actor) -> AppResult<RuleVersion> {
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
    pub async fn activate_due_rules(&self) -> AppResult<u64> {
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

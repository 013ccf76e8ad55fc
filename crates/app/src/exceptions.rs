//! The exceptions queue as people work it: list and filter, acknowledge, comment, resolve
//! with a code (one or many at once), and escalation of what goes past due.
//!
//! Anyone who may work the queue comments; only the owning role (or an admin) acknowledges
//! and resolves. Every action is in the audit log.

use ordo_domain::audit::Change;
use ordo_domain::exception::{EscalationStep, Exception, ExceptionComment, ExceptionKind, ExceptionStatus, Resolution};
use ordo_domain::notification::Topic;
use ordo_domain::access::Role;
use ordo_domain::FieldError;
use ordo_domain::rules::RuleKind;
use ordo_storage::ExceptionQuery;
use uuid::Uuid;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Exceptions};

/// Which exceptions to list; every part optional.
#[derive(Debug, Clone, Default)]
pub struct ExceptionFilter {
    /// open, acknowledged, escalated, resolved, or unresolved (the first three).
    pub status: Option<String>,
    pub kind: Option<String>,
    pub owner_role: Option<String>,
    /// Only those past their due time.
    pub overdue: bool,
    pub limit: i64,
    pub offset: i64,
    /// After the exception this names, for the next page.
    pub after: Option<ordo_domain::field::PageCursor>,
}

/// What a person does to exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExceptionAction {
    /// Someone is on it.
    Acknowledge,
    Comment { body: String },
    Resolve { code: Resolution, note: String },
}

/// One exception with its comments.
#[derive(Debug, Clone)]
pub struct ExceptionDetail {
    pub exception: Exception,
    pub comments: Vec<ExceptionComment>,
}

/// The most exceptions one action takes at once.
pub const MAX_BATCH: usize = 500;
/// The most exceptions one page lists.
pub const MAX_EXCEPTION_PAGE: i64 = 1000;

impl Exceptions<'_> {
    /// The exceptions `filter` selects, earliest due first, with how many it selects in all.
    pub async fn list(self, filter: ExceptionFilter) -> AppResult<(Vec<Exception>, i64)> {
        let clean = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let status = clean(filter.status);
        let unresolved = status.as_deref() == Some("unresolved");
        let status = match status.filter(|_| !unresolved) {
            Some(s) => Some(
                ExceptionStatus::parse("status", &s)
                    .map_err(|_| FieldError::new("status", "must be open, acknowledged, escalated, resolved or unresolved"))?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let kind = clean(filter.kind).map(|k| ExceptionKind::parse("kind", &k).map(|k| k.as_str().to_owned())).transpose()?;
        let owner = clean(filter.owner_role).map(|r| Role::parse("owner_role", &r)).transpose()?;
        let query = ExceptionQuery {
            status,
            unresolved,
            kind,
            owner_role: owner.map(|r| r.as_str().to_owned()),
            // A role's queue keeps the kinds it owns after they escalate past it.
            owned_kinds: owner.map(|r| ExceptionKind::owned_by(r).into_iter().map(ExceptionKind::as_str).collect()).unwrap_or_default(),
            due_before: filter.overdue.then(|| self.now()),
            limit: ordo_domain::field::bounded("limit", filter.limit, 1, MAX_EXCEPTION_PAGE)?,
            offset: ordo_domain::field::bounded("offset", filter.offset, 0, i64::MAX)?,
            after: filter.after,
        };
        Ok(self.db.read().await?.exceptions(&query).await?)
    }

    /// Unresolved exceptions by status: what the contract's `?status=open` and the overview
    /// ask for.
    pub async fn exceptions_in(self, status: &str) -> AppResult<Vec<Exception>> {
        let filter = ExceptionFilter { status: Some(status.to_owned()), limit: MAX_EXCEPTION_PAGE, ..Default::default() };
        Ok(self.list(filter).await?.0)
    }

    pub async fn exception(self, id: Uuid) -> AppResult<ExceptionDetail> {
        let mut tx = self.db.read().await?;
        let exception = tx.exception(id).await?.ok_or_else(|| not_found(id))?;
        let comments = tx.exception_comments(id).await?;
        Ok(ExceptionDetail { exception, comments })
    }

    /// How many exceptions there are of each kind, by kind.
    pub async fn exception_counts(self) -> AppResult<Vec<ordo_domain::exception::ExceptionCount>> {
        Ok(self.db.read().await?.exception_counts().await?)
    }

    /// Does `action` to every exception in `ids`, or to none: an id that does not exist, an
    /// exception another role owns, or one whose state does not allow the action refuses the
    /// whole batch. Returns the exceptions as they are after.
    pub async fn act_on_exceptions(self, ids: &[Uuid], action: &ExceptionAction, actor: &Actor) -> AppResult<Vec<Exception>> {
        if ids.is_empty() || ids.len() > MAX_BATCH {
            return Err(FieldError::new("ids", format!("give 1 to {MAX_BATCH} exception ids")).into());
        }
        let action = match action {
            ExceptionAction::Comment { body } => ExceptionAction::Comment { body: text("body", body, 2000)? },
            ExceptionAction::Resolve { code, note } => ExceptionAction::Resolve { code: *code, note: optional_text("note", note, 500)? },
            ExceptionAction::Acknowledge => ExceptionAction::Acknowledge,
        };
        let now = self.now();
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        let mut changes = Vec::with_capacity(ids.len());
        let mut after = Vec::with_capacity(ids.len());
        // Acted on in id order, as every batch is, so that two batches sharing exceptions never
        // wait on each other in a circle; an id named twice is acted on once.
        let mut ordered = ids.to_vec();
        ordered.sort_unstable();
        ordered.dedup();
        for id in &ordered {
            let exception = tx.exception(*id).await?.ok_or_else(|| not_found(*id))?;
            let status = exception.status;
            let owns = match (ExceptionKind::parse("kind", &exception.kind), Role::parse("owner_role", &exception.owner_role)) {
                (Ok(kind), Ok(owner)) => kind.may_act(actor.role, owner),
                _ => actor.role == Role::Admin || actor.role.as_str() == exception.owner_role,
            };
            let subject = format!("exception:{id}");
            let change = match &action {
                ExceptionAction::Comment { body } => {
                    tx.add_exception_comment(*id, &who, body, now).await?;
                    Change::new("exception.comment", subject).after(serde_json::json!({"comment": body}))
                }
                _ if !owns => {
                    let message = format!("exception {id} is owned by {}; only that role or an admin may act on it", exception.owner_role);
                    return Err(AppError::Forbidden(message));
                }
                ExceptionAction::Acknowledge => {
                    if !status.may_acknowledge() || !tx.acknowledge_exception(*id, &who, now).await? {
                        let message = format!("an exception that is {} cannot be acknowledged", status.as_str());
                        return Err(AppError::InvalidTransition { current: status.as_str(), message });
                    }
                    Change::new("exception.acknowledge", subject).before(status.as_str()).after(ExceptionStatus::Acknowledged.as_str())
                }
                ExceptionAction::Resolve { code, note } => {
                    if !tx.resolve_exception_by_id(*id, code.as_str(), note, &who, now).await? {
                        let message = "this exception was resolved already".to_owned();
                        return Err(AppError::InvalidTransition { current: status.as_str(), message });
                    }
                    Change::new("exception.resolve", subject)
                        .before(status.as_str())
                        .after(serde_json::json!({"status": "resolved", "resolution_code": code.as_str()}))
                        .reason(note)
                }
            };
            changes.push(change);
        }
        record(&mut tx, actor, now, &changes).await?;
        for id in ids {
            after.push(tx.exception(*id).await?.ok_or_else(|| not_found(*id))?);
        }
        tx.commit().await?;
        Ok(after)
    }

    /// Moves every unresolved exception past its due time one step up its kind's escalation
    /// path (to its role's lead when the role has one, then to the next role), marked
    /// escalated and due again one SLA later. Those already at the top stay. Safe to run from several processes at once; returns how many moved.
    pub async fn escalate_overdue(self) -> AppResult<u64> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        // Locked first, in id order as batches act, though escalated by due time.
        tx.lock_overdue_exceptions(now).await?;
        let rules = crate::rules::load_active(&mut tx, RuleKind::Escalation).await?;
        let listeners = crate::outbox::Listeners::read(&mut tx).await?;
        let leads = tx.role_leads().await?;
        let mut changes = Vec::new();
        // Page through everything overdue: those that escalate leave the list (their new due
        // time is ahead), those with nowhere to go stay, and the next page starts after them,
        // so a pile of the last role's exceptions never hides newer ones.
        let mut offset = 0;
        loop {
            let query = ExceptionQuery { unresolved: true, due_before: Some(now), limit: MAX_EXCEPTION_PAGE, offset, ..Default::default() };
            let (overdue, _) = tx.exceptions(&query).await?;
            let read = overdue.len() as i64;
            for exception in overdue {
                let (Ok(kind), Ok(owner)) = (ExceptionKind::parse("kind", &exception.kind), Role::parse("owner_role", &exception.owner_role))
                else {
                    offset += 1;
                    continue;
                };
                // An escalation rule in force may send it elsewhere than the next role on its path.
                let (chosen, passed_over) = ordo_domain::decide::escalation_target(&rules, &exception, now);
                crate::rules::log_passed_over(&passed_over);
                let chosen = chosen.filter(|(role, _)| *role != owner);
                let lead = leads.iter().find(|(role, _)| *role == owner.as_str()).map(|(_, user)| user.as_str());
                let step = match &chosen {
                    Some((role, _)) => Some(EscalationStep::Role(*role)),
                    None => kind.next_step(owner, exception.assigned_to.is_some(), lead),
                };
                let (next, assigned_to) = match step {
                    Some(EscalationStep::Lead(user)) => (owner, Some(user)),
                    Some(EscalationStep::Role(role)) => (role, None),
                    None => {
                        offset += 1;
                        continue;
                    }
                };
                let by = chosen.map(|(_, rule)| format!(" by {rule}")).unwrap_or_default();
                let due = now + kind.sla();
                if tx.escalate_exception(exception.id, owner.as_str(), next.as_str(), assigned_to.as_deref(), due, now).await? {
                    let change = Change::new("exception.escalate", format!("exception:{}", exception.id))
                        .before(serde_json::json!({"owner_role": owner.as_str(), "assigned_to": exception.assigned_to, "status": exception.status, "due_at": exception.due_at}))
                        .after(serde_json::json!({"owner_role": next.as_str(), "assigned_to": assigned_to, "status": "escalated", "due_at": due}))
                        .reason(&format!("{} past due since {}{by}", kind.as_str(), exception.due_at.format("%Y-%m-%d %H:%M UTC")));
                    changes.push(change);
                    let subject = format!("exception:{}", exception.id);
                    let details = serde_json::json!({
                        "kind": kind.as_str(), "subject": exception.subject, "from": owner.as_str(), "to": next.as_str(), "lead": assigned_to,
                        "due_at": due, "escalations": exception.escalations + 1,
                    });
                    listeners.notify_all(&mut tx, Topic::ExceptionEscalated, now, || vec![(subject, details)]).await?;
                } else {
                    offset += 1;
                }
            }
            if read < MAX_EXCEPTION_PAGE {
                break;
            }
        }
        record(&mut tx, &Actor::system(), now, &changes).await?;
        tx.commit().await?;
        Ok(changes.len() as u64)
    }
}

fn not_found(id: Uuid) -> AppError {
    AppError::NotFound { what: "exception", key: id.to_string() }
}

fn text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(FieldError::new(field, format!("must be 1 to {max} characters")));
    }
    Ok(value.to_owned())
}

fn optional_text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    Ok(value.to_owned())
}

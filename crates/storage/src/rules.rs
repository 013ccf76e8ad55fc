//! Rule versions through their life cycle, and the set in force.

use chrono::{DateTime, Utc};
use ordo_domain::rules::RuleVersion;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx};

const COLUMNS: &str = "id, name, version, kind, priority, description, condition, action, status, author, created_at, \
                       submitted_at, approver, approved_at, effective_from, activated_at, retired_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    version: i64,
    kind: String,
    priority: i64,
    description: String,
    condition: String,
    action: String,
    status: String,
    author: String,
    created_at: DateTime<Utc>,
    submitted_at: Option<DateTime<Utc>>,
    approver: Option<String>,
    approved_at: Option<DateTime<Utc>>,
    effective_from: Option<DateTime<Utc>>,
    activated_at: Option<DateTime<Utc>>,
    retired_at: Option<DateTime<Utc>>,
}

fn version(row: Row) -> Result<RuleVersion, StorageError> {
    let action = serde_json::from_str(&row.action).map_err(|_| crate::error::corrupt("rule_versions.action"))?;
    Ok(RuleVersion {
        id: row.id,
        name: row.name,
        version: row.version,
        kind: row.kind,
        priority: row.priority,
        description: row.description,
        condition: row.condition,
        action,
        status: ordo_domain::rules::RuleStatus::parse(&row.status).ok_or_else(|| crate::error::corrupt("rule_versions.status"))?,
        author: row.author,
        created_at: row.created_at,
        submitted_at: row.submitted_at,
        approver: row.approver,
        approved_at: row.approved_at,
        effective_from: row.effective_from,
        activated_at: row.activated_at,
        retired_at: row.retired_at,
    })
}

/// A new draft version.
pub struct NewRuleVersion<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub kind: &'a str,
    pub priority: i64,
    pub description: &'a str,
    pub condition: &'a str,
    pub action: &'a serde_json::Value,
    pub author: &'a str,
}

impl Tx {
    /// Writes a draft as the next version of its rule; returns the version number.
    pub async fn insert_rule_version(&mut self, new: &NewRuleVersion<'_>, now: DateTime<Utc>) -> Result<i64, StorageError> {
        // Drafts of one rule written at once take turns, so that each gets its own number.
        self.take_turn(&format!("ordo rule version of {}", new.name)).await?;
        let next = "SELECT CAST(COALESCE(MAX(version), 0) + 1 AS BIGINT) FROM rule_versions WHERE name = $1";
        let version: i64 = on_engine!(self, |conn| sqlx::query_scalar(next).bind(new.name).fetch_one(conn).await?);
        let sql = "INSERT INTO rule_versions (id, name, version, kind, priority, description, condition, action, status, author, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'draft', $9, $10)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(new.id)
            .bind(new.name)
            .bind(version)
            .bind(new.kind)
            .bind(new.priority)
            .bind(new.description)
            .bind(new.condition)
            .bind(new.action.to_string())
            .bind(new.author)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(version)
    }

    pub async fn rule_version(&mut self, id: Uuid) -> Result<Option<RuleVersion>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM rule_versions WHERE id = $1");
        let row: Option<Row> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?);
        row.map(version).transpose()
    }

    /// Versions in `status` (or all), by kind, priority, name and version.
    pub async fn rule_versions(&mut self, status: Option<&str>, name: Option<&str>) -> Result<Vec<RuleVersion>, StorageError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM rule_versions WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR name = $2) \
             ORDER BY kind, priority, name, version DESC LIMIT 1000"
        );
        let rows: Vec<Row> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(status).bind(name).fetch_all(conn).await?);
        rows.into_iter().map(version).collect()
    }

    /// Submits a draft; `false` when it is no longer a draft.
    pub async fn submit_rule_version(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE rule_versions SET status = 'submitted', submitted_at = $2 WHERE id = $1 AND status = 'draft'";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(now).execute(conn).await?.rows_affected()) == 1)
    }

    /// Approves a submitted version, in force from `effective_from`; `false` when it is no
    /// longer submitted.
    pub async fn approve_rule_version(
        &mut self,
        id: Uuid,
        approver: &str,
        effective_from: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let sql = "UPDATE rule_versions SET status = 'approved', approver = $2, approved_at = $3, effective_from = $4 \
                   WHERE id = $1 AND status = 'submitted'";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(approver).bind(now).bind(effective_from).execute(conn).await?.rows_affected())
            == 1)
    }

    pub async fn reject_rule_version(&mut self, id: Uuid, approver: &str, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE rule_versions SET status = 'rejected', approver = $2, approved_at = $3 WHERE id = $1 AND status = 'submitted'";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(approver).bind(now).execute(conn).await?.rows_affected()) == 1)
    }

    /// Puts an approved version in force, retiring the version of the same rule in force
    /// before it; returns that one's id. `None` when it was not approved or not yet due.
    pub async fn activate_rule_version(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<Option<Option<Uuid>>, StorageError> {
        let Some(rule) = self.rule_version(id).await? else { return Ok(None) };
        if rule.status != ordo_domain::rules::RuleStatus::Approved || rule.effective_from.is_some_and(|from| from > now) {
            return Ok(None);
        }
        let previous = "SELECT id FROM rule_versions WHERE name = $1 AND status = 'active'";
        let previous: Option<Uuid> = on_engine!(self, |conn| sqlx::query_scalar(previous).bind(&rule.name).fetch_optional(conn).await?);
        if let Some(previous) = previous {
            self.retire_rule_version(previous, now).await?;
        }
        let sql = "UPDATE rule_versions SET status = 'active', activated_at = $2 WHERE id = $1 AND status = 'approved'";
        let changed = on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(now).execute(conn).await?.rows_affected());
        Ok((changed == 1).then_some(previous))
    }

    /// Takes an active version out of force; `false` when it was not active.
    pub async fn retire_rule_version(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE rule_versions SET status = 'retired', retired_at = $2 WHERE id = $1 AND status = 'active'";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(now).execute(conn).await?.rows_affected()) == 1)
    }

    /// Approved versions whose effective time has come, oldest first.
    pub async fn due_rule_versions(&mut self, now: DateTime<Utc>) -> Result<Vec<Uuid>, StorageError> {
        let sql = "SELECT id FROM rule_versions WHERE status = 'approved' AND effective_from <= $1 ORDER BY effective_from, name";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(now).fetch_all(conn).await?))
    }
}

//! The audit log's use cases: every change is recorded in its own transaction by
//! [`record`]; people read the log with filters, and `ordo audit verify` walks the chain.

use chrono::{DateTime, Utc};
use ordo_domain::audit::{AuditEntry, AuditRecord, Break, Change, Verifier};
use ordo_domain::FieldError;
use ordo_storage::{AuditQuery, Tx};

use crate::{Actor, AppResult, Ordo};

/// What walking the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    /// Every record holds; this many were checked.
    Intact { records: u64 },
    /// The first record that does not hold, and why.
    Broken { seq: i64, problem: Break },
}

/// Records read per query while verifying: memory stays flat whatever the log's length.
const PAGE: i64 = 5_000;

/// The most records one page of the log shows.
pub const MAX_AUDIT_PAGE: i64 = 500;

/// Appends `changes`, made by `actor` at `at`, to the audit log inside `tx`: the records
/// commit with the change or not at all.
pub(crate) async fn record(tx: &mut Tx, actor: &Actor, at: DateTime<Utc>, changes: &[Change]) -> AppResult<()> {
    let entries: Vec<AuditEntry> = changes.iter().map(|change| actor.entry(at, change.clone())).collect();
    tx.append_audit(&entries).await?;
    Ok(())
}

impl Actor {
    /// `change` as this actor made it at `at`.
    pub(crate) fn entry(&self, at: DateTime<Utc>, change: Change) -> AuditEntry {
        AuditEntry { at, actor: self.to_string(), request_id: self.request_id.clone(), change }
    }
}

impl Ordo {
    /// Walks the whole chain in order and reports the first record that was edited, removed
    /// or moved, or that records were cut off the end.
    pub async fn verify_audit(&self) -> AppResult<AuditVerdict> {
        let mut tx = self.db.read().await?;
        let (head_seq, head_hash) = tx.audit_head().await?;
        let mut verifier = Verifier::default();
        let mut after = 0;
        loop {
            let page = tx.audit_records_after(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for record in &page {
                if let Err(problem) = verifier.check(record) {
                    return Ok(AuditVerdict::Broken { seq: record.seq, problem });
                }
            }
        }
        Ok(match verifier.finish(head_seq, &head_hash) {
            Ok(records) => AuditVerdict::Intact { records },
            Err(problem) => AuditVerdict::Broken { seq: verifier.next_seq(), problem },
        })
    }

    /// The records `query` selects, newest first.
    pub async fn audit_log(&self, mut query: AuditQuery) -> AppResult<Vec<AuditRecord>> {
        query.limit = ordo_domain::field::bounded("limit", query.limit, 1, MAX_AUDIT_PAGE)?;
        for (field, value) in [("actor", &query.actor), ("action", &query.action), ("subject", &query.subject)] {
            if value.as_ref().is_some_and(|v| v.chars().count() > ordo_domain::field::MAX_TEXT_LEN) {
                return Err(FieldError::new(field, "is too long").into());
            }
        }
        Ok(self.db.reader().await?.audit_records(&query).await?)
    }
}

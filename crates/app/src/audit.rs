//! The audit log's use cases: every change is recorded in its own transaction by
//! [`record`]; people read the log with filters, and `ordo audit verify` walks the chain.

use chrono::{DateTime, Utc};
use ordo_domain::audit::{AuditEntry, AuditRecord, Break, Change, Checkpoint, Verifier};
use ordo_domain::FieldError;
use ordo_storage::{AuditQuery, Tx};

use crate::{Actor, AppResult, Audit};

/// What walking the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    /// Every record holds; this many were checked, `keyed` of them hashed with the audit key,
    /// and every checkpoint given was found unchanged.
    Intact { records: u64, keyed: u64, checkpoints: usize },
    /// The first record that does not hold, and why.
    Broken { seq: i64, problem: Break },
}

/// Records read per query while verifying: memory stays flat whatever the log's length.
const PAGE: i64 = 5_000;

/// The most records one page of the log shows.
pub const MAX_AUDIT_PAGE: i64 = 500;

/// Appends `changes`, made by `actor` at `at`, to the audit log inside `tx`: the records
/// commit with the change or not at all.
pub async fn record(tx: &mut Tx, actor: &Actor, at: DateTime<Utc>, changes: &[Change]) -> AppResult<()> {
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

impl Audit<'_> {
    /// Walks the whole chain in order and reports the first record that was edited, removed
    /// or moved, or that records were cut off the end.
    pub async fn verify_audit(self) -> AppResult<AuditVerdict> {
        self.verify_audit_against(&[]).await
    }

    /// As [`Ordo::verify_audit`], and proves the log still holds each of `checkpoints`' records
    /// unchanged (so every record before them): a cut, a rewind or a rewrite since a checkpoint
    /// was taken is found. Each checkpoint must carry this configuration's signature.
    pub async fn verify_audit_against(self, checkpoints: &[Checkpoint]) -> AppResult<AuditVerdict> {
        if !checkpoints.is_empty() {
            let key = self.settings.audit_key.as_ref().ok_or_else(|| FieldError::new("audit_key", "checkpoints are verified with the audit key: set ORDO_AUDIT_KEY"))?;
            for checkpoint in checkpoints {
                checkpoint.verify(key).map_err(|e| FieldError::new("checkpoints", format!("the checkpoint of record {}: {e}", checkpoint.seq)))?;
            }
        }
        let mut tx = self.db.read().await?;
        let (head_seq, head_hash) = tx.audit_head().await?;
        let mut verifier = Verifier::new(self.settings.audit_key.clone());
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
        let records = match verifier.finish(head_seq, &head_hash) {
            Ok(records) => records,
            Err(problem) => return Ok(AuditVerdict::Broken { seq: verifier.next_seq(), problem }),
        };
        for checkpoint in checkpoints {
            if let Err(problem) = checkpoint.holds(tx.audit_hash(checkpoint.seq).await?.as_deref()) {
                return Ok(AuditVerdict::Broken { seq: checkpoint.seq, problem });
            }
        }
        Ok(AuditVerdict::Intact { records, keyed: verifier.keyed(), checkpoints: checkpoints.len() })
    }

    /// The head of the chain now, signed with the audit key: to keep outside the database.
    pub async fn audit_checkpoint(self) -> AppResult<Checkpoint> {
        let key = self.settings.audit_key.as_ref().ok_or_else(|| FieldError::new("audit_key", "checkpoints are signed with the audit key: set ORDO_AUDIT_KEY"))?;
        let (seq, hash) = self.db.read().await?.audit_head().await?;
        Ok(Checkpoint::sign(seq, &hash, self.now(), key))
    }

    /// The records `query` selects, newest first.
    pub async fn audit_log(self, mut query: AuditQuery) -> AppResult<Vec<AuditRecord>> {
        query.limit = ordo_domain::field::bounded("limit", query.limit, 1, MAX_AUDIT_PAGE)?;
        for (field, value) in [("actor", &query.actor), ("action", &query.action), ("subject", &query.subject)] {
            if value.as_ref().is_some_and(|v| v.chars().count() > ordo_domain::field::MAX_TEXT_LEN) {
                return Err(FieldError::new(field, "is too long").into());
            }
        }
        Ok(self.db.reader().await?.audit_records(&query).await?)
    }
}

//! The audit log: who changed what, when and why, as a hash chain nobody can quietly edit.
//!
//! Each record carries the SHA-256 of the previous record's hash and its own canonical content.
//! Editing a record changes its hash; removing or reordering records breaks the link the next
//! one holds; cutting records off the end disagrees with the head the log keeps beside them.
//! [`Verifier`] walks the chain in order and names the first record that does not hold.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash the first record links to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a use case records about one change it makes: the action, its subject, the state
/// before and after, and the reason a person gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// What was done, `noun.verb`: `order.cancel`, `rule.approve`.
    pub action: String,
    /// What it was done to, `kind:key`: `order:0190…`, `channel:AMZ`.
    pub subject: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub reason: Option<String>,
}

impl Change {
    pub fn new(action: &str, subject: impl Into<String>) -> Change {
        Change { action: action.to_owned(), subject: subject.into(), before: None, after: None, reason: None }
    }

    pub fn before(mut self, state: impl Serialize) -> Change {
        self.before = serde_json::to_value(state).ok();
        self
    }

    pub fn after(mut self, state: impl Serialize) -> Change {
        self.after = serde_json::to_value(state).ok();
        self
    }

    pub fn reason(mut self, reason: &str) -> Change {
        if !reason.trim().is_empty() {
            self.reason = Some(reason.to_owned());
        }
        self
    }
}

/// A [`Change`] with who made it, when, and on which request: what the log appends.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// `user:NAME`, `token:NAME` or `system`.
    pub actor: String,
    pub request_id: Option<String>,
    pub change: Change,
}

/// One record of the log as stored: a [`Change`] with its place in the chain, who made it and
/// on which request. `before` and `after` are canonical JSON text, so the hash can be checked
/// from what the database holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// `user:NAME`, `token:NAME` or `system`.
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// The record of `entry`, following the record whose hash is `prev_hash` at `seq - 1`.
    /// Times are kept to the microsecond, the finest both databases store.
    pub fn chain(prev_hash: &str, seq: i64, entry: &AuditEntry) -> AuditRecord {
        let change = &entry.change;
        let mut record = AuditRecord {
            seq,
            at: entry.at.trunc_subsecs(6),
            actor: entry.actor.clone(),
            action: change.action.clone(),
            subject: change.subject.clone(),
            before: change.before.as_ref().map(canonical_json),
            after: change.after.as_ref().map(canonical_json),
            reason: change.reason.clone(),
            request_id: entry.request_id.clone(),
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        record.hash = record.expected_hash();
        record
    }

    /// The hash this record must carry: SHA-256 over the previous hash and the canonical
    /// content, as lowercase hex.
    pub fn expected_hash(&self) -> String {
        let content = serde_json::json!([
            self.seq,
            self.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            self.actor,
            self.action,
            self.subject,
            self.before,
            self.after,
            self.reason,
            self.request_id,
        ]);
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.as_bytes());
        hasher.update(b"\n");
        hasher.update(content.to_string().as_bytes());
        crate::hex(&hasher.finalize())
    }
}

/// JSON text with object keys sorted at every depth, so equal values hash equally whatever
/// order their fields were built in. Written straight out, without copying the value.
pub fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(value, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::with_capacity(128);
    write(value, &mut out);
    out
}

/// Why the chain does not hold at a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// Its content no longer gives its hash: the record was edited.
    Edited,
    /// It does not link to the record before it: a record was removed or the order changed.
    Unlinked { expected_prev: String },
    /// Its number is not the one after the previous record's.
    OutOfSequence { expected_seq: i64 },
    /// The log ends before the head says it does: records were cut off the end.
    Truncated { head_seq: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Edited => f.write_str("its content does not match its hash (edited)"),
            Break::Unlinked { expected_prev } => {
                write!(f, "it does not link to the record before it (removed or reordered); expected previous hash {expected_prev}")
            }
            Break::OutOfSequence { expected_seq } => {
                write!(f, "expected record {expected_seq} here (removed or reordered)")
            }
            Break::Truncated { head_seq } => write!(f, "the log ends before record {head_seq}, the last one written (cut off)"),
        }
    }
}

/// Walks the chain record by record, in `seq` order, keeping only the last hash.
#[derive(Debug)]
pub struct Verifier {
    prev_hash: String,
    prev_seq: i64,
    checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier { prev_hash: GENESIS.to_owned(), prev_seq: 0, checked: 0 }
    }
}

impl Verifier {
    /// Checks the next record; the first error names what broke there.
    pub fn check(&mut self, record: &AuditRecord) -> Result<(), Break> {
        if record.seq != self.prev_seq + 1 {
            return Err(Break::OutOfSequence { expected_seq: self.prev_seq + 1 });
        }
        if record.prev_hash != self.prev_hash {
            return Err(Break::Unlinked { expected_prev: self.prev_hash.clone() });
        }
        if record.hash != record.expected_hash() {
            return Err(Break::Edited);
        }
        self.prev_hash.clone_from(&record.hash);
        self.prev_seq = record.seq;
        self.checked += 1;
        Ok(())
    }

    /// Checks that the walk ended where the head says the log ends.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<u64, Break> {
        if head_seq != self.prev_seq || head_hash != self.prev_hash {
            return Err(Break::Truncated { head_seq });
        }
        Ok(self.checked)
    }

    /// The number the next record must carry.
    pub fn next_seq(&self) -> i64 {
        self.prev_seq + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: i64) -> Vec<AuditRecord> {
        let at = DateTime::parse_from_rfc3339("2026-11-27T10:00:00.123456789Z").unwrap().with_timezone(&Utc);
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let change = Change::new("order.cancel", format!("order:{seq}"))
                    .before(serde_json::json!({"status": "allocated", "lines": 2}))
                    .after(serde_json::json!({"status": "cancelled"}))
                    .reason("customer asked");
                let entry = AuditEntry { at, actor: "user:ana".into(), request_id: Some("req-1".into()), change };
                let record = AuditRecord::chain(&prev, seq, &entry);
                prev.clone_from(&record.hash);
                record
            })
            .collect()
    }

    fn verify(records: &[AuditRecord]) -> Result<u64, (i64, Break)> {
        let mut verifier = Verifier::default();
        for record in records {
            verifier.check(record).map_err(|e| (record.seq, e))?;
        }
        let head = log(5).pop().unwrap();
        verifier.finish(head.seq, &head.hash).map_err(|e| (verifier.next_seq(), e))
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&log(5)), Ok(5));
    }

    #[test]
    fn an_edited_record_is_named() {
        let mut records = log(5);
        records[2].after = Some(r#"{"status":"shipped"}"#.to_owned());
        assert_eq!(verify(&records), Err((3, Break::Edited)));
    }

    #[test]
    fn a_removed_record_is_found_where_the_gap_is() {
        let mut records = log(5);
        records.remove(1);
        assert!(matches!(verify(&records), Err((3, Break::OutOfSequence { expected_seq: 2 }))));
    }

    #[test]
    fn a_removed_record_renumbered_over_still_breaks_the_links() {
        let mut records = log(5);
        records.remove(1);
        for (i, record) in records.iter_mut().enumerate() {
            record.seq = i as i64 + 1;
        }
        assert!(matches!(verify(&records), Err((2, Break::Unlinked { .. }))));
    }

    #[test]
    fn swapped_records_are_found() {
        let mut records = log(5);
        records.swap(1, 3);
        let (a, b) = (records[1].seq, records[3].seq);
        records[1].seq = b;
        records[3].seq = a;
        assert!(matches!(verify(&records), Err((2, Break::Unlinked { .. }))));
    }

    #[test]
    fn records_cut_off_the_end_are_found() {
        let mut records = log(5);
        records.pop();
        assert_eq!(verify(&records), Err((5, Break::Truncated { head_seq: 5 })));
    }

    #[test]
    fn the_hash_does_not_depend_on_field_order_or_nanoseconds() {
        let a = serde_json::json!({"b": 1, "a": {"d": [1, {"y": 2, "x": 1}], "c": null}});
        let b: Value = serde_json::from_str(r#"{"a": {"c": null, "d": [1, {"x": 1, "y": 2}]}, "b": 1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        let record = &log(1)[0];
        assert_eq!(record.at.timestamp_subsec_nanos(), 123_456_000);
        assert_eq!(record.hash, record.expected_hash());
    }
}

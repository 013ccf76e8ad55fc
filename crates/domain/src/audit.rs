//! The audit log: who changed what, when and why, as a hash chain nobody can quietly edit.
//!
//! Each record carries the SHA-256 of the previous record's hash and its own canonical content.
//! Editing a record changes its hash; removing or reordering records breaks the link the next
//! one holds; cutting records off the end disagrees with the head the log keeps beside them.
//! [`Verifier`] walks the chain in order and names the first record that does not hold.
//!
//! A plain SHA-256 chain can be recomputed by anyone who can write to the database. With a
//! [`ChainKey`] from the configuration (never stored in the database) each record's hash is an
//! HMAC-SHA256 instead (`hmac:` before the hex), which only the key's holder can make; and
//! [`Checkpoint`]s, the head signed with Ed25519 and kept outside the database, prove later that
//! the log still holds every record up to them unchanged. What is and is not detected is set
//! out in `docs/operations.md`.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

/// What a keyed hash starts with; an unkeyed one is bare hex.
const KEYED: &str = "hmac:";

/// The key the chain is hashed with, from the configuration (`ORDO_AUDIT_KEY`), never from the
/// database. Checkpoints are signed with an Ed25519 key derived from it.
#[derive(Clone)]
pub struct ChainKey([u8; 32]);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(…)")
    }
}

impl ChainKey {
    /// The fewest characters a configured key may have.
    pub const MIN_LEN: usize = 32;

    /// The key from its configured text.
    pub fn from_text(text: &str) -> Result<ChainKey, String> {
        if text.chars().count() < Self::MIN_LEN {
            return Err(format!("must be at least {} characters", Self::MIN_LEN));
        }
        let mut hasher = Sha256::new();
        hasher.update(b"ordo audit chain key\n");
        hasher.update(text.as_bytes());
        Ok(ChainKey(hasher.finalize().into()))
    }

    fn signing_key(&self) -> ed25519_dalek::SigningKey {
        let mut hasher = Sha256::new();
        hasher.update(b"ordo audit checkpoint signing\n");
        hasher.update(self.0);
        ed25519_dalek::SigningKey::from_bytes(&hasher.finalize().into())
    }

    /// The public half of the checkpoint signing key, as hex: what a checkpoint names.
    pub fn public_key(&self) -> String {
        crate::hex(self.signing_key().verifying_key().as_bytes())
    }
}

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
    /// Times are kept to the microsecond, the finest both databases store. Hashed with `key`
    /// when there is one.
    pub fn chain(prev_hash: &str, seq: i64, entry: &AuditEntry, key: Option<&ChainKey>) -> AuditRecord {
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
        record.hash = match key {
            Some(key) => record.keyed_hash(key),
            None => record.expected_hash(),
        };
        record
    }

    /// Whether the record's hash is keyed.
    pub fn is_keyed(&self) -> bool {
        self.hash.starts_with(KEYED)
    }

    /// The keyed hash this record must carry: `hmac:` and the HMAC-SHA256 under `key` of the
    /// previous hash and the canonical content, as lowercase hex.
    pub fn keyed_hash(&self, key: &ChainKey) -> String {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(self.prev_hash.as_bytes());
        mac.update(b"\n");
        mac.update(self.content().as_bytes());
        format!("{KEYED}{}", crate::hex(&mac.finalize().into_bytes()))
    }

    /// The unkeyed hash this record must carry: SHA-256 over the previous hash and the
    /// canonical content, as lowercase hex.
    pub fn expected_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.as_bytes());
        hasher.update(b"\n");
        hasher.update(self.content().as_bytes());
        crate::hex(&hasher.finalize())
    }

    fn content(&self) -> String {
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
        content.to_string()
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
    /// The record is keyed and no key was given to check it with.
    NeedsKey,
    /// An unkeyed record after a keyed one: a keyed chain never goes back to plain hashes.
    Downgraded,
    /// A checkpoint's record is missing or differs: the log was cut, rewound or rewritten
    /// since the checkpoint was taken.
    Checkpoint { seq: i64, expected_hash: String },
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
            Break::NeedsKey => f.write_str("it is hashed with the audit key, and none was given (set ORDO_AUDIT_KEY)"),
            Break::Downgraded => f.write_str("it is hashed without the key after records hashed with it (rewritten)"),
            Break::Checkpoint { seq, expected_hash } => {
                write!(f, "the checkpoint of record {seq} says its hash is {expected_hash}, and the log no longer holds that record (cut, rewound or rewritten)")
            }
        }
    }
}

/// Walks the chain record by record, in `seq` order, keeping only the last hash.
#[derive(Debug)]
pub struct Verifier {
    key: Option<ChainKey>,
    prev_hash: String,
    prev_seq: i64,
    checked: u64,
    keyed: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::new(None)
    }
}

impl Verifier {
    /// A verifier that checks keyed records with `key`.
    pub fn new(key: Option<ChainKey>) -> Verifier {
        Verifier { key, prev_hash: GENESIS.to_owned(), prev_seq: 0, checked: 0, keyed: 0 }
    }

    /// How many of the records checked were keyed.
    pub fn keyed(&self) -> u64 {
        self.keyed
    }

    /// Checks the next record; the first error names what broke there.
    pub fn check(&mut self, record: &AuditRecord) -> Result<(), Break> {
        if record.seq != self.prev_seq + 1 {
            return Err(Break::OutOfSequence { expected_seq: self.prev_seq + 1 });
        }
        if record.prev_hash != self.prev_hash {
            return Err(Break::Unlinked { expected_prev: self.prev_hash.clone() });
        }
        if record.is_keyed() {
            let key = self.key.as_ref().ok_or(Break::NeedsKey)?;
            if record.hash != record.keyed_hash(key) {
                return Err(Break::Edited);
            }
            self.keyed += 1;
        } else if self.keyed > 0 {
            return Err(Break::Downgraded);
        } else if record.hash != record.expected_hash() {
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

/// The head of the chain at a moment, signed: kept outside the database, it proves later that
/// the log still holds record `seq` with hash `hash`, and so every record before it unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at: DateTime<Utc>,
    /// The Ed25519 public key it was signed with, hex.
    pub public_key: String,
    /// Ed25519 over [`Checkpoint::message`], hex.
    pub signature: String,
}

/// Why a checkpoint cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("it was signed with another key than this configuration's audit key")]
    OtherKey,
    #[error("its signature does not match its content (forged or edited)")]
    BadSignature,
}

impl Checkpoint {
    /// The head (`seq`, `hash`) at `at`, signed with the key derived from `key`.
    pub fn sign(seq: i64, hash: &str, at: DateTime<Utc>, key: &ChainKey) -> Checkpoint {
        use ed25519_dalek::Signer;
        let at = at.trunc_subsecs(6);
        let signature = key.signing_key().sign(Self::message(seq, hash, at).as_bytes());
        Checkpoint { seq, hash: hash.to_owned(), at, public_key: key.public_key(), signature: crate::hex(&signature.to_bytes()) }
    }

    /// What the signature covers.
    fn message(seq: i64, hash: &str, at: DateTime<Utc>) -> String {
        format!("ordo audit checkpoint v1\n{seq}\n{hash}\n{}", at.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
    }

    /// Checks the signature against the key derived from `key`, not the one the file names.
    pub fn verify(&self, key: &ChainKey) -> Result<(), CheckpointError> {
        use ed25519_dalek::Verifier as _;
        let expected = key.signing_key().verifying_key();
        if self.public_key != crate::hex(expected.as_bytes()) {
            return Err(CheckpointError::OtherKey);
        }
        let bytes = unhex(&self.signature).ok_or(CheckpointError::BadSignature)?;
        let signature = ed25519_dalek::Signature::from_slice(&bytes).map_err(|_| CheckpointError::BadSignature)?;
        expected.verify(Self::message(self.seq, &self.hash, self.at).as_bytes(), &signature).map_err(|_| CheckpointError::BadSignature)
    }

    /// Whether the log's record at this checkpoint's `seq` (its hash, if the log has it) is
    /// the one checkpointed.
    pub fn holds(&self, hash_at_seq: Option<&str>) -> Result<(), Break> {
        match hash_at_seq {
            Some(hash) if hash == self.hash => Ok(()),
            _ => Err(Break::Checkpoint { seq: self.seq, expected_hash: self.hash.clone() }),
        }
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
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
                let record = AuditRecord::chain(&prev, seq, &entry, None);
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

    fn key() -> ChainKey {
        ChainKey::from_text("an audit key of at least thirty-two characters").unwrap()
    }

    /// A chain of `n` records hashed with `key` after `plain` unkeyed ones.
    fn keyed_log(plain: i64, n: i64, key: &ChainKey) -> Vec<AuditRecord> {
        let mut records = log(plain);
        let mut prev = records.last().map_or(GENESIS.to_owned(), |r| r.hash.clone());
        for seq in plain + 1..=plain + n {
            let entry = AuditEntry { at: Utc::now(), actor: "system".into(), request_id: None, change: Change::new("token.create", format!("token:{seq}")) };
            let record = AuditRecord::chain(&prev, seq, &entry, Some(key));
            prev.clone_from(&record.hash);
            records.push(record);
        }
        records
    }

    fn walk(records: &[AuditRecord], key: Option<ChainKey>) -> Result<u64, (i64, Break)> {
        let mut verifier = Verifier::new(key);
        for record in records {
            verifier.check(record).map_err(|e| (record.seq, e))?;
        }
        Ok(verifier.keyed())
    }

    #[test]
    fn a_keyed_chain_cannot_be_rehashed_without_the_key() {
        let key = key();
        let records = keyed_log(2, 3, &key);
        assert_eq!(walk(&records, Some(key.clone())), Ok(3), "two plain records before the key, three keyed");
        assert_eq!(walk(&records, None), Err((3, Break::NeedsKey)));
        // Edit a keyed record and recompute every later hash the way anyone could: unkeyed.
        let mut forged = records.clone();
        forged[3].reason = Some("nothing to see".into());
        for i in 3..forged.len() {
            forged[i].prev_hash = forged[i - 1].hash.clone();
            forged[i].hash = forged[i].expected_hash();
        }
        assert_eq!(walk(&forged, Some(key.clone())), Err((4, Break::Downgraded)));
        // … or keyed with a key of one's own.
        let other = ChainKey::from_text("somebody else's key, also thirty-two characters").unwrap();
        for i in 3..forged.len() {
            forged[i].prev_hash = forged[i - 1].hash.clone();
            forged[i].hash = forged[i].keyed_hash(&other);
        }
        assert_eq!(walk(&forged, Some(key)), Err((4, Break::Edited)));
        assert!(ChainKey::from_text("short").is_err());
    }

    #[test]
    fn checkpoints_are_signed_and_name_the_record_they_hold() {
        let key = key();
        let records = keyed_log(0, 4, &key);
        let head = &records[3];
        let checkpoint = Checkpoint::sign(head.seq, &head.hash, Utc::now(), &key);
        assert_eq!(checkpoint.verify(&key), Ok(()));
        let text = serde_json::to_string(&checkpoint).unwrap();
        let back: Checkpoint = serde_json::from_str(&text).unwrap();
        assert_eq!(back.verify(&key), Ok(()), "it survives the file");
        assert_eq!(checkpoint.holds(Some(&head.hash)), Ok(()));
        assert!(matches!(checkpoint.holds(None), Err(Break::Checkpoint { seq: 4, .. })), "cut off or rewound");
        assert!(checkpoint.holds(Some(&records[2].hash)).is_err(), "rewritten");
        let mut moved = checkpoint.clone();
        moved.seq = 3;
        assert_eq!(moved.verify(&key), Err(CheckpointError::BadSignature), "a checkpoint cannot be edited");
        let other = ChainKey::from_text("somebody else's key, also thirty-two characters").unwrap();
        assert_eq!(Checkpoint::sign(4, &head.hash, Utc::now(), &other).verify(&key), Err(CheckpointError::OtherKey));
    }
}

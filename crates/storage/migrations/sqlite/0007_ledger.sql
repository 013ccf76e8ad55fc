-- The ledger: accounts and journal entries, written in the same transaction as the event
-- that causes them. Kept logically identical to ../postgres/0007_ledger.sql.

CREATE TABLE accounts (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('asset', 'liability', 'equity', 'revenue', 'expense')),
    created_at TEXT NOT NULL
);

-- An entry is immutable: a correction is a new entry that reverses it.
CREATE TABLE journal_entries (
    id        BLOB PRIMARY KEY,
    posted_at TEXT NOT NULL,
    -- The operational event that caused it, such as shipment:<id> or movement:<id>.
    source    TEXT NOT NULL,
    memo      TEXT NOT NULL,
    currency  TEXT NOT NULL,
    actor     TEXT NOT NULL,
    reverses  BLOB REFERENCES journal_entries (id)
);
CREATE INDEX journal_entries_source ON journal_entries (source);
CREATE INDEX journal_entries_posted ON journal_entries (posted_at);

-- Amounts in the entry's currency and in the base currency; exactly one side of each line.
CREATE TABLE journal_lines (
    entry_id          BLOB NOT NULL REFERENCES journal_entries (id),
    line_no           BIGINT NOT NULL,
    account           TEXT NOT NULL REFERENCES accounts (code),
    debit_minor       BIGINT NOT NULL CHECK (debit_minor >= 0),
    credit_minor      BIGINT NOT NULL CHECK (credit_minor >= 0),
    base_debit_minor  BIGINT NOT NULL CHECK (base_debit_minor >= 0),
    base_credit_minor BIGINT NOT NULL CHECK (base_credit_minor >= 0),
    PRIMARY KEY (entry_id, line_no),
    CHECK ((debit_minor > 0 AND credit_minor = 0) OR (credit_minor > 0 AND debit_minor = 0))
);
CREATE INDEX journal_lines_account ON journal_lines (account);

-- Nothing changes or removes a posted entry, except rebuilding the demo business (which marks
-- itself in meta first).
CREATE TRIGGER journal_entries_no_update BEFORE UPDATE ON journal_entries
BEGIN
    SELECT RAISE(ABORT, 'journal entries are immutable: post a reversing entry');
END;
CREATE TRIGGER journal_lines_no_update BEFORE UPDATE ON journal_lines
BEGIN
    SELECT RAISE(ABORT, 'journal entries are immutable: post a reversing entry');
END;
CREATE TRIGGER journal_entries_no_delete BEFORE DELETE ON journal_entries
WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'rebuilding')
BEGIN
    SELECT RAISE(ABORT, 'journal entries are immutable: post a reversing entry');
END;
CREATE TRIGGER journal_lines_no_delete BEFORE DELETE ON journal_lines
WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'rebuilding')
BEGIN
    SELECT RAISE(ABORT, 'journal entries are immutable: post a reversing entry');
END;

-- The ledger: accounts and journal entries, written in the same transaction as the event
-- that causes them. Kept logically identical to ../sqlite/0007_ledger.sql.

CREATE TABLE accounts (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('asset', 'liability', 'equity', 'revenue', 'expense')),
    created_at TIMESTAMPTZ NOT NULL
);

-- An entry is immutable: a correction is a new entry that reverses it.
CREATE TABLE journal_entries (
    id        UUID PRIMARY KEY,
    posted_at TIMESTAMPTZ NOT NULL,
    -- The operational event that caused it, such as shipment:<id> or movement:<id>.
    source    TEXT NOT NULL,
    memo      TEXT NOT NULL,
    currency  TEXT NOT NULL,
    actor     TEXT NOT NULL,
    reverses  UUID REFERENCES journal_entries (id)
);
CREATE INDEX journal_entries_source ON journal_entries (source);
CREATE INDEX journal_entries_posted ON journal_entries (posted_at);

-- Amounts in the entry's currency and in the base currency; exactly one side of each line.
CREATE TABLE journal_lines (
    entry_id          UUID NOT NULL REFERENCES journal_entries (id),
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
CREATE FUNCTION journal_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM meta WHERE key = 'rebuilding') THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'journal entries are immutable: post a reversing entry';
END
$$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();

-- The audit log: every change made through the API, the command line or the dashboard, and
-- every decision Ordo takes by itself, as a hash chain (see the domain's audit module). Rows
-- are only ever appended. Kept logically identical to ../postgres/0015_audit_log.sql.
CREATE TABLE audit_log (
    -- 1, 2, 3, … with no gaps: the order of the chain.
    seq          BIGINT PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    -- Canonical JSON text, exactly what was hashed.
    before_state TEXT,
    after_state  TEXT,
    reason       TEXT,
    request_id   TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
-- The log of one order, product or rule; the dashboard's filters.
CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- Where the chain ends, kept by the trigger below. Appending reads (on PostgreSQL: locks) this
-- row first, which puts concurrent appenders (two servers on one PostgreSQL) in one line; a log
-- cut short disagrees with it.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Nothing edits or removes a record through Ordo, except rebuilding the demo business (which
-- marks itself in meta first); someone with the file can, and `ordo audit verify` finds it.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'rebuilding')
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- The head follows every record appended, inside the database: no statement of its own.
CREATE TRIGGER audit_log_head AFTER INSERT ON audit_log
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END;

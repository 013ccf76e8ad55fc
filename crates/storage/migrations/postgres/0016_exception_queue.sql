-- The exceptions queue worked by people: who acknowledged an exception, how often it went past
-- due and moved to the next role, how it was resolved and by whom, and the comments on it.
-- Kept logically identical to ../sqlite/0016_exception_queue.sql.
ALTER TABLE exceptions ADD COLUMN escalations BIGINT NOT NULL DEFAULT 0;
ALTER TABLE exceptions ADD COLUMN acknowledged_by TEXT;
ALTER TABLE exceptions ADD COLUMN acknowledged_at TIMESTAMPTZ;
ALTER TABLE exceptions ADD COLUMN resolved_by TEXT;
-- fixed, accepted, cancelled, duplicate, not_an_issue, or automatic when Ordo saw the cause go.
ALTER TABLE exceptions ADD COLUMN resolution_code TEXT;
UPDATE exceptions SET resolution_code = 'automatic', resolved_by = 'system' WHERE status = 'resolved';
-- The queue of one role, most urgent first.
CREATE INDEX exceptions_owner ON exceptions (owner_role, status, due_at);

CREATE TABLE exception_comments (
    id           UUID PRIMARY KEY,
    exception_id UUID NOT NULL REFERENCES exceptions (id),
    at           TIMESTAMPTZ NOT NULL,
    author       TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX exception_comments_exception ON exception_comments (exception_id, at);

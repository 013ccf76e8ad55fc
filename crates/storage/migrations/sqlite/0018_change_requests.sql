-- Maker-checker change requests for master data that moves money or stock: proposed by one
-- person, approved (and applied in the same transaction) or rejected by another of the owning
-- role. Kept logically identical to ../postgres/0018_change_requests.sql.
CREATE TABLE change_requests (
    id              BLOB PRIMARY KEY,
    kind            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    -- JSON: the proposal; the state before (when proposed, then when applied); after.
    change          TEXT NOT NULL,
    before_state    TEXT NOT NULL,
    after_state     TEXT,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    proposed_by     TEXT NOT NULL,
    proposed_at     TEXT NOT NULL,
    decided_by      TEXT,
    decided_at      TEXT,
    decision_reason TEXT
);
CREATE INDEX change_requests_status ON change_requests (status, proposed_at);

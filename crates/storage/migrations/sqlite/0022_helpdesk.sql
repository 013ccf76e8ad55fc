-- Helpdesk tickets with their comments, and documents attached to tickets, returns, orders and
-- suppliers. Kept logically identical to ../postgres/0022_helpdesk.sql.
CREATE TABLE tickets (
    id             BLOB PRIMARY KEY,
    channel        TEXT REFERENCES channels (code),
    reason         TEXT NOT NULL,
    priority       TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status         TEXT NOT NULL CHECK (status IN ('open', 'pending', 'solved', 'closed')),
    subject        TEXT NOT NULL,
    customer_email TEXT NOT NULL,
    order_id       BLOB REFERENCES orders (id),
    return_id      BLOB REFERENCES returns (id),
    assignee       TEXT,
    due_at         TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    solved_at      TEXT
);
-- The queue: what is still to do, most urgent first.
CREATE INDEX tickets_queue ON tickets (status, due_at);
CREATE INDEX tickets_order ON tickets (order_id);

CREATE TABLE ticket_comments (
    id        BLOB PRIMARY KEY,
    ticket_id BLOB NOT NULL REFERENCES tickets (id),
    at        TEXT NOT NULL,
    author    TEXT NOT NULL,
    body      TEXT NOT NULL,
    internal  BOOLEAN NOT NULL
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (ticket_id, at);

-- Content-addressed: a document sent twice is kept once, under the SHA-256 of its bytes.
CREATE TABLE documents (
    sha256       TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL CHECK (size > 0),
    content      BLOB NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE attachments (
    id          BLOB PRIMARY KEY,
    -- ticket:ID, return:ID, order:ID or supplier:CODE.
    subject     TEXT NOT NULL,
    sha256      TEXT NOT NULL REFERENCES documents (sha256),
    file_name   TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);
CREATE INDEX attachments_subject ON attachments (subject, uploaded_at);

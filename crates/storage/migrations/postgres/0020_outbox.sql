-- Notifications through a transactional outbox: a message is written in the same transaction as
-- the event that causes it, one row per endpoint that hears its topic, and delivered after
-- commit by a worker. Kept logically identical to ../sqlite/0020_outbox.sql.
CREATE TABLE notification_endpoints (
    code       TEXT PRIMARY KEY,
    transport  TEXT NOT NULL CHECK (transport IN ('webhook', 'log')),
    url        TEXT,
    -- Signs each webhook body (HMAC-SHA256); shown once, when the endpoint is made.
    secret     TEXT NOT NULL,
    -- Comma-separated topics; empty for all of them.
    topics     TEXT NOT NULL,
    active     BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CHECK (transport = 'log' OR url IS NOT NULL)
);

CREATE TABLE outbox (
    -- Also the delivery id the receiver de-duplicates by.
    id              UUID PRIMARY KEY,
    endpoint        TEXT NOT NULL REFERENCES notification_endpoints (code),
    topic           TEXT NOT NULL,
    subject         TEXT NOT NULL,
    -- The exact bytes sent on every try, so the signature does not change between them.
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    -- Tries that ended; a worker that claims a message pushes next_attempt_at past its own
    -- try, so a worker that dies mid-try leaves it to be claimed again later, never lost.
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    last_error      TEXT
);
-- What the workers claim next: only pending messages, earliest due first.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_subject ON outbox (subject);

-- Every try, for seeing the waits grow and what each endpoint answered.
CREATE TABLE outbox_attempts (
    message     UUID NOT NULL REFERENCES outbox (id),
    attempt     BIGINT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    worker      TEXT NOT NULL,
    -- The HTTP status the endpoint answered, when it answered.
    status_code BIGINT,
    error       TEXT,
    PRIMARY KEY (message, attempt)
);

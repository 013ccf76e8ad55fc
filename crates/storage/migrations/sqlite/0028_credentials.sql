-- Credentials with a life cycle: tokens expire, are revoked and show when they were last
-- used; users can be disabled; failed log-ins are counted per account and per address, and
-- lock either for a while. Kept logically identical to ../postgres/0028_credentials.sql.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;
ALTER TABLE users ADD COLUMN disabled_at TEXT;

-- One row per account (`user:NAME`) or address (`address:IP`) that failed to log in lately.
CREATE TABLE login_failures (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_at      TEXT NOT NULL,
    locked_until TEXT
);

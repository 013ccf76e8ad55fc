-- Credentials with a life cycle: tokens expire, are revoked and show when they were last
-- used; users can be disabled; failed log-ins are counted per account and per address, and
-- lock either for a while. Kept logically identical to ../sqlite/0028_credentials.sql.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE api_tokens ADD COLUMN last_used_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;

-- One row per account (`user:NAME`) or address (`address:IP`) that failed to log in lately.
CREATE TABLE login_failures (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_at      TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ
);

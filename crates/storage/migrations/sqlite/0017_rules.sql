-- Rules people write, one row per version: a CEL condition and what happens when it holds.
-- A version goes draft → submitted → approved → active → retired (or submitted → rejected);
-- its text never changes once submitted, so every decision can name the version that made it.
-- Kept logically identical to ../postgres/0017_rules.sql.
CREATE TABLE rule_versions (
    id             BLOB PRIMARY KEY,
    name           TEXT NOT NULL,
    version        BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    -- Lower runs first among the rules of one kind.
    priority       BIGINT NOT NULL,
    description    TEXT NOT NULL,
    condition      TEXT NOT NULL,
    -- JSON: what the rule does when its condition holds, by kind.
    action         TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'approved', 'active', 'retired', 'rejected')),
    author         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    submitted_at   TEXT,
    approver       TEXT,
    approved_at    TEXT,
    effective_from TEXT,
    activated_at   TEXT,
    retired_at     TEXT,
    UNIQUE (name, version)
);
-- One version of a rule is in force at a time; activating the next retires it in the same
-- transaction.
CREATE UNIQUE INDEX rule_versions_one_active ON rule_versions (name) WHERE status = 'active';
CREATE INDEX rule_versions_status ON rule_versions (status, kind, priority);

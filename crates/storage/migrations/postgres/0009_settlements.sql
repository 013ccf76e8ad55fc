-- Marketplace settlements as imported, line by line, with what each line matched. Kept
-- logically identical to ../sqlite/0009_settlements.sql.
CREATE TABLE settlements (
    id             UUID PRIMARY KEY,
    channel        TEXT NOT NULL REFERENCES channels (code),
    -- The channel's id of the settlement or payout: importing it again changes nothing.
    external_id    TEXT NOT NULL,
    format         TEXT NOT NULL,
    currency       TEXT NOT NULL,
    period_start   DATE,
    period_end     DATE,
    deposit_date   DATE NOT NULL,
    total_minor    BIGINT NOT NULL,
    content_sha256 TEXT NOT NULL,
    line_count     BIGINT NOT NULL,
    matched        BIGINT NOT NULL,
    unmatched      BIGINT NOT NULL,
    exceptions     BIGINT NOT NULL,
    imported_at    TIMESTAMPTZ NOT NULL,
    actor          TEXT NOT NULL,
    UNIQUE (channel, external_id)
);

CREATE TABLE settlement_lines (
    settlement_id UUID NOT NULL REFERENCES settlements (id),
    seq           BIGINT NOT NULL,
    -- Where it stands in the report: the file's line, or the transaction's position.
    row_no        BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    order_ref     TEXT,
    item_ref      TEXT,
    sku           TEXT,
    quantity      BIGINT,
    description   TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    -- The order and line it matched; none for account-level lines and unmatched ones.
    order_id      UUID REFERENCES orders (id),
    line_no       BIGINT,
    PRIMARY KEY (settlement_id, seq)
);
CREATE INDEX settlement_lines_order ON settlement_lines (order_id);

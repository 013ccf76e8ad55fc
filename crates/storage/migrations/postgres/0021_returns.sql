-- Returns (RMA), refunds, replacements and claims on suppliers. Kept logically identical to
-- ../sqlite/0021_returns.sql.

-- A channel's return policy; a channel without one has the default (30 days, the usual reasons).
CREATE TABLE return_policies (
    channel              TEXT PRIMARY KEY REFERENCES channels (code),
    window_days          BIGINT NOT NULL,
    -- Comma-separated reasons authorised without a person.
    auto_reasons         TEXT NOT NULL,
    max_auto_value_minor BIGINT,
    ship_back_days       BIGINT NOT NULL
);

CREATE TABLE returns (
    id             UUID PRIMARY KEY,
    order_id       UUID NOT NULL REFERENCES orders (id),
    status         TEXT NOT NULL CHECK (status IN ('requested', 'authorized', 'rejected', 'in_transit', 'received', 'inspected', 'closed')),
    -- Where it came from: api, dashboard or channel.
    source         TEXT NOT NULL,
    requested_by   TEXT NOT NULL,
    requested_at   TIMESTAMPTZ NOT NULL,
    -- Why a person must decide, or why it was let outside the window.
    review_reason  TEXT,
    decided_by     TEXT,
    decided_at     TIMESTAMPTZ,
    decision_note  TEXT,
    -- An authorised return not received by then is overdue.
    due_back_at    TIMESTAMPTZ,
    carrier        TEXT,
    tracking       TEXT,
    location       TEXT REFERENCES locations (code),
    received_at    TIMESTAMPTZ,
    inspected_at   TIMESTAMPTZ,
    closed_at      TIMESTAMPTZ,
    replacement_order UUID REFERENCES orders (id)
);
CREATE INDEX returns_order ON returns (order_id);
CREATE INDEX returns_status ON returns (status, due_back_at);

CREATE TABLE return_lines (
    return_id   UUID NOT NULL REFERENCES returns (id),
    line        BIGINT NOT NULL,
    sku         TEXT NOT NULL REFERENCES products (sku),
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    reason      TEXT NOT NULL,
    received    BIGINT NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= quantity),
    disposition TEXT CHECK (disposition IN ('restock', 'refurbish', 'dispose', 'supplier_claim')),
    note        TEXT,
    PRIMARY KEY (return_id, line)
);

-- Money paid back, with or without a return; lines in the order's currency minor units.
CREATE TABLE refunds (
    id         UUID PRIMARY KEY,
    order_id   UUID NOT NULL REFERENCES orders (id),
    return_id  UUID REFERENCES returns (id),
    currency   TEXT NOT NULL,
    shipping   BIGINT NOT NULL CHECK (shipping >= 0),
    total      BIGINT NOT NULL CHECK (total >= 0),
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX refunds_order ON refunds (order_id);

CREATE TABLE refund_lines (
    refund_id UUID NOT NULL REFERENCES refunds (id),
    line      BIGINT NOT NULL,
    quantity  BIGINT NOT NULL CHECK (quantity >= 0),
    net       BIGINT NOT NULL CHECK (net >= 0),
    tax       BIGINT NOT NULL CHECK (tax >= 0),
    PRIMARY KEY (refund_id, line)
);

-- What a supplier owes back for goods it is liable for, tracked until credited or refused.
CREATE TABLE supplier_claims (
    id          UUID PRIMARY KEY,
    return_id   UUID NOT NULL REFERENCES returns (id),
    line        BIGINT NOT NULL,
    sku         TEXT NOT NULL REFERENCES products (sku),
    supplier    TEXT REFERENCES suppliers (code),
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    -- Cost in base currency minor units.
    value       BIGINT NOT NULL,
    evidence    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'credited', 'refused')),
    created_at  TIMESTAMPTZ NOT NULL,
    settled_at  TIMESTAMPTZ,
    settled_by  TEXT
);

-- A replacement order points at the return it replaces goods for.
ALTER TABLE orders ADD COLUMN replaces_return UUID;

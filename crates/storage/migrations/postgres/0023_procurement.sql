-- Procurement: suppliers' terms, what each supplier sells us and at what cost, replenishment
-- policies, proposals, purchase orders with their receipts, and suppliers' bills. Kept
-- logically identical to ../sqlite/0023_procurement.sql.
ALTER TABLE suppliers ADD COLUMN lead_time_sd_tenths BIGINT NOT NULL DEFAULT 0;
ALTER TABLE suppliers ADD COLUMN payment_terms_days BIGINT NOT NULL DEFAULT 30;

CREATE TABLE supplier_skus (
    supplier        TEXT NOT NULL REFERENCES suppliers (code),
    sku             TEXT NOT NULL REFERENCES products (sku),
    -- In the supplier's currency.
    unit_cost_minor BIGINT NOT NULL CHECK (unit_cost_minor >= 0),
    moq             BIGINT NOT NULL CHECK (moq >= 0),
    pack_size       BIGINT NOT NULL CHECK (pack_size >= 1),
    preferred       BOOLEAN NOT NULL,
    PRIMARY KEY (supplier, sku)
);
CREATE INDEX supplier_skus_sku ON supplier_skus (sku);

-- 'sku:CODE' or 'class:A'; a SKU's own policy wins over its class's. The policy as JSON.
CREATE TABLE replenishment_policies (
    scope      TEXT PRIMARY KEY,
    policy     TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE purchase_orders (
    id           UUID PRIMARY KEY,
    number       TEXT NOT NULL UNIQUE,
    supplier     TEXT NOT NULL REFERENCES suppliers (code),
    location     TEXT NOT NULL REFERENCES locations (code),
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'sent', 'partially_received', 'received', 'billed', 'closed', 'cancelled')),
    total_minor  BIGINT NOT NULL,
    expected_at  TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    approved_by  TEXT,
    approved_at  TIMESTAMPTZ,
    sent_at      TIMESTAMPTZ,
    closed_at    TIMESTAMPTZ
);
CREATE INDEX purchase_orders_status ON purchase_orders (status, expected_at);

CREATE TABLE po_lines (
    po_id           UUID NOT NULL REFERENCES purchase_orders (id),
    line            BIGINT NOT NULL,
    sku             TEXT NOT NULL REFERENCES products (sku),
    quantity        BIGINT NOT NULL CHECK (quantity > 0),
    unit_cost_minor BIGINT NOT NULL CHECK (unit_cost_minor >= 0),
    received        BIGINT NOT NULL DEFAULT 0 CHECK (received >= 0),
    billed          BIGINT NOT NULL DEFAULT 0 CHECK (billed >= 0),
    PRIMARY KEY (po_id, line)
);
CREATE INDEX po_lines_sku ON po_lines (sku);

-- Proposals: what the policies say to buy, explained, until a buyer approves or rejects them.
CREATE TABLE proposals (
    id          UUID PRIMARY KEY,
    sku         TEXT NOT NULL REFERENCES products (sku),
    supplier    TEXT NOT NULL REFERENCES suppliers (code),
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    explanation TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected')),
    po_id       UUID REFERENCES purchase_orders (id),
    created_at  TIMESTAMPTZ NOT NULL,
    decided_by  TEXT,
    decided_at  TIMESTAMPTZ
);
CREATE INDEX proposals_status ON proposals (status, sku);

CREATE TABLE supplier_bills (
    id          UUID PRIMARY KEY,
    po_id       UUID NOT NULL REFERENCES purchase_orders (id),
    supplier    TEXT NOT NULL REFERENCES suppliers (code),
    invoice     TEXT NOT NULL,
    currency    TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    -- matched, or disputed when a price or quantity differs beyond the tolerance.
    status      TEXT NOT NULL CHECK (status IN ('matched', 'disputed')),
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (supplier, invoice)
);

CREATE TABLE bill_lines (
    bill_id         UUID NOT NULL REFERENCES supplier_bills (id),
    line            BIGINT NOT NULL,
    quantity        BIGINT NOT NULL CHECK (quantity >= 0),
    unit_cost_minor BIGINT NOT NULL CHECK (unit_cost_minor >= 0),
    PRIMARY KEY (bill_id, line)
);

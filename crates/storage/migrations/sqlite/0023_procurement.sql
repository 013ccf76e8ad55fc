-- Procurement: suppliers' terms, what each supplier sells us and at what cost, replenishment
-- policies, proposals, purchase orders with their receipts, and suppliers' bills. Kept
-- logically identical to ../postgres/0023_procurement.sql.
ALTER TABLE suppliers ADD COLUMN lead_time_sd_tenths INTEGER NOT NULL DEFAULT 0;
ALTER TABLE suppliers ADD COLUMN payment_terms_days INTEGER NOT NULL DEFAULT 30;

CREATE TABLE supplier_skus (
    supplier        TEXT NOT NULL REFERENCES suppliers (code),
    sku             TEXT NOT NULL REFERENCES products (sku),
    -- In the supplier's currency.
    unit_cost_minor INTEGER NOT NULL CHECK (unit_cost_minor >= 0),
    moq             INTEGER NOT NULL CHECK (moq >= 0),
    pack_size       INTEGER NOT NULL CHECK (pack_size >= 1),
    preferred       BOOLEAN NOT NULL,
    PRIMARY KEY (supplier, sku)
);
CREATE INDEX supplier_skus_sku ON supplier_skus (sku);

-- 'sku:CODE' or 'class:A'; a SKU's own policy wins over its class's. The policy as JSON.
CREATE TABLE replenishment_policies (
    scope      TEXT PRIMARY KEY,
    policy     TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE purchase_orders (
    id           BLOB PRIMARY KEY,
    number       TEXT NOT NULL UNIQUE,
    supplier     TEXT NOT NULL REFERENCES suppliers (code),
    location     TEXT NOT NULL REFERENCES locations (code),
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'sent', 'partially_received', 'received', 'billed', 'closed', 'cancelled')),
    total_minor  INTEGER NOT NULL,
    expected_at  TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    approved_by  TEXT,
    approved_at  TEXT,
    sent_at      TEXT,
    closed_at    TEXT
);
CREATE INDEX purchase_orders_status ON purchase_orders (status, expected_at);

CREATE TABLE po_lines (
    po_id           BLOB NOT NULL REFERENCES purchase_orders (id),
    line            INTEGER NOT NULL,
    sku             TEXT NOT NULL REFERENCES products (sku),
    quantity        INTEGER NOT NULL CHECK (quantity > 0),
    unit_cost_minor INTEGER NOT NULL CHECK (unit_cost_minor >= 0),
    received        INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0),
    billed          INTEGER NOT NULL DEFAULT 0 CHECK (billed >= 0),
    PRIMARY KEY (po_id, line)
);
CREATE INDEX po_lines_sku ON po_lines (sku);

-- Proposals: what the policies say to buy, explained, until a buyer approves or rejects them.
CREATE TABLE proposals (
    id          BLOB PRIMARY KEY,
    sku         TEXT NOT NULL REFERENCES products (sku),
    supplier    TEXT NOT NULL REFERENCES suppliers (code),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    explanation TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected')),
    po_id       BLOB REFERENCES purchase_orders (id),
    created_at  TEXT NOT NULL,
    decided_by  TEXT,
    decided_at  TEXT
);
CREATE INDEX proposals_status ON proposals (status, sku);

CREATE TABLE supplier_bills (
    id          BLOB PRIMARY KEY,
    po_id       BLOB NOT NULL REFERENCES purchase_orders (id),
    supplier    TEXT NOT NULL REFERENCES suppliers (code),
    invoice     TEXT NOT NULL,
    currency    TEXT NOT NULL,
    total_minor INTEGER NOT NULL,
    due_at      TEXT NOT NULL,
    -- matched, or disputed when a price or quantity differs beyond the tolerance.
    status      TEXT NOT NULL CHECK (status IN ('matched', 'disputed')),
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (supplier, invoice)
);

CREATE TABLE bill_lines (
    bill_id         BLOB NOT NULL REFERENCES supplier_bills (id),
    line            INTEGER NOT NULL,
    quantity        INTEGER NOT NULL CHECK (quantity >= 0),
    unit_cost_minor INTEGER NOT NULL CHECK (unit_cost_minor >= 0),
    PRIMARY KEY (bill_id, line)
);

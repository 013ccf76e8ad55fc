-- The promotion calendar: days a SKU (or every SKU) sells on promotion, on one channel or all.
-- Forecasts take promoted days out of the history and put the uplift back on promoted days to
-- come. Days are ISO dates (YYYY-MM-DD), both included. Kept logically identical to
-- ../postgres/0024_promotions.sql.
CREATE TABLE promotions (
    id         BLOB PRIMARY KEY,
    name       TEXT NOT NULL,
    channel    TEXT REFERENCES channels (code),
    sku        TEXT REFERENCES products (sku),
    starts_on  TEXT NOT NULL,
    ends_on    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CHECK (starts_on <= ends_on)
);

-- Daily sales of a SKU from before Ordo, imported so its forecast has history to fit and
-- back-test: one row per SKU and day (`YYYY-MM-DD`), every day before the SKU's first sale
-- in Ordo. Kept logically identical in both engines.
CREATE TABLE sales_history (
    sku   TEXT NOT NULL REFERENCES products (sku),
    day   TEXT NOT NULL CHECK (length(day) = 10),
    units BIGINT NOT NULL CHECK (units >= 0),
    PRIMARY KEY (sku, day)
);

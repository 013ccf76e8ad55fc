-- Kits: a product sold as one SKU and made of others. Kept logically identical to
-- ../sqlite/0004_kits.sql.

-- A kit's components and how many of each one kit holds. A product with components is a
-- kit: it has no stock of its own, and an order for it reserves its components, all or none.
CREATE TABLE kit_components (
    kit_sku       TEXT NOT NULL REFERENCES products (sku),
    component_sku TEXT NOT NULL REFERENCES products (sku),
    quantity      BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (kit_sku, component_sku),
    CHECK (kit_sku <> component_sku)
);
CREATE INDEX kit_components_component ON kit_components (component_sku);

-- An order line for a kit carries the price and tax; the lines of its components follow it,
-- each naming the kit's line in part_of, and carry the stock.
ALTER TABLE order_lines ADD COLUMN is_kit BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE order_lines ADD COLUMN part_of BIGINT;

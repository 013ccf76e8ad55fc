-- Inventory at moving-average cost: per SKU, the units on hand or in transit and what they are
-- worth in base currency minor units. A purchase moves the average; everything else moves
-- units at it. Kept logically identical to ../sqlite/0012_moving_average_cost.sql.
CREATE TABLE sku_costs (
    sku         TEXT PRIMARY KEY REFERENCES products (sku),
    units       BIGINT NOT NULL CHECK (units >= 0),
    value_minor BIGINT NOT NULL CHECK (value_minor >= 0)
);

-- Stock held before this table existed was valued at each product's unit cost.
INSERT INTO sku_costs (sku, units, value_minor)
SELECT stock.sku, SUM(stock.units), SUM(stock.units) * MIN(p.unit_cost_minor)
FROM (SELECT sku, on_hand AS units FROM stock_levels
      UNION ALL SELECT sku, quantity FROM transfers WHERE status = 'in_transit') stock
JOIN products p ON p.sku = stock.sku
GROUP BY stock.sku;

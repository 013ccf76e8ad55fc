-- Imported sales may name the channel they were made on, so a channel's demand chart shows
-- them; a row without one counts only in the SKU's total. One row per SKU, day and channel
-- (or none). SQLite cannot drop a primary key, so the table is made anew. Kept logically
-- identical in both engines.
CREATE TABLE sales_history_by_channel (
    sku     TEXT NOT NULL REFERENCES products (sku),
    day     TEXT NOT NULL CHECK (length(day) = 10),
    channel TEXT REFERENCES channels (code),
    units   BIGINT NOT NULL CHECK (units >= 0)
);
INSERT INTO sales_history_by_channel (sku, day, units) SELECT sku, day, units FROM sales_history;
DROP TABLE sales_history;
ALTER TABLE sales_history_by_channel RENAME TO sales_history;
CREATE UNIQUE INDEX sales_history_key ON sales_history (sku, day, COALESCE(channel, ''));

-- Imported sales may name the channel they were made on, so a channel's demand chart shows
-- them; a row without one counts only in the SKU's total. One row per SKU, day and channel
-- (or none). Kept logically identical in both engines.
ALTER TABLE sales_history ADD COLUMN channel TEXT REFERENCES channels (code);
ALTER TABLE sales_history DROP CONSTRAINT sales_history_pkey;
CREATE UNIQUE INDEX sales_history_key ON sales_history (sku, day, COALESCE(channel, ''));

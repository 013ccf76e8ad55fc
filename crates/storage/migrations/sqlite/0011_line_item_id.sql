-- The channel's own id of an order line (Amazon's OrderItemId, Shopify's line item id), which
-- settlement reports name. Kept logically identical to ../postgres/0011_line_item_id.sql.
ALTER TABLE order_lines ADD COLUMN item_id TEXT;

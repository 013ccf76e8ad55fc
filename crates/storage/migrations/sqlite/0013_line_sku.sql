-- The SKU a journal line's amount belongs to, where it belongs to one (sales, their cost,
-- their fees and refunds), so profitability can be read by SKU. Kept logically identical to
-- ../postgres/0013_line_sku.sql.
ALTER TABLE journal_lines ADD COLUMN sku TEXT;

-- The customer segment a journal line's amount belongs to, where it belongs to an order (its
-- sale, cost, fees and refunds), so profitability can be read by segment. Kept logically
-- identical to ../sqlite/0014_line_segment.sql.
ALTER TABLE journal_lines ADD COLUMN segment TEXT;

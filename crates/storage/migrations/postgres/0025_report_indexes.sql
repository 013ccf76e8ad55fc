-- Indexes for what the new reads look up: one SKU's sales by day (forecasts), orders and
-- shipments and returns by day (demand, return rates), a return's claims, a purchase order's
-- bills, and the outbox newest first. Kept logically identical to ../sqlite/0025_report_indexes.sql.
CREATE INDEX order_lines_sku ON order_lines (sku);
CREATE INDEX orders_placed ON orders (placed_at);
CREATE INDEX shipments_shipped ON shipments (shipped_at);
CREATE INDEX returns_requested ON returns (requested_at);
CREATE INDEX supplier_claims_return ON supplier_claims (return_id);
CREATE INDEX supplier_bills_po ON supplier_bills (po_id);
CREATE INDEX outbox_created ON outbox (created_at);

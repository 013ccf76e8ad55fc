-- Indexes for what the new reads look up: shipments and returns by day (return rates), a
-- return's claims, a purchase order's bills, and the outbox newest first. Orders and their
-- lines get none for the forecasts' reads by SKU and day: every order written would pay for
-- them, and intake is the path that must be fast (measured: about a quarter of its orders per
-- second). Kept logically identical to ../postgres/0025_report_indexes.sql.
CREATE INDEX shipments_shipped ON shipments (shipped_at);
CREATE INDEX returns_requested ON returns (requested_at);
CREATE INDEX supplier_claims_return ON supplier_claims (return_id);
CREATE INDEX supplier_bills_po ON supplier_bills (po_id);
CREATE INDEX outbox_created ON outbox (created_at);

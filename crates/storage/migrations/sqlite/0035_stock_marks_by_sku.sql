-- PostgreSQL's stock marks now go through the listings' SKU index (see
-- ../postgres/0035_stock_marks_by_sku.sql); SQLite's triggers name the SKU already, so
-- nothing changes here. Kept so both engines count the same migrations.
SELECT 1;

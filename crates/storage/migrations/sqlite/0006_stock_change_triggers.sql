-- The change feed is written by the database itself: every insert or change of a stock level
-- notes the SKU and location, in the same statement, so no writer can forget it. Kept
-- logically identical to ../postgres/0006_stock_change_triggers.sql.
CREATE TRIGGER stock_levels_inserted AFTER INSERT ON stock_levels
BEGIN
    INSERT INTO stock_changes (sku, location, changed_at)
    VALUES (NEW.sku, NEW.location, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER stock_levels_changed AFTER UPDATE OF on_hand, reserved ON stock_levels
BEGIN
    INSERT INTO stock_changes (sku, location, changed_at)
    VALUES (NEW.sku, NEW.location, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

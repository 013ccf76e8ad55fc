-- The change feed is written by the database itself: every insert or change of a stock level
-- notes the SKU and location, in the same statement, so no writer can forget it. Kept
-- logically identical to ../sqlite/0006_stock_change_triggers.sql.
CREATE FUNCTION note_stock_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stock_changes (sku, location, changed_at) VALUES (NEW.sku, NEW.location, now());
    RETURN NULL;
END
$$;

CREATE TRIGGER stock_levels_changed AFTER INSERT OR UPDATE OF on_hand, reserved ON stock_levels
    FOR EACH ROW EXECUTE FUNCTION note_stock_change();

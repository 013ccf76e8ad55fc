-- What each connected channel has been told of its listings' available-to-sell, and what it
-- still must be told. The database marks a listing whenever its SKU's stock or reservations
-- change (the triggers below, like the change feed's), so no writer can forget it. A pusher
-- claims a channel's marked listings, reads their available-to-sell as it is then, and tells
-- the channel: however many changes came in between, one call carries the latest, because a
-- mark is a key, never a value. Kept logically identical to
-- ../sqlite/0032_channel_stock_sync.sql.
CREATE TABLE channel_stock_sync (
    channel         TEXT NOT NULL REFERENCES channels (code),
    channel_sku     TEXT NOT NULL,
    sku             TEXT NOT NULL,
    -- Bumped at every change of the SKU's stock; `pushed` is the mark the channel confirmed.
    wanted          BIGINT NOT NULL DEFAULT 1,
    pushed          BIGINT NOT NULL DEFAULT 0,
    -- The first change the channel has not been told of, by the database's clock.
    pending_since   TIMESTAMPTZ,
    pushed_quantity BIGINT,
    pushed_at       TIMESTAMPTZ,
    -- From the change to the channel's answer, for the last push.
    latency_ms      BIGINT,
    -- Failed tries since the last push that went through.
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    lease_until     TIMESTAMPTZ,
    last_error      TEXT,
    PRIMARY KEY (channel, channel_sku)
);
CREATE INDEX channel_stock_sync_pending ON channel_stock_sync (channel, pending_since) WHERE wanted > pushed;

-- Marks the listings of `sku` (or, with no SKU, every listing of `only_channel`) on the
-- connected channels.
CREATE FUNCTION mark_channel_stock(for_sku TEXT, only_channel TEXT) RETURNS void LANGUAGE sql AS $$
    INSERT INTO channel_stock_sync (channel, channel_sku, sku, pending_since)
    SELECT l.channel, l.channel_sku, l.sku, now() FROM listings l
    WHERE (for_sku IS NULL OR l.sku = for_sku) AND (only_channel IS NULL OR l.channel = only_channel)
      AND EXISTS (SELECT 1 FROM channel_connectors c WHERE c.channel = l.channel)
    ON CONFLICT (channel, channel_sku) DO UPDATE SET wanted = channel_stock_sync.wanted + 1, sku = excluded.sku,
        pending_since = COALESCE(channel_stock_sync.pending_since, excluded.pending_since);
$$;

CREATE FUNCTION note_stock_for_channels() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mark_channel_stock(NEW.sku, NULL);
    RETURN NULL;
END
$$;

CREATE TRIGGER stock_levels_sync AFTER INSERT OR UPDATE OF on_hand, reserved ON stock_levels
    FOR EACH ROW EXECUTE FUNCTION note_stock_for_channels();

-- A new listing on a connected channel, and every listing of a newly connected channel, is
-- told its available-to-sell once.
CREATE FUNCTION note_listing_for_channel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO channel_stock_sync (channel, channel_sku, sku, pending_since)
    SELECT NEW.channel, NEW.channel_sku, NEW.sku, now()
    WHERE EXISTS (SELECT 1 FROM channel_connectors c WHERE c.channel = NEW.channel)
    ON CONFLICT (channel, channel_sku) DO UPDATE SET wanted = channel_stock_sync.wanted + 1, sku = excluded.sku,
        pending_since = COALESCE(channel_stock_sync.pending_since, excluded.pending_since);
    RETURN NULL;
END
$$;

CREATE TRIGGER listings_sync_inserted AFTER INSERT ON listings
    FOR EACH ROW EXECUTE FUNCTION note_listing_for_channel();

CREATE FUNCTION note_connector_for_channel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mark_channel_stock(NULL, NEW.channel);
    RETURN NULL;
END
$$;

CREATE TRIGGER channel_connectors_sync_inserted AFTER INSERT ON channel_connectors
    FOR EACH ROW EXECUTE FUNCTION note_connector_for_channel();

-- Channel connectors: how Ordo reaches each channel, and the inbox every delivery and polled
-- record lands in before it becomes an order. Kept logically identical to
-- ../postgres/0026_channel_connectors.sql.
CREATE TABLE channel_connectors (
    channel          TEXT PRIMARY KEY REFERENCES channels (code),
    kind             TEXT NOT NULL CHECK (kind IN ('shopify', 'woocommerce', 'amazon', 'ebay')),
    base_url         TEXT,
    -- Sealed with the configured secret key (XChaCha20-Poly1305): never stored in the clear.
    webhook_secrets  TEXT,
    credentials      TEXT,
    poll_interval_s  INTEGER NOT NULL,
    -- JSON: the channel's location ids to Ordo's location codes.
    location_map     TEXT NOT NULL,
    paused           BOOLEAN NOT NULL,
    -- Deliveries the channel sent again, dropped: a measure of its retries.
    duplicates_dropped INTEGER NOT NULL DEFAULT 0,
    updated_at       TEXT NOT NULL
);

-- Every signed delivery and every polled record, kept as received (raw bytes, headers) until
-- it is an order, and after, so nothing the channel sent is lost and any of it can be replayed.
CREATE TABLE channel_inbox (
    id              BLOB PRIMARY KEY,
    channel         TEXT NOT NULL REFERENCES channels (code),
    -- Who sent it: shopify, woocommerce, amazon, ebay or easypost.
    source          TEXT NOT NULL,
    -- The channel's id of the delivery (X-Shopify-Webhook-Id), or of the record's version: a
    -- second delivery with the same id changes nothing.
    delivery_id     TEXT NOT NULL,
    topic           TEXT NOT NULL,
    headers         TEXT NOT NULL,
    body            BLOB NOT NULL,
    received_at     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'processed', 'ignored', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    -- The channel's id of the order the delivery is about, as received: deliveries about one
    -- order are processed one at a time, across processors, in the order received.
    order_key       TEXT,
    -- The channel's order id, once read.
    external_id     TEXT,
    outcome         TEXT,
    error_field     TEXT,
    error           TEXT,
    processed_at    TEXT,
    UNIQUE (channel, source, delivery_id)
);
-- What the processors claim next: pending deliveries, earliest due first.
CREATE INDEX channel_inbox_due ON channel_inbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX channel_inbox_recent ON channel_inbox (channel, received_at);
CREATE INDEX channel_inbox_order ON channel_inbox (channel, order_key) WHERE status = 'pending';

-- The newest version of each channel order Ordo applied: an older one changes nothing.
CREATE TABLE channel_order_versions (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (channel, external_id)
);

-- Where each poller got to, and who polls now: one poller per channel and stream at a time,
-- until its lease runs out.
CREATE TABLE channel_cursors (
    channel      TEXT NOT NULL REFERENCES channels (code),
    stream       TEXT NOT NULL,
    position     TEXT,
    lease_holder TEXT,
    lease_until  TEXT,
    polled_at    TEXT,
    PRIMARY KEY (channel, stream)
);

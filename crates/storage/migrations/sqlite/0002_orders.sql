-- Orders, their lines, where their stock is reserved, what waits for stock, their timeline,
-- routing decisions, and the exceptions queue. Kept logically identical to
-- ../postgres/0002_orders.sql.

-- Routing settings per channel: may one order ship from several locations, and from which
-- locations may the channel ship at all (no rows: from every location).
ALTER TABLE channels ADD COLUMN allow_split BOOLEAN NOT NULL DEFAULT TRUE;
CREATE TABLE channel_locations (
    channel  TEXT NOT NULL REFERENCES channels (code),
    location TEXT NOT NULL REFERENCES locations (code),
    PRIMARY KEY (channel, location)
);
-- Shipping methods a location offers (no rows: every method).
CREATE TABLE location_shipping_methods (
    location TEXT NOT NULL REFERENCES locations (code),
    method   TEXT NOT NULL,
    PRIMARY KEY (location, method)
);

-- The unique (channel, external_id) makes intake idempotent: the database, not a read before
-- the write, decides which of two concurrent re-sends creates the order.
CREATE TABLE orders (
    id              BLOB PRIMARY KEY,
    channel         TEXT NOT NULL REFERENCES channels (code),
    external_id     TEXT NOT NULL,
    status          TEXT NOT NULL,
    placed_at       TEXT NOT NULL,
    ship_by         TEXT NOT NULL,
    currency        TEXT NOT NULL,
    customer_email  TEXT NOT NULL,
    customer_name   TEXT NOT NULL,
    ship_to         TEXT NOT NULL,
    billing_country TEXT,
    shipping_method TEXT NOT NULL,
    payment_status  TEXT NOT NULL,
    shipping_minor  BIGINT NOT NULL,
    total_minor     BIGINT NOT NULL,
    -- The body exactly as the channel sent it, for audits and replays.
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (channel, external_id)
);
CREATE INDEX orders_status ON orders (status, ship_by);
-- Risk review reads each channel's recent orders to know its usual order value.
CREATE INDEX orders_channel_placed ON orders (channel, placed_at);

CREATE TABLE order_lines (
    order_id         BLOB NOT NULL REFERENCES orders (id),
    line_no          BIGINT NOT NULL,
    sku              TEXT NOT NULL REFERENCES products (sku),
    channel_sku      TEXT,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL CHECK (unit_price_minor >= 0),
    tax_minor        BIGINT NOT NULL CHECK (tax_minor >= 0),
    discount_minor   BIGINT NOT NULL CHECK (discount_minor >= 0),
    PRIMARY KEY (order_id, line_no)
);

-- Units of a line reserved (and later shipped) at a location.
CREATE TABLE allocations (
    order_id BLOB NOT NULL,
    line_no  BIGINT NOT NULL,
    location TEXT NOT NULL REFERENCES locations (code),
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, line_no, location),
    FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);

-- Units of a line that wait for stock; allocated oldest ship-by first when it arrives.
CREATE TABLE backorders (
    order_id   BLOB NOT NULL,
    line_no    BIGINT NOT NULL,
    sku        TEXT NOT NULL REFERENCES products (sku),
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    ship_by    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (order_id, line_no),
    FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);
CREATE INDEX backorders_sku ON backorders (sku, ship_by);

-- The order's timeline: every status change with who and why.
CREATE TABLE order_events (
    id          INTEGER PRIMARY KEY,
    order_id    BLOB NOT NULL REFERENCES orders (id),
    at          TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, id);

-- Why the order was routed as it was.
CREATE TABLE routing_decisions (
    id         INTEGER PRIMARY KEY,
    order_id   BLOB NOT NULL REFERENCES orders (id),
    decided_at TEXT NOT NULL,
    decider    TEXT NOT NULL,
    reasons    TEXT NOT NULL
);
CREATE INDEX routing_decisions_order ON routing_decisions (order_id, id);

-- Everything that needs a person, with an owner and a clock. One open exception per kind and
-- subject: raising it again changes nothing.
CREATE TABLE exceptions (
    id          BLOB PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    owner_role  TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'escalated', 'resolved')),
    details     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    resolved_at TEXT,
    -- Why it was closed, in words.
    resolution  TEXT
);
CREATE UNIQUE INDEX exceptions_one_open ON exceptions (kind, subject) WHERE status <> 'resolved';
CREATE INDEX exceptions_status ON exceptions (status, due_at);

-- Parcels that left a location: what, by which carrier, with which tracking number.
CREATE TABLE shipments (
    id              BLOB PRIMARY KEY,
    order_id        BLOB NOT NULL REFERENCES orders (id),
    location        TEXT NOT NULL REFERENCES locations (code),
    status          TEXT NOT NULL CHECK (status IN ('shipped', 'delivered')),
    carrier         TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    shipped_at      TEXT NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX shipments_order ON shipments (order_id);

CREATE TABLE shipment_lines (
    shipment_id BLOB NOT NULL REFERENCES shipments (id),
    line_no     BIGINT NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (shipment_id, line_no)
);

-- Units a channel keeps back per ABC class, so it does not sell the last few.
CREATE TABLE channel_buffers (
    channel   TEXT NOT NULL REFERENCES channels (code),
    abc_class TEXT NOT NULL CHECK (abc_class IN ('A', 'B', 'C')),
    units     BIGINT NOT NULL CHECK (units >= 0),
    PRIMARY KEY (channel, abc_class)
);

-- Every change to a SKU's stock or reservations at a location, in order: the change feed
-- connectors follow to push available-to-sell to the channels (the id is the cursor).
CREATE TABLE stock_changes (
    id         INTEGER PRIMARY KEY,
    sku        TEXT NOT NULL,
    location   TEXT NOT NULL,
    changed_at TEXT NOT NULL
);

-- Tax rates by ship-to country and product tax class, in basis points (1900 = 19 %), used
-- when a channel sends a line without its tax.
CREATE TABLE tax_rates (
    country     TEXT NOT NULL,
    tax_class   TEXT NOT NULL,
    rate_bp     BIGINT NOT NULL CHECK (rate_bp >= 0 AND rate_bp <= 10000),
    PRIMARY KEY (country, tax_class)
);

-- Stock moving between locations: out of on-hand at the source when sent, into on-hand at
-- the destination when received; in transit between the two.
CREATE TABLE transfers (
    id            BLOB PRIMARY KEY,
    sku           TEXT NOT NULL REFERENCES products (sku),
    from_location TEXT NOT NULL REFERENCES locations (code),
    to_location   TEXT NOT NULL REFERENCES locations (code),
    quantity      BIGINT NOT NULL CHECK (quantity > 0),
    status        TEXT NOT NULL CHECK (status IN ('in_transit', 'received')),
    reason        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    received_at   TEXT,
    CHECK (from_location <> to_location)
);

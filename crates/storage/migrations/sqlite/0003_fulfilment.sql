-- Fulfilment: where each SKU sits in a location, and waves that batch the orders of one
-- location and carrier cut-off into one pick list. Kept logically identical to
-- ../postgres/0003_fulfilment.sql.

-- The bin a SKU is picked from at a location; pick lists walk the bins in order.
CREATE TABLE bins (
    location TEXT NOT NULL REFERENCES locations (code),
    sku      TEXT NOT NULL REFERENCES products (sku),
    bin      TEXT NOT NULL,
    PRIMARY KEY (location, sku)
);

-- A wave: released to the floor (open), picked, and closed when every order in it has
-- shipped or was cancelled.
CREATE TABLE waves (
    id              BLOB PRIMARY KEY,
    location        TEXT NOT NULL REFERENCES locations (code),
    -- One carrier's orders only, or every method when NULL.
    shipping_method TEXT,
    -- The carrier cut-off the wave works towards.
    cutoff_at       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'picked', 'closed')),
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    closed_at       TEXT
);
CREATE INDEX waves_location ON waves (location, status, cutoff_at);

-- Each order in a wave, from pick to parcel.
CREATE TABLE wave_orders (
    wave_id     BLOB NOT NULL REFERENCES waves (id),
    order_id    BLOB NOT NULL REFERENCES orders (id),
    location    TEXT NOT NULL REFERENCES locations (code),
    status      TEXT NOT NULL CHECK (status IN ('to_pick', 'picked', 'packed', 'shipped', 'cancelled')),
    shipment_id BLOB REFERENCES shipments (id),
    PRIMARY KEY (wave_id, order_id)
);
-- An order's units at a location are in at most one unfinished wave.
CREATE UNIQUE INDEX wave_orders_one_open ON wave_orders (order_id, location)
    WHERE status IN ('to_pick', 'picked', 'packed');

-- What to pick for each order, as reserved when the wave was released, with the bin then.
CREATE TABLE wave_lines (
    wave_id  BLOB NOT NULL,
    order_id BLOB NOT NULL,
    line_no  BIGINT NOT NULL,
    sku      TEXT NOT NULL REFERENCES products (sku),
    bin      TEXT,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (wave_id, order_id, line_no),
    FOREIGN KEY (wave_id, order_id) REFERENCES wave_orders (wave_id, order_id)
);

-- Foundation: master data, stock, and access. Kept logically identical to
-- ../postgres/0001_foundation.sql; a storage test compares the two schemas.

-- Channels orders come from. The code is the business key every other table uses.
CREATE TABLE channels (
    code              TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('web', 'marketplace', 'social', 'b2b')),
    currency          TEXT NOT NULL,
    ship_by_sla_hours BIGINT NOT NULL CHECK (ship_by_sla_hours > 0),
    created_at        TEXT NOT NULL
);

CREATE TABLE locations (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('warehouse', '3pl', 'store')),
    priority    BIGINT NOT NULL,
    time_zone   TEXT NOT NULL,
    cutoff_time TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE products (
    sku             TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    unit_cost_minor BIGINT NOT NULL CHECK (unit_cost_minor >= 0),
    currency        TEXT NOT NULL,
    weight_grams    BIGINT NOT NULL CHECK (weight_grams >= 0),
    tax_class       TEXT NOT NULL,
    abc_class       TEXT NOT NULL CHECK (abc_class IN ('A', 'B', 'C')),
    active          BOOLEAN NOT NULL,
    created_at      TEXT NOT NULL
);
-- The dashboard searches products by name; SKU search uses the primary key.
CREATE INDEX products_name ON products (lower(name));

-- A channel's own SKU for one of ours, at the channel's price and currency.
CREATE TABLE listings (
    channel     TEXT NOT NULL REFERENCES channels (code),
    channel_sku TEXT NOT NULL,
    sku         TEXT NOT NULL REFERENCES products (sku),
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    currency    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (channel, channel_sku)
);
CREATE INDEX listings_sku ON listings (sku);

CREATE TABLE customers (
    id         BLOB PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    segment    TEXT NOT NULL CHECK (segment IN ('consumer', 'business', 'vip')),
    created_at TEXT NOT NULL
);

CREATE TABLE suppliers (
    code           TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    currency       TEXT NOT NULL,
    lead_time_days BIGINT NOT NULL CHECK (lead_time_days >= 0),
    created_at     TEXT NOT NULL
);

-- Current stock per SKU and location. The CHECK is the backstop for the rule that nothing
-- is ever reserved that is not on hand; writers use conditional updates to honour it.
CREATE TABLE stock_levels (
    sku      TEXT NOT NULL REFERENCES products (sku),
    location TEXT NOT NULL REFERENCES locations (code),
    on_hand  BIGINT NOT NULL,
    reserved BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (sku, location),
    CHECK (reserved >= 0 AND on_hand >= reserved)
);

-- Append-only: on-hand at any moment is the sum of the movements up to it.
CREATE TABLE stock_movements (
    id         INTEGER PRIMARY KEY,
    sku        TEXT NOT NULL REFERENCES products (sku),
    location   TEXT NOT NULL REFERENCES locations (code),
    kind       TEXT NOT NULL,
    quantity   BIGINT NOT NULL,
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX stock_movements_sku_location ON stock_movements (sku, location, created_at);

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

-- API tokens are stored as SHA-256 hashes; the token itself is shown once and never kept.
CREATE TABLE api_tokens (
    id         BLOB PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- Dashboard log-in sessions, by hash of the cookie's value.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Facts about the database itself, such as whether the demo business built it.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

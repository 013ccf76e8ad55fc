-- Orders the channel changed after sending them. Kept logically identical to
-- ../postgres/0005_order_revisions.sql.

-- Each version of an order the channel sent after the first, exactly as sent; the first is
-- orders.payload.
CREATE TABLE order_revisions (
    id          INTEGER PRIMARY KEY,
    order_id    BLOB NOT NULL REFERENCES orders (id),
    received_at TEXT NOT NULL,
    actor       TEXT NOT NULL,
    changes     TEXT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX order_revisions_order ON order_revisions (order_id, id);

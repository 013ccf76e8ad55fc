-- Orders the channel changed after sending them. Kept logically identical to
-- ../sqlite/0005_order_revisions.sql.

-- Each version of an order the channel sent after the first, exactly as sent; the first is
-- orders.payload.
CREATE TABLE order_revisions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    UUID NOT NULL REFERENCES orders (id),
    received_at TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    changes     TEXT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX order_revisions_order ON order_revisions (order_id, id);

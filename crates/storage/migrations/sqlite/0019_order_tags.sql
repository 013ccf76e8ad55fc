-- Tags tagging rules put on orders at intake, each with the rule and version that put it.
-- Kept logically identical to ../postgres/0019_order_tags.sql.
CREATE TABLE order_tags (
    order_id BLOB NOT NULL REFERENCES orders (id),
    tag      TEXT NOT NULL,
    rule     TEXT NOT NULL,
    PRIMARY KEY (order_id, tag)
);
CREATE INDEX order_tags_tag ON order_tags (tag);

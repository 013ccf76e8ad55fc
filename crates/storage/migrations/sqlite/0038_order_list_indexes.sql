-- Orders are listed newest placed first a page at a time (by cursor: the placed time and id of
-- the last order shown), and followed as a change feed (changed after a time, oldest change
-- first). Both read a range of one of these instead of sorting every order. Kept logically
-- identical in both engines.
CREATE INDEX orders_placed ON orders (placed_at, id);
CREATE INDEX orders_updated ON orders (updated_at, id);

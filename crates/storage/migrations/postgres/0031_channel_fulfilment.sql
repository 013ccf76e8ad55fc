-- Stock a channel keeps and ships itself (Amazon FBA): a location the channel manages. Ordo
-- never routes its own orders there; the channel's fulfilled-by-channel orders are recorded
-- against it and shipped when the channel says it shipped them.
ALTER TABLE locations ADD COLUMN managed_by TEXT REFERENCES channels (code);
ALTER TABLE orders ADD COLUMN fulfilled_by_channel BOOLEAN NOT NULL DEFAULT FALSE;

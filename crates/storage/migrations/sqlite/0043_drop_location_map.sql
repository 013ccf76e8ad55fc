-- A connector's location map was kept and shown but never read: Shopify stock goes to the
-- one location its credentials name, and orders a channel fulfils itself go to the location
-- it manages. Kept logically identical in both engines.
ALTER TABLE channel_connectors DROP COLUMN location_map;

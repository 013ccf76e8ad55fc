-- How long a change may wait to be told to the channel before the integration role is told
-- (a `sync_lag` exception), per connector. Kept logically identical in both engines.
ALTER TABLE channel_connectors ADD COLUMN sync_lag_threshold_s BIGINT NOT NULL DEFAULT 300;

-- How telling each channel went, hour by hour: what it took, and how long from the change to
-- its answer (sum and worst, so the mean and the worst can be drawn). One row per channel and
-- hour, added to by each round. Kept logically identical to
-- ../sqlite/0034_channel_push_hours.sql.
CREATE TABLE channel_push_hours (
    channel        TEXT NOT NULL REFERENCES channels (code),
    hour           TIMESTAMPTZ NOT NULL,
    pushes         BIGINT NOT NULL,
    latency_ms_sum BIGINT NOT NULL,
    latency_ms_max BIGINT NOT NULL,
    -- Pushes that took longer than two seconds.
    slow           BIGINT NOT NULL,
    PRIMARY KEY (channel, hour)
);

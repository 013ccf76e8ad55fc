-- Order events counted by UTC day, channel and step, so the operating figures' trends read a
-- few rows a day rather than every event of the last thirty days. The two writers of order
-- events (`Tx::insert_order_events`, `Tx::record_transition`) add the counts in the same
-- transaction: intake a row per key for its whole group, a single step a row of its own. No
-- row is updated in place, so writers never wait on a day's count; now and then
-- `Tx::fold_order_event_days` folds each key's rows into one. Readers sum, so they read
-- the same before and after. Kept logically identical to ../sqlite/0046_order_event_days.sql.
CREATE TABLE order_event_days (
    day            TEXT NOT NULL CHECK (length(day) = 10),
    channel        TEXT NOT NULL,
    -- '' for an order's first event, which comes from no status.
    from_status    TEXT NOT NULL,
    to_status      TEXT NOT NULL,
    events         BIGINT NOT NULL,
    -- Events that routed their order (to allocated or backordered) for the first time.
    first_routings BIGINT NOT NULL,
    -- Events that shipped their order by its ship-by time.
    on_time        BIGINT NOT NULL
);
CREATE INDEX order_event_days_day ON order_event_days (day);
-- The figures read events by time only through these counts now, so intake stops paying for
-- that index (0037).
DROP INDEX order_events_at;

-- The events recorded before this table was.
INSERT INTO order_event_days (day, channel, from_status, to_status, events, first_routings, on_time)
SELECT to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), o.channel, COALESCE(e.from_status, ''), e.to_status, COUNT(*),
       SUM(CASE WHEN e.to_status IN ('allocated', 'backordered') AND NOT EXISTS (
           SELECT 1 FROM order_events f
           WHERE f.order_id = e.order_id AND f.id < e.id AND f.to_status IN ('allocated', 'backordered')
       ) THEN 1 ELSE 0 END),
       SUM(CASE WHEN e.to_status = 'shipped' AND e.at <= o.ship_by THEN 1 ELSE 0 END)
FROM order_events e JOIN orders o ON o.id = e.order_id
GROUP BY 1, 2, 3, 4;

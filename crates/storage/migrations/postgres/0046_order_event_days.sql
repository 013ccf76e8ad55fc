-- Order events counted by UTC day, channel and step, so the operating figures' trends read a
-- few rows a day rather than every event of the last thirty days. The database writes the
-- counts itself, one row per key for each statement that records events, in that statement,
-- so no writer can forget one; `Tx::compact_order_event_days` now and then folds each key's
-- rows into one. Readers sum, so they read the same before and after. No row is updated in
-- place: writers never wait for each other on a day's count. Kept logically identical to
-- ../sqlite/0046_order_event_days.sql.
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

CREATE FUNCTION count_order_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_event_days (day, channel, from_status, to_status, events, first_routings, on_time)
    SELECT to_char(n.at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), o.channel, COALESCE(n.from_status, ''), n.to_status, COUNT(*),
           SUM(CASE WHEN n.to_status IN ('allocated', 'backordered') AND NOT EXISTS (
               SELECT 1 FROM order_events f
               WHERE f.order_id = n.order_id AND f.id < n.id AND f.to_status IN ('allocated', 'backordered')
           ) THEN 1 ELSE 0 END),
           SUM(CASE WHEN n.to_status = 'shipped' AND n.at <= o.ship_by THEN 1 ELSE 0 END)
    FROM new_events n JOIN orders o ON o.id = n.order_id
    GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END
$$;

CREATE TRIGGER order_events_counted AFTER INSERT ON order_events
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION count_order_events();

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

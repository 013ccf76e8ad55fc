-- The operating figures read order events, and exceptions raised and resolved, over the last
-- thirty days: by time, not by scanning everything ever recorded. An order writes about four
-- events, so intake pays for one more index entry each. Kept logically identical in both engines.
CREATE INDEX order_events_at ON order_events (at);
CREATE INDEX exceptions_created ON exceptions (created_at);
CREATE INDEX exceptions_resolved ON exceptions (resolved_at);

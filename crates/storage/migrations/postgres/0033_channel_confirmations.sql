-- What Ordo tells a channel about an order it decided itself: a parcel that left (carrier,
-- tracking number, the lines in it), a cancellation, or a refund. Written in the transaction
-- that ships, cancels or refunds (a transactional outbox), claimed by one pusher at a time under a lease,
-- tried again with growing waits, and closed with the channel's answer. Kept logically
-- identical to ../sqlite/0033_channel_confirmations.sql.
CREATE TABLE channel_confirmations (
    id            UUID PRIMARY KEY,
    channel       TEXT NOT NULL REFERENCES channels (code),
    order_id      UUID NOT NULL REFERENCES orders (id),
    kind          TEXT NOT NULL CHECK (kind IN ('shipment', 'cancellation', 'refund')),
    shipment_id   UUID REFERENCES shipments (id),
    refund_id     UUID REFERENCES refunds (id),
    reason        TEXT NOT NULL,
    -- By the wall clock, for the push latency.
    created_at    TIMESTAMPTZ NOT NULL,
    due_at        TIMESTAMPTZ NOT NULL,
    lease_until   TIMESTAMPTZ,
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    -- confirmed: the channel took it; refused: the channel said no, a person decides.
    outcome       TEXT CHECK (outcome IN ('confirmed', 'refused')),
    done_at       TIMESTAMPTZ,
    latency_ms    BIGINT,
    CHECK ((kind = 'shipment') = (shipment_id IS NOT NULL)),
    CHECK ((kind = 'refund') = (refund_id IS NOT NULL))
);
CREATE INDEX channel_confirmations_due ON channel_confirmations (channel, due_at) WHERE done_at IS NULL;
CREATE INDEX channel_confirmations_done ON channel_confirmations (channel, done_at) WHERE done_at IS NOT NULL;
CREATE INDEX channel_confirmations_order ON channel_confirmations (order_id);

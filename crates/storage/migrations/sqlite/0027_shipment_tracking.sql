-- What carriers report of each parcel (through EasyPost's tracking webhooks): one row per
-- status a shipment reached, so a repeated event changes nothing. Kept logically identical to
-- ../postgres/0027_shipment_tracking.sql.
CREATE TABLE shipment_events (
    shipment_id BLOB NOT NULL REFERENCES shipments (id),
    status      TEXT NOT NULL,
    message     TEXT,
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (shipment_id, status)
);
-- Tracking events name the parcel by its tracking number.
CREATE INDEX shipments_tracking ON shipments (tracking_number);

-- Exchange rates into the base currency, from a moment on. Kept logically identical to
-- ../postgres/0008_exchange_rates.sql.
CREATE TABLE exchange_rates (
    currency    TEXT NOT NULL,
    valid_from  TEXT NOT NULL,
    -- Units of the base currency one unit of `currency` buys, in millionths.
    rate_micros BIGINT NOT NULL CHECK (rate_micros > 0),
    PRIMARY KEY (currency, valid_from)
);

-- What the sender asked for when an order was made (canonical JSON of the checked request),
-- so a re-send under the same (channel, external_id) with another body is refused with what
-- differs. Orders made before this have none and are not compared.
ALTER TABLE orders ADD COLUMN terms TEXT;

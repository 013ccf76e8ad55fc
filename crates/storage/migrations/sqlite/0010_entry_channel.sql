-- The channel an entry belongs to, where it belongs to one (a shipment, a settlement), so
-- profitability can be read by channel. Kept logically identical to
-- ../postgres/0010_entry_channel.sql.
ALTER TABLE journal_entries ADD COLUMN channel TEXT;
CREATE INDEX journal_entries_channel ON journal_entries (channel, posted_at);

-- The journal lines of entries that belong to a channel, summed by UTC day, channel and
-- account in base currency, so the margin and revenue trends read a few rows a day rather than
-- every line of the last thirty days. `Tx::insert_entry` adds a row per account of each such
-- entry in the same transaction; now and then `Tx::fold_journal_days` folds each key's
-- rows into one. Each amount is kept in two parts, the quotient and remainder of a division
-- by 10^9, as the reports sum lines: each part's sum stays inside BIGINT for billions of
-- lines. Kept logically identical to ../sqlite/0047_journal_days.sql.
CREATE TABLE journal_days (
    day         TEXT NOT NULL CHECK (length(day) = 10),
    channel     TEXT NOT NULL,
    account     TEXT NOT NULL,
    debit_high  BIGINT NOT NULL,
    debit_low   BIGINT NOT NULL,
    credit_high BIGINT NOT NULL,
    credit_low  BIGINT NOT NULL
);
CREATE INDEX journal_days_day ON journal_days (day);

-- The entries posted before this table was.
INSERT INTO journal_days (day, channel, account, debit_high, debit_low, credit_high, credit_low)
SELECT to_char(e.posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), e.channel, l.account,
       SUM(l.base_debit_minor / 1000000000), SUM(l.base_debit_minor % 1000000000),
       SUM(l.base_credit_minor / 1000000000), SUM(l.base_credit_minor % 1000000000)
FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
WHERE e.channel IS NOT NULL
GROUP BY 1, 2, 3;

-- What triage suggested for a ticket when it was opened (intent, category, urgency, and the
-- words that decided them), and the label a person gave it, accepted or changed: the
-- business's own labels, which retrain the classifier. Kept logically identical in both engines.
CREATE TABLE ticket_triage (
    ticket_id           BLOB PRIMARY KEY REFERENCES tickets (id),
    intent              TEXT NOT NULL,
    category            TEXT NOT NULL,
    urgency             TEXT NOT NULL,
    confidence_permille BIGINT NOT NULL,
    words               TEXT NOT NULL,
    urgency_words       TEXT NOT NULL,
    label_intent        TEXT,
    label_category      TEXT,
    labelled_by         TEXT,
    labelled_at         TEXT
);
CREATE INDEX ticket_triage_labelled ON ticket_triage (labelled_at);

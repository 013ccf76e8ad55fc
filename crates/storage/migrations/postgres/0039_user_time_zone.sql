-- The time zone a user reads times in on the dashboard (an IANA name such as Europe/Berlin);
-- UTC when none. Kept logically identical in both engines.
ALTER TABLE users ADD COLUMN time_zone TEXT;

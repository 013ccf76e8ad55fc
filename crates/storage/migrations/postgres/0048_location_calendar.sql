-- Each location's working calendar (closed weekdays and closed dates) as the JSON of
-- ordo_domain::calendar::Calendar; NULL for a location that works every day. Kept logically
-- identical to ../sqlite/0048_location_calendar.sql.
ALTER TABLE locations ADD COLUMN calendar TEXT;

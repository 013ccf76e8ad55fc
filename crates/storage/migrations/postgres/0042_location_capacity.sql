-- What a location's people can do, for the workload forecast: order lines picked and packed
-- per person-hour, people on a shift, and the shift's hours. A location without a row has
-- the defaults (60, 3, 8). Kept logically identical in both engines.
CREATE TABLE location_capacity (
    location              TEXT PRIMARY KEY REFERENCES locations (code),
    lines_per_person_hour BIGINT NOT NULL CHECK (lines_per_person_hour > 0),
    people                BIGINT NOT NULL CHECK (people >= 0),
    shift_hours           BIGINT NOT NULL CHECK (shift_hours > 0 AND shift_hours <= 24)
);

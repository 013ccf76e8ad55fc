-- A role may have a lead: the person an overdue exception of that role goes to before it moves
-- on to the next role (finance, then the finance lead, then admin). An exception escalated to
-- a lead stays in its role's queue, assigned to them. Kept logically identical in both engines.
CREATE TABLE role_leads (
    role     TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username)
);
ALTER TABLE exceptions ADD COLUMN assigned_to TEXT;

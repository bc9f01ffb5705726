-- Live state of the emergency shelters (应急避难场所): occupancy and opening status as shelter
-- managers report them during an emergency. The shelter layer is the register (capacity, and
-- the occupancy/status at the time it was exported); a row here overrides the register's
-- occupancy and status for that shelter until changed again. Times are Unix milliseconds, UTC.
CREATE TABLE shelter_state (
    shelter    TEXT    PRIMARY KEY,  -- the shelter layer's feature id (its code)
    occupancy  INTEGER NOT NULL CHECK (occupancy >= 0),
    status     TEXT    NOT NULL CHECK (status IN ('open', 'closed', 'full')),
    updated_at INTEGER NOT NULL,
    actor      TEXT    NOT NULL
);

-- Every change, append-only: who moved how many people into or out of which shelter, and
-- whether it came from a manager's report or from a committed allocation plan.
CREATE TABLE shelter_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    shelter          TEXT    NOT NULL,
    source           TEXT    NOT NULL,  -- 'report' (PATCH) or 'allocation' (committed plan)
    occupancy_before INTEGER NOT NULL,
    occupancy        INTEGER NOT NULL,
    status_before    TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    actor            TEXT    NOT NULL,
    role             TEXT    NOT NULL,
    at               INTEGER NOT NULL,
    note             TEXT
);
CREATE INDEX shelter_events_shelter ON shelter_events (shelter, id);

CREATE TRIGGER shelter_events_no_update BEFORE UPDATE ON shelter_events
BEGIN SELECT RAISE(ABORT, 'shelter_events is append-only'); END;
CREATE TRIGGER shelter_events_no_delete BEFORE DELETE ON shelter_events
BEGIN SELECT RAISE(ABORT, 'shelter_events is append-only'); END;

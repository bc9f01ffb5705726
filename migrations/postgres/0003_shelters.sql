-- Live state of the emergency shelters (应急避难场所): occupancy and opening status as shelter
-- managers report them during an emergency. The shelter layer is the register (capacity, and
-- the occupancy/status at the time it was exported); a row here overrides the register's
-- occupancy and status for that shelter until changed again. Times are Unix milliseconds, UTC,
-- as in the SQLite back end.
CREATE TABLE shelter_state (
    shelter    TEXT   PRIMARY KEY,  -- the shelter layer's feature id (its code)
    occupancy  BIGINT NOT NULL CHECK (occupancy >= 0),
    status     TEXT   NOT NULL CHECK (status IN ('open', 'closed', 'full')),
    updated_at BIGINT NOT NULL,
    actor      TEXT   NOT NULL
);

-- Every change, append-only: who moved how many people into or out of which shelter, and
-- whether it came from a manager's report or from a committed allocation plan.
CREATE TABLE shelter_events (
    id               BIGSERIAL PRIMARY KEY,
    shelter          TEXT   NOT NULL,
    source           TEXT   NOT NULL,  -- 'report' (PATCH) or 'allocation' (committed plan)
    occupancy_before BIGINT NOT NULL,
    occupancy        BIGINT NOT NULL,
    status_before    TEXT   NOT NULL,
    status           TEXT   NOT NULL,
    actor            TEXT   NOT NULL,
    role             TEXT   NOT NULL,
    at               BIGINT NOT NULL,
    note             TEXT
);
CREATE INDEX shelter_events_shelter ON shelter_events (shelter, id);

CREATE FUNCTION shelter_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'shelter_events is append-only';
END $$;
CREATE TRIGGER shelter_events_no_change BEFORE UPDATE OR DELETE ON shelter_events
FOR EACH ROW EXECUTE FUNCTION shelter_events_append_only();

-- Incidents (突发事件), their tasks and the live emergency resources (teams, depot stock).
-- Times are Unix milliseconds, UTC, as in the SQLite back end.

-- An incident: proposed by a trigger (feed alert, leak zone) or opened by a duty officer,
-- then active under a plan at a level, until closed. `episode` groups automatic proposals:
-- while an incident of a plan and episode is proposed or active, more of the same triggers
-- add to it instead of proposing another (the partial unique index makes that hold under
-- concurrency too).
CREATE TABLE incidents (
    id          BIGSERIAL PRIMARY KEY,
    plan        TEXT    NOT NULL,
    level       TEXT    NOT NULL CHECK (level IN ('IV', 'III', 'II', 'I')),
    status      TEXT    NOT NULL CHECK (status IN ('proposed', 'active', 'dismissed', 'closed')),
    title       TEXT    NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('manual', 'case', 'alert', 'leak_zone')),
    source_ref  TEXT,
    episode     TEXT,
    lon         DOUBLE PRECISION    NOT NULL,
    lat         DOUBLE PRECISION    NOT NULL,
    area        TEXT,             -- GeoJSON geometry of the incident area, if any
    context     TEXT    NOT NULL, -- JSON: what the trigger found (flood points, targets, shelters)
    opened_at   BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    closed_at   BIGINT,
    version     BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX incidents_one_open_episode ON incidents (plan, episode)
    WHERE status IN ('proposed', 'active') AND episode IS NOT NULL;
CREATE INDEX incidents_status ON incidents (status, id);

-- The timeline: every step of an incident and its tasks, append-only.
CREATE TABLE incident_events (
    id        BIGSERIAL PRIMARY KEY,
    incident  BIGINT NOT NULL REFERENCES incidents (id),
    at        BIGINT NOT NULL,
    kind      TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    role      TEXT    NOT NULL,
    level     TEXT,
    task      BIGINT,
    note      TEXT,
    data      TEXT              -- JSON: the trigger's details (alert, reading time, …)
);
CREATE INDEX incident_events_incident ON incident_events (incident, id);
CREATE FUNCTION incident_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER incident_events_no_change BEFORE UPDATE OR DELETE ON incident_events
FOR EACH ROW EXECUTE FUNCTION incident_log_append_only();

-- A task: for a unit (unit), a team of a type (team_kind → team once assigned) or a supply item
-- from a depot (item, quantity → depot once drawn).
CREATE TABLE incident_tasks (
    id          BIGSERIAL PRIMARY KEY,
    incident    BIGINT NOT NULL REFERENCES incidents (id),
    kind        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    target      TEXT    NOT NULL CHECK (target IN ('unit', 'team', 'depot')),
    unit        TEXT,
    team_kind   TEXT,
    team        TEXT,
    item        TEXT,
    quantity    BIGINT,
    depot       TEXT,
    place       TEXT,            -- the flood point, shelter or protected target it is about
    lon         DOUBLE PRECISION,
    lat         DOUBLE PRECISION,
    deadline    BIGINT NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('assigned', 'acknowledged', 'started', 'done', 'refused')),
    note        TEXT,
    photo       TEXT,
    reason      TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX incident_tasks_incident ON incident_tasks (incident, id);
CREATE INDEX incident_tasks_unit ON incident_tasks (unit, status);

-- Emergency teams as live resources: one row per team of the teams layer (seeded standby).
CREATE TABLE team_state (
    team        TEXT    PRIMARY KEY,
    status      TEXT    NOT NULL CHECK (status IN ('standby', 'assigned', 'on_scene', 'returning')),
    task        BIGINT,
    incident    BIGINT,
    updated_at  BIGINT NOT NULL
);

-- Depot stock lines (seeded from the depots layer's `supplies`); never below zero.
CREATE TABLE depot_stock (
    depot       TEXT    NOT NULL,
    item        TEXT    NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity >= 0),
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (depot, item)
);

-- Every stock movement, append-only.
CREATE TABLE stock_moves (
    id          BIGSERIAL PRIMARY KEY,
    depot       TEXT    NOT NULL,
    item        TEXT    NOT NULL,
    delta       BIGINT NOT NULL,
    quantity    BIGINT NOT NULL,
    task        BIGINT,
    actor       TEXT    NOT NULL,
    at          BIGINT NOT NULL
);
CREATE TRIGGER stock_moves_no_change BEFORE UPDATE OR DELETE ON stock_moves
FOR EACH ROW EXECUTE FUNCTION incident_log_append_only();

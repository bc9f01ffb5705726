-- Cases, their append-only event log, and API keys (PostgreSQL + PostGIS; times are Unix
-- milliseconds, UTC, the same representation as the SQLite back end so both behave alike).
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE cases (
    id            BIGSERIAL PRIMARY KEY,
    status        TEXT    NOT NULL,
    class         TEXT    NOT NULL,
    urgency       TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    photos        TEXT    NOT NULL DEFAULT '[]',
    address       TEXT,
    reporter      TEXT,
    lon           DOUBLE PRECISION NOT NULL,
    lat           DOUBLE PRECISION NOT NULL,
    geom          geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED,
    cell          TEXT,
    village       TEXT,
    town          TEXT,
    ambiguous     BOOLEAN NOT NULL DEFAULT FALSE,
    unit          TEXT,
    unit_basis    TEXT,
    supervised    BOOLEAN NOT NULL DEFAULT FALSE,
    overdue       BOOLEAN NOT NULL DEFAULT FALSE,
    reported_at   BIGINT  NOT NULL,
    dispatched_at BIGINT,
    deadline      BIGINT,
    handled_at    BIGINT,
    closed_at     BIGINT,
    updated_at    BIGINT  NOT NULL,
    version       BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX cases_geom ON cases USING gist (geom);
CREATE INDEX cases_status ON cases (status);
CREATE INDEX cases_unit ON cases (unit, status);
CREATE INDEX cases_town ON cases (town);
CREATE INDEX cases_cell ON cases (cell);
CREATE INDEX cases_reported ON cases (reported_at);
CREATE INDEX cases_deadline ON cases (deadline) WHERE deadline IS NOT NULL;
CREATE INDEX cases_lonlat ON cases (lon, lat);
-- The duplicate hint on every report: open cases of one class in a small box.
CREATE INDEX cases_class_lonlat ON cases (class, lon, lat);

CREATE TABLE case_events (
    id          BIGSERIAL PRIMARY KEY,
    case_id     BIGINT  NOT NULL REFERENCES cases (id),
    action      TEXT    NOT NULL,
    from_status TEXT,
    to_status   TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    unit        TEXT,
    at          BIGINT  NOT NULL,
    note        TEXT,
    photos      TEXT    NOT NULL DEFAULT '[]',
    data        TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX case_events_case ON case_events (case_id, id);
CREATE INDEX case_events_at ON case_events (at);

-- Append-only: the log is the case's history and the appraisal's evidence.
CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only';
END $$;
CREATE TRIGGER case_events_no_change BEFORE UPDATE OR DELETE ON case_events
FOR EACH ROW EXECUTE FUNCTION case_events_append_only();

CREATE TABLE api_keys (
    id         BIGSERIAL PRIMARY KEY,
    hash       TEXT    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    unit       TEXT,
    label      TEXT,
    created_at BIGINT  NOT NULL,
    revoked_at BIGINT
);

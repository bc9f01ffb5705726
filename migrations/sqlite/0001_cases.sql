-- Cases, their append-only event log, and API keys (SQLite; times are Unix milliseconds, UTC).
CREATE TABLE cases (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    status        TEXT    NOT NULL,
    class         TEXT    NOT NULL,
    urgency       TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    photos        TEXT    NOT NULL DEFAULT '[]',
    address       TEXT,
    reporter      TEXT,
    lon           REAL    NOT NULL,
    lat           REAL    NOT NULL,
    cell          TEXT,
    village       TEXT,
    town          TEXT,
    ambiguous     INTEGER NOT NULL DEFAULT 0,
    unit          TEXT,
    unit_basis    TEXT,
    supervised    INTEGER NOT NULL DEFAULT 0,
    overdue       INTEGER NOT NULL DEFAULT 0,
    reported_at   INTEGER NOT NULL,
    dispatched_at INTEGER,
    deadline      INTEGER,
    handled_at    INTEGER,
    closed_at     INTEGER,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL DEFAULT 0
);
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
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    action      TEXT    NOT NULL,
    from_status TEXT,
    to_status   TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    unit        TEXT,
    at          INTEGER NOT NULL,
    note        TEXT,
    photos      TEXT    NOT NULL DEFAULT '[]',
    data        TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX case_events_case ON case_events (case_id, id);
CREATE INDEX case_events_at ON case_events (at);

-- Append-only: the log is the case's history and the appraisal's evidence.
CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END;
CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END;

CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    hash       TEXT    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    unit       TEXT,
    label      TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

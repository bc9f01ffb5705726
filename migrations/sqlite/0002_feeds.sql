-- Hydrological and weather feeds: readings and the alerts they raised (SQLite; times are Unix
-- milliseconds, UTC, like the case tables). Kept equivalent to migrations/postgres/0002_feeds.sql.

-- One row per (station, kind, time): the key makes ingestion idempotent (INSERT … ON CONFLICT
-- DO NOTHING, the first value stored stands). WITHOUT ROWID stores the rows in key order, so
-- "the newest reading of each series" is an index walk and no second index is kept.
CREATE TABLE readings (
    station     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    time        INTEGER NOT NULL,
    value       REAL    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (station, kind, time)
) WITHOUT ROWID;

CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    station      TEXT    NOT NULL,
    layer        TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    level        TEXT    NOT NULL,
    -- 1 blue … 4 red, for "this level or higher".
    level_rank   INTEGER NOT NULL,
    value        REAL    NOT NULL,
    threshold    REAL    NOT NULL,
    -- The time of the reading that crossed; raised_at is when the server stored the alert.
    time         INTEGER NOT NULL,
    raised_at    INTEGER NOT NULL,
    -- The time and value of the first reading below the alert's level; NULL while active.
    ended_at     INTEGER,
    end_value    REAL,
    lon          REAL    NOT NULL,
    lat          REAL    NOT NULL,
    -- JSON lists [{id, name, distance_m[, population]}] of what lies within the alert radius.
    flood_points TEXT    NOT NULL DEFAULT '[]',
    villages     TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX alerts_time ON alerts (time);
CREATE INDEX alerts_series ON alerts (station, kind, time);
CREATE INDEX alerts_active ON alerts (station, kind) WHERE ended_at IS NULL;

-- Hydrological and weather feeds: readings and the alerts they raised (PostgreSQL + PostGIS;
-- times are Unix milliseconds, UTC, as in the SQLite back end, so both behave alike). Kept
-- equivalent to migrations/sqlite/0002_feeds.sql.

-- One row per (station, kind, time): the key makes ingestion idempotent (INSERT … ON CONFLICT
-- DO NOTHING, the first value stored stands) and serves "the newest reading of each series".
CREATE TABLE readings (
    station     TEXT             NOT NULL,
    kind        TEXT             NOT NULL,
    time        BIGINT           NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    received_at BIGINT           NOT NULL,
    PRIMARY KEY (station, kind, time)
);

CREATE TABLE alerts (
    id           BIGSERIAL PRIMARY KEY,
    station      TEXT             NOT NULL,
    layer        TEXT             NOT NULL,
    kind         TEXT             NOT NULL,
    level        TEXT             NOT NULL,
    -- 1 blue … 4 red, for "this level or higher".
    level_rank   BIGINT           NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    threshold    DOUBLE PRECISION NOT NULL,
    -- The time of the reading that crossed; raised_at is when the server stored the alert.
    time         BIGINT           NOT NULL,
    raised_at    BIGINT           NOT NULL,
    -- The time and value of the first reading below the alert's level; NULL while active.
    ended_at     BIGINT,
    end_value    DOUBLE PRECISION,
    lon          DOUBLE PRECISION NOT NULL,
    lat          DOUBLE PRECISION NOT NULL,
    -- For GIS clients reading the table directly (the server itself uses lon/lat).
    geom         geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED,
    -- JSON lists [{id, name, distance_m[, population]}] of what lies within the alert radius.
    flood_points TEXT             NOT NULL DEFAULT '[]',
    villages     TEXT             NOT NULL DEFAULT '[]'
);
CREATE INDEX alerts_time ON alerts (time);
CREATE INDEX alerts_series ON alerts (station, kind, time);
CREATE INDEX alerts_active ON alerts (station, kind) WHERE ended_at IS NULL;
CREATE INDEX alerts_geom ON alerts USING GIST (geom);

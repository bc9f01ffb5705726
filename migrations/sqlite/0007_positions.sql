-- Field positions (issue 15): fixes of inspectors' phones and team vehicles, the fences they
-- enter and leave, and which API key may post for which worker. Times are Unix ms, UTC.

-- Every accepted fix; the track of a worker is its rows in time order. Pruned by the
-- retention setting of data/field.toml (`retention_days`), oldest first.
CREATE TABLE positions (
    worker      TEXT    NOT NULL,
    time        INTEGER NOT NULL,
    lon         REAL    NOT NULL,
    lat         REAL    NOT NULL,
    accuracy    REAL,
    speed       REAL,
    heading     REAL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (worker, time)
) WITHOUT ROWID;
CREATE INDEX positions_time ON positions (time);

-- Enter / exit / cross events, stored in the transaction of the fix that raised them.
CREATE TABLE fence_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    worker   TEXT    NOT NULL,
    fence    TEXT    NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('enter', 'exit', 'cross')),
    time     INTEGER NOT NULL,
    lon      REAL    NOT NULL,
    lat      REAL    NOT NULL,
    raised_at INTEGER NOT NULL
);
CREATE INDEX fence_events_fence ON fence_events (fence, time);
CREATE INDEX fence_events_worker ON fence_events (worker, time);

-- Fences posted by dispatchers (and, through the field room's API, other rooms' areas). The
-- layer areas (beats, towns, leak zones) are fences without rows here.
CREATE TABLE fences (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    geometry   TEXT    NOT NULL,  -- GeoJSON, WGS84
    created_at INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    removed_at INTEGER
);

-- Which key may post positions for which worker (a phone's key for its inspector, an AVL
-- gateway's key for its vehicles). Keys themselves stay in api_keys.
CREATE TABLE worker_keys (
    key_id INTEGER NOT NULL REFERENCES api_keys (id),
    worker TEXT    NOT NULL,
    PRIMARY KEY (key_id, worker)
);

-- A report sent from a phone's offline queue carries an id the phone made; a repeat of the
-- same id returns the case already stored instead of a second one.
ALTER TABLE cases ADD COLUMN client_id TEXT;
CREATE UNIQUE INDEX cases_client_id ON cases (client_id) WHERE client_id IS NOT NULL;

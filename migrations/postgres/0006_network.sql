-- The three-level linkage network (issue 13): keys bound to a node of the network, cases in a
-- queue, supervision orders (督办单) as records. Times are Unix milliseconds, UTC.

-- The node a key acts for: `district`, `town:CODE` (a sub-centre), `village:CODE` (a
-- workstation), `unit:CODE` (a handling unit) or a command body's code. NULL: the district
-- centre (keys issued before the network existed keep working as they did).
ALTER TABLE api_keys ADD COLUMN node TEXT;

-- The queue a case is in: `district` (the district centre's) or `town:CODE` (a sub-centre's).
ALTER TABLE cases ADD COLUMN queue TEXT;
-- The command body of the case's affairs class (urban, emergency, police_110, hotline_12345).
ALTER TABLE cases ADD COLUMN command TEXT;
-- The first receiver (首接责任制): the queue the case landed in when it was reported.
ALTER TABLE cases ADD COLUMN first_queue TEXT;

-- Before the network, every case ran through the district centre's one queue.
UPDATE cases SET queue = 'district', first_queue = 'district' WHERE queue IS NULL;

-- A queue page: newest first within one queue (or one command body's).
CREATE INDEX cases_queue ON cases (queue, id);
CREATE INDEX cases_command ON cases (command, id);

CREATE TABLE supervision_orders (
    id          BIGSERIAL PRIMARY KEY,
    case_id     BIGINT  NOT NULL REFERENCES cases (id),
    -- Who issued it: the issuing node (`district` or `town:CODE`) and the key's name.
    issuer      TEXT    NOT NULL,
    issued_by   TEXT    NOT NULL,
    -- Whom it is addressed to: `town:CODE` (a sub-centre) or `unit:CODE` (a handling unit).
    target      TEXT    NOT NULL,
    requirement TEXT    NOT NULL,
    due_at      BIGINT  NOT NULL,
    -- open, replied or closed; "overdue" is an open order past its due time (derived, not stored).
    status      TEXT    NOT NULL CHECK (status IN ('open', 'replied', 'closed')),
    reply       TEXT,
    replied_by  TEXT,
    replied_at  BIGINT,
    closed_at   BIGINT,
    created_at  BIGINT  NOT NULL,
    version     BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX supervision_orders_case ON supervision_orders (case_id, id);
CREATE INDEX supervision_orders_target ON supervision_orders (target, status);
CREATE INDEX supervision_orders_created ON supervision_orders (created_at);

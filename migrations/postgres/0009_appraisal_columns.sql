-- The appraisal's evidence in columns of the event log (issue 13: a year of 500,000 cases and
-- 316 units appraised in ≤ 2 s). The appraisal used to read every event of the period and parse
-- its JSON `data` in Rust; now the database sums the period's steps by unit and by town
-- (GROUP BY) over these columns. `data` stays the full record; the columns repeat what the
-- appraisal reads of it (`cases::appraisal::Evidence`).
ALTER TABLE case_events
    -- The unit and the town sub-centre the step counts for (data.case_unit, data.case_town).
    ADD COLUMN case_unit TEXT,
    ADD COLUMN case_town TEXT,
    -- When the step's timed span began: a feedback's dispatch (data.dispatched_at), a filing's
    -- report (data.reported_at), a dispatch's filing (the case's latest `file` event before it).
    ADD COLUMN since BIGINT,
    -- A feedback given by the deadline (data.on_time; absent counts as on time).
    ADD COLUMN on_time BOOLEAN,
    -- A call-back that reached the citizen, and one that found them satisfied (满意 or 基本满意).
    ADD COLUMN reached BOOLEAN,
    ADD COLUMN satisfied BOOLEAN;

-- The events already logged get their columns once; the log stays append-only for everyone else.
ALTER TABLE case_events DISABLE TRIGGER case_events_no_change;
UPDATE case_events e SET
    case_unit = CASE WHEN jsonb_typeof(d.j -> 'case_unit') = 'string' THEN d.j ->> 'case_unit' END,
    case_town = CASE WHEN jsonb_typeof(d.j -> 'case_town') = 'string' THEN d.j ->> 'case_town' END,
    since = CASE
        WHEN e.action = 'feedback' AND jsonb_typeof(d.j -> 'dispatched_at') = 'number' THEN (d.j ->> 'dispatched_at')::numeric::bigint
        WHEN e.action = 'file' AND jsonb_typeof(d.j -> 'reported_at') = 'number' THEN (d.j ->> 'reported_at')::numeric::bigint
    END,
    on_time = CASE WHEN e.action = 'feedback' THEN (d.j -> 'on_time') IS DISTINCT FROM 'false'::jsonb END,
    reached = CASE WHEN e.action = 'callback' THEN (d.j -> 'reached') IS NOT DISTINCT FROM 'true'::jsonb END,
    satisfied = CASE WHEN e.action = 'callback' THEN (d.j -> 'reached') IS NOT DISTINCT FROM 'true'::jsonb
        AND COALESCE(d.j -> 'satisfaction' IN ('"satisfied"'::jsonb, '"basic"'::jsonb), FALSE) END
FROM (SELECT id, data::jsonb AS j FROM case_events) d
WHERE d.id = e.id;
UPDATE case_events e SET since = (
    SELECT f.at FROM case_events f
    WHERE f.case_id = e.case_id AND f.action = 'file' AND f.id < e.id
    ORDER BY f.id DESC LIMIT 1)
WHERE e.action = 'dispatch';
ALTER TABLE case_events ENABLE TRIGGER case_events_no_change;

-- A queue's open cases (the web's default list, `queue=…&status=…`): counted from this index
-- alone instead of visiting every case of the queue (network bench, SQLite debug build on the
-- loaded 2-core machine: p99 163 ms for the open page of a 7,700-case queue, 7 in 8 closed).
CREATE INDEX cases_queue_status ON cases (queue, status, id);

-- The appraisal's evidence in columns of the event log (issue 13: a year of 500,000 cases and
-- 316 units appraised in ≤ 2 s). The appraisal used to read every event of the period and parse
-- its JSON `data` in Rust; now the database sums the period's steps by unit and by town
-- (GROUP BY) over these columns and two covering indexes. `data` stays the full record; the
-- columns repeat what the appraisal reads of it (`cases::appraisal::Evidence`).

-- The unit and the town sub-centre the step counts for (data.case_unit, data.case_town).
ALTER TABLE case_events ADD COLUMN case_unit TEXT;
ALTER TABLE case_events ADD COLUMN case_town TEXT;
-- When the step's timed span began: a feedback's dispatch (data.dispatched_at), a filing's
-- report (data.reported_at), a dispatch's filing (the case's latest `file` event before it).
ALTER TABLE case_events ADD COLUMN since INTEGER;
-- A feedback given by the deadline (data.on_time; absent counts as on time).
ALTER TABLE case_events ADD COLUMN on_time INTEGER;
-- A call-back that reached the citizen, and one that found them satisfied (满意 or 基本满意).
ALTER TABLE case_events ADD COLUMN reached INTEGER;
ALTER TABLE case_events ADD COLUMN satisfied INTEGER;

-- The events already logged get their columns once; the log stays append-only for everyone else.
DROP TRIGGER case_events_no_update;
UPDATE case_events SET
    case_unit = CASE json_type(data, '$.case_unit') WHEN 'text' THEN json_extract(data, '$.case_unit') END,
    case_town = CASE json_type(data, '$.case_town') WHEN 'text' THEN json_extract(data, '$.case_town') END,
    since = CASE
        WHEN action = 'feedback' AND json_type(data, '$.dispatched_at') = 'integer' THEN json_extract(data, '$.dispatched_at')
        WHEN action = 'file' AND json_type(data, '$.reported_at') = 'integer' THEN json_extract(data, '$.reported_at')
    END,
    on_time = CASE WHEN action = 'feedback' THEN json_type(data, '$.on_time') IS NOT 'false' END,
    reached = CASE WHEN action = 'callback' THEN json_type(data, '$.reached') IS 'true' END,
    satisfied = CASE WHEN action = 'callback' THEN json_type(data, '$.reached') IS 'true'
        AND json_type(data, '$.satisfaction') IS 'text'
        AND json_extract(data, '$.satisfaction') IN ('satisfied', 'basic') END
WHERE json_valid(data);
UPDATE case_events SET since = (
    SELECT f.at FROM case_events f
    WHERE f.case_id = case_events.case_id AND f.action = 'file' AND f.id < case_events.id
    ORDER BY f.id DESC LIMIT 1)
WHERE action = 'dispatch';
CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END;

-- The appraisal's two sums, each read from its index alone, in GROUP BY order (no sort): the
-- steps counted for a unit, and those counted for a town sub-centre.
CREATE INDEX case_events_unit_tally ON case_events
    (action, case_unit, at, since, on_time, reached, satisfied, to_status)
    WHERE case_unit IS NOT NULL;
CREATE INDEX case_events_town_tally ON case_events
    (action, case_town, at, since, reached, satisfied, to_status)
    WHERE case_town IS NOT NULL;

-- A queue's open cases (the web's default list, `queue=…&status=…`): counted from this index
-- alone instead of visiting every case of the queue (network bench, SQLite debug build on the
-- loaded 2-core machine: p99 163 ms for the open page of a 7,700-case queue, 7 in 8 closed).
CREATE INDEX cases_queue_status ON cases (queue, status, id);

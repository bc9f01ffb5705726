-- What the public may see of a case (issue 10) and the photos stored with cases (issue 13).
--
-- public_report: reported by the public (no key) through a public channel (web, app, open311);
-- only such cases of a `public` class are ever listed. Existing rows are backfilled from the
-- report event's role.
ALTER TABLE cases ADD COLUMN public_report BOOLEAN NOT NULL DEFAULT FALSE;
-- The description as a dispatcher approved it for publication (NULL: not approved).
ALTER TABLE cases ADD COLUMN public_description TEXT;
-- The report's photos are approved for publication.
ALTER TABLE cases ADD COLUMN photos_public BOOLEAN NOT NULL DEFAULT FALSE;
-- SHA-256 of the reporter's tracking token (the token itself is shown once, never stored).
ALTER TABLE cases ADD COLUMN track_hash TEXT;
-- A note written for the public; `note` stays internal.
ALTER TABLE case_events ADD COLUMN public_note TEXT;

UPDATE cases SET public_report = TRUE
WHERE channel IN ('web', 'app', 'open311')
  AND EXISTS (SELECT 1 FROM case_events e
              WHERE e.case_id = cases.id AND e.action = 'report' AND e.role = 'anonymous');

-- The public list (Open311): newest citizens' reports of the public classes.
CREATE INDEX cases_public ON cases (reported_at) WHERE public_report;

-- Stored photos, named by the SHA-256 of their bytes (the object key is derived from it).
CREATE TABLE photos (
    hash         TEXT    PRIMARY KEY,
    content_type TEXT    NOT NULL,
    bytes        BIGINT  NOT NULL,
    width        BIGINT  NOT NULL,
    height       BIGINT  NOT NULL,
    exif_lon     DOUBLE PRECISION,
    exif_lat     DOUBLE PRECISION,
    created_at   BIGINT  NOT NULL
);

-- Which case a photo belongs to, and how: `report` (the reporter's; the public sees it once
-- approved) or `event` (sent with an action, e.g. a unit's feedback; staff only).
CREATE TABLE case_photos (
    hash    TEXT    NOT NULL REFERENCES photos (hash),
    case_id BIGINT  NOT NULL REFERENCES cases (id),
    kind    TEXT    NOT NULL CHECK (kind IN ('report', 'event')),
    PRIMARY KEY (hash, case_id, kind)
);
CREATE INDEX case_photos_case ON case_photos (case_id);

-- Photos sent with a task's completion (issue 14: "done (with note/photo)"). The photo itself is
-- recorded once in `photos` (0004, shared with cases) and stored content-addressed through the
-- photo store; this table says which task brought it, so only those who may read the incident
-- are served it. Written in the same transaction as the task's step.
CREATE TABLE incident_task_photos (
    hash      TEXT    NOT NULL REFERENCES photos (hash),
    incident  BIGINT  NOT NULL REFERENCES incidents (id),
    task      BIGINT  NOT NULL REFERENCES incident_tasks (id),
    PRIMARY KEY (task, hash)
);
CREATE INDEX incident_task_photos_hash ON incident_task_photos (hash);

-- A dismissed proposal cools its trigger down for a while (plans.toml `dismissal_cooldown_min`):
-- the proposal path looks up the plan's last dismissal of the same episode.
CREATE INDEX incidents_dismissed ON incidents (plan, episode, closed_at) WHERE status = 'dismissed';

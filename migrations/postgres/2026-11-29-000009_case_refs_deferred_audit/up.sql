-- Cases are known by a random public reference (WQ-2026-7F3KQ), never by the row id, whose
-- sequence would place an anonymous case between named ones.
ALTER TABLE grievances ADD COLUMN public_ref TEXT NOT NULL DEFAULT '';
UPDATE grievances SET public_ref = 'WQ-' || to_char(created_at, 'YYYY') || '-' || upper(substr(md5(random()::text || id::text), 1, 8));
CREATE UNIQUE INDEX grievances_public_ref ON grievances(public_ref);

-- Audit rows of anonymous actions wait here (written in the action's transaction) until the
-- background job moves them into audit_log at a random later moment, so neither their id nor
-- their place in the log sits next to the member's own rows.
CREATE TABLE audit_deferred (
    id SERIAL PRIMARY KEY,
    release_at TIMESTAMP NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_name TEXT NOT NULL,
    unit_id INTEGER,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_deferred_release ON audit_deferred(release_at);

-- Grievances (维权申诉), their timeline, attachments, in-app notifications, job leases.
CREATE TABLE grievances (
    id SERIAL PRIMARY KEY,
    -- NULL for anonymous cases: nothing links them to a member.
    member_id INTEGER REFERENCES members(id),
    anonymous BOOLEAN NOT NULL,
    receipt_hash TEXT UNIQUE,
    submit_token TEXT NOT NULL UNIQUE,
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    handler_id INTEGER REFERENCES members(id),
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    desired_outcome TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    due_at TIMESTAMP,
    overdue BOOLEAN NOT NULL DEFAULT FALSE,
    escalations INTEGER NOT NULL DEFAULT 0,
    resolution TEXT,
    reject_reason TEXT,
    rating INTEGER,
    rating_comment TEXT,
    reopened BOOLEAN NOT NULL DEFAULT FALSE,
    answered_at TIMESTAMP,
    -- For anonymous cases both are the date only (midnight UTC).
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX grievances_member ON grievances(member_id);
CREATE INDEX grievances_unit_state ON grievances(unit_id, state);
CREATE INDEX grievances_due ON grievances(due_at);

CREATE TABLE grievance_events (
    id SERIAL PRIMARY KEY,
    grievance_id INTEGER NOT NULL REFERENCES grievances(id),
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    author_id INTEGER REFERENCES members(id),
    author_label TEXT NOT NULL,
    body TEXT NOT NULL,
    internal BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX grievance_events_case ON grievance_events(grievance_id);

CREATE TABLE attachments (
    id SERIAL PRIMARY KEY,
    owner_type TEXT NOT NULL,
    owner_id INTEGER NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    data BYTEA NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX attachments_owner ON attachments(owner_type, owner_id);

CREATE TABLE notifications (
    id SERIAL PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members(id),
    title TEXT NOT NULL,
    link TEXT NOT NULL,
    read BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX notifications_member ON notifications(member_id, read);

CREATE TABLE job_leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

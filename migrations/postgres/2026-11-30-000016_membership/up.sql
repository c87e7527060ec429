-- 会员管理 (issue 18): membership status with its history, applications to join, transfers
-- between units, dues, and card photos. Additive: older instances keep serving (every
-- existing member is a member, with a history row dated when their account was created).
ALTER TABLE members ADD COLUMN status TEXT NOT NULL DEFAULT 'member';
-- When the retention job replaced the member's personal data (issue 18, leaving).
ALTER TABLE members ADD COLUMN anonymised_at TIMESTAMP;

-- One row per status change; the latest is mirrored in members.status.
CREATE TABLE membership_events (
    id SERIAL PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members(id),
    status TEXT NOT NULL,
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    actor_id INTEGER REFERENCES members(id),
    note TEXT NOT NULL DEFAULT '',
    at TIMESTAMP NOT NULL
);
CREATE INDEX membership_events_member ON membership_events (member_id, at);
CREATE INDEX membership_events_at ON membership_events (at, status);
INSERT INTO membership_events (member_id, status, unit_id, note, at)
    SELECT id, 'member', unit_id, '建档', created_at FROM members;

CREATE TABLE membership_applications (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    employee_no TEXT NOT NULL,
    phone TEXT NOT NULL,
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    statement TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    due_at TIMESTAMP,
    -- The progress code is shown once; only its digest is kept.
    code_hash TEXT NOT NULL,
    -- Digest of the applicant's address, for the per-address limit (never the address).
    address_hash TEXT NOT NULL,
    reason TEXT,
    member_id INTEGER REFERENCES members(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- One live application per employee number and per phone (a rejected one may be retried).
CREATE UNIQUE INDEX membership_applications_employee_no ON membership_applications (employee_no) WHERE state <> 'rejected';
CREATE UNIQUE INDEX membership_applications_phone ON membership_applications (phone) WHERE state <> 'rejected';
CREATE INDEX membership_applications_unit ON membership_applications (unit_id, state);
CREATE INDEX membership_applications_address ON membership_applications (address_hash, created_at);

CREATE TABLE membership_application_events (
    id SERIAL PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES membership_applications(id),
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    author_id INTEGER REFERENCES members(id),
    author_label TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX membership_application_events_app ON membership_application_events (application_id, id);

CREATE TABLE member_transfers (
    id SERIAL PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members(id),
    from_unit_id INTEGER NOT NULL REFERENCES org_units(id),
    to_unit_id INTEGER NOT NULL REFERENCES org_units(id),
    reason TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    due_at TIMESTAMP,
    started_by INTEGER REFERENCES members(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- One open transfer per member.
CREATE UNIQUE INDEX member_transfers_open ON member_transfers (member_id) WHERE state IN ('requested', 'released');

CREATE TABLE member_transfer_events (
    id SERIAL PRIMARY KEY,
    transfer_id INTEGER NOT NULL REFERENCES member_transfers(id),
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    author_id INTEGER REFERENCES members(id),
    author_label TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX member_transfer_events_transfer ON member_transfer_events (transfer_id, id);

-- Monthly dues from payroll: one row per member and month (an import run twice changes nothing).
CREATE TABLE member_dues (
    member_id INTEGER NOT NULL REFERENCES members(id),
    month TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    PRIMARY KEY (member_id, month)
);
CREATE INDEX member_dues_month ON member_dues (month);

CREATE TABLE member_photos (
    member_id INTEGER PRIMARY KEY REFERENCES members(id),
    mime TEXT NOT NULL,
    data BYTEA NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

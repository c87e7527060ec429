-- 职代会提案 (issue 19): congress sessions and their delegates, departments and their
-- handlers, proposals with co-signers, handling departments and a timeline. Additive.
CREATE TABLE congress_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    opens_at TIMESTAMP NOT NULL,
    closes_at TIMESTAMP NOT NULL,
    min_cosigners INTEGER NOT NULL DEFAULT 2,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE congress_delegates (
    session_id INTEGER NOT NULL REFERENCES congress_sessions(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    delegation TEXT NOT NULL,
    PRIMARY KEY (session_id, member_id)
);

CREATE TABLE departments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE department_handlers (
    department_id INTEGER NOT NULL REFERENCES departments(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    PRIMARY KEY (department_id, member_id)
);

CREATE TABLE proposals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES congress_sessions(id),
    author_id INTEGER NOT NULL REFERENCES members(id),
    title TEXT NOT NULL,
    reason TEXT NOT NULL,
    measures TEXT NOT NULL,
    category TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    due_at TIMESTAMP,
    overdue BOOLEAN NOT NULL DEFAULT 0,
    merged_into INTEGER REFERENCES proposals(id),
    decision_note TEXT,
    lead_department_id INTEGER REFERENCES departments(id),
    answer TEXT,
    grade TEXT,
    answers INTEGER NOT NULL DEFAULT 0,
    rating TEXT,
    submitted_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX proposals_session ON proposals (session_id, state);
CREATE INDEX proposals_due ON proposals (state, due_at);

CREATE TABLE proposal_cosigners (
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    at TIMESTAMP NOT NULL,
    PRIMARY KEY (proposal_id, member_id)
);

CREATE TABLE proposal_departments (
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    department_id INTEGER NOT NULL REFERENCES departments(id),
    lead BOOLEAN NOT NULL,
    PRIMARY KEY (proposal_id, department_id)
);

CREATE TABLE proposal_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    author_id INTEGER REFERENCES members(id),
    author_label TEXT NOT NULL,
    body TEXT NOT NULL,
    internal BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX proposal_events_proposal ON proposal_events (proposal_id, id);

-- The proposals committee (提案工作委员会): its members review proposals and assign them.
CREATE TABLE congress_committee (
    member_id INTEGER PRIMARY KEY REFERENCES members(id)
);

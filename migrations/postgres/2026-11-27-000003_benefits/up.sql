-- Benefits (普惠 / 帮扶 / 慰问): the catalogue, requests with their approval chain, budgets.
CREATE TABLE benefit_items (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    amount_mode TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    frequency TEXT NOT NULL,
    required_fields TEXT NOT NULL,
    required_attachments TEXT NOT NULL,
    unit_id INTEGER REFERENCES org_units(id),
    steps TEXT NOT NULL,
    extra_step_above_fen BIGINT,
    extra_step_role TEXT,
    sensitive BOOLEAN NOT NULL DEFAULT FALSE,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    active_from TIMESTAMP,
    active_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE benefit_requests (
    id SERIAL PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES benefit_items(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    year INTEGER NOT NULL,
    amount_fen BIGINT NOT NULL,
    event_key TEXT NOT NULL,
    details TEXT NOT NULL,
    steps TEXT NOT NULL,
    step INTEGER NOT NULL,
    approvers TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    due_at TIMESTAMP,
    budget_id INTEGER,
    reject_reason TEXT,
    paid_ref TEXT,
    paid_at TIMESTAMP,
    approved_at TIMESTAMP,
    submit_token TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX benefit_requests_member ON benefit_requests(member_id, item_id, year);
CREATE INDEX benefit_requests_unit_state ON benefit_requests(unit_id, state);

CREATE TABLE benefit_events (
    id SERIAL PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES benefit_requests(id),
    kind TEXT NOT NULL,
    to_state TEXT,
    author_id INTEGER REFERENCES members(id),
    author_label TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX benefit_events_request ON benefit_events(request_id);

CREATE TABLE budgets (
    id SERIAL PRIMARY KEY,
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    year INTEGER NOT NULL,
    category TEXT NOT NULL,
    planned_fen BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (unit_id, year, category)
);

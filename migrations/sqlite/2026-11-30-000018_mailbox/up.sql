-- 主席信箱 (issue 19): letters to the chair of the member's union or the group's union, named or
-- anonymous (an anonymous letter stores no member, the day instead of the time, and only the
-- digest of its receipt code), with a timeline. Additive.
CREATE TABLE mailbox_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id INTEGER REFERENCES members(id),
    anonymous BOOLEAN NOT NULL,
    receipt_hash TEXT,
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    due_at TIMESTAMP,
    answer TEXT,
    forwarded_to INTEGER REFERENCES members(id),
    consent_publish BOOLEAN NOT NULL,
    published BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX mailbox_letters_unit ON mailbox_letters (unit_id, state);
CREATE INDEX mailbox_letters_receipt ON mailbox_letters (receipt_hash);

CREATE TABLE mailbox_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    letter_id INTEGER NOT NULL REFERENCES mailbox_letters(id),
    kind TEXT NOT NULL,
    to_state TEXT,
    author_id INTEGER REFERENCES members(id),
    author_label TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mailbox_events_letter ON mailbox_events (letter_id, id);

-- 活动 activities (sign-up, waitlist, QR check-in, ratings) and 调研 surveys / polls.
CREATE TABLE activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    author_id INTEGER NOT NULL REFERENCES members(id),
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    place TEXT NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    capacity INTEGER NOT NULL,
    signup_opens_at TIMESTAMP NOT NULL,
    signup_closes_at TIMESTAMP NOT NULL,
    extra_fields TEXT NOT NULL DEFAULT '',
    confirmed_count INTEGER NOT NULL DEFAULT 0,
    waitlist_seq INTEGER NOT NULL DEFAULT 0,
    checkin_secret TEXT NOT NULL,
    published BOOLEAN NOT NULL DEFAULT 1,
    cover_image_id INTEGER,
    title_tokens TEXT NOT NULL,
    body_tokens TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX activities_starts ON activities(published, starts_at);

CREATE TABLE activity_audiences (
    activity_id INTEGER NOT NULL REFERENCES activities(id),
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    PRIMARY KEY (activity_id, unit_id)
);
CREATE INDEX activity_audiences_unit ON activity_audiences(unit_id);

CREATE TABLE activity_signups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id INTEGER NOT NULL REFERENCES activities(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    status TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    answers TEXT NOT NULL DEFAULT '',
    checked_in_at TIMESTAMP,
    checkin_method TEXT,
    rating INTEGER,
    rating_comment TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (activity_id, member_id)
);
CREATE INDEX activity_signups_member ON activity_signups(member_id, status);
CREATE INDEX activity_signups_queue ON activity_signups(activity_id, status, position);

CREATE TABLE surveys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    author_id INTEGER NOT NULL REFERENCES members(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    anonymous BOOLEAN NOT NULL,
    results_visibility TEXT NOT NULL,
    opens_at TIMESTAMP NOT NULL,
    closes_at TIMESTAMP NOT NULL,
    source TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX surveys_open ON surveys(closes_at, opens_at);

CREATE TABLE survey_audiences (
    survey_id INTEGER NOT NULL REFERENCES surveys(id),
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    PRIMARY KEY (survey_id, unit_id)
);
CREATE INDEX survey_audiences_unit ON survey_audiences(unit_id);

CREATE TABLE survey_questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    survey_id INTEGER NOT NULL REFERENCES surveys(id),
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    prompt TEXT NOT NULL,
    options TEXT NOT NULL,
    max_choices INTEGER NOT NULL,
    required BOOLEAN NOT NULL
);
CREATE INDEX survey_questions_survey ON survey_questions(survey_id, position);

-- Who has answered: kept apart from the answers. WITHOUT ROWID stores it in key order, so
-- nothing records which participant came when.
CREATE TABLE survey_participants (
    survey_id INTEGER NOT NULL REFERENCES surveys(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    PRIMARY KEY (survey_id, member_id)
) WITHOUT ROWID;

-- One row per submitted answer sheet. member_id and unit_id are NULL for anonymous surveys,
-- and submitted_on is a date only.
CREATE TABLE survey_responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    survey_id INTEGER NOT NULL REFERENCES surveys(id),
    member_id INTEGER REFERENCES members(id),
    unit_id INTEGER REFERENCES org_units(id),
    submitted_on DATE NOT NULL
);
CREATE INDEX survey_responses_survey ON survey_responses(survey_id);

CREATE TABLE survey_answers (
    response_id INTEGER NOT NULL REFERENCES survey_responses(id),
    question_id INTEGER NOT NULL REFERENCES survey_questions(id),
    choice INTEGER,
    text TEXT,
    rating INTEGER
);
CREATE INDEX survey_answers_question ON survey_answers(question_id);
CREATE INDEX survey_answers_response ON survey_answers(response_id);

CREATE VIRTUAL TABLE activities_fts USING fts5(title_tokens, body_tokens, content='activities', content_rowid='id', tokenize='unicode61');
CREATE TRIGGER activities_fts_ai AFTER INSERT ON activities BEGIN
  INSERT INTO activities_fts(rowid, title_tokens, body_tokens) VALUES (new.id, new.title_tokens, new.body_tokens);
END;
CREATE TRIGGER activities_fts_ad AFTER DELETE ON activities BEGIN
  INSERT INTO activities_fts(activities_fts, rowid, title_tokens, body_tokens) VALUES ('delete', old.id, old.title_tokens, old.body_tokens);
END;
CREATE TRIGGER activities_fts_au AFTER UPDATE OF title_tokens, body_tokens ON activities BEGIN
  INSERT INTO activities_fts(activities_fts, rowid, title_tokens, body_tokens) VALUES ('delete', old.id, old.title_tokens, old.body_tokens);
  INSERT INTO activities_fts(rowid, title_tokens, body_tokens) VALUES (new.id, new.title_tokens, new.body_tokens);
END;

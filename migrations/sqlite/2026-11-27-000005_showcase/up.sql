-- Images (re-encoded, EXIF-free), 风采展示 showcase posts with likes, comments (news and showcase)
-- with reports, and news covers / comment switch.
CREATE TABLE images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_type TEXT NOT NULL,
    owner_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    data BLOB NOT NULL,
    thumb BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX images_owner ON images(owner_type, owner_id, position);

ALTER TABLE news_articles ADD COLUMN cover_image_id INTEGER;
ALTER TABLE news_articles ADD COLUMN comments_enabled BOOLEAN NOT NULL DEFAULT 0;

CREATE TABLE showcase_posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id INTEGER NOT NULL REFERENCES members(id),
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    story TEXT NOT NULL,
    status TEXT NOT NULL,
    reject_reason TEXT NOT NULL DEFAULT '',
    featured BOOLEAN NOT NULL DEFAULT 0,
    like_count INTEGER NOT NULL DEFAULT 0,
    comment_count INTEGER NOT NULL DEFAULT 0,
    cover_image_id INTEGER REFERENCES images(id),
    title_tokens TEXT NOT NULL,
    body_tokens TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    decided_by INTEGER REFERENCES members(id),
    decided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX showcase_listing ON showcase_posts(status, created_at);
CREATE INDEX showcase_featured ON showcase_posts(featured, status, created_at);
CREATE INDEX showcase_member ON showcase_posts(member_id);

CREATE TABLE showcase_likes (
    post_id INTEGER NOT NULL REFERENCES showcase_posts(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (post_id, member_id)
);

CREATE TABLE comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_type TEXT NOT NULL,
    owner_id INTEGER NOT NULL,
    member_id INTEGER NOT NULL REFERENCES members(id),
    body TEXT NOT NULL,
    hidden BOOLEAN NOT NULL DEFAULT 0,
    report_count INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX comments_owner ON comments(owner_type, owner_id, id);
CREATE INDEX comments_reported ON comments(report_count, hidden);

CREATE TABLE comment_reports (
    comment_id INTEGER NOT NULL REFERENCES comments(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    reason TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (comment_id, member_id)
);

CREATE VIRTUAL TABLE showcase_fts USING fts5(title_tokens, body_tokens, content='showcase_posts', content_rowid='id', tokenize='unicode61');
CREATE TRIGGER showcase_fts_ai AFTER INSERT ON showcase_posts BEGIN
  INSERT INTO showcase_fts(rowid, title_tokens, body_tokens) VALUES (new.id, new.title_tokens, new.body_tokens);
END;
CREATE TRIGGER showcase_fts_ad AFTER DELETE ON showcase_posts BEGIN
  INSERT INTO showcase_fts(showcase_fts, rowid, title_tokens, body_tokens) VALUES ('delete', old.id, old.title_tokens, old.body_tokens);
END;
CREATE TRIGGER showcase_fts_au AFTER UPDATE OF title_tokens, body_tokens ON showcase_posts BEGIN
  INSERT INTO showcase_fts(showcase_fts, rowid, title_tokens, body_tokens) VALUES ('delete', old.id, old.title_tokens, old.body_tokens);
  INSERT INTO showcase_fts(rowid, title_tokens, body_tokens) VALUES (new.id, new.title_tokens, new.body_tokens);
END;

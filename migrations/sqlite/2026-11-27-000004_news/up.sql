-- News (资讯): categories, articles with audiences, read receipts, and the search index.
CREATE TABLE news_categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    sort_order INTEGER NOT NULL
);
INSERT INTO news_categories (name, sort_order) VALUES ('通知公告', 1), ('工会动态', 2), ('政策法规', 3), ('福利资讯', 4);

CREATE TABLE news_articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    category_id INTEGER NOT NULL REFERENCES news_categories(id),
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    author_id INTEGER NOT NULL REFERENCES members(id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    body_md TEXT NOT NULL,
    pinned BOOLEAN NOT NULL DEFAULT 0,
    mandatory BOOLEAN NOT NULL DEFAULT 0,
    draft BOOLEAN NOT NULL DEFAULT 0,
    publish_at TIMESTAMP NOT NULL,
    view_count INTEGER NOT NULL DEFAULT 0,
    title_tokens TEXT NOT NULL,
    body_tokens TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX news_articles_listing ON news_articles(draft, pinned, publish_at);

CREATE TABLE news_audiences (
    article_id INTEGER NOT NULL REFERENCES news_articles(id),
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    PRIMARY KEY (article_id, unit_id)
);
CREATE INDEX news_audiences_unit ON news_audiences(unit_id);

CREATE TABLE news_reads (
    article_id INTEGER NOT NULL REFERENCES news_articles(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    read_at TIMESTAMP NOT NULL,
    PRIMARY KEY (article_id, member_id)
);
CREATE INDEX news_reads_member ON news_reads(member_id);

-- Search: CJK bigram tokens (written by the app) indexed by FTS5; title weighs more than body.
CREATE VIRTUAL TABLE news_fts USING fts5(title_tokens, body_tokens, content='news_articles', content_rowid='id', tokenize='unicode61');
CREATE TRIGGER news_fts_ai AFTER INSERT ON news_articles BEGIN
  INSERT INTO news_fts(rowid, title_tokens, body_tokens) VALUES (new.id, new.title_tokens, new.body_tokens);
END;
CREATE TRIGGER news_fts_ad AFTER DELETE ON news_articles BEGIN
  INSERT INTO news_fts(news_fts, rowid, title_tokens, body_tokens) VALUES ('delete', old.id, old.title_tokens, old.body_tokens);
END;
CREATE TRIGGER news_fts_au AFTER UPDATE ON news_articles BEGIN
  INSERT INTO news_fts(news_fts, rowid, title_tokens, body_tokens) VALUES ('delete', old.id, old.title_tokens, old.body_tokens);
  INSERT INTO news_fts(rowid, title_tokens, body_tokens) VALUES (new.id, new.title_tokens, new.body_tokens);
END;

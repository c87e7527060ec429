-- News (资讯): categories, articles with audiences, read receipts, and the search index.
CREATE TABLE news_categories (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    sort_order INTEGER NOT NULL
);
INSERT INTO news_categories (name, sort_order) VALUES ('通知公告', 1), ('工会动态', 2), ('政策法规', 3), ('福利资讯', 4);

CREATE TABLE news_articles (
    id SERIAL PRIMARY KEY,
    category_id INTEGER NOT NULL REFERENCES news_categories(id),
    unit_id INTEGER NOT NULL REFERENCES org_units(id),
    author_id INTEGER NOT NULL REFERENCES members(id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    body_md TEXT NOT NULL,
    pinned BOOLEAN NOT NULL DEFAULT FALSE,
    mandatory BOOLEAN NOT NULL DEFAULT FALSE,
    draft BOOLEAN NOT NULL DEFAULT FALSE,
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

-- Search: CJK bigram tokens (written by the app) in a weighted tsvector with a GIN index.
ALTER TABLE news_articles ADD COLUMN search_vec tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', title_tokens), 'A') || setweight(to_tsvector('simple', body_tokens), 'B')
) STORED;
CREATE INDEX news_articles_search ON news_articles USING GIN (search_vec);

DROP TABLE showcase_fts;
DROP TABLE comment_reports;
DROP TABLE comments;
DROP TABLE showcase_likes;
DROP TABLE showcase_posts;
ALTER TABLE news_articles DROP COLUMN comments_enabled;
ALTER TABLE news_articles DROP COLUMN cover_image_id;
DROP TABLE images;

DROP TABLE news_fts;
DROP TABLE news_reads;
DROP TABLE news_audiences;
DROP TABLE news_articles;
DROP TABLE news_categories;

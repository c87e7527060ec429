ALTER TABLE members DROP COLUMN large_text;

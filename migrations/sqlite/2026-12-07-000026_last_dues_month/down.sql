DROP INDEX members_dues;
ALTER TABLE members DROP COLUMN last_dues_month;

-- 长辈版: larger text and touch targets, higher contrast, remembered per account.
ALTER TABLE members ADD COLUMN large_text BOOLEAN NOT NULL DEFAULT FALSE;

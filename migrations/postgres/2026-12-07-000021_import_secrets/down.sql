ALTER TABLE import_batches DROP COLUMN download;
ALTER TABLE import_batches ADD COLUMN passwords_csv TEXT;

ALTER TABLE import_batches DROP COLUMN summary;
ALTER TABLE import_batches DROP COLUMN total;
ALTER TABLE import_batches DROP COLUMN progress;
ALTER TABLE import_batches DROP COLUMN download;
ALTER TABLE import_batches ADD COLUMN passwords_csv TEXT;

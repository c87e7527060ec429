-- No plaintext password at rest (issue 30, item 9): supplied initial passwords are kept only as
-- their hash, generated ones only inside the one-time download made at confirm (deleted when
-- served). Waiting batches may hold plain passwords: they are dropped (cadres upload again).
DELETE FROM import_batches;
ALTER TABLE import_batches DROP COLUMN passwords_csv;
ALTER TABLE import_batches ADD COLUMN download BLOB;
-- A confirmed roster is imported by a background task in parts, its progress kept here for the
-- page to show; `summary` holds the outcome (counts and errors) once it has finished.
ALTER TABLE import_batches ADD COLUMN progress INTEGER NOT NULL DEFAULT 0;
ALTER TABLE import_batches ADD COLUMN total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE import_batches ADD COLUMN summary TEXT;

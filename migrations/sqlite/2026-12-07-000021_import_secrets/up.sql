-- No plaintext password at rest (issue 30, item 9): supplied initial passwords are kept only as
-- their hash, generated ones only inside the one-time download made at confirm (deleted when
-- served). Waiting batches may hold plain passwords: they are dropped (cadres upload again).
DELETE FROM import_batches;
ALTER TABLE import_batches DROP COLUMN passwords_csv;
ALTER TABLE import_batches ADD COLUMN download BLOB;

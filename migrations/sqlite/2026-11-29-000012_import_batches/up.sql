-- A roster upload between its preview and its confirmation (any instance may serve either),
-- and the generated initial passwords until they are downloaded once. Purged after a day.
CREATE TABLE import_batches (
    token TEXT PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members(id),
    file_name TEXT NOT NULL,
    rows_csv TEXT NOT NULL,
    passwords_csv TEXT,
    done BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);

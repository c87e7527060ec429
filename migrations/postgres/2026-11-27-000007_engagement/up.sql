-- Engagement events (pseudonymous, hour resolution) and their daily rollups.
CREATE TABLE engagement_events (
    id SERIAL PRIMARY KEY,
    member_key TEXT NOT NULL,
    unit_id INTEGER NOT NULL,
    object_type TEXT NOT NULL,
    object_id INTEGER,
    action TEXT NOT NULL,
    hour TIMESTAMP NOT NULL,
    device TEXT NOT NULL
);
CREATE INDEX engagement_events_hour ON engagement_events(hour, unit_id);

CREATE TABLE engagement_daily (
    day DATE NOT NULL,
    unit_id INTEGER NOT NULL,
    object_type TEXT NOT NULL,
    action TEXT NOT NULL,
    device TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (day, unit_id, object_type, action, device)
);

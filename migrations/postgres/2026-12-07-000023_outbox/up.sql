-- The durable outbox (issue 33): a notification a person should get outside the portal is an
-- outbox message, written in the transaction of the change it reports; the sender plans one
-- delivery per channel and works the deliveries under its lease. Bindings, preferences, quiet
-- hours and the consent record are the member's own.
CREATE TABLE outbox_messages (
    id SERIAL PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members(id),
    kind TEXT NOT NULL,
    -- The text that goes out (a fixed text per kind where the title may be sensitive).
    title TEXT NOT NULL,
    link TEXT NOT NULL,
    urgent BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    planned_at TIMESTAMP
);
CREATE INDEX outbox_messages_unplanned ON outbox_messages (id) WHERE planned_at IS NULL;
CREATE INDEX outbox_messages_member ON outbox_messages (member_id);
CREATE TABLE outbox_deliveries (
    id SERIAL PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES outbox_messages(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TIMESTAMP NOT NULL,
    idem_key TEXT NOT NULL UNIQUE,
    claim_token TEXT,
    claim_until TIMESTAMP,
    sent_at TIMESTAMP,
    provider_ref TEXT,
    last_error TEXT,
    -- A burst to one member on WeCom goes as one digest: the delivery it went with.
    merged_into INTEGER,
    -- The first attempt, and whether a later one may repeat a request that reached the provider
    -- (a lost claim or a timeout): such a resend goes only inside the provider's dedupe window.
    first_try_at TIMESTAMP,
    in_doubt BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX outbox_due ON outbox_deliveries (state, next_at);
CREATE INDEX outbox_figures ON outbox_deliveries (channel, created_at);
CREATE INDEX outbox_pace ON outbox_deliveries (member_id, channel, sent_at);
CREATE INDEX outbox_deliveries_message ON outbox_deliveries (message_id);
CREATE TABLE channel_bindings (
    id SERIAL PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members(id),
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    unreachable_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (channel, address),
    UNIQUE (member_id, channel)
);
-- One row per member and kind they changed: the channels that kind comes by ("" = none).
CREATE TABLE channel_prefs (
    member_id INTEGER NOT NULL REFERENCES members(id),
    kind TEXT NOT NULL,
    channels TEXT NOT NULL,
    PRIMARY KEY (member_id, kind)
);
-- Quiet hours in minutes after midnight, Beijing time; the current consent.
CREATE TABLE channel_profiles (
    member_id INTEGER PRIMARY KEY NOT NULL REFERENCES members(id),
    quiet_start INTEGER NOT NULL DEFAULT 1320,
    quiet_end INTEGER NOT NULL DEFAULT 420,
    consent BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMP NOT NULL
);
-- Append-only record of consent given and withdrawn (PIPL).
CREATE TABLE channel_consents (
    id SERIAL PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members(id),
    given BOOLEAN NOT NULL,
    version TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX channel_consents_member ON channel_consents (member_id);
-- Digests of OAuth codes already used (a code is single use); deleted after an hour.
CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    used_at TIMESTAMP NOT NULL
);
-- Mandatory notices already fanned out to the outbox (one row per article, written with its messages).
CREATE TABLE outbox_announced (
    article_id INTEGER PRIMARY KEY NOT NULL REFERENCES news_articles(id),
    at TIMESTAMP NOT NULL
);

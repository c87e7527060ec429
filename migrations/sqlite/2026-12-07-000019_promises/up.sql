-- Promises by construction (issue 30). Additive: older instances keep serving.
-- Letters are reached by a random reference, never by their sequential id.
ALTER TABLE mailbox_letters ADD COLUMN public_ref TEXT NOT NULL DEFAULT '';
UPDATE mailbox_letters SET public_ref = lower(hex(randomblob(8))) WHERE public_ref = '';
CREATE UNIQUE INDEX mailbox_letters_ref ON mailbox_letters (public_ref);
CREATE INDEX mailbox_letters_forwarded ON mailbox_letters (forwarded_to);
-- Notifications are opened by a random reference: their ids would place an anonymous item
-- between named ones.
ALTER TABLE notifications ADD COLUMN public_ref TEXT NOT NULL DEFAULT '';
UPDATE notifications SET public_ref = lower(hex(randomblob(8))) WHERE public_ref = '';
CREATE INDEX notifications_ref ON notifications (member_id, public_ref);
-- Write quotas shared by every instance: one row per (member or address, route) and window.
CREATE TABLE write_quotas (
    key TEXT PRIMARY KEY NOT NULL,
    window_start TIMESTAMP NOT NULL,
    count INTEGER NOT NULL
);

-- Promises by construction (issue 30). Additive: older instances keep serving.
-- Letters are reached by a random reference, never by their sequential id.
ALTER TABLE mailbox_letters ADD COLUMN public_ref TEXT NOT NULL DEFAULT '';
UPDATE mailbox_letters SET public_ref = substr(md5(random()::text || id::text), 1, 16) WHERE public_ref = '';
CREATE UNIQUE INDEX mailbox_letters_ref ON mailbox_letters (public_ref);
CREATE INDEX mailbox_letters_forwarded ON mailbox_letters (forwarded_to);
-- Notifications are opened by a random reference: their ids would place an anonymous item
-- between named ones.
ALTER TABLE notifications ADD COLUMN public_ref TEXT NOT NULL DEFAULT '';
UPDATE notifications SET public_ref = substr(md5(random()::text || id::text), 1, 16) WHERE public_ref = '';
CREATE INDEX notifications_ref ON notifications (member_id, public_ref);
-- Write quotas shared by every instance: one row per (member or address, route) and window.
CREATE TABLE write_quotas (
    key TEXT PRIMARY KEY NOT NULL,
    window_start TIMESTAMP NOT NULL,
    count INTEGER NOT NULL
);
-- The audit log stays append-only, with one exception: retention may replace a departed
-- member's name, number or phone inside a row with the placeholder; nothing else may change.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND NEW.id = OLD.id AND NEW.at = OLD.at
        AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
        AND NEW.unit_id IS NOT DISTINCT FROM OLD.unit_id
        AND NEW.action = OLD.action AND NEW.object_type = OLD.object_type
        AND NEW.object_id IS NOT DISTINCT FROM OLD.object_id
        AND (NEW.actor_name = OLD.actor_name OR strpos(NEW.actor_name, '已注销会员') > 0)
        AND (NEW.detail = OLD.detail OR strpos(NEW.detail, '已注销会员') > 0)
        AND (NEW.ip IS NOT DISTINCT FROM OLD.ip OR NEW.ip = '已注销会员')
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;

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
-- The audit log stays append-only, with one exception: retention may replace a departed
-- member's name, number or phone inside a row with the placeholder; nothing else may change.
DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT (
    NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.actor_id IS OLD.actor_id
    AND NEW.unit_id IS OLD.unit_id AND NEW.action = OLD.action
    AND NEW.object_type = OLD.object_type AND NEW.object_id IS OLD.object_id
    AND (NEW.actor_name = OLD.actor_name OR instr(NEW.actor_name, '已注销会员') > 0)
    AND (NEW.detail = OLD.detail OR instr(NEW.detail, '已注销会员') > 0)
    AND (NEW.ip IS OLD.ip OR NEW.ip = '已注销会员')
)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

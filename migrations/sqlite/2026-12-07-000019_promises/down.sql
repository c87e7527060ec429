DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
DROP TABLE write_quotas;
DROP INDEX notifications_ref;
ALTER TABLE notifications DROP COLUMN public_ref;
DROP INDEX mailbox_letters_forwarded;
DROP INDEX mailbox_letters_ref;
ALTER TABLE mailbox_letters DROP COLUMN public_ref;

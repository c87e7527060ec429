CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END;
$$ LANGUAGE plpgsql;
DROP TABLE write_quotas;
DROP INDEX notifications_ref;
ALTER TABLE notifications DROP COLUMN public_ref;
DROP INDEX mailbox_letters_forwarded;
DROP INDEX mailbox_letters_ref;
ALTER TABLE mailbox_letters DROP COLUMN public_ref;

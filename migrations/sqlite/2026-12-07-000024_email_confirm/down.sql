ALTER TABLE outbox_deliveries DROP COLUMN to_address;
ALTER TABLE channel_profiles DROP COLUMN email_pending_until;
ALTER TABLE channel_profiles DROP COLUMN email_code_digest;
ALTER TABLE channel_profiles DROP COLUMN email_pending;

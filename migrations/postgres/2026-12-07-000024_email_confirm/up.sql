-- An e-mail address waits for its owner's confirmation (issue 33): the link mailed to it carries
-- a one-time code; only the code's digest is kept, with the address and when it lapses. Until
-- confirmed, nothing but that one message goes to the address.
ALTER TABLE channel_profiles ADD COLUMN email_pending TEXT;
ALTER TABLE channel_profiles ADD COLUMN email_code_digest TEXT;
ALTER TABLE channel_profiles ADD COLUMN email_pending_until TIMESTAMP;
-- A delivery to an address that is not (yet) a binding: the confirmation message.
ALTER TABLE outbox_deliveries ADD COLUMN to_address TEXT;

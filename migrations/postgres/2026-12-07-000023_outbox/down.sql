DROP TABLE outbox_announced;
DROP TABLE oauth_codes;
DROP TABLE channel_consents;
DROP TABLE channel_profiles;
DROP TABLE channel_prefs;
DROP TABLE channel_bindings;
DROP TABLE outbox_deliveries;
DROP TABLE outbox_messages;

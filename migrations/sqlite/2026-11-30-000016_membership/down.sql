DROP TABLE member_photos;
DROP TABLE member_dues;
DROP TABLE member_transfer_events;
DROP TABLE member_transfers;
DROP TABLE membership_application_events;
DROP TABLE membership_applications;
DROP TABLE membership_events;
ALTER TABLE members DROP COLUMN anonymised_at;
ALTER TABLE members DROP COLUMN status;

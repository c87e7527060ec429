-- Which members an audited export named, so each member can see on /me/privacy who exported
-- their data (the audit row itself says who, when and how many).
CREATE TABLE audit_subjects (
    audit_id INTEGER NOT NULL REFERENCES audit_log(id),
    member_id INTEGER NOT NULL,
    PRIMARY KEY (audit_id, member_id)
);
CREATE INDEX audit_subjects_member ON audit_subjects(member_id);

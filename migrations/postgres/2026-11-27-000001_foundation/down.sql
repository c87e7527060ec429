DROP TRIGGER audit_log_no_update ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_log;
DROP TABLE settings;
DROP TABLE login_throttle;
DROP TABLE sessions;
DROP TABLE roles;
DROP TABLE members;
DROP TABLE org_units;

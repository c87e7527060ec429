DROP TABLE audit_log;
DROP TABLE settings;
DROP TABLE login_throttle;
DROP TABLE sessions;
DROP TABLE roles;
DROP TABLE members;
DROP TABLE org_units;

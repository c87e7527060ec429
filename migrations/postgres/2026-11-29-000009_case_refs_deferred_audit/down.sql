DROP TABLE audit_deferred;
DROP INDEX grievances_public_ref;
ALTER TABLE grievances DROP COLUMN public_ref;

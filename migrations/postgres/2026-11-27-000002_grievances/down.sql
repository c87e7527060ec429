DROP TABLE job_leases;
DROP TABLE notifications;
DROP TABLE attachments;
DROP TABLE grievance_events;
DROP TABLE grievances;

DROP TABLE engagement_daily;
DROP TABLE engagement_events;

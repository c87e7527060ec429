-- Days that differ from Monday-to-Friday: public holidays (working = false) and make-up
-- working days (working = true), entered by administrators from each year's official schedule.
CREATE TABLE calendar_days (
    day DATE PRIMARY KEY,
    working BOOLEAN NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);

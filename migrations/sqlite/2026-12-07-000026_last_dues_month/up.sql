-- Each member's newest paid month (issue 34), kept by every write of member_dues in the same
-- statement's transaction: the arrears list is then one indexed filter over members instead
-- of MAX(month) over every dues row of the group. `zhijia check` verifies it.
ALTER TABLE members ADD COLUMN last_dues_month TEXT;
UPDATE members SET last_dues_month = (SELECT MAX(month) FROM member_dues d WHERE d.member_id = members.id);
CREATE INDEX members_dues ON members (disabled, status, last_dues_month, unit_id);

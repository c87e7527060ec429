ALTER TABLE benefit_requests ADD COLUMN approvers TEXT NOT NULL DEFAULT '';
UPDATE benefit_requests r SET approvers = COALESCE((
    SELECT string_agg(member_id::text, ',' ORDER BY step) FROM benefit_approvals a
    WHERE a.request_id = r.id
), '');
DROP TABLE benefit_approvals;

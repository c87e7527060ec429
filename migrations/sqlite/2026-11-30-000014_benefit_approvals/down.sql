ALTER TABLE benefit_requests ADD COLUMN approvers TEXT NOT NULL DEFAULT '';
UPDATE benefit_requests SET approvers = COALESCE((
    SELECT group_concat(member_id, ',') FROM (
        SELECT member_id FROM benefit_approvals a
        WHERE a.request_id = benefit_requests.id ORDER BY step
    )
), '');
DROP TABLE benefit_approvals;

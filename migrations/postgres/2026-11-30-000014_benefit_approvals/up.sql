-- Who approved which step of a benefit request: rows instead of a comma-separated list on the
-- request. Step numbers count from 1 as the page says them ("第 1 步"). Backfilled from the
-- old list, which is then dropped (a contract step: run it with the old binaries stopped).
CREATE TABLE benefit_approvals (
    request_id INTEGER NOT NULL REFERENCES benefit_requests(id),
    step INTEGER NOT NULL,
    member_id INTEGER NOT NULL REFERENCES members(id),
    PRIMARY KEY (request_id, step)
);

INSERT INTO benefit_approvals (request_id, step, member_id)
SELECT r.id, a.ord::integer, a.m::integer
FROM benefit_requests r,
     unnest(string_to_array(r.approvers, ',')) WITH ORDINALITY AS a(m, ord)
WHERE r.approvers <> '';

ALTER TABLE benefit_requests DROP COLUMN approvers;

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
WITH RECURSIVE split(request_id, step, item, rest) AS (
    SELECT id, 0, '', approvers || ',' FROM benefit_requests WHERE approvers <> ''
    UNION ALL
    SELECT request_id, step + 1, substr(rest, 1, instr(rest, ',') - 1),
           substr(rest, instr(rest, ',') + 1)
    FROM split WHERE rest <> ''
)
SELECT request_id, step, CAST(item AS INTEGER) FROM split WHERE step > 0;

ALTER TABLE benefit_requests DROP COLUMN approvers;

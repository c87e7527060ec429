-- /join accepts an application that repeats an account's or a live application's employee
-- number or phone like any other (issue 30, item 8), so the form tells nobody who is a member
-- or has applied; the reviewer sees the repetition and rejects it. The uniqueness moves from
-- these indexes to the review; the look-ups keep an index.
DROP INDEX membership_applications_employee_no;
DROP INDEX membership_applications_phone;
CREATE INDEX membership_applications_employee_no ON membership_applications (employee_no);
CREATE INDEX membership_applications_phone ON membership_applications (phone);

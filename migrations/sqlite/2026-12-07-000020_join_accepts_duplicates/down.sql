-- Fails while two undecided applications share an employee number or phone: reject one first.
DROP INDEX membership_applications_employee_no;
DROP INDEX membership_applications_phone;
CREATE UNIQUE INDEX membership_applications_employee_no ON membership_applications (employee_no) WHERE state <> 'rejected';
CREATE UNIQUE INDEX membership_applications_phone ON membership_applications (phone) WHERE state <> 'rejected';

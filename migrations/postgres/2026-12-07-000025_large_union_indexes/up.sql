-- A group union of 100,000 members (issue 34): the lookups that scanned whole tables.
-- A cadre's open cases are `unit_id IN (…) OR handler_id = ?`: the handler's half.
CREATE INDEX grievances_handler ON grievances (handler_id, state);
-- Active members counted per unit (the cadre home, the dashboard) without a row fetch each.
CREATE INDEX members_active_unit ON members (disabled, unit_id);
-- A member's own rows for /me/data (and leaving): one index per large table it reads.
CREATE INDEX engagement_events_member ON engagement_events (member_key);
CREATE INDEX comments_member ON comments (member_id);
CREATE INDEX survey_responses_member ON survey_responses (member_id);
CREATE INDEX survey_participants_member ON survey_participants (member_id);
CREATE INDEX showcase_likes_member ON showcase_likes (member_id);
CREATE INDEX news_articles_author ON news_articles (author_id);
CREATE INDEX activities_author ON activities (author_id);
CREATE INDEX member_transfers_member ON member_transfers (member_id);
CREATE INDEX membership_applications_member ON membership_applications (member_id);
CREATE INDEX mailbox_letters_member ON mailbox_letters (member_id);
CREATE INDEX proposal_cosigners_member ON proposal_cosigners (member_id);
-- "Awaiting my approval": the requests this approver has not yet acted on.
CREATE INDEX benefit_approvals_member ON benefit_approvals (member_id);

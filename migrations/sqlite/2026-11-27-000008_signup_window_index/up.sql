-- The home page's "等您参与" reads activities whose sign-up window is open: a range on the
-- window's end instead of walking every past activity in start order.
CREATE INDEX activities_signup_window ON activities(published, signup_closes_at);

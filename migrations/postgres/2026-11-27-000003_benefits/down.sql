DROP TABLE budgets;
DROP TABLE benefit_events;
DROP TABLE benefit_requests;
DROP TABLE benefit_items;

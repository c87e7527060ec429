DROP TABLE mailbox_events;
DROP TABLE mailbox_letters;

-- The inbox is listed per account (sessions_by_account); the index over all
-- sessions was only another write on every message.
DROP INDEX sessions_recent;

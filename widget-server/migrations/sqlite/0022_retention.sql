-- How long an account keeps its conversations: those with no activity for
-- this many days are deleted with their messages and files. NULL keeps them.
ALTER TABLE accounts ADD COLUMN retention_days BIGINT;

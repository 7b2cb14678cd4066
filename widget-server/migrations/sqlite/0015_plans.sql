-- An account's plan. Accounts made before plans existed (by the CLI, the
-- demo or the migration to accounts) are on enterprise; self-registered ones
-- get the configured default plan when they are made.
ALTER TABLE accounts ADD COLUMN plan TEXT NOT NULL DEFAULT 'enterprise';
ALTER TABLE accounts ADD COLUMN plan_changed_ms BIGINT;

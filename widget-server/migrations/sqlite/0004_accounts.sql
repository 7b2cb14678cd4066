-- Accounts (tenants) own websites, operators and webhooks; sessions carry
-- their website's account so every operator query is scoped by one column.
-- An existing database moves into one account.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

INSERT INTO accounts (id, name, created_ms)
SELECT 'default', 'Default', CAST(strftime('%s', 'now') AS INTEGER) * 1000
WHERE EXISTS (SELECT 1 FROM websites) OR EXISTS (SELECT 1 FROM operators);

ALTER TABLE websites ADD COLUMN account_id TEXT REFERENCES accounts(id);
UPDATE websites SET account_id = 'default';
CREATE INDEX websites_by_account ON websites (account_id);

ALTER TABLE operators ADD COLUMN account_id TEXT REFERENCES accounts(id);
UPDATE operators SET account_id = 'default';
CREATE INDEX operators_by_account ON operators (account_id);

ALTER TABLE webhooks ADD COLUMN account_id TEXT REFERENCES accounts(id);
UPDATE webhooks SET account_id = 'default';
CREATE INDEX webhooks_by_account ON webhooks (account_id);

ALTER TABLE sessions ADD COLUMN account_id TEXT;
UPDATE sessions SET account_id = (SELECT w.account_id FROM websites w WHERE w.id = sessions.website_id);
CREATE INDEX sessions_by_account ON sessions (account_id, updated_ms DESC);

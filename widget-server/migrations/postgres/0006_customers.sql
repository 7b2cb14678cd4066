-- Customers (contacts): the person behind one or more sessions, per account.
-- Sessions share a customer only through verified identity (`external_id`).
-- Each existing session becomes its own customer, with the session's id.
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    external_id TEXT,
    name TEXT,
    phone TEXT,
    email TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    UNIQUE (account_id, external_id)
);
CREATE INDEX customers_recent ON customers (account_id, updated_ms DESC);

INSERT INTO customers (id, account_id, name, phone, email, created_ms, updated_ms)
SELECT id, account_id, user_name, user_phone, user_email, created_ms, updated_ms FROM sessions;

ALTER TABLE sessions ADD COLUMN customer_id TEXT REFERENCES customers(id);
UPDATE sessions SET customer_id = id;
ALTER TABLE sessions ALTER COLUMN customer_id SET NOT NULL;
CREATE INDEX sessions_by_customer ON sessions (customer_id, created_ms);

-- Keys for scripts and SDKs: a key acts for its account with its role, on
-- behalf of the operator who made it. Only a hash of the key is kept.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    operator_id TEXT NOT NULL REFERENCES operators(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    last_used_ms BIGINT,
    revoked_ms BIGINT
);
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_ms);

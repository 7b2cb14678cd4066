-- An account's AI settings; the provider's API key is sealed like other
-- third-party secrets. Accounts without a row use the server's defaults.
CREATE TABLE ai_settings (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id),
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    temperature DOUBLE PRECISION NOT NULL,
    system_prompt TEXT NOT NULL,
    auto_respond BOOLEAN NOT NULL,
    confidence_threshold DOUBLE PRECISION NOT NULL,
    base_url TEXT,
    api_key TEXT,
    updated_ms BIGINT NOT NULL
);

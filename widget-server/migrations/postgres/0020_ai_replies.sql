-- Messages written by an AI provider (auto-respond): their confidence and
-- sources, so the console marks them and analytics count them.
CREATE TABLE ai_replies (
    message_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    sources TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX ai_replies_by_account ON ai_replies (account_id, created_ms);
CREATE INDEX ai_replies_by_session ON ai_replies (session_id);

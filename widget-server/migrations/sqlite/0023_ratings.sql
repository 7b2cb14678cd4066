-- A visitor's rating of a closed conversation (1 to 5, with an optional
-- comment): one per conversation, replaced when they rate again.
CREATE TABLE ratings (
    session_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    score BIGINT NOT NULL,
    comment TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX ratings_by_account ON ratings (account_id, updated_ms);

-- Only messages that carry an echo_id are indexed for it (a partial unique
-- index instead of a table constraint), so most inserts touch one index
-- fewer. SQLite cannot drop a table constraint, so the table is rebuilt.
CREATE TABLE messages_rebuilt (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    seq BIGINT NOT NULL,
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    manager_id TEXT,
    echo_id TEXT,
    status TEXT NOT NULL DEFAULT 'sent',
    created_ms BIGINT NOT NULL,
    UNIQUE (session_id, seq)
);
INSERT INTO messages_rebuilt (id, session_id, seq, sender, body, manager_id, echo_id, status, created_ms)
SELECT id, session_id, seq, sender, body, manager_id, echo_id, status, created_ms FROM messages ORDER BY rowid;
DROP TABLE messages;
ALTER TABLE messages_rebuilt RENAME TO messages;
CREATE UNIQUE INDEX messages_echo ON messages (session_id, echo_id) WHERE echo_id IS NOT NULL;
CREATE INDEX messages_by_time ON messages (session_id, created_ms);

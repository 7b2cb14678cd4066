CREATE TABLE websites (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    api_secret TEXT NOT NULL,
    origins TEXT NOT NULL DEFAULT '[]',
    settings TEXT NOT NULL DEFAULT '{}',
    legacy_mode BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms BIGINT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    website_id TEXT NOT NULL REFERENCES websites(id),
    user_session_id TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    user_name TEXT,
    user_phone TEXT,
    user_email TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    manager_id TEXT,
    last_seq BIGINT NOT NULL DEFAULT 0,
    last_created_ms BIGINT NOT NULL DEFAULT 0,
    bot_state BIGINT NOT NULL DEFAULT 0,
    away_sent_ms BIGINT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    UNIQUE (website_id, user_session_id)
);
CREATE INDEX sessions_recent ON sessions (updated_ms DESC);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    seq BIGINT NOT NULL,
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    manager_id TEXT,
    echo_id TEXT,
    status TEXT NOT NULL DEFAULT 'sent',
    created_ms BIGINT NOT NULL,
    UNIQUE (session_id, seq),
    UNIQUE (session_id, echo_id)
);
CREATE INDEX messages_by_time ON messages (session_id, created_ms);

CREATE TABLE operators (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators(id),
    expires_ms BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

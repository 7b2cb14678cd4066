-- Channels: a website is an account's `widget` channel; Telegram bots and
-- WhatsApp numbers are channels of their own kind in the same table, with
-- their settings in `config` and their credentials sealed in `secrets`.
ALTER TABLE websites ADD COLUMN kind TEXT NOT NULL DEFAULT 'widget';
ALTER TABLE websites ADD COLUMN config TEXT NOT NULL DEFAULT '{}';
ALTER TABLE websites ADD COLUMN secrets TEXT NOT NULL DEFAULT '';

-- A conversation's channel, kept on it so the inbox filters by one column.
ALTER TABLE sessions ADD COLUMN channel TEXT NOT NULL DEFAULT 'widget';
CREATE INDEX sessions_by_channel ON sessions (account_id, channel, updated_ms DESC);

-- Replies on their way to a Telegram or WhatsApp chat: pending until the
-- platform takes them, then sent, or failed with the reason after the last try.
CREATE TABLE channel_outbox (
    message_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    channel_id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempt BIGINT NOT NULL DEFAULT 0,
    next_ms BIGINT NOT NULL,
    error TEXT,
    external_id TEXT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX channel_outbox_due ON channel_outbox (state, next_ms);
CREATE INDEX channel_outbox_by_session ON channel_outbox (session_id, state, seq);

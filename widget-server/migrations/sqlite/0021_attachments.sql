-- Files sent with messages. The bytes live in the blob store under `blob`
-- (the SHA-256 of the bytes) and `thumb`; the rows naming a blob are its
-- references. An upload has no `message_id` until a message claims it.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    message_id TEXT,
    session_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    blob TEXT NOT NULL,
    thumb TEXT,
    thumb_mime TEXT,
    file_type TEXT NOT NULL,
    mime TEXT NOT NULL,
    extension TEXT NOT NULL,
    file_name TEXT NOT NULL,
    file_size BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX attachments_by_message ON attachments (message_id);
CREATE INDEX attachments_by_session ON attachments (session_id);
CREATE INDEX attachments_by_blob ON attachments (blob);
CREATE INDEX attachments_by_thumb ON attachments (thumb);
CREATE INDEX attachments_unsent ON attachments (created_ms) WHERE message_id IS NULL;

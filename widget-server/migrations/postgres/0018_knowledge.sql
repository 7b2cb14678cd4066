-- The knowledge base: documents per account, split into passages indexed
-- for full-text search in English and Russian (stemmed) and as they are
-- written (any language, Ukrainian included), with a GIN index.
CREATE TABLE knowledge_documents (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    title TEXT NOT NULL,
    category TEXT,
    file_name TEXT NOT NULL,
    format TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    passages BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX knowledge_documents_by_account ON knowledge_documents (account_id, created_ms);

CREATE TABLE knowledge_passages (
    id BIGSERIAL PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES knowledge_documents(id),
    account_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    content TEXT NOT NULL,
    search tsvector GENERATED ALWAYS AS (
        to_tsvector('english'::regconfig, content)
        || to_tsvector('russian'::regconfig, content)
        || to_tsvector('simple'::regconfig, content)
    ) STORED
);
CREATE INDEX knowledge_passages_by_document ON knowledge_passages (document_id);
CREATE INDEX knowledge_passages_search ON knowledge_passages USING GIN (search);

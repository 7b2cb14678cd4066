-- The knowledge base: documents per account, split into passages that
-- full-text search (FTS5, Porter stemming over Unicode tokens) finds.
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
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES knowledge_documents(id),
    account_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    content TEXT NOT NULL
);
CREATE INDEX knowledge_passages_by_document ON knowledge_passages (document_id);

CREATE VIRTUAL TABLE knowledge_fts USING fts5(
    content,
    content = 'knowledge_passages',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER knowledge_passages_indexed AFTER INSERT ON knowledge_passages BEGIN
    INSERT INTO knowledge_fts (rowid, content) VALUES (new.id, new.content);
END;

CREATE TRIGGER knowledge_passages_unindexed AFTER DELETE ON knowledge_passages BEGIN
    INSERT INTO knowledge_fts (knowledge_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;

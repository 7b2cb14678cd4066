-- The team: an operator's departments, the availability they chose, and
-- one-time invitations (kept as hashes) to set a first password.
ALTER TABLE operators ADD COLUMN departments TEXT NOT NULL DEFAULT '[]';
ALTER TABLE operators ADD COLUMN availability TEXT NOT NULL DEFAULT 'online';

CREATE TABLE invitations (
    token_hash TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators(id),
    expires_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX invitations_by_operator ON invitations (operator_id);

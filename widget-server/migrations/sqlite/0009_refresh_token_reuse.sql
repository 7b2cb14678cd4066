-- When a refresh token was spent: a second use long after it means the token
-- was copied, and every session of its operator is revoked.
ALTER TABLE refresh_tokens ADD COLUMN used_ms BIGINT;

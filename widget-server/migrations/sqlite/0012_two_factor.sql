-- Operators' second factor (TOTP): the secret is sealed like every
-- third-party secret; `last_step` refuses a code used before; backup codes
-- are kept as hashes and work once.
CREATE TABLE two_factor (
    operator_id TEXT PRIMARY KEY REFERENCES operators(id),
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT FALSE,
    last_step BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL
);
CREATE TABLE two_factor_backup_codes (
    operator_id TEXT NOT NULL REFERENCES operators(id),
    code_hash TEXT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (operator_id, code_hash)
);

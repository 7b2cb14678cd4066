-- What an operator (or a script) attached to a conversation when starting it.
ALTER TABLE sessions ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';

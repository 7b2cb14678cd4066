-- Only messages that carry an echo_id are indexed for it.
ALTER TABLE messages DROP CONSTRAINT messages_session_id_echo_id_key;
CREATE UNIQUE INDEX messages_echo ON messages (session_id, echo_id) WHERE echo_id IS NOT NULL;

-- Anonymous sessions by age, for the sweep that removes those nobody wrote in.
CREATE INDEX sessions_anonymous ON sessions (updated_ms) WHERE user_name IS NULL AND user_phone IS NULL AND user_email IS NULL;

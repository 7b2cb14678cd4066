-- Webhook events waiting to be delivered: one row per event and webhook,
-- kept until it is delivered or given up, so restarts lose nothing.
CREATE TABLE webhook_outbox (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    attempt BIGINT NOT NULL DEFAULT 0,
    next_ms BIGINT NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_ms);
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (created_ms);

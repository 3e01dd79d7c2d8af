-- Web hook deliveries: an asynchronous hook's call is written here first and sent by a worker on
-- any node, so it survives a restart and is sent once; a blocking hook's call is recorded here
-- after it ran, so every attempt is visible in the admin API. The secret that signs a request is
-- never stored: the worker signs with the configured secret at send time.
CREATE TABLE webhook_deliveries (
    id BLOB PRIMARY KEY NOT NULL,                  -- UUIDv7: newest-first listing and cursor; X-Gatehouse-Delivery
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    webhook_id TEXT NOT NULL,                      -- the configured hook's id; its secret is looked up by it
    event TEXT NOT NULL,                           -- registration.after, login.after, ...
    mode TEXT NOT NULL,                            -- async (the worker sends it) or blocking (recorded after the call)
    url TEXT NOT NULL,                             -- where it goes (as configured when it was queued)
    body TEXT NOT NULL,                            -- the rendered JSON payload, sent as is
    status TEXT NOT NULL,                          -- queued, failed, delivered, abandoned, vetoed
    attempts INTEGER NOT NULL DEFAULT 0,           -- attempts started
    next_attempt_at INTEGER NOT NULL,              -- due time; pushed forward (the lease) while a worker holds it
    last_status_code INTEGER,                      -- the receiver's last HTTP status, if it answered
    last_error TEXT,                               -- why the last attempt failed (never the secret)
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL                    -- removed by the cleanup after this
);
-- The workers' question: which asynchronous deliveries are due?
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE mode = 'async' AND status IN ('queued', 'failed');
-- The admin API's questions: a tenant's deliveries, by hook, event or status, newest first.
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (tenant_id, webhook_id, id);
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (tenant_id, status, id);
CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries (tenant_id, id);
-- The cleanup's question.
CREATE INDEX webhook_deliveries_expires ON webhook_deliveries (expires_at);

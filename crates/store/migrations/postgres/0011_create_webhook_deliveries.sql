-- Web hook deliveries: an asynchronous hook's call is written here first and sent by a worker on
-- any node, so it survives a restart and is sent once; a blocking hook's call is recorded here
-- after it ran, so every attempt is visible in the admin API. The secret that signs a request is
-- never stored: the worker signs with the configured secret at send time.
CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,                           -- UUIDv7: newest-first listing and cursor; X-Gatehouse-Delivery
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    webhook_id text NOT NULL,                      -- the configured hook's id; its secret is looked up by it
    event text NOT NULL,                           -- registration.after, login.after, ...
    mode text NOT NULL,                            -- async (the worker sends it) or blocking (recorded after the call)
    url text NOT NULL,                             -- where it goes (as configured when it was queued)
    body text NOT NULL,                            -- the rendered JSON payload, sent as is
    status text NOT NULL,                          -- queued, failed, delivered, abandoned, vetoed
    attempts integer NOT NULL DEFAULT 0,           -- attempts started
    next_attempt_at timestamptz NOT NULL,          -- due time; pushed forward (the lease) while a worker holds it
    last_status_code integer,                      -- the receiver's last HTTP status, if it answered
    last_error text,                               -- why the last attempt failed (never the secret)
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL                -- removed by the cleanup after this
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

-- The courier outbox: every message is written here first and delivered by a worker, so a
-- message survives a restart and a node never sends what another node already took.
CREATE TABLE courier_messages (
    id uuid PRIMARY KEY,                           -- UUIDv7: newest-first listing and cursor
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    recipient text NOT NULL,                       -- an email address
    subject text NOT NULL,
    body text NOT NULL,                            -- rendered text body; may hold a one-time code
    template_type text NOT NULL,                   -- registration_code, registration_exists, ...
    status text NOT NULL,                          -- queued, sent, abandoned
    send_count integer NOT NULL DEFAULT 0,         -- delivery attempts started
    next_attempt_at timestamptz NOT NULL,          -- due time; pushed forward while a worker holds it
    last_error text,                               -- why the last attempt failed
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- The workers' question: which queued messages are due?
CREATE INDEX courier_messages_due ON courier_messages (next_attempt_at) WHERE status = 'queued';
-- The admin API's questions: a tenant's messages, by recipient or status, newest first.
CREATE INDEX courier_messages_recipient ON courier_messages (tenant_id, recipient, id);
CREATE INDEX courier_messages_status ON courier_messages (tenant_id, status, id);

-- The courier outbox: every message is written here first and delivered by a worker, so a
-- message survives a restart and a node never sends what another node already took.
CREATE TABLE courier_messages (
    id BLOB PRIMARY KEY NOT NULL,                  -- UUIDv7: newest-first listing and cursor
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    recipient TEXT NOT NULL,                       -- an email address
    subject TEXT NOT NULL,
    body TEXT NOT NULL,                            -- rendered text body; may hold a one-time code
    template_type TEXT NOT NULL,                   -- registration_code, registration_exists, ...
    status TEXT NOT NULL,                          -- queued, sent, abandoned
    send_count INTEGER NOT NULL DEFAULT 0,         -- delivery attempts started
    next_attempt_at INTEGER NOT NULL,              -- due time; pushed forward while a worker holds it
    last_error TEXT,                               -- why the last attempt failed
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- The workers' question: which queued messages are due?
CREATE INDEX courier_messages_due ON courier_messages (next_attempt_at) WHERE status = 'queued';
-- The admin API's questions: a tenant's messages, by recipient or status, newest first.
CREATE INDEX courier_messages_recipient ON courier_messages (tenant_id, recipient, id);
CREATE INDEX courier_messages_status ON courier_messages (tenant_id, status, id);

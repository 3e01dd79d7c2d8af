-- Audit events: who did what, when, from where, and how it ended. Append-only; identity_id has
-- no foreign key so the record of a deleted identity stays.
CREATE TABLE audit_events (
    id BLOB PRIMARY KEY NOT NULL,                  -- UUIDv7; tie-breaker of the newest-first order
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    event_type TEXT NOT NULL,                      -- login_failed, identity_created, ...
    identity_id BLOB,
    actor TEXT,                                    -- admin, self, system
    ip_address TEXT,
    user_agent TEXT,
    result TEXT NOT NULL,                          -- success or failure
    reason TEXT,
    details TEXT NOT NULL,                         -- more facts as JSON; never a secret
    created_at INTEGER NOT NULL
);
-- One index per filter of GET /admin/audit-events, each in the newest-first order.
CREATE INDEX audit_events_time ON audit_events (tenant_id, created_at, id);
CREATE INDEX audit_events_identity ON audit_events (tenant_id, identity_id, created_at, id);
CREATE INDEX audit_events_type ON audit_events (tenant_id, event_type, created_at, id);

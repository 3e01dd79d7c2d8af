-- Audit events: who did what, when, from where, and how it ended. Append-only; identity_id has
-- no foreign key so the record of a deleted identity stays.
CREATE TABLE audit_events (
    id uuid PRIMARY KEY,                           -- UUIDv7; tie-breaker of the newest-first order
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    event_type text NOT NULL,                      -- login_failed, identity_created, ...
    identity_id uuid,
    actor text,                                    -- admin, self, system
    ip_address text,
    user_agent text,
    result text NOT NULL,                          -- success or failure
    reason text,
    details jsonb NOT NULL,                        -- more facts; never a secret
    created_at timestamptz NOT NULL
);
-- One index per filter of GET /admin/audit-events, each in the newest-first order.
CREATE INDEX audit_events_time ON audit_events (tenant_id, created_at, id);
CREATE INDEX audit_events_identity ON audit_events (tenant_id, identity_id, created_at, id);
CREATE INDEX audit_events_type ON audit_events (tenant_id, event_type, created_at, id);

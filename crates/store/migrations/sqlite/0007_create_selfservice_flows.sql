-- Self-service flows (login, registration, ...): short-lived, one row each. The flow's form state
-- and any pending registration are one JSON document owned by the domain; columns are what we
-- look up, expire or compare on.
CREATE TABLE selfservice_flows (
    id BLOB PRIMARY KEY NOT NULL,                  -- UUIDv7, the flow id clients hold
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    kind TEXT NOT NULL,                            -- login, registration, ...
    version INTEGER NOT NULL,                      -- bumped per update: concurrent submissions compare-and-swap
    document TEXT NOT NULL,
    expires_at INTEGER NOT NULL                    -- cleanup removes the row after this
);
CREATE INDEX selfservice_flows_expiry ON selfservice_flows (expires_at);

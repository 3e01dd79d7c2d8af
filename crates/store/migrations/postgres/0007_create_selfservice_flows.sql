-- Self-service flows (login, registration, ...): short-lived, one row each. The flow's form state
-- and any pending registration are one JSON document owned by the domain; columns are what we
-- look up, expire or compare on.
CREATE TABLE selfservice_flows (
    id uuid PRIMARY KEY,                           -- UUIDv7, the flow id clients hold
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    kind text NOT NULL,                            -- login, registration, ...
    version bigint NOT NULL,                       -- bumped per update: concurrent submissions compare-and-swap
    document jsonb NOT NULL,
    expires_at timestamptz NOT NULL                -- cleanup removes the row after this
);
CREATE INDEX selfservice_flows_expiry ON selfservice_flows (expires_at);

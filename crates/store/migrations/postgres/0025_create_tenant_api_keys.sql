-- API keys: how a tenant's backend authenticates to the tenant API (`/api/auth/...`). The key is
-- shown once; only its SHA-256 is kept, and its first characters so people can tell keys apart.
-- Revoking a key deletes its row (the audit log keeps the record).
CREATE TABLE tenant_api_keys (
    id uuid PRIMARY KEY,                           -- UUIDv7
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name text NOT NULL,                            -- what the developer calls it ("production backend")
    prefix text NOT NULL,                          -- `ghk_` and 8 more characters of the key
    key_hash bytea NOT NULL,                       -- SHA-256 of the whole key: what a request is looked up by
    created_at timestamptz NOT NULL,
    last_used_at timestamptz                       -- written at most once a minute per key
);
CREATE UNIQUE INDEX tenant_api_keys_hash ON tenant_api_keys (key_hash);
-- The admin API's question: a tenant's keys, newest first.
CREATE INDEX tenant_api_keys_tenant ON tenant_api_keys (tenant_id, id);

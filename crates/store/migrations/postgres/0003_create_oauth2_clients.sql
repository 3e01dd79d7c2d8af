-- OAuth 2.0 clients. Columns are what we look up or filter by; the registered metadata (redirect
-- URIs, grant types, scope, lifespans, ...) is one JSON document validated by the domain, so new
-- metadata fields need no migration.
CREATE TABLE oauth2_clients (
    id uuid PRIMARY KEY,                           -- UUIDv7; keyset pagination cursor
    client_id text NOT NULL UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    secret_hash bytea,                             -- SHA-256 of the secret; NULL for public clients
    registration_token_hash bytea,                 -- SHA-256 of the RFC 7592 registration access token
    active boolean NOT NULL,                       -- false disables the client at once
    client_name text NOT NULL,                     -- copied out of the document for filtering
    document jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX oauth2_clients_tenant ON oauth2_clients (tenant_id, id);

-- OAuth 2.0 clients. Columns are what we look up or filter by; the registered metadata (redirect
-- URIs, grant types, scope, lifespans, ...) is one JSON document validated by the domain, so new
-- metadata fields need no migration.
CREATE TABLE oauth2_clients (
    id BLOB PRIMARY KEY NOT NULL,                  -- UUIDv7; keyset pagination cursor
    client_id TEXT NOT NULL UNIQUE,
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    secret_hash BLOB,                              -- SHA-256 of the secret; NULL for public clients
    registration_token_hash BLOB,                  -- SHA-256 of the RFC 7592 registration access token
    active INTEGER NOT NULL,                       -- false disables the client at once
    client_name TEXT NOT NULL,                     -- copied out of the document for filtering
    document TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX oauth2_clients_tenant ON oauth2_clients (tenant_id, id);

-- Identities (placeholder until the identity schema lands): only what sessions refer to.
CREATE TABLE identities (
    id BLOB PRIMARY KEY NOT NULL,                  -- UUIDv7
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    schema_id TEXT NOT NULL,
    state TEXT NOT NULL,                           -- active | inactive
    traits TEXT NOT NULL,                          -- JSON
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Identities (placeholder until the identity schema lands): only what sessions refer to.
CREATE TABLE identities (
    id uuid PRIMARY KEY,                           -- UUIDv7
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    schema_id text NOT NULL,
    state text NOT NULL,                           -- active | inactive
    traits jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

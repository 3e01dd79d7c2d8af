-- Identities: the people who sign in. Traits are the JSON document the identity schema
-- (`schema_id`) validates; the columns are what we look up, filter or join by.
CREATE TABLE identities (
    id uuid PRIMARY KEY,                           -- UUIDv7: sorts by creation, keyset pagination cursor
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    schema_id text NOT NULL,                       -- which configured identity schema validates the traits
    state text NOT NULL,                           -- active | inactive (inactive cannot sign in)
    traits jsonb NOT NULL,                         -- validated by the schema before every write
    metadata_public jsonb,                         -- what the identity itself may read
    metadata_admin jsonb,                          -- only the admin API shows it
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX identities_tenant ON identities (tenant_id, id);

-- Login identifiers (normalized: trimmed, lowercased), unique per tenant: what sign-in looks up.
CREATE TABLE identity_identifiers (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    identifier text NOT NULL,
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    CONSTRAINT identity_identifier UNIQUE (tenant_id, identifier)
);
CREATE INDEX identity_identifiers_identity ON identity_identifiers (identity_id);

-- Credentials: for now the password hash (argon2id, or an imported form upgraded at sign-in).
CREATE TABLE identity_credentials (
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    type text NOT NULL,                            -- password
    hash text NOT NULL,                            -- PHC string, bcrypt or Django form; never the password
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (identity_id, type)
);

-- Verifiable and recovery addresses taken from the traits the schema marks.
CREATE TABLE identity_addresses (
    id uuid PRIMARY KEY,
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    kind text NOT NULL,                            -- verifiable | recovery
    via text NOT NULL,                             -- email
    value text NOT NULL,                           -- normalized address
    verified boolean NOT NULL,                     -- always false for recovery addresses
    verified_at timestamptz,
    status text NOT NULL,                          -- pending | completed (verifiable addresses)
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (identity_id, kind, via, value)
);

-- Identities: the people who sign in. Traits are the JSON document the identity schema
-- (`schema_id`) validates; the columns are what we look up, filter or join by.
CREATE TABLE identities (
    id BLOB PRIMARY KEY NOT NULL,                  -- UUIDv7: sorts by creation, keyset pagination cursor
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    schema_id TEXT NOT NULL,                       -- which configured identity schema validates the traits
    state TEXT NOT NULL,                           -- active | inactive (inactive cannot sign in)
    traits TEXT NOT NULL,                          -- JSON, validated by the schema before every write
    metadata_public TEXT,                          -- JSON the identity itself may read
    metadata_admin TEXT,                           -- JSON only the admin API shows
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX identities_tenant ON identities (tenant_id, id);

-- Login identifiers (normalized: trimmed, lowercased), unique per tenant: what sign-in looks up.
CREATE TABLE identity_identifiers (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    identifier TEXT NOT NULL,
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    CONSTRAINT identity_identifier UNIQUE (tenant_id, identifier)
);
CREATE INDEX identity_identifiers_identity ON identity_identifiers (identity_id);

-- Credentials: for now the password hash (argon2id, or an imported form upgraded at sign-in).
CREATE TABLE identity_credentials (
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    type TEXT NOT NULL,                            -- password
    hash TEXT NOT NULL,                            -- PHC string, bcrypt or Django form; never the password
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (identity_id, type)
);

-- Verifiable and recovery addresses taken from the traits the schema marks.
CREATE TABLE identity_addresses (
    id BLOB PRIMARY KEY NOT NULL,
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,                            -- verifiable | recovery
    via TEXT NOT NULL,                             -- email
    value TEXT NOT NULL,                           -- normalized address
    verified INTEGER NOT NULL,                     -- always false for recovery addresses
    verified_at INTEGER,
    status TEXT NOT NULL,                          -- pending | completed (verifiable addresses)
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (identity_id, kind, via, value)
);

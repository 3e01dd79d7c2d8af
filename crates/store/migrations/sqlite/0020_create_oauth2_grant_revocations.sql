-- Revoked grants, for access tokens: a JWT cannot be recalled, so introspection treats a
-- person's token for a client as inactive when its `iat` is at or before the grant's revocation.
-- One row per grant keeps the latest revocation; it is removed once every token issued before it
-- has expired (`expires_at`: the revocation plus the longest access token lifespan).
CREATE TABLE oauth2_grant_revocations (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX oauth2_grant_revocations_grant ON oauth2_grant_revocations (tenant_id, identity_id, client_id);
CREATE INDEX oauth2_grant_revocations_expiry ON oauth2_grant_revocations (expires_at);

-- Revoked grants, for access tokens: a JWT cannot be recalled, so introspection treats a
-- person's token for a client as inactive when its `iat` is at or before the grant's revocation.
-- One row per grant keeps the latest revocation; it is removed once every token issued before it
-- has expired (`expires_at`: the revocation plus the longest access token lifespan).
CREATE TABLE oauth2_grant_revocations (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    client_id text NOT NULL,
    revoked_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX oauth2_grant_revocations_grant ON oauth2_grant_revocations (tenant_id, identity_id, client_id);
CREATE INDEX oauth2_grant_revocations_expiry ON oauth2_grant_revocations (expires_at);

-- Refresh token families: what a person granted a client through one authorization code, shared
-- by every token rotated from the first one. Revoking a family (reuse detected, consent revoked)
-- is one row; `expires_at` is the family's absolute end, which rotation never extends.
-- `last_rotated_at` is written by every rotation, which also makes a rotation and a revocation
-- of the same family take turns (both lock this row).
CREATE TABLE oauth2_refresh_families (
    family_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    client_id text NOT NULL,
    session_id uuid,                               -- the sign-in's session (the ID token's sid)
    scope text NOT NULL,                           -- space-separated, the same for every token
    auth_time timestamptz NOT NULL,
    amr jsonb NOT NULL DEFAULT '[]',               -- RFC 8176 values
    created_at timestamptz NOT NULL,
    last_rotated_at timestamptz,
    revoked_at timestamptz,
    expires_at timestamptz NOT NULL                -- cleanup removes the family after this
);
CREATE INDEX oauth2_refresh_families_grant ON oauth2_refresh_families (tenant_id, identity_id, client_id);
CREATE INDEX oauth2_refresh_families_expiry ON oauth2_refresh_families (expires_at);
-- Deleting a client deletes its families (and their tokens).
CREATE INDEX oauth2_refresh_families_client ON oauth2_refresh_families (client_id);

-- Refresh tokens, by the SHA-256 of the token (the token itself is never kept). `used_at` is set
-- by the rotation that replaced the token; presenting it again revokes the family. A used token
-- stays until it expires so that reuse is recognised.
CREATE TABLE oauth2_refresh_tokens (
    token_hash bytea PRIMARY KEY,
    family_id uuid NOT NULL REFERENCES oauth2_refresh_families (family_id) ON DELETE CASCADE,
    issued_at timestamptz NOT NULL,
    used_at timestamptz,
    expires_at timestamptz NOT NULL                -- never after the family's expiry
);
CREATE INDEX oauth2_refresh_tokens_family ON oauth2_refresh_tokens (family_id);
CREATE INDEX oauth2_refresh_tokens_expiry ON oauth2_refresh_tokens (expires_at);

-- Refresh token families: what a person granted a client through one authorization code, shared
-- by every token rotated from the first one. Revoking a family (reuse detected, consent revoked)
-- is one row; `expires_at` is the family's absolute end, which rotation never extends.
-- `last_rotated_at` is written by every rotation, which also makes a rotation and a revocation
-- of the same family take turns.
CREATE TABLE oauth2_refresh_families (
    family_id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    session_id BLOB,                               -- the sign-in's session (the ID token's sid)
    scope TEXT NOT NULL,                           -- space-separated, the same for every token
    auth_time INTEGER NOT NULL,
    amr TEXT NOT NULL DEFAULT '[]',                -- JSON array of RFC 8176 values
    created_at INTEGER NOT NULL,
    last_rotated_at INTEGER,
    revoked_at INTEGER,
    expires_at INTEGER NOT NULL                    -- cleanup removes the family after this
);
CREATE INDEX oauth2_refresh_families_grant ON oauth2_refresh_families (tenant_id, identity_id, client_id);
CREATE INDEX oauth2_refresh_families_expiry ON oauth2_refresh_families (expires_at);
-- Deleting a client deletes its families (and their tokens).
CREATE INDEX oauth2_refresh_families_client ON oauth2_refresh_families (client_id);

-- Refresh tokens, by the SHA-256 of the token (the token itself is never kept). `used_at` is set
-- by the rotation that replaced the token; presenting it again revokes the family. A used token
-- stays until it expires so that reuse is recognised.
CREATE TABLE oauth2_refresh_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    family_id BLOB NOT NULL REFERENCES oauth2_refresh_families (family_id) ON DELETE CASCADE,
    issued_at INTEGER NOT NULL,
    used_at INTEGER,
    expires_at INTEGER NOT NULL                    -- never after the family's expiry
);
CREATE INDEX oauth2_refresh_tokens_family ON oauth2_refresh_tokens (family_id);
CREATE INDEX oauth2_refresh_tokens_expiry ON oauth2_refresh_tokens (expires_at);

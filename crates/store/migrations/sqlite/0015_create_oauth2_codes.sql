-- Authorization codes, by the SHA-256 of the code (the code itself is never kept). The grant a
-- code stands for (client, redirect URI, PKCE challenge, nonce, scopes, sign-in) is one JSON
-- document; `used_at` makes redemption single-use, `issued_jtis` lists the tokens a replay
-- revokes.
CREATE TABLE oauth2_codes (
    code_hash BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    grant_document TEXT NOT NULL,
    issued_jtis TEXT NOT NULL DEFAULT '[]',        -- JSON array of jti
    used_at INTEGER,
    expires_at INTEGER NOT NULL                    -- cleanup removes the row after this
);
CREATE INDEX oauth2_codes_expiry ON oauth2_codes (expires_at);
CREATE INDEX oauth2_codes_identity ON oauth2_codes (identity_id);

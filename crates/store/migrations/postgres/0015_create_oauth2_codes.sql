-- Authorization codes, by the SHA-256 of the code (the code itself is never kept). The grant a
-- code stands for (client, redirect URI, PKCE challenge, nonce, scopes, sign-in) is one JSON
-- document; `used_at` makes redemption single-use, `issued_jtis` lists the tokens a replay
-- revokes.
CREATE TABLE oauth2_codes (
    code_hash bytea PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    client_id text NOT NULL,
    grant_document jsonb NOT NULL,
    issued_jtis jsonb NOT NULL DEFAULT '[]',
    used_at timestamptz,
    expires_at timestamptz NOT NULL
);
CREATE INDEX oauth2_codes_expiry ON oauth2_codes (expires_at);
CREATE INDEX oauth2_codes_identity ON oauth2_codes (identity_id);

-- Opaque access tokens (clients with access_token_strategy = opaque). JWT access tokens are not
-- stored at all; only their revocations are (below).
CREATE TABLE oauth2_opaque_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,          -- SHA-256 of the token; the token itself is never kept
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    claims TEXT NOT NULL,                          -- JSON: the RFC 9068 claims the token stands for
    expires_at INTEGER NOT NULL
);
CREATE INDEX oauth2_opaque_tokens_expiry ON oauth2_opaque_tokens (expires_at);
CREATE INDEX oauth2_opaque_tokens_client ON oauth2_opaque_tokens (client_id);

-- Revoked JWT access tokens, by jti, kept until the token would have expired anyway.
CREATE TABLE oauth2_revoked_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    client_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX oauth2_revoked_tokens_expiry ON oauth2_revoked_tokens (expires_at);

-- Opaque access tokens (clients with access_token_strategy = opaque). JWT access tokens are not
-- stored at all; only their revocations are (below).
CREATE TABLE oauth2_opaque_tokens (
    token_hash bytea PRIMARY KEY,                  -- SHA-256 of the token; the token itself is never kept
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    client_id text NOT NULL,
    subject text NOT NULL,
    claims jsonb NOT NULL,                         -- the RFC 9068 claims the token stands for
    expires_at timestamptz NOT NULL
);
CREATE INDEX oauth2_opaque_tokens_expiry ON oauth2_opaque_tokens (expires_at);
CREATE INDEX oauth2_opaque_tokens_client ON oauth2_opaque_tokens (client_id);

-- Revoked JWT access tokens, by jti, kept until the token would have expired anyway.
CREATE TABLE oauth2_revoked_tokens (
    jti text PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    client_id text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX oauth2_revoked_tokens_expiry ON oauth2_revoked_tokens (expires_at);

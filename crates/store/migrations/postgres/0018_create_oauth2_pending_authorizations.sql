-- Authorization requests waiting for the person to sign in and decide on consent. The checked
-- request is one JSON document; `browser_hash` is the SHA-256 of the cookie that binds the
-- request to the browser that made it. Answering the request deletes the row.
CREATE TABLE oauth2_pending_authorizations (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    client_id text NOT NULL,
    browser_hash bytea NOT NULL,
    request_document jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX oauth2_pending_authorizations_expiry ON oauth2_pending_authorizations (expires_at);

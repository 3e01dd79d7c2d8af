-- Authorization requests waiting for the person to sign in and decide on consent. The checked
-- request is one JSON document; `browser_hash` is the SHA-256 of the cookie that binds the
-- request to the browser that made it. Answering the request deletes the row.
CREATE TABLE oauth2_pending_authorizations (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    client_id TEXT NOT NULL,
    browser_hash BLOB NOT NULL,
    request_document TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL                    -- cleanup removes the row after this
);
CREATE INDEX oauth2_pending_authorizations_expiry ON oauth2_pending_authorizations (expires_at);

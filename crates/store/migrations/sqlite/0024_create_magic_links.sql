-- Magic links sent for an app's users, keyed by the SHA-256 of the token in the link; opening a
-- link deletes it.
CREATE TABLE magic_links (
    token_hash BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    address TEXT NOT NULL,                         -- normalized; verified when the link is opened
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX magic_links_expiry ON magic_links (expires_at);
CREATE INDEX magic_links_identity ON magic_links (identity_id);

-- Sessions of signed-in identities. The token is never kept, only its SHA-256; a revoked session
-- keeps its row (active = 0) so it still shows in listings until the cleanup deletes it after
-- its absolute expiry. Deleting an identity deletes its sessions.
CREATE TABLE sessions (
    id BLOB PRIMARY KEY NOT NULL,                  -- UUIDv7; a fresh one at every login (no fixation)
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,               -- SHA-256 of the session token (cookie or X-Session-Token)
    active INTEGER NOT NULL,                       -- 0 once revoked (logout, sign out, admin)
    aal TEXT NOT NULL,                             -- aal1 | aal2
    methods TEXT NOT NULL,                         -- JSON: [{method, completed_at}]
    authenticated_at INTEGER NOT NULL,             -- unix microseconds, as every time here
    issued_at INTEGER NOT NULL,                    -- also when the device was first seen
    expires_at INTEGER NOT NULL,                   -- absolute expiry
    idle_timeout_seconds BIGINT NOT NULL,          -- the idle timeout in force when it started
    last_seen_at INTEGER NOT NULL,                 -- written at most once a minute
    ip_address TEXT,                               -- latest device IP address
    user_agent TEXT                                -- latest device user agent
);
CREATE INDEX sessions_identity ON sessions (tenant_id, identity_id, id);
CREATE INDEX sessions_tenant ON sessions (tenant_id, id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

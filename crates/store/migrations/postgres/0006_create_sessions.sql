-- Sessions of signed-in identities. The token is never kept, only its SHA-256; a revoked session
-- keeps its row (active = false) so it still shows in listings until the cleanup deletes it
-- after its absolute expiry. Deleting an identity deletes its sessions.
CREATE TABLE sessions (
    id uuid PRIMARY KEY,                           -- UUIDv7; a fresh one at every login (no fixation)
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,              -- SHA-256 of the session token (cookie or X-Session-Token)
    active boolean NOT NULL,                       -- false once revoked (logout, sign out, admin)
    aal text NOT NULL,                             -- aal1 | aal2
    methods jsonb NOT NULL,                        -- [{method, completed_at}]
    authenticated_at timestamptz NOT NULL,
    issued_at timestamptz NOT NULL,                -- also when the device was first seen
    expires_at timestamptz NOT NULL,               -- absolute expiry
    idle_timeout_seconds bigint NOT NULL,          -- the idle timeout in force when it started
    last_seen_at timestamptz NOT NULL,             -- written at most once a minute
    ip_address text,                               -- latest device IP address
    user_agent text                                -- latest device user agent
);
CREATE INDEX sessions_identity ON sessions (tenant_id, identity_id, id);
CREATE INDEX sessions_tenant ON sessions (tenant_id, id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

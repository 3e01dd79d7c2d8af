-- The backend-for-frontend's state. A sign-in in progress is keyed by the SHA-256 of the random
-- cookie that binds it to the browser; taking it for the callback deletes it, so a replayed
-- callback finds nothing.
CREATE TABLE bff_logins (
    browser_hash bytea PRIMARY KEY,
    state text NOT NULL,                           -- compared with the callback's `state`
    nonce text NOT NULL,                           -- compared with the ID token's `nonce`
    code_verifier text NOT NULL,                   -- PKCE; short-lived and single-use
    return_url text NOT NULL,                      -- a local path, checked before it is stored
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL                    -- cleanup removes the row after this
);
CREATE INDEX bff_logins_expiry ON bff_logins (expires_at);

-- Signed-in browsers, keyed by the SHA-256 of the session cookie (the cookie itself is never
-- stored). The provider's tokens live here and only here: the browser never sees them.
CREATE TABLE bff_sessions (
    id_hash bytea PRIMARY KEY,
    subject text NOT NULL,
    claims_document jsonb NOT NULL,                 -- the ID token's claims, for /bff/user
    id_token text NOT NULL,                        -- the id_token_hint at logout
    access_token text NOT NULL,
    refresh_token text,                            -- absent without offline_access
    access_issued_at timestamptz NOT NULL,             -- with the expiry, the token's lifetime
    access_expires_at timestamptz NOT NULL,            -- refresh a little before this
    version bigint NOT NULL,                       -- compare-and-swap guard on token updates
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL                    -- sliding: moved forward on use
);
CREATE INDEX bff_sessions_expiry ON bff_sessions (expires_at);

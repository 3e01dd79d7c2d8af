-- The backend-for-frontend's state. A sign-in in progress is keyed by the SHA-256 of the random
-- cookie that binds it to the browser; taking it for the callback deletes it, so a replayed
-- callback finds nothing.
CREATE TABLE bff_logins (
    browser_hash BLOB PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,                           -- compared with the callback's `state`
    nonce TEXT NOT NULL,                           -- compared with the ID token's `nonce`
    code_verifier TEXT NOT NULL,                   -- PKCE; short-lived and single-use
    return_url TEXT NOT NULL,                      -- a local path, checked before it is stored
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL                    -- cleanup removes the row after this
);
CREATE INDEX bff_logins_expiry ON bff_logins (expires_at);

-- Signed-in browsers, keyed by the SHA-256 of the session cookie (the cookie itself is never
-- stored). The provider's tokens live here and only here: the browser never sees them.
CREATE TABLE bff_sessions (
    id_hash BLOB PRIMARY KEY NOT NULL,
    subject TEXT NOT NULL,
    claims_document TEXT NOT NULL,                 -- the ID token's claims, for /bff/user
    id_token TEXT NOT NULL,                        -- the id_token_hint at logout
    access_token TEXT NOT NULL,
    refresh_token TEXT,                            -- absent without offline_access
    access_issued_at INTEGER NOT NULL,             -- with the expiry, the token's lifetime
    access_expires_at INTEGER NOT NULL,            -- refresh a little before this
    version BIGINT NOT NULL,                       -- compare-and-swap guard on token updates
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL                    -- sliding: moved forward on use
);
CREATE INDEX bff_sessions_expiry ON bff_sessions (expires_at);

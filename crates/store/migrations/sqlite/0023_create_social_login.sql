-- Social login per tenant ("app"): the upstream providers an app signs its users in with, the
-- sign-ins in progress, the links from a provider account to an identity, and the one-time codes
-- an app's backend exchanges for the user's token.

-- Providers, one row per tenant and name (the `{provider}` of /api/auth/{provider}/{app_id}).
CREATE TABLE social_providers (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,                            -- github | google | oidc
    issuer TEXT,                                   -- OpenID providers: discovery is read from it
    client_id TEXT NOT NULL,
    client_secret BLOB NOT NULL,                   -- sealed with the cipher; never in the clear
    scopes TEXT NOT NULL,                          -- space-separated
    redirect_uri TEXT NOT NULL,                    -- the app's page the browser lands on afterwards
    enabled INTEGER NOT NULL,
    token_in_redirect INTEGER NOT NULL,            -- opt-in: the token itself in that redirect
    endpoints TEXT NOT NULL,                       -- JSON: endpoint overrides
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- A sign-in sent to a provider, keyed by the SHA-256 of its `state`; taking it deletes it.
CREATE TABLE social_logins (
    state_hash BLOB PRIMARY KEY NOT NULL,
    browser_hash BLOB NOT NULL,                    -- SHA-256 of the cookie that binds it to the browser
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    provider TEXT NOT NULL,
    code_verifier TEXT NOT NULL,                   -- PKCE; single-use
    nonce TEXT NOT NULL,                           -- compared with the ID token's (OpenID providers)
    app_state TEXT,                                -- the app's own `state`, given back at the end
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX social_logins_expiry ON social_logins (expires_at);

-- Which identity a provider account signs in as.
CREATE TABLE social_links (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,                         -- the provider's stable user id
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, provider, subject)
);
CREATE INDEX social_links_identity ON social_links (identity_id);

-- One-time codes for an app's backend (after social login or a magic link), keyed by SHA-256.
CREATE TABLE exchange_codes (
    code_hash BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    method TEXT NOT NULL,                          -- how the person signed in: the provider, magic_link
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX exchange_codes_expiry ON exchange_codes (expires_at);

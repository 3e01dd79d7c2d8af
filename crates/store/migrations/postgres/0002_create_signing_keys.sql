-- Token signing keys. Instance-wide (not per tenant): every tenant's tokens share one issuer.
CREATE TABLE signing_keys (
    kid text PRIMARY KEY,
    alg text NOT NULL,                      -- ES256 (access tokens) or RS256 (ID tokens)
    private_key_sealed bytea NOT NULL,      -- PKCS#8 DER, AES-256-GCM with the cipher secret
    public_jwk jsonb NOT NULL,              -- exactly as published in the JWKS
    created_at timestamptz NOT NULL,
    signs_from timestamptz NOT NULL,        -- published before it signs, so caches learn it first
    published_until timestamptz             -- NULL while current; set on rotation to outlive its tokens
);

-- Token signing keys. Instance-wide (not per tenant): every tenant's tokens share one issuer.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL,                      -- ES256 (access tokens) or RS256 (ID tokens)
    private_key_sealed BLOB NOT NULL,       -- PKCS#8 DER, AES-256-GCM with the cipher secret
    public_jwk TEXT NOT NULL,               -- JSON, exactly as published in the JWKS
    created_at INTEGER NOT NULL,
    signs_from INTEGER NOT NULL,            -- published before it signs, so caches learn it first
    published_until INTEGER                 -- NULL while current; set on rotation to outlive its tokens
);

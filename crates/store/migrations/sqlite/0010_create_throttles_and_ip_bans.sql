-- Failed logins, one row per failure, so concurrent failures on any number of nodes all count
-- (no read-modify-write of a counter). The key is the SHA-256 of tenant, kind and normalized
-- identifier or address: no address is stored in the clear.
CREATE TABLE throttle_failures (
    id BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    key_hash BLOB NOT NULL,
    occurred_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL                    -- after this the failure no longer matters; cleanup removes it
);
CREATE INDEX throttle_failures_key ON throttle_failures (key_hash, occurred_at);
CREATE INDEX throttle_failures_expiry ON throttle_failures (expires_at);

-- Keys currently locked out, one row per key: inserting it (or replacing an expired one) is how
-- exactly one node learns that a key just went over its budget, and records the audit event.
CREATE TABLE throttle_lockouts (
    key_hash BLOB PRIMARY KEY NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    expires_at INTEGER NOT NULL                -- end of the lockout
);
CREATE INDEX throttle_lockouts_expiry ON throttle_lockouts (expires_at);

-- Addresses and networks refused on the public listener. Instance-wide: the listener serves
-- every tenant.
CREATE TABLE ip_bans (
    id BLOB PRIMARY KEY NOT NULL,
    cidr TEXT NOT NULL,                            -- canonical form, host bits cleared: 10.0.0.0/8, 2001:db8::/32
    reason TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER                             -- NULL: until removed
);
CREATE INDEX ip_bans_expiry ON ip_bans (expires_at);

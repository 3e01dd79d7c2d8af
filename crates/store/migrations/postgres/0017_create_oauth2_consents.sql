-- Consent grants: one row per person and client. `scope` is space-separated; a remembered grant
-- that covers a request skips the consent page.
CREATE TABLE oauth2_consents (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    client_id text NOT NULL,
    scope text NOT NULL,
    remembered boolean NOT NULL,
    created_at timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, identity_id, client_id)
);
CREATE INDEX oauth2_consents_client ON oauth2_consents (tenant_id, client_id);

-- Tenants ("apps" in the developer console). Every row that belongs to a tenant points here.
CREATE TABLE tenants (
    id uuid PRIMARY KEY,                    -- the app id in tenant API URLs
    name text NOT NULL,
    settings jsonb NOT NULL DEFAULT '{}',   -- magic links, allowed return URLs, ...
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- The default tenant exists from the start, so single-product installs never see the concept.
INSERT INTO tenants (id, name, settings, created_at, updated_at)
VALUES ('00000000-0000-0000-0000-000000000001', 'default', '{}', 'epoch', 'epoch');

-- Instance-wide values that are not configuration: in --dev, the generated secrets, so a restart
-- keeps sessions, keys and the admin token.
CREATE TABLE instance_settings (
    name text PRIMARY KEY,
    value text NOT NULL
);

-- Tenants ("apps" in the developer console). Every row that belongs to a tenant points here.
CREATE TABLE tenants (
    id BLOB PRIMARY KEY NOT NULL,          -- UUID; the app id in tenant API URLs
    name TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',   -- JSON: magic links, allowed return URLs, ...
    created_at INTEGER NOT NULL,           -- unix microseconds (sorts correctly, unlike RFC 3339 text)
    updated_at INTEGER NOT NULL
);

-- The default tenant exists from the start, so single-product installs never see the concept.
INSERT INTO tenants (id, name, settings, created_at, updated_at)
VALUES (X'00000000000000000000000000000001', 'default', '{}', 0, 0);

-- Instance-wide values that are not configuration: in --dev, the generated secrets, so a restart
-- keeps sessions, keys and the admin token.
CREATE TABLE instance_settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

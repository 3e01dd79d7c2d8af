-- The scope catalog: per tenant, what each scope means to people (display name and description
-- on the consent page), which claims granting it releases, and whether it may be requested at all.
-- A client's registered scope stays the authority on what it may request; a scope missing here
-- is allowed when the client lists it, one held here as inactive is refused.
CREATE TABLE oauth2_scopes (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,                            -- one RFC 6749 scope token
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    claims TEXT NOT NULL,                          -- JSON array of the claim names it releases
    active INTEGER NOT NULL,                       -- false: refused wherever it is requested
    builtin INTEGER NOT NULL,                      -- shipped with Gatehouse: never deleted, only deactivated
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- The built-in scopes of the default tenant, seeded here rather than at start-up so every node
-- sees the same rows without racing to insert them (the list matches
-- gatehouse_domain::oauth::catalog::BUILTIN; a store conformance test keeps them equal).
INSERT INTO oauth2_scopes (tenant_id, name, display_name, description, claims, active, builtin, created_at, updated_at) VALUES
    (X'00000000000000000000000000000001', 'openid', 'Sign In', 'Sign you in to this application with your account and tell it your account identifier', '["sub"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'profile', 'Profile', 'Your name, nickname, username, profile page, picture, website, gender, birthdate, time zone and language, and when they last changed', '["name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'email', 'Email Address', 'Your email address and whether it is verified', '["email", "email_verified"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'address', 'Address', 'Your postal address', '["address"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'phone', 'Phone Number', 'Your phone number and whether it is verified', '["phone_number", "phone_number_verified"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'offline_access', 'Stay Signed In', 'Stay signed in to this application: it may keep access when you are away', '[]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'id', 'User ID', 'Your unique account identifier', '["id"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'username', 'Username', 'Your username', '["username"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'full_name', 'Full Name', 'Your first and last name combined', '["full_name"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'first_name', 'First Name', 'Your first name', '["first_name"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'last_name', 'Last Name', 'Your last name', '["last_name"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'display_name', 'Display Name', 'The name you prefer to be shown', '["display_name"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'bio', 'Biography', 'Your personal biography', '["bio"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'website', 'Website', 'Your personal website address', '["website"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'location', 'Location', 'Your location', '["location"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'date_of_birth', 'Date of Birth', 'Your date of birth', '["date_of_birth"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'created_at', 'Account Created', 'When your account was registered', '["created_at"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'is_verified', 'Email Verified', 'Whether your email address is verified', '["is_verified"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000),
    (X'00000000000000000000000000000001', 'tenant_id', 'Tenant', 'The identifier of the app your account belongs to', '["tenant_id"]', 1, 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);

-- The scope catalog: per tenant, what each scope means to people (display name and description
-- on the consent page), which claims granting it releases, and whether it may be requested at all.
-- A client's registered scope stays the authority on what it may request; a scope missing here
-- is allowed when the client lists it, one held here as inactive is refused.
CREATE TABLE oauth2_scopes (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name text NOT NULL,                            -- one RFC 6749 scope token
    display_name text NOT NULL,
    description text NOT NULL,
    claims jsonb NOT NULL,                         -- array of the claim names it releases
    active boolean NOT NULL,                       -- false: refused wherever it is requested
    builtin boolean NOT NULL,                      -- shipped with Gatehouse: never deleted, only deactivated
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- The built-in scopes of the default tenant, seeded here rather than at start-up so every node
-- sees the same rows without racing to insert them (the list matches
-- gatehouse_domain::oauth::catalog::BUILTIN; a store conformance test keeps them equal).
INSERT INTO oauth2_scopes (tenant_id, name, display_name, description, claims, active, builtin, created_at, updated_at) VALUES
    ('00000000-0000-0000-0000-000000000001', 'openid', 'Sign In', 'Sign you in to this application with your account and tell it your account identifier', '["sub"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'profile', 'Profile', 'Your name, nickname, username, profile page, picture, website, gender, birthdate, time zone and language, and when they last changed', '["name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'email', 'Email Address', 'Your email address and whether it is verified', '["email", "email_verified"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'address', 'Address', 'Your postal address', '["address"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'phone', 'Phone Number', 'Your phone number and whether it is verified', '["phone_number", "phone_number_verified"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'offline_access', 'Stay Signed In', 'Stay signed in to this application: it may keep access when you are away', '[]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'id', 'User ID', 'Your unique account identifier', '["id"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'username', 'Username', 'Your username', '["username"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'full_name', 'Full Name', 'Your first and last name combined', '["full_name"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'first_name', 'First Name', 'Your first name', '["first_name"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'last_name', 'Last Name', 'Your last name', '["last_name"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'display_name', 'Display Name', 'The name you prefer to be shown', '["display_name"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'bio', 'Biography', 'Your personal biography', '["bio"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'website', 'Website', 'Your personal website address', '["website"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'location', 'Location', 'Your location', '["location"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'date_of_birth', 'Date of Birth', 'Your date of birth', '["date_of_birth"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'created_at', 'Account Created', 'When your account was registered', '["created_at"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'is_verified', 'Email Verified', 'Whether your email address is verified', '["is_verified"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000001', 'tenant_id', 'Tenant', 'The identifier of the app your account belongs to', '["tenant_id"]', true, true, now(), now());

-- The developer console's own tenant: developers are its identities (they sign up, verify, sign
-- in and recover through the ordinary self-service flows with `?tenant=` this id). It is built
-- in: it can be renamed but never deleted, and it is nobody's app.
INSERT INTO tenants (id, name, settings, created_at, updated_at)
VALUES ('00000000-0000-0000-0000-000000000002', 'Gatehouse console', '{}', now(), now());

-- Like every tenant, it starts with the built-in scope catalog (the list of 0014, which a store
-- conformance test keeps equal to gatehouse_domain::oauth::catalog::BUILTIN).
INSERT INTO oauth2_scopes (tenant_id, name, display_name, description, claims, active, builtin, created_at, updated_at) VALUES
    ('00000000-0000-0000-0000-000000000002', 'openid', 'Sign In', 'Sign you in to this application with your account and tell it your account identifier', '["sub"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'profile', 'Profile', 'Your name, nickname, username, profile page, picture, website, gender, birthdate, time zone and language, and when they last changed', '["name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'email', 'Email Address', 'Your email address and whether it is verified', '["email", "email_verified"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'address', 'Address', 'Your postal address', '["address"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'phone', 'Phone Number', 'Your phone number and whether it is verified', '["phone_number", "phone_number_verified"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'offline_access', 'Stay Signed In', 'Stay signed in to this application: it may keep access when you are away', '[]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'id', 'User ID', 'Your unique account identifier', '["id"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'username', 'Username', 'Your username', '["username"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'full_name', 'Full Name', 'Your first and last name combined', '["full_name"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'first_name', 'First Name', 'Your first name', '["first_name"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'last_name', 'Last Name', 'Your last name', '["last_name"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'display_name', 'Display Name', 'The name you prefer to be shown', '["display_name"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'bio', 'Biography', 'Your personal biography', '["bio"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'website', 'Website', 'Your personal website address', '["website"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'location', 'Location', 'Your location', '["location"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'date_of_birth', 'Date of Birth', 'Your date of birth', '["date_of_birth"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'created_at', 'Account Created', 'When your account was registered', '["created_at"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'is_verified', 'Email Verified', 'Whether your email address is verified', '["is_verified"]', true, true, now(), now()),
    ('00000000-0000-0000-0000-000000000002', 'tenant_id', 'Tenant', 'The identifier of the app your account belongs to', '["tenant_id"]', true, true, now(), now());

-- Which developer (an identity of the console tenant) owns which app (a tenant). One owner per
-- app; an app created through the admin API has no row and no developer sees it. Deleting the
-- app deletes its row (tenant_id makes it tenant-owned); deleting the developer's identity
-- deletes the row and leaves the app to the operators.
CREATE TABLE console_app_owners (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),                      -- the app
    identity_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,  -- the developer
    created_at timestamptz NOT NULL
);
-- "My apps": a developer's apps in creation order (tenant ids are UUIDv7).
CREATE INDEX console_app_owners_identity ON console_app_owners (identity_id, tenant_id);

// Machine-to-machine OAuth 2.0 against a live Gatehouse, driven by independent client
// libraries: openid-client v6 (built on oauth4webapi) for discovery, dynamic registration,
// the client credentials grant, introspection and revocation; jose for JWT verification.
//
// Started by e2e/run.sh, which passes E2E_ISSUER, E2E_ADMIN_URL, E2E_ADMIN_TOKEN and
// E2E_KEY_PUBLISH_AHEAD_SECONDS.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import * as jose from 'jose';

const ISSUER = requiredEnv('E2E_ISSUER');
const ADMIN_URL = requiredEnv('E2E_ADMIN_URL');
const ADMIN_TOKEN = requiredEnv('E2E_ADMIN_TOKEN');
// How long a rotated key is published before it signs (oauth2.key_publish_ahead; 30 s by default).
const PUBLISH_AHEAD_SECONDS = Number(process.env.E2E_KEY_PUBLISH_AHEAD_SECONDS ?? 30);

const API = 'https://api.example';
const SCOPES = 'api:read api:write';
// The issuer is plain HTTP on loopback (dev mode), which openid-client refuses unless told.
const INSECURE = { execute: [client.allowInsecureRequests] };

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the suite through e2e/run.sh`);
  }
  return value;
}

/** A unique client name, so every run and every test registers distinct clients. */
const unique = (label) => `e2e-${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** A call to the admin API; answers the parsed JSON body (or null) and the status. */
async function admin(method, path, body) {
  const response = await fetch(new URL(path, ADMIN_URL), {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

/** Registers a client through RFC 7591 with openid-client; answers its configuration. */
async function register(metadata, auth = client.ClientSecretBasic()) {
  return client.dynamicClientRegistration(
    new URL(ISSUER),
    {
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPES,
      audience: [API],
      ...metadata,
    },
    auth,
    INSECURE,
  );
}

/** A configuration for a known client (discovery on every call, as a real client would). */
function configure(clientId, secret, auth) {
  return client.discovery(new URL(ISSUER), clientId, { client_secret: secret }, auth, INSECURE);
}

/** Runs `fn`, expecting an OAuth error from openid-client; answers the error. */
async function rejectsWithOAuthError(fn, { error, status }) {
  let caught;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, `expected an ${error} error, but the call succeeded`);
  // A 401 with a WWW-Authenticate challenge surfaces as WWWAuthenticateChallengeError
  // (oauth4webapi checks challenges first); a body error as ResponseBodyError.
  assert.ok(
    caught instanceof client.ResponseBodyError || caught instanceof client.WWWAuthenticateChallengeError,
    `expected an OAuth error response, got ${caught?.name}: ${caught?.message}`,
  );
  assert.equal(caught.status, status, `HTTP status for ${error}`);
  let body = caught.cause;
  if (caught instanceof client.WWWAuthenticateChallengeError) {
    // The challenge error carries the untouched response: read the RFC 6749 §5.2 body from it.
    body = await caught.response.json();
  }
  assert.equal(body.error, error);
  if (body.error_description !== undefined) {
    assert.equal(typeof body.error_description, 'string');
  }
  return caught;
}

let metadata; // the discovered server metadata
let jwks; // a remote JWKS for jose

before(async () => {
  const config = await client.discovery(new URL(ISSUER), 'e2e-discovery-only', undefined, undefined, INSECURE);
  metadata = config.serverMetadata();
  jwks = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));
});

/** Verifies an access token as a resource server would (RFC 9068 §4). */
function verifyAccessToken(token, keys = jwks) {
  return jose.jwtVerify(token, keys, {
    issuer: ISSUER,
    audience: API,
    typ: 'at+jwt',
    algorithms: ['ES256'],
    requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
  });
}

describe('discovery', () => {
  test('OpenID Connect discovery names this issuer and its endpoints', () => {
    assert.equal(metadata.issuer, ISSUER);
    assert.equal(metadata.token_endpoint, `${ISSUER}/oauth2/token`);
    assert.equal(metadata.jwks_uri, `${ISSUER}/.well-known/jwks.json`);
    assert.equal(metadata.introspection_endpoint, `${ISSUER}/oauth2/introspect`);
    assert.equal(metadata.revocation_endpoint, `${ISSUER}/oauth2/revoke`);
    assert.equal(metadata.registration_endpoint, `${ISSUER}/oauth2/register`);
    assert.ok(metadata.grant_types_supported.includes('client_credentials'));
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      assert.ok(metadata.token_endpoint_auth_methods_supported.includes(method), method);
      assert.ok(metadata.introspection_endpoint_auth_methods_supported.includes(method), method);
      assert.ok(metadata.revocation_endpoint_auth_methods_supported.includes(method), method);
    }
  });

  test('RFC 8414 metadata (oauth2 algorithm) is the same document', async () => {
    const config = await client.discovery(new URL(ISSUER), 'e2e-discovery-only', undefined, undefined, {
      ...INSECURE,
      algorithm: 'oauth2',
    });
    assert.deepEqual(config.serverMetadata(), metadata);
  });

  test('the JWKS publishes public ES256 keys with kids', async () => {
    const response = await fetch(metadata.jwks_uri);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/(jwk-set\+)?json/);
    const { keys } = await response.json();
    const ec = keys.filter((k) => k.kty === 'EC');
    assert.ok(ec.length >= 1, 'at least one EC key');
    for (const key of keys) {
      assert.equal(typeof key.kid, 'string');
      assert.ok(key.kid.length > 0);
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
        assert.equal(key[secret], undefined, `private member ${secret} of ${key.kid} is not published`);
      }
    }
    assert.ok(ec.every((k) => k.crv === 'P-256'));
  });
});

describe('dynamic client registration (RFC 7591/7592)', () => {
  test('registers a confidential client and reads it back with its registration token', async () => {
    const name = unique('dcr');
    const config = await register({ client_name: name });
    const registered = config.clientMetadata();

    assert.equal(typeof registered.client_id, 'string');
    assert.ok(registered.client_id.length > 0);
    assert.equal(typeof registered.client_secret, 'string');
    assert.ok(registered.client_secret.length >= 16);
    assert.equal(registered.client_name, name);
    assert.deepEqual(registered.grant_types, ['client_credentials']);
    assert.equal(registered.token_endpoint_auth_method, 'client_secret_basic');
    assert.equal(registered.scope, SCOPES);
    assert.deepEqual(registered.audience, [API]);
    assert.equal(typeof registered.client_id_issued_at, 'number');
    assert.equal(registered.client_secret_expires_at, 0);
    assert.equal(typeof registered.registration_access_token, 'string');
    assert.ok(registered.registration_access_token.length > 0);
    assert.equal(registered.registration_client_uri, `${ISSUER}/oauth2/register/${registered.client_id}`);

    // RFC 7592 §2.1: read with the registration access token.
    const read = await fetch(registered.registration_client_uri, {
      headers: { authorization: `Bearer ${registered.registration_access_token}` },
    });
    assert.equal(read.status, 200);
    const body = await read.json();
    assert.equal(body.client_id, registered.client_id);
    assert.equal(body.client_name, name);
    assert.equal(body.scope, SCOPES);
    assert.deepEqual(body.audience, [API]);
    assert.equal(body.registration_client_uri, registered.registration_client_uri);
    assert.equal(body.client_secret, undefined, 'the secret is not shown again');

    // A wrong registration token is refused without saying whether the client exists.
    const refused = await fetch(registered.registration_client_uri, {
      headers: { authorization: 'Bearer not-the-registration-token' },
    });
    assert.equal(refused.status, 401);
    await refused.body?.cancel();

    // RFC 7592 §2.3: the client deletes itself; the client is then gone.
    const deleted = await fetch(registered.registration_client_uri, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${registered.registration_access_token}` },
    });
    assert.equal(deleted.status, 204);
    const gone = await fetch(registered.registration_client_uri, {
      headers: { authorization: `Bearer ${registered.registration_access_token}` },
    });
    assert.equal(gone.status, 401);
    await gone.body?.cancel();
  });

  test('rejects a client asking for a grant type this server does not know', async () => {
    const response = await fetch(metadata.registration_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: unique('bad'), grant_types: ['urn:example:no-such-grant'] }),
    });
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.error, 'invalid_client_metadata');
  });

  test('an update (RFC 7592 PUT) takes effect at the token endpoint at once', async () => {
    const config = await register({ client_name: unique('update') });
    const registered = config.clientMetadata();
    const put = await fetch(registered.registration_client_uri, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${registered.registration_access_token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        client_id: registered.client_id,
        client_name: `${registered.client_name}-renamed`,
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'api:read',
        audience: [API],
      }),
    });
    assert.equal(put.status, 200);
    const updated = await put.json();
    assert.equal(updated.client_id, registered.client_id);
    assert.equal(updated.client_name, `${registered.client_name}-renamed`);
    assert.equal(updated.scope, 'api:read');

    // The old secret still works; the scope it lost is refused.
    const tokens = await client.clientCredentialsGrant(config);
    assert.equal(tokens.scope, 'api:read');
    await rejectsWithOAuthError(() => client.clientCredentialsGrant(config, { scope: 'api:write' }), {
      error: 'invalid_scope',
      status: 400,
    });
  });

  test('a deleted client (RFC 7592 DELETE) loses its credentials and its tokens', async () => {
    const config = await register({ client_name: unique('delete') });
    const registered = config.clientMetadata();
    const tokens = await client.clientCredentialsGrant(config);
    const observer = await register({ client_name: unique('observer') });
    assert.equal((await client.tokenIntrospection(observer, tokens.access_token)).active, true);

    const deleted = await fetch(registered.registration_client_uri, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${registered.registration_access_token}` },
    });
    assert.equal(deleted.status, 204);

    await rejectsWithOAuthError(() => client.clientCredentialsGrant(config), {
      error: 'invalid_client',
      status: 401,
    });
    assert.deepEqual({ ...(await client.tokenIntrospection(observer, tokens.access_token)) }, { active: false });
  });
});

describe('client credentials with awkward characters (RFC 6749 §2.3.1 encoding)', () => {
  // Visible ASCII that form-urlencoding must escape in the id, and spaces, reserved and
  // non-ASCII characters in the secret.
  const id = unique('id:with+plus%25/slash?&=');
  const secret = 'p@ss: w+rd/%20&=é-ü-€-0123456789-abcdefghij';
  const created = [];

  before(async () => {
    for (const [suffix, method] of [['basic', 'client_secret_basic'], ['post', 'client_secret_post']]) {
      const answer = await admin('POST', '/admin/clients', {
        client_id: `${id}-${suffix}`,
        client_secret: secret,
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: method,
        scope: SCOPES,
        audience: [API],
      });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      assert.equal(answer.body.client_id, `${id}-${suffix}`);
      created.push(answer.body.client_id);
    }
  });

  after(async () => {
    for (const clientId of created) {
      const answer = await admin('DELETE', `/admin/clients/${encodeURIComponent(clientId)}`);
      assert.equal(answer.status, 204);
    }
  });

  for (const [suffix, auth] of [
    ['basic', client.ClientSecretBasic],
    ['post', client.ClientSecretPost],
  ]) {
    test(`client_secret_${suffix} round-trips the id and secret`, async () => {
      const config = await configure(`${id}-${suffix}`, secret, auth(secret));
      const tokens = await client.clientCredentialsGrant(config, { scope: 'api:read' });
      const { payload } = await verifyAccessToken(tokens.access_token);
      assert.equal(payload.client_id, `${id}-${suffix}`);
      assert.equal(payload.sub, `${id}-${suffix}`);
      const info = await client.tokenIntrospection(config, tokens.access_token);
      assert.equal(info.active, true);
      assert.equal(info.client_id, `${id}-${suffix}`);
      await client.tokenRevocation(config, tokens.access_token);
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
    });
  }
});

describe('client credentials with client_secret_basic', () => {
  let config; // the registered client's configuration
  let registered; // its metadata as answered by the server
  let tokens; // the token endpoint response

  before(async () => {
    config = await register({ client_name: unique('basic') });
    registered = config.clientMetadata();
    tokens = await client.clientCredentialsGrant(config, { scope: 'api:read' });
  });

  test('the token response is a bearer token with the granted scope', () => {
    assert.equal(typeof tokens.access_token, 'string');
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(typeof tokens.expires_in, 'number');
    assert.ok(tokens.expires_in > 0 && tokens.expires_in <= 24 * 3600);
    assert.equal(tokens.scope, 'api:read');
    assert.equal(tokens.refresh_token, undefined, 'no refresh token for client credentials');
  });

  test('the access token is an ES256 at+jwt that jose verifies against the JWKS', async () => {
    const { payload, protectedHeader } = await verifyAccessToken(tokens.access_token);
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(typeof protectedHeader.kid, 'string');

    assert.equal(payload.iss, ISSUER);
    assert.equal(payload.sub, registered.client_id);
    assert.equal(payload.client_id, registered.client_id);
    assert.deepEqual(payload.aud, [API]);
    assert.equal(payload.scope, 'api:read');
    assert.match(payload.tenant_id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    assert.equal(typeof payload.jti, 'string');
    assert.ok(payload.jti.length >= 16);
    assert.equal(payload.nbf, payload.iat);
    assert.equal(payload.exp - payload.iat, tokens.expires_in);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(payload.iat - now) <= 5, 'iat is now');
  });

  test('jose rejects the token for another audience or issuer', async () => {
    await assert.rejects(
      jose.jwtVerify(tokens.access_token, jwks, { issuer: ISSUER, audience: 'https://other.example' }),
      { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' },
    );
    await assert.rejects(
      jose.jwtVerify(tokens.access_token, jwks, { issuer: 'https://not-the-issuer.example', audience: API }),
      { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' },
    );
  });

  test('without a scope parameter, every registered scope is granted', async () => {
    const all = await client.clientCredentialsGrant(config);
    const { payload } = await verifyAccessToken(all.access_token);
    assert.deepEqual(payload.scope.split(' ').sort(), SCOPES.split(' ').sort());
    assert.notEqual(payload.jti, jose.decodeJwt(tokens.access_token).jti, 'each token has its own jti');
  });

  test('introspection says active, with the token claims (RFC 7662)', async () => {
    const { payload } = await verifyAccessToken(tokens.access_token);
    const info = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(info.active, true);
    assert.equal(info.client_id, registered.client_id);
    assert.equal(info.sub, registered.client_id);
    assert.equal(info.scope, 'api:read');
    assert.equal(info.iss, ISSUER);
    assert.equal(info.jti, payload.jti);
    assert.equal(info.exp, payload.exp);
    assert.equal(info.iat, payload.iat);
    assert.equal(info.nbf, payload.nbf);
    assert.deepEqual(info.aud, [API]);
    assert.equal(info.tenant_id, payload.tenant_id);
    assert.equal(info.token_type.toLowerCase(), 'bearer');
  });

  test('introspecting garbage is {active:false} and nothing more', async () => {
    const info = await client.tokenIntrospection(config, 'not-a-token');
    assert.deepEqual({ ...info }, { active: false });
  });

  test('revocation (RFC 7009) makes introspection answer {active:false}', async () => {
    const fresh = await client.clientCredentialsGrant(config, { scope: 'api:write' });
    assert.equal((await client.tokenIntrospection(config, fresh.access_token)).active, true);

    await client.tokenRevocation(config, fresh.access_token, { token_type_hint: 'access_token' });
    const info = await client.tokenIntrospection(config, fresh.access_token);
    assert.deepEqual({ ...info }, { active: false });

    // Revoking again, or revoking an unknown token, still answers 200 (RFC 7009 §2.2).
    await client.tokenRevocation(config, fresh.access_token);
    await client.tokenRevocation(config, 'never-issued');

    // The other token of this client is untouched.
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
  });

  test('a wrong secret is invalid_client with 401', async () => {
    const wrong = await configure(registered.client_id, 'wrong-secret', client.ClientSecretBasic('wrong-secret'));
    const err = await rejectsWithOAuthError(() => client.clientCredentialsGrant(wrong), {
      error: 'invalid_client',
      status: 401,
    });
    // RFC 6749 §5.2: a client that used the Authorization header gets a challenge back.
    assert.match(err.response.headers.get('www-authenticate') ?? '', /^Basic\b/i);
  });

  test('an unknown client is invalid_client with 401', async () => {
    const stranger = await configure('no-such-client', 'whatever', client.ClientSecretBasic('whatever'));
    await rejectsWithOAuthError(() => client.clientCredentialsGrant(stranger), {
      error: 'invalid_client',
      status: 401,
    });
  });

  test('a wrong secret cannot introspect either', async () => {
    const wrong = await configure(registered.client_id, 'wrong-secret', client.ClientSecretBasic('wrong-secret'));
    await rejectsWithOAuthError(() => client.tokenIntrospection(wrong, tokens.access_token), {
      error: 'invalid_client',
      status: 401,
    });
  });

  test('a scope the client was not registered for is invalid_scope', async () => {
    await rejectsWithOAuthError(() => client.clientCredentialsGrant(config, { scope: 'api:read api:admin' }), {
      error: 'invalid_scope',
      status: 400,
    });
  });

  test('an audience the client was not registered for is refused', async () => {
    await rejectsWithOAuthError(
      () => client.clientCredentialsGrant(config, { audience: 'https://elsewhere.example' }),
      { error: 'invalid_target', status: 400 },
    );
  });

  test('a client may not revoke another client\'s token', async () => {
    const other = await register({ client_name: unique('other') });
    await rejectsWithOAuthError(() => client.tokenRevocation(other, tokens.access_token), {
      error: 'unauthorized_client',
      status: 400,
    });
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
  });
});

describe('client credentials with client_secret_post', () => {
  let config;
  let registered;

  before(async () => {
    config = await register(
      { client_name: unique('post'), token_endpoint_auth_method: 'client_secret_post' },
      client.ClientSecretPost(),
    );
    registered = config.clientMetadata();
    assert.equal(registered.token_endpoint_auth_method, 'client_secret_post');
  });

  test('gets, introspects and revokes a token with credentials in the form body', async () => {
    // A fresh configuration from discovery, as a client configured from stored credentials.
    const fresh = await configure(
      registered.client_id,
      registered.client_secret,
      client.ClientSecretPost(registered.client_secret),
    );
    const tokens = await client.clientCredentialsGrant(fresh, { scope: 'api:write' });
    const { payload } = await verifyAccessToken(tokens.access_token);
    assert.equal(payload.client_id, registered.client_id);
    assert.equal(payload.scope, 'api:write');

    const info = await client.tokenIntrospection(fresh, tokens.access_token);
    assert.equal(info.active, true);
    assert.equal(info.client_id, registered.client_id);

    await client.tokenRevocation(fresh, tokens.access_token);
    assert.deepEqual({ ...(await client.tokenIntrospection(fresh, tokens.access_token)) }, { active: false });
  });

  test('the method must be the registered one: basic is refused for a post client', async () => {
    const basic = await configure(
      registered.client_id,
      registered.client_secret,
      client.ClientSecretBasic(registered.client_secret),
    );
    await rejectsWithOAuthError(() => client.clientCredentialsGrant(basic), {
      error: 'invalid_client',
      status: 401,
    });
  });

  test('a wrong secret in the form body is invalid_client with 401', async () => {
    const wrong = await configure(registered.client_id, 'wrong-secret', client.ClientSecretPost('wrong-secret'));
    await rejectsWithOAuthError(() => client.clientCredentialsGrant(wrong), {
      error: 'invalid_client',
      status: 401,
    });
  });
});

describe('opaque access tokens (client created through the admin API)', () => {
  let created;
  let config;

  before(async () => {
    const answer = await admin('POST', '/admin/clients', {
      client_name: unique('opaque'),
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPES,
      audience: [API],
      access_token_strategy: 'opaque',
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    created = answer.body;
    assert.equal(created.access_token_strategy, 'opaque');
    assert.equal(typeof created.client_secret, 'string');
    config = await configure(created.client_id, created.client_secret, client.ClientSecretBasic(created.client_secret));
  });

  after(async () => {
    if (created) {
      const answer = await admin('DELETE', `/admin/clients/${encodeURIComponent(created.client_id)}`);
      assert.equal(answer.status, 204);
    }
  });

  test('the admin API refuses a wrong admin token', async () => {
    const response = await fetch(new URL('/admin/clients', ADMIN_URL), {
      headers: { authorization: 'Bearer not-the-admin-token' },
    });
    assert.equal(response.status, 401);
    await response.body?.cancel();
  });

  test('the token is opaque, introspects active, then inactive after revocation', async () => {
    const tokens = await client.clientCredentialsGrant(config, { scope: 'api:read' });
    assert.ok(tokens.access_token.startsWith('gat_'), 'opaque tokens carry the gat_ prefix');
    assert.equal(tokens.access_token.split('.').length, 1, 'not a JWT');
    assert.throws(() => jose.decodeJwt(tokens.access_token));

    const info = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(info.active, true);
    assert.equal(info.client_id, created.client_id);
    assert.equal(info.sub, created.client_id);
    assert.equal(info.scope, 'api:read');
    assert.equal(info.iss, ISSUER);
    assert.deepEqual(info.aud, [API]);
    assert.equal(info.tenant_id, created.tenant_id);
    assert.ok(info.exp > info.iat);

    await client.tokenRevocation(config, tokens.access_token);
    assert.deepEqual({ ...(await client.tokenIntrospection(config, tokens.access_token)) }, { active: false });
  });

  test('another client of the tenant cannot revoke the opaque token', async () => {
    const tokens = await client.clientCredentialsGrant(config);
    const other = await register({ client_name: unique('other-opaque') });
    await rejectsWithOAuthError(() => client.tokenRevocation(other, tokens.access_token), {
      error: 'unauthorized_client',
      status: 400,
    });
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
  });
});

describe('signing key rotation (admin API)', () => {
  test('a new kid is published ahead, takes over signing, and old tokens still verify', async () => {
    const config = await register({ client_name: unique('rotation') });
    const before = await client.clientCredentialsGrant(config);
    const oldKid = jose.decodeProtectedHeader(before.access_token).kid;
    await verifyAccessToken(before.access_token);

    const keysBefore = (await (await fetch(metadata.jwks_uri)).json()).keys.map((k) => k.kid);
    assert.ok(keysBefore.includes(oldKid));

    const rotated = await admin('POST', '/admin/keys/rotate', { alg: 'ES256' });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal(rotated.body.rotated.length, 1);
    const newKid = rotated.body.rotated[0];
    assert.notEqual(newKid, oldKid);
    assert.ok(!keysBefore.includes(newKid));

    // The JWKS publishes both the new key (ahead of use) and the old one.
    const jwksAfter = await (await fetch(metadata.jwks_uri)).json();
    const kidsAfter = jwksAfter.keys.map((k) => k.kid);
    assert.ok(kidsAfter.includes(newKid), `new kid ${newKid} in ${kidsAfter}`);
    assert.ok(kidsAfter.includes(oldKid), `old kid ${oldKid} in ${kidsAfter}`);
    const newJwk = jwksAfter.keys.find((k) => k.kid === newKid);
    assert.equal(newJwk.kty, 'EC');
    assert.equal(newJwk.crv, 'P-256');
    assert.equal(newJwk.d, undefined);

    // The admin key list agrees: the new key is published, the old one still signs for now.
    const listed = await admin('GET', '/admin/keys');
    assert.equal(listed.status, 200);
    const states = Object.fromEntries(listed.body.map((k) => [k.kid, k.state]));
    assert.ok(newKid in states, 'the new key is listed');
    assert.ok(oldKid in states, 'the old key is listed');

    // Once the publish-ahead delay has passed, new tokens are signed with the new key.
    const deadline = Date.now() + (PUBLISH_AHEAD_SECONDS + 10) * 1000;
    let after;
    for (;;) {
      after = await client.clientCredentialsGrant(config);
      if (jose.decodeProtectedHeader(after.access_token).kid === newKid) break;
      assert.ok(Date.now() < deadline, `no token signed with ${newKid} within ${PUBLISH_AHEAD_SECONDS + 10} s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    // A resource server that fetches the JWKS afresh accepts both tokens...
    const freshKeys = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));
    const old = await verifyAccessToken(before.access_token, freshKeys);
    assert.equal(old.protectedHeader.kid, oldKid);
    const current = await verifyAccessToken(after.access_token, freshKeys);
    assert.equal(current.protectedHeader.kid, newKid);
    assert.equal(current.payload.client_id, config.clientMetadata().client_id);
    // ...and the authorization server says both are active.
    assert.equal((await client.tokenIntrospection(config, before.access_token)).active, true);
    assert.equal((await client.tokenIntrospection(config, after.access_token)).active, true);

    // The old key stays published (it may have signed live tokens), now as retiring.
    const kidsLater = (await (await fetch(metadata.jwks_uri)).json()).keys.map((k) => k.kid);
    assert.ok(kidsLater.includes(oldKid) && kidsLater.includes(newKid), `${kidsLater}`);
    const later = await admin('GET', '/admin/keys');
    const statesLater = Object.fromEntries(later.body.map((k) => [k.kid, k.state]));
    assert.equal(statesLater[newKid], 'current');
    assert.equal(statesLater[oldKid], 'retiring');
  });

  test('an unknown algorithm is refused', async () => {
    const answer = await admin('POST', '/admin/keys/rotate', { alg: 'HS256' });
    assert.equal(answer.status, 400);
  });
});

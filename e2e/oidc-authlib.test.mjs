// The authorization code flow with PKCE with Authlib (PyPI) as the relying party: this suite
// registers the client (client_secret_post) and the person, then runs `oidc_authlib.py`, which
// drives the login and consent pages over HTTP, exchanges the code with Authlib's
// OAuth2Session, validates the ID token (JWKS signature; iss, aud, nonce, at_hash with
// authlib.oidc.core.CodeIDToken) and fetches userinfo. Once with an RS256 ID token (the
// default), once with a client that registered ES256.
//
// Started by e2e/run.sh, which passes E2E_PYTHON: a venv's python with authlib, joserfc and
// requests (pinned there). Without it, or without those packages, the suite is skipped.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ISSUER, PASSWORD, createClient, registerPerson, unique } from './support.mjs';

const PYTHON = process.env.E2E_PYTHON;
const SCRIPT = fileURLToPath(new URL('./oidc_authlib.py', import.meta.url));

function unavailable() {
  if (!PYTHON) return 'E2E_PYTHON is not set (no python3)';
  const probe = spawnSync(PYTHON, ['-c', 'import authlib, joserfc, requests'], { encoding: 'utf8' });
  return probe.status === 0 ? false : `authlib is not importable with ${PYTHON}: ${probe.stderr}`;
}

/** Runs the Authlib relying party for a new client and a new person; answers what it saw. */
async function authlibFlow(t, extra = {}) {
  // The callback is never fetched: the script stops at the redirect to it.
  const redirectUri = 'http://127.0.0.1/authlib/cb';
  const created = await createClient({
    client_name: `Authlib ${unique('rp')}`,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid email profile',
    token_endpoint_auth_method: 'client_secret_post',
    ...extra,
  });
  const address = `${unique('authlib')}@example.com`;
  await registerPerson(address);
  const run = spawnSync(PYTHON, [SCRIPT], {
    encoding: 'utf8',
    timeout: 45_000,
    env: {
      ...process.env,
      E2E_CLIENT_ID: created.client_id,
      E2E_CLIENT_SECRET: created.client_secret,
      E2E_REDIRECT_URI: redirectUri,
      E2E_EMAIL: address,
      E2E_PASSWORD: PASSWORD,
      E2E_ID_TOKEN_ALG: extra.id_token_signed_response_alg ?? 'RS256',
    },
  });
  assert.equal(run.status, 0, `oidc_authlib.py failed (${run.error ?? run.signal ?? run.status}):\n${run.stderr}`);
  if (run.stderr.trim()) t.diagnostic(`oidc_authlib.py stderr: ${run.stderr.trim()}`);
  return { seen: JSON.parse(run.stdout), clientId: created.client_id, address, redirectUri };
}

describe('OpenID Connect with Authlib', { skip: unavailable() }, () => {
  test('code flow with PKCE and client_secret_post; RS256 ID token validated', async (t) => {
    const { seen, clientId, address, redirectUri } = await authlibFlow(t);
    const callback = new URL(seen.callback);
    assert.equal(`${callback.origin}${callback.pathname}`, redirectUri);
    assert.equal(callback.searchParams.get('state'), seen.state);
    assert.equal(seen.id_token_header.alg, 'RS256');
    assert.equal(seen.id_token_claims.iss, ISSUER);
    assert.equal(seen.id_token_claims.aud, clientId);
    assert.equal(seen.id_token_claims.email, address);
    assert.equal(seen.userinfo.email, address);
    assert.equal(seen.userinfo.given_name, 'Ada', 'profile was granted');
  });

  test('a client registered for ES256 ID tokens', async (t) => {
    const { seen, address } = await authlibFlow(t, { id_token_signed_response_alg: 'ES256' });
    assert.equal(seen.id_token_header.alg, 'ES256');
    assert.equal(seen.userinfo.email, address);
  });
});

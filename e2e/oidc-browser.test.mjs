// The OpenID Connect authorization code flow with a real person and a real relying party:
// openid-client v6 (oauth4webapi) is the relying party, Debian's Chromium driven by
// playwright-core is the person, and a tiny HTTP server on 127.0.0.1 is the relying party's
// callback. The person signs in on the login page and answers the consent page, found by the
// labels DESIGN.md §2 fixes; openid-client checks the answer (state, iss, PKCE, the ID token)
// exactly as it would in production.
//
// Started by e2e/run.sh, which passes E2E_ISSUER, E2E_ADMIN_URL, E2E_ADMIN_TOKEN and
// E2E_CHROMIUM (the browser binary; the suite is skipped with a message when it is missing).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import * as client from 'openid-client';
import * as jose from 'jose';
import {
  ISSUER,
  PASSWORD,
  createClient,
  registerPerson,
  startRelyingParty,
  unique,
} from './support.mjs';

const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
// The issuer is plain HTTP on loopback (dev mode), which openid-client refuses unless told.
const INSECURE = { execute: [client.allowInsecureRequests] };

describe('OpenID Connect in Chromium with openid-client', { skip: !existsSync(CHROMIUM) && `no browser at ${CHROMIUM}` }, () => {
  let browser;
  let rp;
  let clientName;
  let config;
  let redirectUri;
  let postLogoutUri;

  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    rp = await startRelyingParty();
    redirectUri = rp.url('/cb');
    postLogoutUri = rp.url('/signed-out');
    clientName = `Photo Printer ${unique('rp')}`;
    const created = await createClient({
      client_name: clientName,
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [postLogoutUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid email profile offline_access',
      token_endpoint_auth_method: 'client_secret_basic',
    });
    config = await client.discovery(
      new URL(ISSUER),
      created.client_id,
      { client_secret: created.client_secret },
      client.ClientSecretBasic(created.client_secret),
      INSECURE,
    );
  });
  after(async () => {
    // Anything that reached the relying party and no test expected is worth seeing.
    const stray = rp?.seen().filter((l) => l.endsWith('taken=false') && !l.includes('/favicon.ico')) ?? [];
    if (stray.length) console.log(`requests no test expected at the relying party:\n${stray.join('\n')}`);
    await browser?.close();
    await rp?.close();
  });

  /** A fresh authorization request: its URL and the checks openid-client needs afterwards. */
  async function authorizationRequest(scope = 'openid email profile', extra = {}) {
    const pkceCodeVerifier = client.randomPKCECodeVerifier();
    const expectedState = client.randomState();
    const expectedNonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: 'S256',
      state: expectedState,
      nonce: expectedNonce,
      ...extra,
    });
    return { url, checks: { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true } };
  }

  /** A new person and a new browser (no cookies); Chromium signs in on the login page that the
   * authorization request leads to, and ends on the consent page. */
  async function signInAndReachConsent(url) {
    const address = `${unique('oidc')}@example.com`;
    await registerPerson(address);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url.href);
    await page.waitForURL(/\/ui\/login\?/);
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/ui\/consent\?/);
    return { address, context, page };
  }

  /** Signs in, allows every requested scope and exchanges the code: the tokens and the page. */
  async function signedInWithTokens() {
    const { url, checks } = await authorizationRequest();
    const { address, context, page } = await signInAndReachConsent(url);
    await page.getByRole('button', { name: 'Allow' }).click();
    const callback = await rp.next('/cb', checks.expectedState);
    const tokens = await client.authorizationCodeGrant(config, callback.url, checks);
    return { address, context, page, tokens };
  }

  test('code flow with PKCE: login page, consent with one scope unchecked, tokens, userinfo', async () => {
    const { url, checks } = await authorizationRequest();
    const { address, context, page } = await signInAndReachConsent(url);

    // The consent page names the client and shows each requested scope by its display name
    // and description; `openid` is granted whatever happens.
    assert.ok((await page.getByRole('heading', { level: 1 }).textContent()).includes(clientName));
    const signIn = page.getByRole('checkbox', { name: /^Sign In/ });
    const email = page.getByRole('checkbox', { name: /^Email Address/ });
    const profile = page.getByRole('checkbox', { name: /^Profile/ });
    for (const box of [signIn, email, profile]) {
      assert.equal(await box.isChecked(), true);
    }
    assert.equal(await signIn.isDisabled(), true);
    assert.equal(await email.isDisabled(), false);
    assert.ok(await page.getByText('Your email address and whether it is verified').isVisible());
    assert.ok(await page.getByText('Remember this decision').isVisible());
    assert.equal(await page.locator('input[type=checkbox][name=grant_scope]').count(), 3);

    await profile.uncheck();
    await page.getByRole('button', { name: 'Allow' }).click();

    // Chromium is sent to the relying party's callback with the code, the state and the issuer.
    const callback = await rp.next('/cb', checks.expectedState);
    await page.waitForURL(`${redirectUri}?**`);
    assert.equal(page.url(), callback.url.href);
    assert.equal(callback.method, 'GET');
    assert.equal(callback.url.searchParams.get('state'), checks.expectedState);
    assert.equal(callback.url.searchParams.get('iss'), ISSUER);
    assert.ok(callback.url.searchParams.get('code'));

    // openid-client checks state, iss, the PKCE verifier (at the token endpoint) and the ID
    // token (signature from the JWKS, iss, aud, exp, iat, nonce).
    const tokens = await client.authorizationCodeGrant(config, callback.url, checks);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.deepEqual(tokens.scope.split(' ').sort(), ['email', 'openid']);
    const claims = tokens.claims();
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.aud, config.clientMetadata().client_id);
    assert.equal(claims.nonce, checks.expectedNonce);
    assert.equal(claims.email, address);
    assert.equal(claims.given_name, undefined, 'profile was not granted');

    // The access token is a JWT whose scope is what the person allowed, not what was asked.
    const access = jose.decodeJwt(tokens.access_token);
    assert.equal(access.iss, ISSUER);
    assert.equal(access.sub, claims.sub);
    assert.deepEqual(String(access.scope).split(' ').sort(), ['email', 'openid']);

    // userinfo answers the email and nothing from `profile`.
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(userinfo.sub, claims.sub);
    assert.equal(userinfo.email, address);
    assert.equal(userinfo.given_name, undefined);
    assert.equal(userinfo.name, undefined);

    // A refresh token only with offline_access, which was not requested.
    assert.equal(tokens.refresh_token, undefined);
    await context.close();
  });

  test('offline_access: the refresh token grant when the server issues refresh tokens', async (t) => {
    const { url, checks } = await authorizationRequest('openid email offline_access');
    const { context, page } = await signInAndReachConsent(url);
    await page.getByRole('button', { name: 'Allow' }).click();
    const tokens = await client.authorizationCodeGrant(config, (await rp.next('/cb', checks.expectedState)).url, checks);
    await context.close();
    if (!tokens.refresh_token) {
      t.skip('no refresh_token in the token response (the refresh_token grant is not served yet)');
      return;
    }
    const sub = tokens.claims().sub;
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token);
    assert.notEqual(refreshed.access_token, tokens.access_token);
    const access = jose.decodeJwt(refreshed.access_token);
    assert.equal(access.sub, sub);
    const userinfo = await client.fetchUserInfo(config, refreshed.access_token, sub);
    assert.equal(userinfo.sub, sub);
  });

  test('response_mode=form_post and a remembered decision', async () => {
    const first = await authorizationRequest('openid email', { response_mode: 'form_post' });
    const { address, context, page } = await signInAndReachConsent(first.url);
    await page.getByLabel('Remember this decision').check();
    await page.getByRole('button', { name: 'Allow' }).click();

    // Chromium posts the answer to the callback (the auto-submitting form must be allowed to).
    const posted = await rp.next('/cb', first.checks.expectedState);
    await page.waitForURL(redirectUri, { waitUntil: 'load' });
    assert.equal(posted.method, 'POST');
    assert.equal(posted.url.search, '');
    const form = new URLSearchParams(posted.body);
    assert.equal(form.get('state'), first.checks.expectedState);
    assert.equal(form.get('iss'), ISSUER);
    const request = new Request(posted.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: posted.body,
    });
    const tokens = await client.authorizationCodeGrant(config, request, first.checks);
    assert.equal(tokens.claims().email, address);

    // The same browser asks again: the remembered decision sends it straight back, no page.
    const second = await authorizationRequest('openid email');
    await page.goto(second.url.href);
    const callback = await rp.next('/cb', second.checks.expectedState);
    assert.equal(callback.method, 'GET');
    const again = await client.authorizationCodeGrant(config, callback.url, second.checks);
    assert.equal(again.claims().sub, tokens.claims().sub);
    assert.deepEqual(again.scope.split(' ').sort(), ['email', 'openid']);
    await context.close();
  });

  test('Deny ends at the callback with access_denied', async () => {
    const { url, checks } = await authorizationRequest();
    const { context, page } = await signInAndReachConsent(url);
    await page.getByRole('button', { name: 'Deny' }).click();

    const callback = await rp.next('/cb', checks.expectedState);
    assert.equal(callback.url.searchParams.get('error'), 'access_denied');
    assert.equal(callback.url.searchParams.get('state'), checks.expectedState);
    assert.equal(callback.url.searchParams.get('iss'), ISSUER);
    assert.equal(callback.url.searchParams.get('code'), null);

    // openid-client validates the error response (state, iss) and reports it.
    await assert.rejects(client.authorizationCodeGrant(config, callback.url, checks), (err) => {
      assert.equal(err.name, 'AuthorizationResponseError', err.stack);
      assert.equal(err.error, 'access_denied');
      return true;
    });
    await context.close();
  });

  test('RP-initiated logout with id_token_hint and a registered post_logout_redirect_uri', async () => {
    const { context, page, tokens } = await signedInWithTokens();
    const whoami = new URL('/sessions/whoami', ISSUER).href;
    // The browser's cookies carry a session before the logout.
    assert.equal((await context.request.get(whoami)).status(), 200);
    const session = (await context.cookies()).find((c) => c.name === 'gatehouse_session');
    assert.ok(session, 'a session cookie is set');

    const state = client.randomState();
    const logout = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: postLogoutUri,
      state,
    });
    await page.goto(logout.href);
    const landed = await rp.next('/signed-out', state);
    await page.waitForURL(`${postLogoutUri}?**`);
    assert.equal(landed.url.searchParams.get('state'), state);

    // The session is over: the cookie is gone from the browser and no longer accepted.
    assert.equal((await context.cookies()).some((c) => c.name === 'gatehouse_session'), false);
    const after = await context.request.get(whoami);
    assert.equal(after.status(), 401, await after.text());
    // The old cookie, replayed, names a session that has ended.
    const replayed = await fetch(whoami, { headers: { cookie: `${session.name}=${session.value}` } });
    assert.equal(replayed.status, 401, await replayed.text());
    await context.close();
  });
});

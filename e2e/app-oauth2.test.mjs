// A third-party app connects to one app's users through OpenID Connect (workflow C of the
// multi-tenant reference): the OAuth 2.0 client belongs to the app (tenant), so the person signs
// in on that app's login page, with that app's account, consents, and the relying party
// (openid-client) gets tokens whose `tenant_id` is the app's. The same address with another
// password in the default tenant is another person and opens nothing here.
//
// Chromium (playwright-core) is the person; the relying party's callback is a recording HTTP
// server on loopback (support.mjs).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import * as client from 'openid-client';
import { ISSUER, admin, registerPerson, startRelyingParty, unique } from './support.mjs';

const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const INSECURE = { execute: [client.allowInsecureRequests] };
const APP_PASSWORD = 'tawny kettle orbit 93 lantern';

describe('a third-party app signs in one app\'s users', { skip: !existsSync(CHROMIUM) && `no browser at ${CHROMIUM}` }, () => {
  let browser;
  let rp;

  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
    rp = await startRelyingParty();
  });
  after(async () => {
    await browser?.close();
    await rp?.close();
  });

  test("the app's login page, the app's account, tokens with the app's tenant_id", async () => {
    const appName = `Blog ${unique('app')}`;
    const tenant = await admin('POST', '/admin/tenants', { name: appName });
    assert.equal(tenant.status, 201, JSON.stringify(tenant.body));
    const appId = tenant.body.id;
    const key = await admin('POST', `/admin/tenants/${appId}/api-keys`, { name: 'backend' });
    assert.equal(key.status, 201);

    // Bob has an account in the app (through its backend) and, with another password, one in
    // the default tenant.
    const email = `${unique('bob')}@example.com`;
    const signup = await fetch(new URL(`/api/auth/credentials/signup/${appId}`, ISSUER), {
      method: 'POST',
      headers: { authorization: `Bearer ${key.body.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: APP_PASSWORD }),
    });
    const signedUp = await signup.text();
    assert.equal(signup.status, 201, signedUp);
    const bobInApp = JSON.parse(signedUp).identity.id;
    await registerPerson(email);

    const redirectUri = rp.url('/cb');
    const created = await admin('POST', '/admin/clients', {
      client_name: `Photo Printer ${unique('rp')}`,
      tenant_id: appId,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid email',
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const config = await client.discovery(
      new URL(ISSUER),
      created.body.client_id,
      { client_secret: created.body.client_secret },
      client.ClientSecretBasic(created.body.client_secret),
      INSECURE,
    );
    const pkceCodeVerifier = client.randomPKCECodeVerifier();
    const expectedState = client.randomState();
    const expectedNonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email',
      code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: 'S256',
      state: expectedState,
      nonce: expectedNonce,
    });

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url.href);
    await page.waitForURL(/\/ui\/login\?/);
    assert.ok((await page.content()).includes(appName), 'the page names the app');
    // The default tenant's password is not this app's.
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('correct horse battery staple 93');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/ui\/login\?/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(APP_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/ui\/consent\?/);
    await page.getByRole('button', { name: 'Allow' }).click();

    const callback = await rp.next('/cb', expectedState);
    const tokens = await client.authorizationCodeGrant(config, callback.url, {
      pkceCodeVerifier,
      expectedState,
      expectedNonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    assert.equal(claims.sub, bobInApp);
    assert.equal(claims.tenant_id, appId);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.email, email);
    await context.close();
  });
});

// Apps (tenants) as the multi-tenant workflows of the reference describe them, from outside:
// an app with its API key signs its users up and in directly (workflow B), signs them in by
// magic link (workflow E) and with GitHub (workflow D, against a GitHub-like server started
// here), and its backend exchanges the one-time code the browser brings back. Every token is
// checked with jose against Gatehouse's JWKS, with the app id as audience.
//
// Chromium (playwright-core) opens the emailed link and goes through the social sign-in; the
// app's own page is a recording HTTP server on loopback (support.mjs).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { chromium } from 'playwright-core';
import { ISSUER, admin, startRelyingParty, unique } from './support.mjs';

const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const STRONG = 'tawny kettle orbit 93 lantern';
const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', ISSUER));

/** Creates an app (tenant) with `fields` and one API key: `{ id, key }`. */
async function createApp(fields) {
  const created = await admin('POST', '/admin/tenants', { name: unique('app'), ...fields });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const key = await admin('POST', `/admin/tenants/${created.body.id}/api-keys`, { name: 'backend' });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  return { id: created.body.id, key: key.body.key };
}

/** A tenant API call with the app's key; answers status and JSON body. */
async function appApi(app, path, body, key = app.key) {
  const response = await fetch(new URL(path, ISSUER), {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Checks an app user's token: signature by the JWKS, issuer, the app as audience and tenant. */
async function assertAppToken(app, token, email) {
  const { payload } = await jwtVerify(token, jwks, { issuer: ISSUER, audience: app.id });
  assert.equal(payload.tenant_id, app.id);
  assert.equal(payload.email, email);
  return payload;
}

/** The link in the newest magic-link message to `address` in the app's outbox. */
async function linkFor(app, address) {
  const path = `/admin/courier/messages?tenant_id=${app.id}&recipient=${encodeURIComponent(address)}`;
  const { status, body } = await admin('GET', path);
  assert.equal(status, 200);
  assert.equal(body[0]?.template_type, 'magic_link', JSON.stringify(body));
  const link = body[0].body.match(/https?:\/\/\S+\/api\/auth\/verify\/\S+/)?.[0];
  assert.ok(link, body[0].body);
  return link;
}

/**
 * A GitHub-like server: the authorize page answers at once as if the person approved (as the
 * account set with `signInAs`), the token endpoint checks the client and PKCE, and the REST API
 * answers `/user` and `/user/emails`.
 */
async function startGithub(clientId, clientSecret) {
  const codes = new Map();
  const tokens = new Map();
  let account = null;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const url = new URL(req.url, 'http://github.test');
      const json = (status, value) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (url.pathname === '/login/oauth/authorize') {
        const code = randomUUID();
        codes.set(code, { account, challenge: url.searchParams.get('code_challenge') });
        const back = new URL(url.searchParams.get('redirect_uri'));
        back.searchParams.set('code', code);
        back.searchParams.set('state', url.searchParams.get('state'));
        res.writeHead(302, { location: back.href });
        return res.end();
      }
      if (url.pathname === '/login/oauth/access_token') {
        const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
        const form = new URLSearchParams(body);
        const issued = codes.get(form.get('code'));
        codes.delete(form.get('code'));
        const verifier = createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url');
        if (req.headers.authorization !== basic || !issued || issued.challenge !== verifier) {
          return json(200, { error: 'bad_verification_code' });
        }
        const token = randomUUID();
        tokens.set(token, issued.account);
        return json(200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      }
      const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!who) return json(401, { message: 'Bad credentials' });
      if (url.pathname === '/api/user') return json(200, { id: who.id, login: who.login, email: null });
      if (url.pathname === '/api/user/emails') {
        return json(200, [{ email: who.email, primary: true, verified: true, visibility: 'private' }]);
      }
      return json(404, { message: 'Not Found' });
    });
  });
  await new Promise((ok, ko) => server.once('error', ko).listen(0, '127.0.0.1', ok));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    signInAs: (who) => (account = who),
    close: () =>
      new Promise((ok) => {
        server.close(ok);
        server.closeAllConnections();
      }),
  };
}

describe('apps: direct credentials, magic links and social login', { skip: !existsSync(CHROMIUM) && `no browser at ${CHROMIUM}` }, () => {
  let browser;
  let appPage;
  let github;

  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    appPage = await startRelyingParty();
    github = await startGithub('gh-e2e-client', 'gh-e2e-secret');
  });

  after(async () => {
    await browser?.close();
    await github?.close();
    await appPage?.close();
  });

  test("the app's backend signs users up and in; another app's key is refused", async () => {
    const blog = await createApp({});
    const shop = await createApp({});
    const email = `${unique('bob')}@example.com`;
    const signup = await appApi(blog, `/api/auth/credentials/signup/${blog.id}`, { email, password: STRONG });
    assert.equal(signup.status, 201, JSON.stringify(signup.body));
    await assertAppToken(blog, signup.body.access_token, email);
    const login = await appApi(blog, `/api/auth/credentials/login/${blog.id}`, { email, password: STRONG });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const claims = await assertAppToken(blog, login.body.access_token, email);
    assert.equal(claims.sub, signup.body.identity.id);
    // The same address is nobody in the other app, and the other app's key opens nothing here.
    const elsewhere = await appApi(shop, `/api/auth/credentials/login/${shop.id}`, { email, password: STRONG });
    assert.equal(elsewhere.status, 401);
    const foreignKey = await appApi(blog, `/api/auth/credentials/login/${blog.id}`, { email, password: STRONG }, shop.key);
    assert.equal(foreignKey.status, 403);
  });

  test('a magic link opened in the browser hands a code to the app, which exchanges it once', async () => {
    const app = await createApp({
      redirect_uri: appPage.url('/signed-in'),
      settings: { magic_link: { enabled: true } },
    });
    const email = `${unique('amy')}@example.com`;
    const asked = await appApi(app, `/api/auth/magic-link/${app.id}`, { email });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const link = await linkFor(app, email);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(link);
    await page.waitForURL((url) => url.pathname === '/signed-in');
    const landed = new URL(page.url());
    const code = landed.searchParams.get('code');
    assert.ok(code, page.url());
    assert.equal(landed.searchParams.get('access_token'), null, 'no token in the URL');
    await context.close();

    const exchanged = await appApi(app, `/api/auth/exchange/${app.id}`, { code });
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    await assertAppToken(app, exchanged.body.access_token, email);
    assert.equal(exchanged.body.identity.verifiable_addresses[0].verified, true);
    const again = await appApi(app, `/api/auth/exchange/${app.id}`, { code });
    assert.equal(again.status, 400, 'a code is spent once');
    const reopened = await fetch(link, { redirect: 'manual' });
    assert.equal(reopened.status, 400, 'a link is opened once');
  });

  test('GitHub sign-in into an app: the browser comes back with a code and the app state', async () => {
    const app = await createApp({});
    const configured = await admin('PUT', `/admin/tenants/${app.id}/providers/github`, {
      type: 'github',
      client_id: 'gh-e2e-client',
      client_secret: 'gh-e2e-secret',
      redirect_uri: appPage.url('/after-github'),
      endpoints: {
        authorization_endpoint: `${github.base}/login/oauth/authorize`,
        token_endpoint: `${github.base}/login/oauth/access_token`,
        api_url: `${github.base}/api`,
      },
    });
    assert.equal(configured.status, 201, JSON.stringify(configured.body));
    assert.equal(JSON.stringify(configured.body).includes('gh-e2e-secret'), false);
    const email = `${unique('kim')}@example.com`;
    github.signInAs({ id: Math.floor(Math.random() * 1e9), login: 'kim', email });

    const context = await browser.newContext();
    const page = await context.newPage();
    const state = unique('state');
    await page.goto(`${ISSUER}/api/auth/github/${app.id}?state=${state}`);
    const back = await appPage.next('/after-github', state);
    const code = back.url.searchParams.get('code');
    assert.ok(code, back.url.href);
    await context.close();

    const exchanged = await appApi(app, `/api/auth/exchange/${app.id}`, { code });
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    await assertAppToken(app, exchanged.body.access_token, email);
  });
});

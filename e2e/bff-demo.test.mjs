// The backend-for-frontend demo (examples/bff-demo) in a real browser: the demo's own SPA files
// served by `gatehouse bff`, in front of the example API (examples/app-api), signing in at the
// Gatehouse that run.sh started. Chromium (playwright-core) is the person: "Sign in" in the SPA,
// Gatehouse's login page, back to the SPA, which calls /api/data through the BFF and shows what
// the API answered. Checked on the way: the session cookie's flags, the X-CSRF requirement, a
// token refresh (the client's access tokens live 6 s; app-api reports the `jti`, `iat` and `exp`
// of the token it was given), and sign-out (the BFF session and the Gatehouse session both end).
//
// The BFF is on http://localhost:PORT and Gatehouse on http://127.0.0.1:PORT: two sites, as an
// app and its identity provider usually are, so the redirects between them are cross-site.
//
// Started by e2e/run.sh, which passes E2E_ISSUER, E2E_ADMIN_URL, E2E_ADMIN_TOKEN, E2E_CHROMIUM,
// E2E_GATEHOUSE_BIN and E2E_APP_API_BIN (the suite is skipped with a message without the browser
// or the binaries). It starts app-api and `gatehouse bff` itself, on free ports.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ISSUER, PASSWORD, admin, createClient, registerPerson, unique } from './support.mjs';

const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const GATEHOUSE_BIN = process.env.E2E_GATEHOUSE_BIN;
const APP_API_BIN = process.env.E2E_APP_API_BIN;
const DEMO_DIR = fileURLToPath(new URL('../examples/bff-demo/', import.meta.url));
/** How long the client's access tokens live: the BFF refreshes them after half of it. */
const ACCESS_TOKEN_SECONDS = 6;

function missing() {
  if (!existsSync(CHROMIUM)) return `no browser at ${CHROMIUM}`;
  if (!GATEHOUSE_BIN || !existsSync(GATEHOUSE_BIN)) return 'E2E_GATEHOUSE_BIN is not set (run through e2e/run.sh)';
  if (!APP_API_BIN || !existsSync(APP_API_BIN)) return 'E2E_APP_API_BIN is not set (run through e2e/run.sh)';
  return false;
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** A free loopback port, chosen by the OS. */
function freePort() {
  return new Promise((ok, ko) => {
    const server = createServer().once('error', ko);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * Starts `bin` with `args` and `env` (no GATEHOUSE_* variable of ours leaks in) and waits until
 * `url` answers `status`; answers `{ log(), stop() }`.
 */
async function startProcess(name, bin, args, env, url, status) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_') || k === 'GATEHOUSE_LOG'),
  );
  const child = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...base, NO_COLOR: '1', ...env },
  });
  let log = '';
  child.stdout.on('data', (chunk) => (log += chunk));
  child.stderr.on('data', (chunk) => (log += chunk));
  const exited = new Promise((ok) => child.once('exit', ok));
  const started = {
    log: () => `--- ${name} ---\n${log}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited early:\n${log}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.status === status) return started;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await started.stop();
      throw new Error(`${name} did not answer ${url} with ${status}:\n${log}`);
    }
    await sleep(100);
  }
}

/** The JSON the SPA shows for its last API call. */
async function shownData(page) {
  return JSON.parse(await page.locator('#api-data').textContent());
}

/** Clicks "Call the API" and waits for the SPA to show a new answer. */
async function callApi(page) {
  const status = page.locator('#api-status');
  await status.evaluate((element) => (element.textContent = ''));
  await page.getByRole('button', { name: 'Call the API' }).click();
  await page.waitForFunction(() => {
    const text = document.getElementById('api-status').textContent;
    return text !== '' && text !== 'Calling…';
  });
  assert.match(await status.textContent(), /^200 OK/, await page.locator('#api-data').textContent());
  return shownData(page);
}

/** A fetch made by the page itself (its cookies, its origin); answers the status. */
const pageFetch = (page, path, init = {}) =>
  page.evaluate(async ([p, i]) => (await fetch(p, i)).status, [path, init]);

describe('the BFF demo in Chromium', { skip: missing() }, () => {
  let dir;
  let api;
  let bff;
  let browser;
  let bffUrl;
  const logs = () => [api, bff].filter(Boolean).map((p) => p.log()).join('\n');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-bff-demo-e2e-'));
    const [apiPort, bffPort] = [await freePort(), await freePort()];
    bffUrl = `http://localhost:${bffPort}`;

    // The client as the demo registers it (client.json), at this BFF's address, with a secret
    // of its own and short-lived access tokens.
    const secret = randomBytes(24).toString('hex');
    const demoClient = JSON.parse(readFileSync(join(DEMO_DIR, 'client.json'), 'utf8'));
    await admin('DELETE', `/admin/clients/${demoClient.client_id}`);
    await createClient({
      ...demoClient,
      client_secret: secret,
      redirect_uris: [`${bffUrl}/signin-oidc`],
      post_logout_redirect_uris: [`${bffUrl}/signout-callback-oidc`],
      authorization_code_grant_access_token_lifespan: `${ACCESS_TOKEN_SECONDS}s`,
      refresh_token_grant_access_token_lifespan: `${ACCESS_TOKEN_SECONDS}s`,
    });

    api = await startProcess(
      'app-api',
      APP_API_BIN,
      [],
      { APP_API_ISSUER: ISSUER, APP_API_ADDR: `127.0.0.1:${apiPort}`, RUST_LOG: 'info' },
      `http://127.0.0.1:${apiPort}/health`,
      200,
    );

    // The demo's bff.toml at this run's addresses, serving the demo's SPA directory.
    const toml = (value) => JSON.stringify(value);
    const config = join(dir, 'bff.toml');
    writeFileSync(config, [
      `listen = ${toml(`127.0.0.1:${bffPort}`)}`,
      `public_url = ${toml(bffUrl)}`,
      `static_dir = ${toml(join(DEMO_DIR, 'spa'))}`,
      `database_url = ${toml(`sqlite://${join(dir, 'bff.db')}`)}`,
      '[oidc]',
      `authority = ${toml(ISSUER)}`,
      `client_id = ${toml(demoClient.client_id)}`,
      `client_secret = ${toml(secret)}`,
      'token_endpoint_auth_method = "client_secret_basic"',
      'scopes = ["openid", "email", "profile", "offline_access"]',
      `redirect_uri = ${toml(`${bffUrl}/signin-oidc`)}`,
      `post_logout_redirect_uri = ${toml(`${bffUrl}/signout-callback-oidc`)}`,
      '[[routes]]',
      'path = "/api/{**rest}"',
      `upstream = ${toml(`http://127.0.0.1:${apiPort}`)}`,
      'strip_prefix = "/api"',
      '',
    ].join('\n'));
    bff = await startProcess(
      'gatehouse bff',
      GATEHOUSE_BIN,
      ['bff', '--config', config],
      {
        GATEHOUSE_LOG: process.env.GATEHOUSE_LOG ?? 'info',
        // Seals the tokens in the BFF's database, as in production.
        GATEHOUSE_SECRETS_CIPHER: randomBytes(32).toString('hex'),
      },
      `http://127.0.0.1:${bffPort}/bff/user`,
      401,
    );

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
  });

  after(async () => {
    await browser?.close();
    await bff?.stop();
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('sign in, call the API, refresh, refuse a request without X-CSRF, sign out', async () => {
    const address = `${unique('bff')}@example.com`;
    const person = await registerPerson(address);
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      // Signed out: the SPA offers "Sign in".
      await page.goto(bffUrl);
      await page.getByRole('link', { name: 'Sign in' }).waitFor();
      assert.equal(await pageFetch(page, '/bff/user'), 401);
      assert.equal(await pageFetch(page, '/api/data', { headers: { 'X-CSRF': '1' } }), 401);

      // "Sign in" → /bff/login → Gatehouse's /oauth2/auth → its login page.
      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${ISSUER}/ui/login`));
      await page.getByLabel('Email').fill(address);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();

      // No consent page (first-party client): /signin-oidc, then back to the SPA at /.
      await page.waitForURL(`${bffUrl}/`);
      await page.locator('#email').getByText(address).waitFor();
      const claims = JSON.parse(await page.locator('#claims').textContent());
      assert.equal(claims.sub, person.id);
      assert.equal(claims.iss, ISSUER);
      assert.equal(claims.aud, 'bff-client');
      assert.equal(claims['bff:logout_url'], `/bff/logout?sid=${encodeURIComponent(claims.sid)}`);
      for (const token of ['access_token', 'refresh_token', 'id_token']) {
        assert.equal(token in claims, false, `/bff/user reveals no ${token}`);
      }

      // The session cookie: HttpOnly, SameSite=Strict, Path=/, host-only (no Domain); not
      // Secure because this BFF is plain http (https makes it Secure and __Host- prefixed).
      const bffCookies = await context.cookies(bffUrl);
      const session = bffCookies.find((c) => c.name === 'gatehouse_bff');
      assert.ok(session, `a session cookie among ${bffCookies.map((c) => c.name)}`);
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, 'Strict');
      assert.equal(session.path, '/');
      assert.equal(session.domain, 'localhost', 'host-only: set without a Domain attribute');
      assert.equal(session.secure, false);
      assert.equal(bffCookies.some((c) => c.name === 'gatehouse_bff_login'), false, 'the sign-in cookie is cleared');
      assert.equal((await page.evaluate(() => document.cookie)).includes('gatehouse_bff'), false);

      // The SPA calls /api/data through the BFF: app-api validated the access token.
      const first = await callApi(page);
      assert.equal(first.message, 'protected data: full JWT validation passed');
      assert.equal(first.subject, person.id);
      assert.equal(first.client_id, 'bff-client');
      assert.equal(first.token.expires_at - first.token.issued_at, ACCESS_TOKEN_SECONDS);

      // Without X-CSRF the BFF refuses the same call, cookie or not; logout too.
      assert.equal(await pageFetch(page, '/api/data'), 403);
      assert.equal(await pageFetch(page, '/bff/logout', { method: 'POST' }), 403);
      assert.equal(await pageFetch(page, '/bff/user'), 200, 'the refused logout left the session');

      // Refresh: once the first access token has expired, the next call still works, and
      // app-api was given another token (app-api would accept the old one for 300 s more, so
      // only a refresh explains a new jti). The call right after reuses the new token.
      const expired = first.token.expires_at + 0.5;
      await sleep(Math.max(0, expired * 1000 - Date.now()));
      const second = await callApi(page);
      assert.ok(Date.now() / 1000 > first.token.expires_at);
      assert.equal(second.subject, person.id);
      assert.notEqual(second.token.jti, first.token.jti, 'the BFF refreshed the access token');
      assert.ok(second.token.issued_at >= first.token.expires_at, JSON.stringify([first.token, second.token]));
      const third = await callApi(page);
      assert.equal(third.token.jti, second.token.jti, 'a fresh token is not refreshed again');

      // Sign out: a form POST with the session's sid → the BFF ends its session and revokes
      // the refresh token → Gatehouse's logout with id_token_hint ends the Gatehouse session →
      // /signout-callback-oidc → the SPA, signed out.
      const providerSession = (await context.cookies(ISSUER)).find((c) => c.name === 'gatehouse_session');
      assert.ok(providerSession, 'signing in left a Gatehouse session');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${bffUrl}/`);
      await page.getByRole('link', { name: 'Sign in' }).waitFor();
      assert.equal(await pageFetch(page, '/bff/user'), 401);
      assert.equal(await pageFetch(page, '/api/data', { headers: { 'X-CSRF': '1' } }), 401);
      assert.equal((await context.cookies(bffUrl)).some((c) => c.name === 'gatehouse_bff'), false);
      assert.equal((await context.cookies(ISSUER)).some((c) => c.name === 'gatehouse_session'), false);
      const whoami = await fetch(new URL('/sessions/whoami', ISSUER), {
        headers: { cookie: `gatehouse_session=${providerSession.value}` },
      });
      assert.equal(whoami.status, 401, 'the Gatehouse session is gone, not just its cookie');
    } catch (err) {
      console.error(logs());
      throw err;
    } finally {
      await context.close();
    }
  });
});

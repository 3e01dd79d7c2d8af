// The developer console in Chromium: the reference's workflow A into workflow B. A developer
// opens /console/, is sent to the console tenant's sign-in page, signs up there (the code read
// from the console tenant's outbox through the admin API), lands on "Your apps", creates an app,
// reads its id, creates an API key (shown once), and then the app's backend uses that key to sign
// a user up through the tenant API.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { ISSUER, PASSWORD, admin, unique } from './support.mjs';

const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const CONSOLE_TENANT = '00000000-0000-0000-0000-000000000002';

/** The newest six-digit code sent to `address` in the console tenant's outbox. */
async function consoleCodeFor(address) {
  const path = `/admin/courier/messages?tenant_id=${CONSOLE_TENANT}&recipient=${encodeURIComponent(address)}`;
  for (let i = 0; i < 50; i++) {
    const { status, body } = await admin('GET', path);
    assert.equal(status, 200, JSON.stringify(body));
    const code = body[0]?.body.match(/\b(\d{6})\b/)?.[1];
    if (code) return code;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`no code was sent to ${address}`);
}

describe('developer console in Chromium', { skip: !existsSync(CHROMIUM) && `no browser at ${CHROMIUM}` }, () => {
  let browser;
  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
  });
  after(async () => {
    await browser?.close();
  });

  test('a developer signs up, creates an app and its key, client, users, magic links, provider and audit log', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const address = `${unique('dev')}@example.com`;

    // Signed out: the console sends the developer to the console tenant's sign-in page.
    await page.goto(new URL('/console/', ISSUER).href);
    assert.match(page.url(), /\/ui\/login\?flow=/);
    assert.ok((await page.textContent('h1')).includes('Gatehouse console'));

    // Sign up there: registration of the console tenant, verified with the emailed code.
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Email').waitFor();
    assert.match(page.url(), /\/ui\/registration/);
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByLabel('Verification code').waitFor();
    await page.getByLabel('Verification code').fill(await consoleCodeFor(address));
    await page.getByRole('button', { name: 'Verify' }).click();
    // Verifying the address signs the developer in and brings them back to the console.
    await page.waitForURL((url) => url.pathname === '/console/');
    await page.getByRole('heading', { name: 'Your apps' }).waitFor();
    assert.ok((await page.textContent('body')).includes(address));
    const cookie = (await context.cookies()).find(
      (c) => c.name === `gatehouse_session_${CONSOLE_TENANT.replaceAll('-', '')}`,
    );
    assert.ok(cookie, 'the console tenant session cookie is set');

    // Create an app; its page shows the app id.
    const name = unique('blog');
    await page.getByLabel('App name').fill(name);
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByRole('heading', { name }).waitFor();
    assert.ok((await page.textContent('body')).includes('The app has been created.'));
    const appId = (await page.textContent('#app-id')).trim();
    assert.match(appId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.ok(page.url().endsWith(`/console/apps/${appId}`));

    // Create an API key: shown once, on the page that answers.
    await page.getByLabel('Key name').fill('production backend');
    await page.getByRole('button', { name: 'Create API key' }).click();
    await page.getByRole('heading', { name: 'API key created' }).waitFor();
    const key = (await page.textContent('#api-key')).trim();
    assert.match(key, /^ghk_[A-Za-z0-9_-]{43}$/);
    await page.getByRole('link', { name: `Back to ${name}` }).click();
    await page.getByRole('heading', { name }).waitFor();
    const listed = await page.textContent('body');
    assert.ok(listed.includes('production backend'));
    assert.ok(listed.includes(key.slice(0, 12)), 'listed by prefix');
    assert.ok(!listed.includes(key.slice(12)), 'never shown again');

    // Workflow B: the app's backend signs a user up with the key.
    const response = await fetch(new URL(`/api/auth/credentials/signup/${appId}`, ISSUER), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: `${unique('bob')}@example.com`, password: 'tawny kettle orbit 93 lantern' }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = await response.json();
    assert.equal(response.status, 201, JSON.stringify(body));
    assert.equal(body.identity.tenant_id, appId);
    assert.ok(body.access_token);
    const userEmail = body.identity.traits.email;

    // The rest of the app's pages. An OAuth client: its secret shown once, then it works.
    const appPage = `/console/apps/${appId}`;
    await page.goto(new URL(appPage, ISSUER).href);
    await page.getByRole('link', { name: 'OAuth clients' }).click();
    await page.getByLabel('Client name').fill('Photo Printer');
    await page.getByLabel('Redirect URIs (one per line)').fill('https://printer.example/callback');
    await page.getByRole('button', { name: 'Create client' }).click();
    await page.getByRole('heading', { name: 'OAuth client created' }).waitFor();
    const clientId = (await page.textContent('#client-id')).trim();
    const clientSecret = (await page.textContent('#client-secret')).trim();
    // The client's own token request (client credentials, HTTP Basic).
    const clientCredentials = () => fetch(new URL('/oauth2/token', ISSUER), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
      signal: AbortSignal.timeout(10_000),
    });
    const token = await clientCredentials();
    assert.equal(token.status, 200, await token.text());
    await page.getByRole('link', { name: /^Back to the clients of/ }).click();
    const clients = await page.textContent('body');
    assert.ok(clients.includes(clientId) && !clients.includes(clientSecret), 'listed, secret never again');
    // Edit it: a new name and a second redirect URI; its secret keeps working.
    await page.getByRole('link', { name: 'Edit the client Photo Printer' }).click();
    await page.getByLabel('Client name').fill('Photo Printer Pro');
    await page.getByLabel('Redirect URIs (one per line)')
      .fill('https://printer.example/callback\nhttps://printer.example/other');
    await page.getByRole('button', { name: 'Save the client' }).click();
    await page.getByText('The client has been saved.').waitFor();
    assert.ok((await page.textContent('body')).includes('Photo Printer Pro'));
    const again = await clientCredentials();
    assert.equal(again.status, 200, await again.text());

    // Users: the user the backend signed up, disabled from the console (their login then fails).
    await page.goto(new URL(`${appPage}/users`, ISSUER).href);
    assert.ok((await page.textContent('body')).includes(userEmail));
    await page.getByRole('button', { name: `Disable ${userEmail}` }).click();
    await page.getByRole('button', { name: `Enable ${userEmail}` }).waitFor();
    const login = await fetch(new URL(`/api/auth/credentials/login/${appId}`, ISSUER), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: userEmail, password: 'tawny kettle orbit 93 lantern' }),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(login.status, 401, 'a disabled user cannot sign in');

    // Magic links on, a social provider configured, and the audit log shows it all.
    await page.goto(new URL(`${appPage}/magic-links`, ISSUER).href);
    await page.getByLabel('Send magic links').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('The settings have been saved.').waitFor();
    const link = await fetch(new URL(`/api/auth/magic-link/${appId}`, ISSUER), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: `${unique('amy')}@example.com` }),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(link.status, 202);
    await page.goto(new URL(`${appPage}/providers`, ISSUER).href);
    await page.getByLabel(/^Name/).fill('github');
    await page.getByLabel('Client ID').fill('gh-console-client');
    await page.getByLabel(/^Client secret/).fill('gh-console-secret');
    await page.getByLabel(/^Your app's page after sign-in/).fill('https://blog.example/after-github');
    await page.getByRole('button', { name: 'Save provider' }).click();
    await page.getByText('The settings have been saved.').waitFor();
    const providers = await page.textContent('body');
    assert.ok(providers.includes('gh-console-client') && !providers.includes('gh-console-secret'));
    assert.ok(providers.includes(`/api/auth/callback/github/${appId}`), 'the callback URL to register');
    await page.goto(new URL(`${appPage}/audit`, ISSUER).href);
    const audit = await page.textContent('body');
    for (const type of ['api_key_created', 'client_created', 'client_updated', 'identity_updated', 'magic_link_sent']) {
      assert.ok(audit.includes(type), `${type} in the audit log`);
    }

    await context.close();
  });
});

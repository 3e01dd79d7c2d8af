// Accounts in a real browser: Debian's Chromium driven by playwright-core goes through the
// built-in pages the way a person does (registration with the emailed code, the account page,
// sign out, sign in), finding every element by its visible label as DESIGN.md §2 names them.
//
// Started by e2e/run.sh, which passes E2E_ISSUER, E2E_ADMIN_URL, E2E_ADMIN_TOKEN and
// E2E_CHROMIUM (the browser binary; the suite is skipped with a message when it is missing).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const ISSUER = process.env.E2E_ISSUER;
const ADMIN_URL = process.env.E2E_ADMIN_URL;
const ADMIN_TOKEN = process.env.E2E_ADMIN_TOKEN;
const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'correct horse battery staple 93';

/** The newest six-digit code sent to `address`, read from the outbox through the admin API. */
async function codeFor(address) {
  const url = new URL('/admin/courier/messages', ADMIN_URL);
  url.searchParams.set('recipient', address);
  for (let i = 0; i < 50; i++) {
    const response = await fetch(url, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(response.status, 200);
    const messages = await response.json();
    const code = messages[0]?.body.match(/\b(\d{6})\b/)?.[1];
    if (code) return code;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`no code was sent to ${address}`);
}

describe('accounts in Chromium', { skip: !existsSync(CHROMIUM) && `no browser at ${CHROMIUM}` }, () => {
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

  test('registration, account page, sign out and sign in', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const address = `e2e-${Date.now().toString(36)}@example.com`;

    await page.goto(new URL('/ui/registration', ISSUER).href);
    assert.match(page.url(), /\/ui\/registration\?flow=/);
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('First name').fill('Ada');
    await page.getByLabel('Last name').fill('Lovelace');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();

    await page.getByLabel('Verification code').waitFor();
    await page.getByLabel('Verification code').fill(await codeFor(address));
    await page.getByRole('button', { name: 'Verify' }).click();

    await page.waitForURL(/\/ui\/account/);
    assert.ok((await page.textContent('body')).includes(address));
    const session = (await context.cookies()).find((c) => c.name === 'gatehouse_session');
    assert.ok(session, 'a session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/ui\/login/);
    assert.equal((await context.cookies()).some((c) => c.name === 'gatehouse_session'), false);

    // Wrong password first: the message shows on the page, the address stays in the field.
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password').fill('not the right password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('credentials are invalid').waitFor();
    assert.equal(await page.getByLabel('Email').inputValue(), address);

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/ui\/account/);
    assert.ok((await page.textContent('body')).includes(address));
    await context.close();
  });
});

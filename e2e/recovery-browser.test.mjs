// Verification and recovery in a real browser (Debian's Chromium driven by playwright-core):
// register (the emailed code verifies the address), forget the password, recover with the code
// from the outbox, set a new password on the settings page and sign in with it; and verify an
// address through the link in the message. Elements are found by their labels (DESIGN.md §2).
//
// Started by e2e/run.sh, which passes E2E_ISSUER, E2E_ADMIN_URL, E2E_ADMIN_TOKEN and
// E2E_CHROMIUM (the suite is skipped with a message when the browser is missing).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const ISSUER = process.env.E2E_ISSUER;
const ADMIN_URL = process.env.E2E_ADMIN_URL;
const ADMIN_TOKEN = process.env.E2E_ADMIN_TOKEN;
const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'correct horse battery staple 93';
const NEW_PASSWORD = 'violet tractor minds the orbit 17';

async function admin(path, init = {}) {
  const response = await fetch(new URL(path, ADMIN_URL), {
    ...init,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init.headers },
  });
  return { status: response.status, body: await response.json() };
}

/** The newest message of `templateType` to `address`, from the outbox (waits for it a little). */
async function messageFor(address, templateType) {
  for (let i = 0; i < 50; i++) {
    const { status, body } = await admin(`/admin/courier/messages?recipient=${encodeURIComponent(address)}`);
    assert.equal(status, 200);
    const message = body.find((m) => m.template_type === templateType);
    if (message) return message;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`no ${templateType} message was sent to ${address}`);
}

const codeIn = (message) => message.body.match(/\b(\d{6})\b/)[1];

describe('verification and recovery in Chromium', { skip: !existsSync(CHROMIUM) && `no browser at ${CHROMIUM}` }, () => {
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

  test('register and verify, forget the password, recover, sign in with the new one', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const address = `recover-${Date.now().toString(36)}@example.com`;

    await page.goto(new URL('/ui/registration', ISSUER).href);
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByLabel('Verification code').fill(codeIn(await messageFor(address, 'registration_code')));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/ui\/account/);
    // The code verified the address: the account page asks for nothing more.
    assert.equal(await page.getByText('is not verified yet').count(), 0);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/ui\/login/);

    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.waitForURL(/\/ui\/recovery\?flow=/);
    await page.getByLabel('Email').fill(address);
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.getByLabel('Recovery code').waitFor();
    assert.ok((await page.textContent('body')).includes('recovery code has been sent'));
    await page.getByLabel('Recovery code').fill(codeIn(await messageFor(address, 'recovery_code')));
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.waitForURL(/\/ui\/settings\?flow=/);
    assert.equal(await page.getByLabel('Email').inputValue(), address);
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Your changes have been saved!').waitFor();

    // Signed out, the old password no longer works and the new one does.
    await page.goto(new URL('/ui/account', ISSUER).href);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/ui\/login/);
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('credentials are invalid').waitFor();
    await page.getByLabel('Password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/ui\/account/);
    assert.ok((await page.textContent('body')).includes(address));
    await context.close();
  });

  test('an address is verified through the emailed link', async () => {
    const address = `verify-${Date.now().toString(36)}@example.com`;
    const created = await admin('/admin/identities', {
      method: 'POST',
      body: JSON.stringify({ schema_id: 'default', traits: { email: address } }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.verifiable_addresses[0].verified, false);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(new URL('/ui/verification', ISSUER).href);
    await page.getByLabel('Email').fill(address);
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.getByLabel('Verification code').waitFor();

    const message = await messageFor(address, 'verification_code');
    const link = message.body.match(/https?:\/\/\S+\/ui\/verification\?\S+/)[0];
    assert.ok(link.startsWith(`${ISSUER}/ui/verification?flow=`), link);
    await page.goto(link);
    assert.equal(await page.getByLabel('Verification code').inputValue(), codeIn(message));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText('You successfully verified your email address.').waitFor();

    const { body } = await admin(`/admin/identities/${created.body.id}`);
    assert.equal(body.verifiable_addresses[0].verified, true);
    await context.close();
  });
});

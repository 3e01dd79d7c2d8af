// Helpers shared by the OpenID Connect suites: the admin API, people registered through the
// self-service API (with the code read from the outbox), and a relying party's callback as a
// real HTTP server on loopback that records what the browser brings to it.
//
// Not a test file: `node --test` only runs `*.test.mjs`.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';

export function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the suite through e2e/run.sh`);
  }
  return value;
}

export const ISSUER = requiredEnv('E2E_ISSUER');
export const ADMIN_URL = requiredEnv('E2E_ADMIN_URL');
export const ADMIN_TOKEN = requiredEnv('E2E_ADMIN_TOKEN');
export const PASSWORD = 'correct horse battery staple 93';

/** A unique label, so every run and every test uses distinct clients and people. */
export const unique = (label) =>
  `e2e-${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** A call to the admin API; answers the status and the parsed JSON body (or null). */
export async function admin(method, path, body) {
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
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Creates a client on the admin API (Hydra field names); answers its JSON. */
export async function createClient(metadata) {
  const { status, body } = await admin('POST', '/admin/clients', metadata);
  assert.equal(status, 201, JSON.stringify(body));
  return body;
}

/** The newest six-digit code sent to `address`, read from the outbox through the admin API. */
export async function codeFor(address) {
  const path = `/admin/courier/messages?recipient=${encodeURIComponent(address)}`;
  for (let i = 0; i < 50; i++) {
    const { status, body } = await admin('GET', path);
    assert.equal(status, 200);
    const code = body[0]?.body.match(/\b(\d{6})\b/)?.[1];
    if (code) return code;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`no code was sent to ${address}`);
}

/** A self-service API call; answers the status and the parsed JSON body. */
async function selfService(method, path, body) {
  const response = await fetch(new URL(path, ISSUER), {
    method,
    headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * Registers `address` through the self-service API (verification-first: the account exists
 * once the emailed code is entered) with first name "Ada"; answers the identity's JSON.
 */
export async function registerPerson(address, password = PASSWORD) {
  const flow = await selfService('GET', '/self-service/registration/api');
  assert.equal(flow.status, 200, JSON.stringify(flow.body));
  const submit = `/self-service/registration?flow=${encodeURIComponent(flow.body.id)}`;
  const sent = await selfService('POST', submit, {
    method: 'password',
    traits: { email: address, first_name: 'Ada' },
    password,
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const verified = await selfService('POST', submit, { method: 'code', code: await codeFor(address) });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  assert.equal(verified.body.identity?.traits?.email, address);
  return verified.body.identity;
}

/**
 * A relying party's web server on 127.0.0.1 with a free port: every request is recorded (its
 * absolute URL, method, form body, and its `state` from the query or the form) and answered
 * with a small HTML page. `next(path, state)` waits for the first request to `path` carrying
 * that state (as a relying party matches a callback to its request) that has not been taken.
 */
export async function startRelyingParty() {
  const seen = [];
  const waiting = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const url = new URL(req.url, `http://${req.headers.host}`);
      const state = url.searchParams.get('state') ?? new URLSearchParams(body).get('state');
      seen.push({ url, method: req.method, body, state, taken: false });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>Relying party</title><p>Back at the relying party.</p>');
      for (const w of waiting.splice(0)) w();
    });
  });
  await new Promise((ok, ko) => server.once('error', ko).listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    url: (path) => `${base}${path}`,
    /** Every request so far (for diagnostics). */
    seen: () => seen.map(({ method, url, body, taken }) => `${method} ${url.pathname}${url.search} ${body} taken=${taken}`),
    /** The first not-yet-taken request to `path` with `state` (waits up to `timeout` ms). */
    async next(path, state, timeout = 15_000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const hit = seen.find((r) => r.url.pathname === path && r.state === state && !r.taken);
        if (hit) {
          hit.taken = true;
          return hit;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`the relying party saw no request to ${path} with state ${state}`);
        await new Promise((ok) => {
          const timer = setTimeout(ok, left);
          waiting.push(() => {
            clearTimeout(timer);
            ok();
          });
        });
      }
    },
    close: () => new Promise((ok) => server.close(ok)),
  };
}

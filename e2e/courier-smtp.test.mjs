// The courier against a real SMTP server: aiosmtpd (PyPI), started by e2e/smtp_sink.py on three
// loopback ports -- plain, STARTTLS required + AUTH, implicit TLS (smtps) + AUTH -- with a
// server certificate from a throwaway CA made here with the openssl CLI. For each mode a
// `gatehouse serve --dev` of its own gets GATEHOUSE_SMTP_URL (and GATEHOUSE_SMTP_CA_FILE for
// TLS), a registration queues a code, and the test reads what aiosmtpd received, parsed by
// Python's email package: recipient, subject, multipart/alternative with the text and the HTML
// part, the same code as in the outbox, TLS and the AUTH login. A server whose certificate is
// not trusted gets nothing, and without SMTP the --dev log shows the message.
//
// Started by e2e/run.sh, which passes E2E_GATEHOUSE_BIN (the built binary) and E2E_PYTHON (a
// Python with aiosmtpd); the suite is skipped with a message when either is missing.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const BIN = process.env.E2E_GATEHOUSE_BIN;
const PYTHON = process.env.E2E_PYTHON;
const HERE = dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'correct horse battery staple 93';
const SMTP_USER = 'gatehouse';
const SMTP_PASSWORD = 'p@ss word'; // needs percent-encoding in the URL
const SMTP_CREDENTIALS = `${SMTP_USER}:${encodeURIComponent(SMTP_PASSWORD)}`;

function missing() {
  if (!BIN || !existsSync(BIN)) return `no gatehouse binary (E2E_GATEHOUSE_BIN=${BIN ?? ''})`;
  if (!PYTHON || !existsSync(PYTHON)) return `no Python with aiosmtpd (E2E_PYTHON=${PYTHON ?? ''})`;
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    return 'no openssl CLI';
  }
  return false;
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Polls `check` every 100 ms until it returns something truthy, for up to `seconds`. */
async function eventually(what, seconds, check) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await sleep(100);
  }
}

/** A CA and a server certificate for localhost / 127.0.0.1 signed by it, in `dir`. */
function makeCertificates(dir) {
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=Gatehouse e2e CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'server.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ].join('\n'));
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-set_serial', '0x' + Date.now().toString(16), '-days', '2', '-extfile', 'server.ext',
    '-out', 'server.pem');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

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

/** Waits for `child` to exit, then for up to `ms` more before SIGKILL. */
async function stop(child, ms = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

/** `gatehouse serve --dev` on a fresh SQLite database with `env` (GATEHOUSE_SMTP_URL, …). */
async function startGatehouse(dir, env) {
  const [publicPort, adminPort] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${publicPort}`;
  const admin = `http://127.0.0.1:${adminPort}`;
  const token = `courier-e2e-${Date.now().toString(36)}-admin-token`;
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_') || k === 'GATEHOUSE_LOG'),
  );
  const child = spawn(BIN, ['serve', '--dev'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...base,
      NO_COLOR: '1',
      GATEHOUSE_LOG: 'info',
      GATEHOUSE_DATABASE_URL: `sqlite://${join(dir, 'gatehouse.db')}`,
      GATEHOUSE_PUBLIC_ADDR: `127.0.0.1:${publicPort}`,
      GATEHOUSE_ADMIN_ADDR: `127.0.0.1:${adminPort}`,
      GATEHOUSE_ISSUER: issuer,
      GATEHOUSE_ADMIN_TOKEN: token,
      ...env,
    },
  });
  let log = '';
  child.stdout.on('data', (chunk) => (log += chunk));
  child.stderr.on('data', (chunk) => (log += chunk));
  const server = {
    issuer,
    token,
    log: () => log,
    stop: () => stop(child),
    async outbox(address) {
      const url = new URL('/admin/courier/messages', admin);
      url.searchParams.set('recipient', address);
      const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 200);
      return response.json();
    },
  };
  try {
    await eventually('gatehouse to be ready', 30, async () => {
      if (child.exitCode !== null) throw new Error(`gatehouse exited early:\n${log}`);
      try {
        const response = await fetch(`${issuer}/health/ready`, { signal: AbortSignal.timeout(1000) });
        return response.status === 200;
      } catch {
        return false;
      }
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** An API registration for `address`, which queues a registration code. */
async function register(issuer, address) {
  const flow = await (await fetch(`${issuer}/self-service/registration/api`)).json();
  const response = await fetch(`${issuer}/self-service/registration?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ traits: { email: address }, password: PASSWORD }),
  });
  assert.equal(response.status, 200, await response.text());
}

describe('courier over SMTP to aiosmtpd', { skip: missing() }, () => {
  let dir;
  let certs;
  let sink;
  let ports;
  let sinkLog = '';
  const inbox = () => join(dir, 'inbox');

  /** What aiosmtpd received for `address` (one message, parsed by smtp_sink.py). */
  const receivedFor = (address) =>
    readdirSync(inbox())
      .filter((name) => name.endsWith('.json'))
      .map((name) => JSON.parse(readFileSync(join(inbox(), name), 'utf8')))
      .find((mail) => mail.rcpt_tos.includes(address));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-courier-e2e-'));
    execFileSync('mkdir', ['-p', join(dir, 'inbox')]);
    certs = makeCertificates(dir);
    sink = spawn(PYTHON, [
      join(HERE, 'smtp_sink.py'),
      '--out', inbox(),
      '--cert', certs.cert,
      '--key', certs.key,
      '--user', SMTP_USER,
      '--password', SMTP_PASSWORD,
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    sink.stderr.on('data', (chunk) => (sinkLog += chunk));
    const first = await new Promise((ok, ko) => {
      const lines = createInterface({ input: sink.stdout });
      lines.once('line', ok);
      sink.once('exit', (code) => ko(new Error(`smtp_sink.py exited (${code}):\n${sinkLog}`)));
    });
    ports = JSON.parse(first);
  });

  after(async () => {
    if (sink) {
      sink.stdin.end();
      await stop(sink, 2000);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a gatehouse with `env`, registers a new address and returns it with the server. */
  async function registerWith(env) {
    const home = mkdtempSync(join(dir, 'gatehouse-'));
    const server = await startGatehouse(home, env);
    const address = `courier-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
    try {
      await register(server.issuer, address);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return { server, address };
  }

  /** Waits for the message to `address` at aiosmtpd and checks it against the outbox. */
  async function delivered(server, address) {
    try {
      const mail = await eventually(`a message to ${address}`, 20, () => receivedFor(address));
      const [message] = await eventually('the message to be marked sent', 10, async () => {
        const list = await server.outbox(address);
        return list[0]?.status === 'sent' && list;
      });
      assert.equal(message.template_type, 'registration_code');
      const code = message.body.match(/\b(\d{6})\b/)?.[1];
      assert.ok(code, 'the outbox body has a 6-digit code');

      assert.deepEqual(mail.rcpt_tos, [address]);
      assert.equal(mail.to, address);
      assert.match(mail.from, /no-reply@127\.0\.0\.1/);
      assert.equal(mail.subject, message.subject);
      assert.equal(mail.content_type, 'multipart/alternative');
      assert.deepEqual(mail.parts.map((p) => p.content_type), ['text/plain', 'text/html']);
      const [text, html] = mail.parts.map((p) => p.content);
      assert.match(text, new RegExp(`\\b${code}\\b`));
      assert.equal(text.replace(/\r\n/g, '\n'), message.body);
      assert.match(html, /^<!DOCTYPE html>/);
      assert.ok(html.includes(`>${code}</span>`), html);
      assert.equal(html.replace(/\r\n/g, '\n'), message.html_body);
      return mail;
    } catch (err) {
      err.message += `\n--- gatehouse log ---\n${server.log()}\n--- aiosmtpd log ---\n${sinkLog}`;
      throw err;
    } finally {
      await server.stop();
    }
  }

  test('plain SMTP: text and HTML alternatives with the code', async () => {
    const { server, address } = await registerWith({
      GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${ports.plain}`,
    });
    const mail = await delivered(server, address);
    assert.equal(mail.tls, null);
    assert.equal(mail.login, null);
  });

  test('STARTTLS required, AUTH with the URL credentials, CA from GATEHOUSE_SMTP_CA_FILE', async () => {
    const { server, address } = await registerWith({
      GATEHOUSE_SMTP_URL: `smtp://${SMTP_CREDENTIALS}@localhost:${ports.starttls}?tls=required`,
      GATEHOUSE_SMTP_CA_FILE: certs.ca,
    });
    const mail = await delivered(server, address);
    assert.match(mail.tls ?? '', /^TLSv1\.[23]$/);
    assert.equal(mail.login, SMTP_USER);
  });

  test('implicit TLS (smtps://), AUTH, CA from [smtp] ca_file', async () => {
    const home = mkdtempSync(join(dir, 'config-'));
    const config = join(home, 'gatehouse.toml');
    writeFileSync(config, `[smtp]\nca_file = ${JSON.stringify(certs.ca)}\n`);
    const { server, address } = await registerWith({
      GATEHOUSE_CONFIG: config,
      GATEHOUSE_SMTP_URL: `smtps://${SMTP_CREDENTIALS}@127.0.0.1:${ports.smtps}`,
    });
    const mail = await delivered(server, address);
    assert.match(mail.tls ?? '', /^TLSv1\.[23]$/);
    assert.equal(mail.login, SMTP_USER);
  });

  test('a certificate the server does not trust is refused and the message stays queued', async () => {
    // The same STARTTLS server, without the CA: the system roots do not know it.
    const { server, address } = await registerWith({
      GATEHOUSE_SMTP_URL: `smtp://${SMTP_CREDENTIALS}@localhost:${ports.starttls}?tls=required`,
    });
    try {
      const failure = await eventually('a failed delivery in the log', 20, () =>
        server.log().split('\n').find((line) => line.includes('message delivery failed')));
      assert.match(failure, /certificate/i, failure);
      const [message] = await server.outbox(address);
      assert.equal(message.status, 'queued');
      assert.equal(receivedFor(address), undefined);
    } catch (err) {
      err.message += `\n--- gatehouse log ---\n${server.log()}`;
      throw err;
    } finally {
      await server.stop();
    }
  });

  test('without SMTP, --dev logs the recipient, subject and code and keeps the message', async () => {
    const { server, address } = await registerWith({});
    try {
      const [message] = await eventually('the queued message', 10, () => server.outbox(address).then((l) => l.length && l));
      assert.equal(message.status, 'queued');
      const code = message.body.match(/\b(\d{6})\b/)[1];
      const line = server.log().split('\n').find((l) => l.includes('no SMTP server configured') && l.includes(address));
      assert.ok(line, server.log());
      assert.ok(line.includes(message.subject), line);
      assert.ok(line.includes(code), line);
    } finally {
      await server.stop();
    }
  });
});

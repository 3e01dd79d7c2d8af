// The demo SPA's only script. It holds no token: the browser sends the BFF's HttpOnly session
// cookie by itself, and every call the BFF should treat as the app's carries `X-CSRF: 1`, a
// header a cross-site form or link cannot add.
'use strict';

const CSRF = { 'X-CSRF': '1' };

const $ = (id) => document.getElementById(id);

function show(section) {
  for (const id of ['loading', 'signed-out', 'signed-in']) {
    $(id).hidden = id !== section;
  }
}

/** `GET /bff/user`: the signed-in person's claims, or null when signed out (401). */
async function loadUser() {
  const response = await fetch('/bff/user', { headers: CSRF, cache: 'no-store' });
  if (response.status === 401) return null;
  if (!response.ok) throw new Error(`/bff/user answered ${response.status}`);
  return response.json();
}

function showSignedIn(claims) {
  $('email').textContent = claims.email ?? claims.sub;
  $('claims').textContent = JSON.stringify(claims, null, 2);
  // Logout is a form POST, so the browser follows the BFF's redirect to the provider's logout
  // page. A form cannot send X-CSRF; the session's `sid` claim in the query proves instead
  // that the request comes from this page. `bff:logout_url` is that URL, as the BFF builds it.
  const form = $('logout');
  if (typeof claims.sid === 'string') {
    form.action =
      claims['bff:logout_url'] ?? `/bff/logout?sid=${encodeURIComponent(claims.sid)}`;
  } else {
    // No sid: end the BFF session with a header-carrying fetch instead (the provider's session
    // stays, as the redirect to its logout page is not followed).
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      await fetch('/bff/logout', { method: 'POST', headers: CSRF, redirect: 'manual' });
      window.location.assign('/');
    });
  }
  show('signed-in');
}

function time(seconds) {
  return typeof seconds === 'number' ? new Date(seconds * 1000).toLocaleTimeString() : '?';
}

/** `GET /api/data` through the BFF; shows the answer. */
async function callApi() {
  const status = $('api-status');
  const output = $('api-data');
  status.className = '';
  status.textContent = 'Calling…';
  let response;
  try {
    response = await fetch('/api/data', { headers: CSRF, cache: 'no-store' });
  } catch (error) {
    status.className = 'error';
    status.textContent = `The BFF could not be reached: ${error.message}`;
    return;
  }
  if (response.status === 401) {
    // The session expired or its refresh was refused: back to "Sign in".
    show('signed-out');
    return;
  }
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!response.ok) {
    status.className = 'error';
    status.textContent = `The API answered ${response.status}.`;
    output.textContent = text;
    return;
  }
  const token = body?.token ?? {};
  status.textContent =
    `200 OK at ${new Date().toLocaleTimeString()}: the API saw an access token issued at ` +
    `${time(token.issued_at)}, expiring at ${time(token.expires_at)}.`;
  output.textContent = JSON.stringify(body, null, 2);
}

async function start() {
  $('call-api').addEventListener('click', callApi);
  try {
    const claims = await loadUser();
    if (claims) showSignedIn(claims);
    else show('signed-out');
  } catch (error) {
    const loading = $('loading');
    loading.className = 'error';
    loading.textContent = `Cannot reach the BFF: ${error.message}`;
  }
}

start();

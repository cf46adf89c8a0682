#!/usr/bin/env node
// Self-check for idp.mjs: starts it as a child process and drives it the way the registry (and a
// browser) will: authorization code flow with PKCE S256 and nonce, the HTML login form, the token
// endpoint, ID token verification against the JWKS, userinfo, wrong password, cancel and
// RP-initiated logout. Only Node's fetch: redirects are followed by hand and cookies are kept in a
// small path-aware jar, so it also documents which cookies the flow needs.
//
//   node tests/idp/selfcheck.mjs      (exit status 0 = all good)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { createRemoteJWKSet, jwtVerify } from 'jose';

const IDP = fileURLToPath(new URL('idp.mjs', import.meta.url));
// Nothing listens on these: the flow stops at the redirect and reads its query string.
const REDIRECT_URI = 'http://127.0.0.1:53123/auth/callback';
const POST_LOGOUT_URI = 'http://localhost:53124/salida';
const CLIENT = { id: 'renhice', secret: 'renhice-dev-secret' };
const SUB = { medica: '3f6b2c1e-8a4d-4e2b-9c71-0d5e6f7a8b01', auditora: '3f6b2c1e-8a4d-4e2b-9c71-0d5e6f7a8b04' };

// --- the IdP process ----------------------------------------------------------------------------
async function startIdp(args) {
  const started = performance.now();
  const child = spawn(process.execPath, [IDP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const idp = { child, stdout: '', stderr: '' };
  child.stderr.on('data', (d) => { idp.stderr += d; });
  idp.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no JSON line within 10 s')), 10_000);
    child.stdout.on('data', (d) => {
      idp.stdout += d;
      const nl = idp.stdout.indexOf('\n');
      if (nl !== -1) { clearTimeout(timer); resolve(idp.stdout.slice(0, nl)); }
    });
    idp.exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`idp exited (${code}):\n${idp.stderr}`)); });
  });
  idp.startupMs = Math.round(performance.now() - started);
  const ready = JSON.parse(line);
  assert.deepEqual(Object.keys(ready), ['issuer', 'pid']);
  assert.match(ready.issuer, /^http:\/\/127\.0\.0\.1:\d+$/, 'issuer is http://HOST:PORT, no trailing slash');
  assert.equal(ready.pid, child.pid);
  idp.issuer = ready.issuer;
  idp.discovery = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
  assert.equal(idp.discovery.issuer, idp.issuer);
  return idp;
}

async function stopIdp(idp) {
  idp.child.kill('SIGTERM');
  const { code, signal } = await idp.exited;
  assert.equal(code, 0, `idp exits cleanly on SIGTERM (code ${code}, signal ${signal})`);
  assert.equal(idp.stdout, `${idp.stdout.split('\n')[0]}\n`, 'exactly one line on stdout');
}

// --- a minimal browser: cookie jar + manual redirects ---------------------------------------------
class Browser {
  #cookies = new Map(); // "name path" -> { name, value, path }

  async request(url, init = {}) {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...init.headers, cookie: this.#cookieHeader(new URL(url)) },
    });
    this.#store(new URL(url), res.headers.getSetCookie());
    return res;
  }

  // Follows redirects while they stay on `origin`; returns the first response that is not a
  // redirect, or { location } for a redirect that leaves the IdP (the relying party's callback).
  async navigate(url, init, origin) {
    let res = await this.request(url, init);
    for (let hops = 0; hops < 10; hops += 1) {
      const location = res.headers.get('location');
      if (!location) return { res, url };
      url = new URL(location, url).href;
      if (new URL(url).origin !== origin) return { location: url };
      res = await this.request(url);
    }
    throw new Error('too many redirects');
  }

  submit(form, fields, origin) {
    return this.navigate(form.action, {
      method: form.method,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, ...fields }).toString(),
    }, origin);
  }

  names() {
    return [...this.#cookies.values()].map((c) => `${c.name} (Path=${c.path})`);
  }

  #store(url, setCookies) {
    for (const header of setCookies) {
      const [pair, ...attributes] = header.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const cookie = { name: pair.slice(0, eq), value: pair.slice(eq + 1), path: url.pathname.replace(/\/[^/]*$/, '') || '/' };
      let expired = false;
      for (const attribute of attributes) {
        const [key, value = ''] = attribute.split('=');
        if (/^path$/i.test(key)) cookie.path = value;
        if (/^expires$/i.test(key) && Date.parse(value) <= Date.now()) expired = true;
        if (/^max-age$/i.test(key) && Number(value) <= 0) expired = true;
      }
      const key = `${cookie.name} ${cookie.path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, cookie);
    }
  }

  #cookieHeader(url) {
    const pathMatches = (path) => url.pathname === path
      || (url.pathname.startsWith(path) && (path.endsWith('/') || url.pathname[path.length] === '/'));
    return [...this.#cookies.values()].filter((c) => pathMatches(c.path))
      .map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

// Plain HTML form parsing, as a test HTTP client would do it.
const unescape = (s) => s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(n))
  .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const attr = (tag, name) => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? unescape(m[1]) : undefined;
};
function forms(html, baseUrl) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map(([, tag, inner]) => ({
    id: attr(tag, 'id'),
    method: (attr(tag, 'method') ?? 'get').toUpperCase(),
    action: new URL(attr(tag, 'action') ?? '', baseUrl).href,
    fields: Object.fromEntries([...inner.matchAll(/<input\b([^>]*)>/g)]
      .filter(([, t]) => attr(t, 'name')).map(([, t]) => [attr(t, 'name'), attr(t, 'value') ?? ''])),
    html: inner,
  }));
}

// --- one authorization request up to the login page -------------------------------------------------
const b64url = (buf) => Buffer.from(buf).toString('base64url');

async function openLoginPage(idp, browser, { redirectUri = REDIRECT_URI } = {}) {
  const request = { state: b64url(randomBytes(16)), nonce: b64url(randomBytes(16)), verifier: b64url(randomBytes(32)) };
  const url = new URL(idp.discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: CLIENT.id,
    response_type: 'code',
    scope: 'openid profile renhice',
    redirect_uri: redirectUri,
    state: request.state,
    nonce: request.nonce,
    code_challenge: b64url(createHash('sha256').update(request.verifier).digest()),
    code_challenge_method: 'S256',
  });
  const { res, url: pageUrl } = await browser.navigate(url.href, {}, idp.issuer);
  const html = await res.text();
  assert.equal(res.status, 200, `login page expected, got ${res.status}: ${html.slice(0, 300)}`);
  assert.match(pageUrl, /\/interaction\/[\w-]+$/);
  assert.match(html, /<html lang="es">/);
  for (const id of ['login', 'password', 'submit', 'cancel']) assert.match(html, new RegExp(`id="${id}"`));
  const [login, cancel] = forms(html, pageUrl);
  assert.equal(login.action, `${pageUrl}/login`);
  assert.equal(cancel.action, `${pageUrl}/abort`);
  return { request, login, cancel };
}

function callbackParams(location, request) {
  assert.ok(location?.startsWith(`${REDIRECT_URI}?`), `redirect to the RP expected, got ${location}`);
  const params = new URL(location).searchParams;
  assert.equal(params.get('state'), request.state);
  return params;
}

// --- scenarios ---------------------------------------------------------------------------------------
async function signIn(idp, { user, password, clientAuth, claimsInIdToken }) {
  const browser = new Browser();
  const { request, login } = await openLoginPage(idp, browser);
  const { location } = await browser.submit(login, { login: user, password }, idp.issuer);
  const params = callbackParams(location, request);
  assert.equal(params.get('iss'), idp.issuer, 'RFC 9207 iss in the authorization response');
  const code = params.get('code');
  assert.ok(code, 'authorization code');
  const cookiesAfterLogin = browser.names();

  // Token request: client_secret_basic (form-urlencoded id and secret, then base64) or _post.
  const body = new URLSearchParams({
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: request.verifier,
  });
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (clientAuth === 'client_secret_basic') {
    const enc = (s) => encodeURIComponent(s);
    headers.authorization = `Basic ${Buffer.from(`${enc(CLIENT.id)}:${enc(CLIENT.secret)}`).toString('base64')}`;
  } else {
    body.set('client_id', CLIENT.id);
    body.set('client_secret', CLIENT.secret);
  }
  const tokenRes = await fetch(idp.discovery.token_endpoint, { method: 'POST', headers, body });
  const tokens = await tokenRes.json();
  assert.equal(tokenRes.status, 200, JSON.stringify(tokens));
  assert.equal(tokens.token_type, 'Bearer');

  const jwks = createRemoteJWKSet(new URL(idp.discovery.jwks_uri));
  const { payload: idToken, protectedHeader } = await jwtVerify(tokens.id_token, jwks, {
    issuer: idp.issuer, audience: CLIENT.id, algorithms: ['RS256'],
  });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(idToken.nonce, request.nonce);
  assert.equal(idToken.sub, SUB[user]);

  const userinfoRes = await fetch(idp.discovery.userinfo_endpoint, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  const userinfo = await userinfoRes.json();
  assert.equal(userinfoRes.status, 200, JSON.stringify(userinfo));
  assert.equal(userinfo.sub, idToken.sub);

  // A code works once; replaying it also revokes the tokens already issued from it (RFC 6749 4.1.2).
  const replay = await fetch(idp.discovery.token_endpoint, { method: 'POST', headers, body });
  assert.equal(replay.status, 400);
  const revoked = await fetch(idp.discovery.userinfo_endpoint, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(revoked.status, 401);

  const released = ['name', 'given_name', 'family_name', 'dni', 'colegiatura', 'renipress', 'roles'];
  for (const claim of released) {
    if (claimsInIdToken) assert.deepEqual(idToken[claim], userinfo[claim], `${claim} in ID token`);
    else assert.equal(idToken[claim], undefined, `${claim} only in userinfo`);
  }
  return { browser, idToken, userinfo, tokens, cookiesAfterLogin };
}

async function wrongPassword(idp) {
  const browser = new Browser();
  const { login } = await openLoginPage(idp, browser);
  const { res, location } = await browser.submit(login, { login: 'medica', password: 'incorrecta' }, idp.issuer);
  assert.equal(location, undefined, 'no redirect to the RP');
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /id="error"[^>]*>Usuario o contraseña incorrectos\./);
  assert.equal(forms(html, login.action).length, 2, 'login and cancel forms are rendered again');
}

async function cancel(idp) {
  const browser = new Browser();
  const { request, cancel: form } = await openLoginPage(idp, browser);
  const { location } = await browser.submit(form, {}, idp.issuer);
  const params = callbackParams(location, request);
  assert.equal(params.get('error'), 'access_denied');
  assert.equal(params.get('error_description'), 'el usuario canceló el ingreso');
  assert.equal(params.get('code'), null);
}

async function logout(idp, { browser, tokens }) {
  const state = b64url(randomBytes(8));
  const url = new URL(idp.discovery.end_session_endpoint);
  url.search = new URLSearchParams({
    id_token_hint: tokens.id_token, post_logout_redirect_uri: POST_LOGOUT_URI, state,
  });
  const { res, url: pageUrl } = await browser.navigate(url.href, {}, idp.issuer);
  const html = await res.text();
  assert.equal(res.status, 200, html.slice(0, 300));
  assert.match(html, /id="logout"/, 'visible submit button for clients without JavaScript');
  assert.match(html, /<script>document\.getElementById\('op\.logoutForm'\)\.submit\(\)<\/script>/);
  const [form] = forms(html, pageUrl);
  assert.equal(form.fields.logout, 'yes');
  assert.ok(form.fields.xsrf);
  const { location } = await browser.submit(form, {}, idp.issuer);
  assert.equal(location, `${POST_LOGOUT_URI}?state=${state}`);

  // The session is really gone: a new authorization request asks for the password again.
  await openLoginPage(idp, browser);
}

// An unacceptable redirect_uri must get an error page at the IdP, never a redirect to that URI.
async function rejectsRedirectUri(idp, redirectUri) {
  const url = new URL(idp.discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: CLIENT.id, response_type: 'code', scope: 'openid', redirect_uri: redirectUri,
    state: 'x', nonce: 'x', code_challenge: b64url(randomBytes(32)), code_challenge_method: 'S256',
  });
  const res = await new Browser().request(url.href);
  assert.equal(res.status, 400, `${redirectUri} must be rejected`);
  assert.equal(res.headers.get('location'), null);
  assert.match(await res.text(), /invalid_redirect_uri/);
}

// --- run ---------------------------------------------------------------------------------------------
const runs = [
  {
    title: '--any-loopback-redirect (claims only in userinfo, client_secret_basic, medica)',
    args: ['--any-loopback-redirect'],
    user: 'medica',
    password: 'medica-clave',
    clientAuth: 'client_secret_basic',
    claimsInIdToken: false,
    check: ({ userinfo }) => {
      assert.deepEqual(userinfo, {
        sub: SUB.medica,
        name: 'Dra. Rosa Quispe Mamani',
        given_name: 'Rosa',
        family_name: 'Quispe Mamani',
        dni: '40123456',
        colegiatura: '01|012345',
        renipress: '00012345',
      });
    },
    rejected: ['https://rp.example/callback', 'http://192.0.2.1:8080/callback'],
  },
  {
    title: '--claims-in-id-token with explicit redirect URIs (client_secret_post, auditora)',
    args: ['--claims-in-id-token', '--redirect-uri', REDIRECT_URI, '--post-logout-redirect-uri', POST_LOGOUT_URI,
      '--client', `${CLIENT.id}:${CLIENT.secret}`, '--client', 'otro:otro-secreto'],
    user: 'auditora',
    password: 'auditora-clave',
    clientAuth: 'client_secret_post',
    claimsInIdToken: true,
    check: ({ idToken, userinfo }) => {
      assert.deepEqual(idToken.roles, ['renhice-auditor']);
      assert.equal(userinfo.dni, '41234567');
      assert.equal(userinfo.colegiatura, undefined);
    },
    rejected: ['http://127.0.0.1:53199/auth/callback'], // loopback, but not registered here
  },
];

let failed = false;
for (const run of runs) {
  console.log(`\n== ${run.title}`);
  let idp;
  try {
    idp = await startIdp(run.args);
    console.log(`ok  started ${idp.issuer} in ${idp.startupMs} ms (spawn -> JSON line)`);
    const result = await signIn(idp, run);
    run.check(result);
    console.log(`ok  code flow with PKCE as ${run.user}, ${run.clientAuth}; cookies: ${result.cookiesAfterLogin.join(', ')}`);
    console.log(`    ID token claims: ${Object.keys(result.idToken).join(' ')}`);
    console.log(`    userinfo claims: ${Object.keys(result.userinfo).join(' ')}`);
    await wrongPassword(idp);
    console.log('ok  wrong password: 200 with id="error", no code');
    await cancel(idp);
    console.log('ok  cancel: error=access_denied at the redirect URI');
    await logout(idp, result);
    console.log('ok  logout: redirected to post_logout_redirect_uri with state; session ended');
    for (const uri of run.rejected) await rejectsRedirectUri(idp, uri);
    console.log(`ok  rejected redirect URIs: ${run.rejected.join(', ')}`);
    await stopIdp(idp);
    console.log('ok  SIGTERM: exit 0, one line on stdout');
  } catch (err) {
    failed = true;
    console.error(`FAIL ${err.stack ?? err}`);
    if (idp) {
      idp.child.kill('SIGTERM');
      console.error(`--- idp stderr ---\n${idp.stderr}`);
    }
  }
}
console.log(failed ? '\nselfcheck FAILED' : '\nselfcheck passed');
process.exit(failed ? 1 : 0);

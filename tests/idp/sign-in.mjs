// Signs a test person in to a registry through this identity provider, the way the web
// app does (SMART App Launch, PKCE, the provider's login form), and prints the registry's
// token answer as JSON. For trying the API as a person and for benchmarks:
//
//   node tests/idp/sign-in.mjs http://127.0.0.1:8080 medica medica-clave \
//     'openid fhirUser offline_access user/*.rs'
//
// The registry must be federated to this provider (docs/sign-in.md).

import { createHash, randomBytes } from 'node:crypto';

const [base, login, password, scope = 'openid fhirUser offline_access user/*.rs'] =
  process.argv.slice(2);
if (!base || !login || !password) {
  console.error('usage: node tests/idp/sign-in.mjs REGISTRY_BASE LOGIN PASSWORD [SCOPE]');
  process.exit(2);
}

const jar = new Map();
/** GET or POST without following redirects, keeping every cookie the way a browser would
 * for this loopback test (paths are not told apart: the provider's cookie names differ). */
async function go(url, form) {
  const headers = {};
  if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const init = { redirect: 'manual', headers };
  if (form) {
    init.method = 'POST';
    headers['content-type'] = 'application/x-www-form-urlencoded';
    init.body = new URLSearchParams(form).toString();
  }
  const res = await fetch(url, init);
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at).trim(), pair.slice(at + 1));
  }
  return res;
}

const verifier = randomBytes(32).toString('base64url');
const challenge = createHash('sha256').update(verifier).digest('base64url');
const redirect = `${base}/`;
const authorize = new URL(`${base}/auth/authorize`);
for (const [k, v] of Object.entries({
  response_type: 'code', client_id: 'renhice-web', redirect_uri: redirect, scope,
  state: 'cli', aud: `${base}/fhir`, code_challenge: challenge, code_challenge_method: 'S256',
})) authorize.searchParams.set(k, v);

let url = authorize.href;
let signedIn = false;
/** Whether a URL is the app's redirect URI (its query aside). */
const isBack = (/** @type {string} */ u) => u.split('?')[0] === redirect;
for (let hops = 0; hops < 20 && !isBack(url); hops++) {
  const res = await go(url);
  if (res.status >= 300 && res.status < 400) {
    url = new URL(res.headers.get('location'), url).href;
    continue;
  }
  const page = await res.text();
  if (signedIn || !page.includes('name="password"')) {
    console.error(`unexpected page at ${url} (${res.status}):\n${page}`);
    process.exit(1);
  }
  signedIn = true;
  const action = new URL(`${new URL(url).pathname}/login`, url).href;
  const posted = await go(action, { login, password });
  if (!posted.headers.get('location')) {
    console.error('the provider refused the login (wrong password?)');
    process.exit(1);
  }
  url = new URL(posted.headers.get('location'), action).href;
}
const back = new URL(url).searchParams;
if (back.get('error')) {
  console.error(`${back.get('error')}: ${back.get('error_description')}`);
  process.exit(1);
}
const token = await fetch(`${base}/auth/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({
    grant_type: 'authorization_code', code: back.get('code'), redirect_uri: redirect,
    client_id: 'renhice-web', code_verifier: verifier,
  }).toString(),
});
const answer = await token.json();
if (!token.ok) {
  console.error(JSON.stringify(answer));
  process.exit(1);
}
console.log(JSON.stringify(answer));

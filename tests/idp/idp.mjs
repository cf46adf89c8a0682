#!/usr/bin/env node
// A real OpenID Connect provider (npm `oidc-provider`, 8.x) that renhice federates sign-in to in
// tests and local development. NOT for production: everything lives in memory, signing keys are
// generated at every start, passwords are plain text and it speaks plain HTTP.
//
// See README.md for the CLI. On start it prints exactly one JSON line to stdout:
//   {"issuer":"http://127.0.0.1:PORT","pid":N}
// and nothing else; every log goes to stderr.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

// Test harnesses parse stdout, but oidc-provider prints its NOTICEs with console.info (stdout).
// Send every console method to stderr so the ready line stays the only thing on stdout.
console.log = console.info = console.debug = console.error;

const USAGE = `uso: node idp.mjs [opciones]
  --host HOST                      dirección de escucha (por defecto 127.0.0.1)
  --port PORT                      puerto (por defecto 0 = cualquiera libre)
  --client ID:SECRET               cliente confidencial, repetible (por defecto renhice:renhice-dev-secret)
  --redirect-uri URI               redirect_uri permitido para todos los clientes, repetible
  --post-logout-redirect-uri URI   post_logout_redirect_uri permitido, repetible
  --any-loopback-redirect          acepta cualquier http://127.0.0.1|localhost:<puerto>/<ruta>
  --claims-in-id-token             pone todos los claims liberados también en el ID token
  --users FILE                     personas de prueba (por defecto users.json junto a este script)`;

function fail(message) {
  console.error(`idp: ${message}\n${USAGE}`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      client: { type: 'string', multiple: true, default: ['renhice:renhice-dev-secret'] },
      'redirect-uri': { type: 'string', multiple: true, default: [] },
      'post-logout-redirect-uri': { type: 'string', multiple: true, default: [] },
      'any-loopback-redirect': { type: 'boolean', default: false },
      'claims-in-id-token': { type: 'boolean', default: false },
      users: { type: 'string', default: fileURLToPath(new URL('users.json', import.meta.url)) },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  fail(err.message);
}
if (args.help) {
  console.error(USAGE);
  process.exit(0);
}

const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port inválido: ${args.port}`);

const clients = args.client.map((spec) => {
  const i = spec.indexOf(':');
  if (i < 1 || i === spec.length - 1) fail(`--client debe ser ID:SECRET, no ${spec}`);
  return { id: spec.slice(0, i), secret: spec.slice(i + 1) };
});

const anyLoopback = args['any-loopback-redirect'];
const redirectUris = args['redirect-uri'];
if (redirectUris.length === 0) {
  if (!anyLoopback) fail('hace falta --redirect-uri o --any-loopback-redirect');
  // Client metadata must list at least one redirect_uri; any loopback URI is accepted anyway.
  redirectUris.push('http://127.0.0.1/callback');
}

// --- people ---------------------------------------------------------------------------------
// users.json is keyed by login; the account id (and so the token `sub`) is claims.sub, which
// stays stable even if a login name changes.
function loadUsers(file) {
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`no se pudo leer ${file}: ${err.message}`);
  }
  const byLogin = new Map();
  const bySub = new Map();
  for (const [login, user] of Object.entries(parsed.users ?? {})) {
    if (typeof user.password !== 'string' || typeof user.claims?.sub !== 'string') {
      fail(`${file}: "${login}" necesita password y claims.sub`);
    }
    byLogin.set(login, user);
    bySub.set(user.claims.sub, user);
  }
  return { byLogin, bySub };
}
const users = loadUsers(args.users);

// --- signing keys -----------------------------------------------------------------------------
// Fresh keys on every start: relying parties must fetch them from jwks_uri, which is exactly what
// the registry has to do with a real IdP. RS256 signs ID tokens (the client default); the ES256 key
// is published too so RPs can be tested against a JWKS with more than one key type.
function signingKeys() {
  const tag = randomBytes(4).toString('hex');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return {
    keys: [
      { ...rsa, kid: `rsa-${tag}`, use: 'sig', alg: 'RS256' },
      { ...ec, kid: `ec-${tag}`, use: 'sig', alg: 'ES256' },
    ],
  };
}

// --- HTML ---------------------------------------------------------------------------------------
const esc = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · IdP de pruebas RENHICE</title>
<style>
body{font-family:system-ui,sans-serif;max-width:22rem;margin:2rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;box-sizing:border-box;font-size:1rem}
input{margin:.25rem 0 1rem;padding:.5rem}button{padding:.5rem;margin-top:.5rem}
#error{color:#a00;font-weight:bold}.nota{color:#555;font-size:.9rem}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function loginPage(uid, clientId, { login = '', error } = {}) {
  return page('Ingresar', `<h1>Ingresar</h1>
<p class="nota">Proveedor de identidad de <strong>pruebas</strong>. Aplicación: ${esc(clientId)}</p>
${error ? `<p id="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label for="login">Usuario</label>
<input id="login" name="login" autocomplete="username" autofocus value="${esc(login)}">
<label for="password">Contraseña</label>
<input type="password" id="password" name="password" autocomplete="current-password">
<button type="submit" id="submit">Ingresar</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort">
<button type="submit" id="cancel">Cancelar</button>
</form>`);
}

function errorPage(ctx, status, description) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = page('Error', `<h1>No se pudo completar la solicitud</h1>
<p id="error" role="alert">${esc(description)}</p>`);
}

// --- provider configuration ---------------------------------------------------------------------
const MINUTE = 60;

const configuration = {
  clients: clients.map(({ id, secret }) => ({
    client_id: id,
    client_secret: secret,
    redirect_uris: redirectUris,
    post_logout_redirect_uris: args['post-logout-redirect-uri'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // In oidc-provider 8 a client registered for client_secret_basic is also accepted when it
    // sends client_secret_post (lib/shared/token_auth.js treats both as one method), so this one
    // setting satisfies "basic, and post also allowed".
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  responseTypes: ['code'],
  pkce: { methods: ['S256'], required: () => true },
  // The registry always sends redirect_uri; never fall back to the placeholder registered above.
  allowOmittingSingleRegisteredRedirectUri: false,

  scopes: ['openid', 'offline_access', 'profile', 'renhice'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name'],
    renhice: ['dni', 'colegiatura', 'renipress', 'roles'],
  },
  // Default (true): with response_type=code the scope claims are only served by userinfo.
  // --claims-in-id-token puts them in the ID token as well, so the registry can test both paths.
  conformIdTokenClaims: !args['claims-in-id-token'],

  async findAccount(ctx, sub) {
    const user = users.bySub.get(sub);
    if (!user) return undefined;
    // Return everything; oidc-provider releases only what the granted scopes allow.
    return { accountId: sub, claims: async () => structuredClone(user.claims) };
  },

  jwks: signingKeys(),

  cookies: {
    keys: [randomBytes(32).toString('hex')],
    // Cookies ignore ports, so on 127.0.0.1 the browser shares one cookie jar between this IdP and
    // the registry: prefix the names so they cannot collide with the registry's own cookies.
    names: { session: 'idp_session', interaction: 'idp_interaction', resume: 'idp_interaction_resume' },
    // The default long-lived cookie is SameSite=None, which browsers reject without Secure (and
    // Secure cannot be set over plain http). Lax is enough: the registry reaches us by top-level
    // navigation and nothing here runs in an iframe.
    long: { httpOnly: true, sameSite: 'lax', signed: true },
    short: { httpOnly: true, sameSite: 'lax', signed: true },
  },

  features: {
    devInteractions: { enabled: false }, // our own pages below
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    errorPage(ctx, ctx.status, [out.error, out.error_description].filter(Boolean).join(': '));
  },

  ttl: {
    AccessToken: 10 * MINUTE,
    IdToken: 10 * MINUTE,
    AuthorizationCode: MINUTE,
    Interaction: 10 * MINUTE,
    Session: 60 * MINUTE,
    Grant: 60 * MINUTE,
    RefreshToken: 60 * MINUTE,
  },
};

// RP-initiated logout: end the whole session without asking. oidc-provider hands us its form (with
// the xsrf field); we add logout=yes (= sign out everywhere, not just from this client), a visible
// button for clients without JavaScript and a one-line script that submits it for browsers.
async function logoutSource(ctx, form) {
  const formWithButton = form.replace('</form>',
    '<input type="hidden" name="logout" value="yes"/>'
    + '<button type="submit" id="logout">Cerrar sesión</button></form>');
  ctx.body = page('Cerrar sesión', `<h1>Cerrando sesión…</h1>
${formWithButton}
<script>document.getElementById('op.logoutForm').submit()</script>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Sesión cerrada', '<h1>Sesión cerrada</h1><p>Puede cerrar esta ventana.</p>');
}

// --- start --------------------------------------------------------------------------------------
// Listen first: the issuer must contain the real port, and with --port 0 that is only known once
// the socket is bound. The provider is attached to the server right after.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, args.host, resolve);
}).catch((err) => fail(`no se pudo escuchar en ${args.host}:${port}: ${err.message}`));

const hostInUrl = args.host.includes(':') ? `[${args.host}]` : args.host; // IPv6 literal
const issuer = `http://${hostInUrl}:${server.address().port}`;
const provider = new Provider(issuer, configuration);

// --any-loopback-redirect: tests start this IdP before they know the registry's port. oidc-provider
// has no configuration switch for this; its own "redirect URI wildcards" recipe (for 8.x) overrides
// Client.prototype.redirectUriAllowed / postLogoutRedirectUriAllowed on the provider instance, so we
// do the same. Everything else (exact matching of registered URIs, code exchange requiring the same
// redirect_uri) is untouched.
if (anyLoopback) {
  const isLoopback = (value) => {
    let url;
    try {
      url = new URL(value);
    } catch {
      return false;
    }
    return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
      && !url.hash && !url.username && !url.password;
  };
  const { prototype } = provider.Client;
  const { redirectUriAllowed, postLogoutRedirectUriAllowed } = prototype;
  prototype.redirectUriAllowed = function anyLoopbackRedirectUriAllowed(value) {
    return isLoopback(value) || redirectUriAllowed.call(this, value);
  };
  prototype.postLogoutRedirectUriAllowed = function anyLoopbackPostLogoutRedirectUriAllowed(value) {
    return isLoopback(value) || postLogoutRedirectUriAllowed.call(this, value);
  };
}

// The sign-in pages (interactions.url points here). provider.use() runs before oidc-provider's own
// routes, so these paths are ours.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(ctx.path);
  if (!match) return next();
  const [, uid, action = ''] = match;
  ctx.set('cache-control', 'no-store');
  try {
    // Reads the idp_interaction cookie (Path=/interaction/UID) set by /auth.
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== uid) throw new errors.SessionNotFound('interaction uid mismatch');

    const route = `${ctx.method} ${action}`;
    if (route === 'GET ') return await showInteraction(ctx, interaction);
    if (route === 'POST login') return await submitLogin(ctx, interaction);
    if (route === 'POST abort') {
      return await finish(ctx, { error: 'access_denied', error_description: 'el usuario canceló el ingreso' });
    }
    return errorPage(ctx, 405, 'Método no permitido.');
  } catch (err) {
    if (!(err instanceof errors.SessionNotFound)) throw err;
    console.error(`idp: interacción ${uid}: ${err.error_description ?? err.message}`);
    return errorPage(ctx, 400, 'La solicitud de ingreso expiró o no es válida. Vuelva a la aplicación e intente de nuevo.');
  }
});

async function showInteraction(ctx, interaction) {
  const { uid, prompt, params } = interaction;
  if (prompt.name === 'login') {
    ctx.type = 'html';
    ctx.body = loginPage(uid, params.client_id, { login: params.login_hint ?? '' });
    return;
  }
  if (prompt.name === 'consent') {
    // The registry is a first-party relying party: grant what it asked for, no consent page.
    const { details } = prompt;
    const grant = interaction.grantId
      ? await provider.Grant.find(interaction.grantId)
      : new provider.Grant({ accountId: interaction.session.accountId, clientId: params.client_id });
    if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    // A new grant is handed over; an existing one was updated in place.
    await finish(ctx, { consent: interaction.grantId ? {} : { grantId } }, true);
    return;
  }
  errorPage(ctx, 400, `Paso de ingreso no soportado: ${prompt.name}`);
}

async function submitLogin(ctx, interaction) {
  if (interaction.prompt.name !== 'login') return errorPage(ctx, 400, 'Esta solicitud ya no espera un ingreso.');
  const form = await readForm(ctx);
  const login = form.get('login') ?? '';
  const user = users.byLogin.get(login);
  if (!user || user.password !== form.get('password')) {
    ctx.type = 'html'; // 200 and no sign-in: the person just tries again
    ctx.body = loginPage(interaction.uid, interaction.params.client_id, {
      login,
      error: 'Usuario o contraseña incorrectos.',
    });
    return undefined;
  }
  return finish(ctx, { login: { accountId: user.claims.sub, amr: ['pwd'] } });
}

// Stores the interaction result and sends the browser back to /auth/UID, where oidc-provider
// resumes the authorization request (it needs the idp_interaction_resume cookie, Path=/auth/UID).
async function finish(ctx, result, mergeWithLastSubmission = false) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

async function readForm(ctx) {
  if (!ctx.is('application/x-www-form-urlencoded')) return new URLSearchParams();
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > 16 * 1024) ctx.throw(413);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

provider.on('server_error', (ctx, err) => console.error('idp: server_error', err));
server.on('request', provider.callback());

process.stdout.write(`${JSON.stringify({ issuer, pid: process.pid })}\n`);
console.error(`idp: escuchando en ${issuer} (clientes: ${clients.map((c) => c.id).join(', ')}; `
  + `any-loopback-redirect: ${anyLoopback}; claims-in-id-token: ${args['claims-in-id-token']})`);

function shutdown(signal) {
  console.error(`idp: ${signal}, cerrando`);
  server.close(() => process.exit(0));
  server.closeAllConnections(); // keep-alive sockets would otherwise hold close() open
  setTimeout(() => process.exit(0), 2000).unref();
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

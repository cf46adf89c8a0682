// Sign-in (SMART App Launch 2.0, standalone launch, public client with PKCE), the
// session in this tab, refresh before expiry, emergency access and sign-out.
//
// The session lives in sessionStorage: one tab, gone when the tab closes, never shared
// with other tabs (refresh tokens rotate, so two tabs sharing one would sign each other
// out). Nothing here is trusted for access decisions: the registry decides everything
// from the tokens it issued; the role and names kept here only shape the pages.

import { t } from './i18n.js';

/** The registry's built-in public client for this app. */
export const CLIENT_ID = 'renhice-web';

const SESSION_KEY = 'renhice.session';
const PENDING_KEY = 'renhice.signin';
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;

/** @typedef {'clinician' | 'patient' | 'auditor' | 'admin'} Role */
/** @typedef {'professional' | 'patient'} SignInKind */

/**
 * @typedef {object} Emergency
 * @property {string} accessToken the emergency (ETREAT) access token
 * @property {number} expiresAt epoch milliseconds
 * @property {string} reason as the clinician stated it
 * @property {string} [patient] the Patient id it was asked for; its token is sent only
 *   with requests about that patient
 */

/**
 * @typedef {object} Session
 * @property {string} accessToken
 * @property {number} expiresAt epoch milliseconds
 * @property {string} [refreshToken] rotated at every refresh: always the newest
 * @property {string} [idToken] for the end-session request
 * @property {string} [scope]
 * @property {Role} role
 * @property {string} [name] the person's name
 * @property {string} [ipress] RENIPRESS code (clinicians)
 * @property {string} [ipressName]
 * @property {string} [patient] the patient's own Patient id (patients)
 * @property {Emergency} [emergency]
 */

/**
 * @typedef {object} SmartConfiguration
 * @property {string} [authorization_endpoint]
 * @property {string} token_endpoint
 * @property {string} [revocation_endpoint]
 * @property {string} [end_session_endpoint]
 */

/**
 * An OAuth error from the token endpoint (RFC 6749 §5.2), or a failure to reach it.
 */
export class AuthError extends Error {
  /**
   * @param {string} code OAuth `error` (`invalid_grant`, …), or `network`
   * @param {string} message in words, for people
   */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Events: `change` (the session changed), `ended` (detail: why, in words). */
export const events = new EventTarget();

/** @type {Promise<SmartConfiguration> | null} */
let configuration = null;

/**
 * The registry's SMART configuration (fetched once per page load).
 * @returns {Promise<SmartConfiguration>}
 */
export function discover() {
  configuration ??= fetch('/.well-known/smart-configuration', { headers: { Accept: 'application/json' } })
    .then(async (res) => {
      if (!res.ok) throw new Error(String(res.status));
      return /** @type {SmartConfiguration} */ (await res.json());
    })
    .catch((e) => {
      configuration = null;
      throw new AuthError('network', `${t('auth.discoveryFailed')} (${e instanceof Error ? e.message : e})`);
    });
  return configuration;
}

/** @returns {string} the FHIR base URL, the audience of the tokens. */
export function fhirBase() {
  return `${location.origin}/fhir`;
}

/** @returns {string} the redirect URI registered for the app: exactly the origin and `/`. */
function redirectUri() {
  return `${location.origin}/`;
}

/** @param {Uint8Array} bytes */
function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** @param {number} n */
function randomToken(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

const SCOPES = {
  professional: 'openid fhirUser offline_access user/*.cruds',
  patient: 'openid fhirUser offline_access launch/patient patient/*.cruds',
};

/**
 * Starts signing in: goes to the registry's authorization endpoint with a PKCE
 * challenge; the state and verifier wait in sessionStorage for the return.
 * @param {SignInKind} kind
 * @param {string} [returnTo] the hash route to show after signing in
 */
export async function signIn(kind, returnTo) {
  const config = await discover();
  if (!config.authorization_endpoint) throw new AuthError('unsupported', t('auth.noAuthorizationEndpoint'));
  const verifier = randomToken(32);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const state = randomToken(16);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ state, verifier, returnTo: returnTo ?? '' }));
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectUri(),
    scope: SCOPES[kind],
    state,
    aud: fhirBase(),
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: 'S256',
  });
  location.assign(`${config.authorization_endpoint}?${query}`);
}

/**
 * Completes a sign-in when the page is the redirect back from the authorization
 * endpoint (`?code=…&state=…` or `?error=…`): checks the state, exchanges the code, and
 * drops the query from the address. Does nothing on any other page load.
 * @returns {Promise<{handled: boolean, error?: string, returnTo?: string}>}
 */
export async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return { handled: false };
  const pending = /** @type {{state: string, verifier: string, returnTo: string} | null} */ (
    JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null')
  );
  sessionStorage.removeItem(PENDING_KEY);
  // The code must not stay in the address bar, the history or a bookmark.
  history.replaceState(null, '', `/${pending?.returnTo ?? ''}`);
  const error = params.get('error');
  if (error) {
    const why = params.get('error_description');
    const base = error === 'access_denied' ? t('auth.denied') : t('auth.failed');
    return { handled: true, error: why ? `${base} ${t('auth.serverSaid')} ${why}` : `${base} (${error})` };
  }
  if (!pending || pending.state !== params.get('state')) {
    return { handled: true, error: t('auth.stateMismatch') };
  }
  try {
    const answer = await tokenRequest({
      grant_type: 'authorization_code',
      code: params.get('code') ?? '',
      redirect_uri: redirectUri(),
      client_id: CLIENT_ID,
      code_verifier: pending.verifier,
    });
    save(fromTokenResponse(answer));
    schedule();
    events.dispatchEvent(new Event('change'));
    return { handled: true, returnTo: pending.returnTo };
  } catch (e) {
    return { handled: true, error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * @typedef {object} TokenResponse
 * @property {string} access_token
 * @property {string} [token_type]
 * @property {number} [expires_in]
 * @property {string} [scope]
 * @property {string} [id_token]
 * @property {string} [refresh_token]
 * @property {string} [patient]
 * @property {string} [renhice_role]
 * @property {string} [renhice_name]
 * @property {string} [renhice_ipress]
 * @property {string} [renhice_ipress_name]
 * @property {string} [renhice_purpose]
 */

/**
 * POSTs a form to the token endpoint.
 * @param {Record<string, string>} form
 * @returns {Promise<TokenResponse>}
 */
async function tokenRequest(form) {
  const config = await discover();
  let res;
  try {
    res = await fetch(config.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams(form),
      cache: 'no-store',
    });
  } catch {
    throw new AuthError('network', t('error.network'));
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok || typeof body.access_token !== 'string') {
    const code = typeof body.error === 'string' ? body.error : `http_${res.status}`;
    const said = typeof body.error_description === 'string' ? body.error_description : code;
    throw new AuthError(code, `${t('auth.tokenRefused')} ${t('auth.serverSaid')} ${said}`);
  }
  return body;
}

/**
 * The claims of a JWT, read only to fill in what a token response does not say (never
 * trusted: the registry verifies its tokens).
 * @param {string} jwt
 * @returns {Record<string, any>}
 */
function claims(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

/**
 * When an access token expires, from `expires_in` or else its `exp`.
 * @param {TokenResponse} answer
 */
function expiry(answer) {
  if (typeof answer.expires_in === 'number') return Date.now() + answer.expires_in * 1000;
  const exp = claims(answer.access_token).exp;
  return typeof exp === 'number' ? exp * 1000 : Date.now() + 300_000;
}

const ROLES = ['clinician', 'patient', 'auditor', 'admin'];

/**
 * A session from the token endpoint's answer to a sign-in.
 * @param {TokenResponse} answer
 * @returns {Session}
 */
function fromTokenResponse(answer) {
  const iua = claims(answer.access_token).extensions?.ihe_iua ?? {};
  const role = answer.renhice_role ?? iua.subject_role?.code;
  if (!ROLES.includes(role)) throw new AuthError('role', t('auth.unknownRole'));
  return {
    accessToken: answer.access_token,
    expiresAt: expiry(answer),
    refreshToken: answer.refresh_token,
    idToken: answer.id_token,
    scope: answer.scope,
    role: /** @type {Role} */ (role),
    name: answer.renhice_name ?? iua.subject_name,
    ipress: answer.renhice_ipress ?? iua.subject_organization_id,
    ipressName: answer.renhice_ipress_name,
    patient: answer.patient,
  };
}

/** @returns {Session | null} the session of this tab. */
export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    return s && typeof s.accessToken === 'string' && ROLES.includes(s.role) ? s : null;
  } catch {
    return null;
  }
}

/** @param {Session} s */
function save(s) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
}

/**
 * Updates the session with the page's knowledge (the IPRESS's name, the patient's id)
 * without touching its tokens.
 * @param {Partial<Pick<Session, 'ipressName' | 'patient'>>} extra
 */
export function remember(extra) {
  const s = session();
  if (s) save({ ...s, ...extra });
}

/**
 * The emergency access in force, if any; with `patient`, only if it was started for
 * that patient (emergency access is asked for one patient, with that patient's reason).
 * @param {string} [patient]
 * @returns {Emergency | null}
 */
export function emergency(patient) {
  const e = session()?.emergency;
  if (!e || e.expiresAt <= Date.now()) return null;
  return patient === undefined || !e.patient || e.patient === patient ? e : null;
}

/** @type {Promise<void> | null} */
let refreshing = null;

/**
 * Exchanges the refresh token for a new access token (and a new refresh token: they
 * rotate, so the newest is always kept). One at a time: two concurrent refreshes with
 * the same token would make the registry end the session. A refused refresh
 * (`invalid_grant`) ends the session.
 * @returns {Promise<void>}
 */
export function refresh() {
  refreshing ??= (async () => {
    const s = session();
    if (!s?.refreshToken) {
      end(t('session.expired'));
      throw new AuthError('invalid_grant', t('session.expired'));
    }
    try {
      const answer = await tokenRequest({ grant_type: 'refresh_token', refresh_token: s.refreshToken, client_id: CLIENT_ID });
      const now = session() ?? s;
      save({
        ...now,
        accessToken: answer.access_token,
        expiresAt: expiry(answer),
        refreshToken: answer.refresh_token ?? now.refreshToken,
        idToken: answer.id_token ?? now.idToken,
        scope: answer.scope ?? now.scope,
      });
      schedule();
    } catch (e) {
      if (e instanceof AuthError && (e.code === 'invalid_grant' || e.code === 'invalid_client')) end(t('session.expired'));
      throw e;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/**
 * The access token to send now: for a request about the patient emergency access was
 * started for, the emergency one while it lasts; otherwise the normal one, refreshed
 * first when it is about to expire. Other patients' records are never read under that
 * patient's emergency (each read under it is a disclosure with its reason).
 * @param {string} [patient] the patient the request is about
 * @returns {Promise<string>}
 */
export async function accessToken(patient) {
  const s = session();
  if (!s) throw new AuthError('signed_out', t('session.none'));
  if (s.emergency && s.emergency.expiresAt <= Date.now()) dropEmergency(t('emergency.expired'));
  const e = patient === undefined ? null : emergency(patient);
  if (e) return e.accessToken;
  if (s.expiresAt - Date.now() < REFRESH_MARGIN_MS && s.refreshToken) await refresh();
  const now = session();
  if (!now) throw new AuthError('signed_out', t('session.expired'));
  return now.accessToken;
}

/**
 * What to do after a 401: an emergency token that was sent is dropped (the normal one is
 * used next); otherwise the access token is refreshed once. Rejects when the session is
 * over.
 * @param {string} [patient] the patient the refused request was about
 * @returns {Promise<void>}
 */
export async function recoverFrom401(patient) {
  if (patient !== undefined && emergency(patient)) {
    dropEmergency(t('emergency.expired'));
    return;
  }
  await refresh();
}

/**
 * Ends the session in this tab without asking the registry (it refused the tokens):
 * the pages go back to the signed-out home with `why`.
 * @param {string} why in words
 */
export function end(why) {
  sessionStorage.removeItem(SESSION_KEY);
  clearTimers();
  events.dispatchEvent(new CustomEvent('ended', { detail: why }));
}

/**
 * Starts emergency access (break-glass): a refresh asking for purpose ETREAT with the
 * stated reason. The answer carries a rotated refresh token, kept whatever happens, and
 * an emergency access token used for every request until it expires or is ended.
 * @param {string} reason
 * @param {string} [patient]
 */
export async function startEmergency(reason, patient) {
  const s = session();
  if (!s?.refreshToken) throw new AuthError('invalid_grant', t('emergency.needsRefresh'));
  const answer = await tokenRequest({
    grant_type: 'refresh_token',
    refresh_token: s.refreshToken,
    client_id: CLIENT_ID,
    purpose_of_use: 'ETREAT',
    emergency_reason: reason,
  });
  const now = session() ?? s;
  const rotated = { ...now, refreshToken: answer.refresh_token ?? now.refreshToken };
  if (answer.renhice_purpose !== 'ETREAT') {
    // Not an emergency token: keep it as the normal one, and say the access was not given.
    save({ ...rotated, accessToken: answer.access_token, expiresAt: expiry(answer) });
    throw new AuthError('not_granted', t('emergency.notGranted'));
  }
  save({ ...rotated, emergency: { accessToken: answer.access_token, expiresAt: expiry(answer), reason, patient } });
  schedule();
  events.dispatchEvent(new Event('change'));
}

/**
 * Ends emergency access early: its token is dropped and a normal refresh brings back
 * the normal access token.
 */
export async function endEmergency() {
  dropEmergency('');
  await refresh().catch(() => {});
}

/**
 * @param {string} why announced when not empty
 */
function dropEmergency(why) {
  const s = session();
  if (!s?.emergency) return;
  const { emergency: _dropped, ...rest } = s;
  save(rest);
  schedule();
  events.dispatchEvent(new CustomEvent('change', { detail: why }));
}

/**
 * Signs out: revokes the refresh token, forgets the session and ends the session at the
 * registry (its end-session endpoint), which comes back to the home page.
 */
export async function signOut() {
  const s = session();
  const config = await discover().catch(() => null);
  if (s?.refreshToken && config?.revocation_endpoint) {
    await fetch(config.revocation_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: s.refreshToken, token_type_hint: 'refresh_token', client_id: CLIENT_ID }),
    }).catch(() => {});
  }
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  clearTimers();
  if (config?.end_session_endpoint && s?.idToken) {
    const query = new URLSearchParams({
      id_token_hint: s.idToken,
      post_logout_redirect_uri: redirectUri(),
      client_id: CLIENT_ID,
    });
    location.assign(`${config.end_session_endpoint}?${query}`);
    return;
  }
  events.dispatchEvent(new CustomEvent('ended', { detail: t('session.signedOut') }));
}

/** @type {number[]} */
let timers = [];

function clearTimers() {
  for (const id of timers) clearTimeout(id);
  timers = [];
}

/**
 * Sets the timers of the session: a refresh shortly before the access token expires, and
 * the end of emergency access at its expiry (so the banner goes away on time). Requests
 * check expiry themselves too, since timers of a sleeping tab run late.
 */
export function schedule() {
  clearTimers();
  const s = session();
  if (!s) return;
  if (s.refreshToken) {
    const wait = Math.max(5_000, s.expiresAt - Date.now() - REFRESH_MARGIN_MS);
    timers.push(window.setTimeout(() => refresh().catch(() => {}), wait));
  }
  if (s.emergency) {
    const wait = Math.max(0, s.emergency.expiresAt - Date.now());
    timers.push(window.setTimeout(() => dropEmergency(t('emergency.expired')), wait + 500));
  }
}

// The registry's FHIR API: requests with the session's token, and failures in words.
// The typedefs name only the parts of the resources the pages read.

import * as auth from './auth.js';
import { t, ruleText } from './i18n.js';

/**
 * @typedef {object} Coding
 * @property {string} [system]
 * @property {string} [code]
 * @property {string} [display]
 */
/**
 * @typedef {object} CodeableConcept
 * @property {Coding[]} [coding]
 * @property {string} [text]
 */
/**
 * @typedef {object} Identifier
 * @property {string} [system]
 * @property {string} [value]
 * @property {CodeableConcept & {extension?: Extension[]}} [type]
 */
/**
 * @typedef {object} Extension
 * @property {string} url
 * @property {CodeableConcept} [valueCodeableConcept]
 * @property {string} [valueString]
 */
/**
 * @typedef {object} Reference
 * @property {string} [reference]
 * @property {string} [display]
 * @property {Identifier} [identifier]
 */
/**
 * @typedef {object} Period
 * @property {string} [start]
 * @property {string} [end]
 */
/**
 * @typedef {object} HumanName
 * @property {string} [use]
 * @property {string} [text]
 * @property {string} [family]
 * @property {string[]} [given]
 */
/**
 * Any resource; the pages read the fields they know by name.
 * @typedef {{resourceType: string, id?: string, meta?: {versionId?: string, lastUpdated?: string}, [field: string]: any}} Resource
 */
/**
 * @typedef {object} BundleEntry
 * @property {string} [fullUrl]
 * @property {Resource} [resource]
 * @property {{mode?: string}} [search]
 */
/**
 * @typedef {object} Bundle
 * @property {'Bundle'} resourceType
 * @property {string} [id]
 * @property {string} [type]
 * @property {string} [timestamp]
 * @property {number} [total]
 * @property {{relation: string, url: string}[]} [link]
 * @property {BundleEntry[]} [entry]
 */
/**
 * @typedef {object} ParametersParameter
 * @property {string} name
 * @property {ParametersParameter[]} [part]
 * @property {Resource} [resource]
 * @property {string} [valueString]
 * @property {number} [valueInteger]
 * @property {boolean} [valueBoolean]
 * @property {string} [valueDateTime]
 * @property {string} [valueInstant]
 * @property {Reference} [valueReference]
 * @property {Identifier} [valueIdentifier]
 * @property {Coding} [valueCoding]
 */
/**
 * @typedef {object} Parameters
 * @property {'Parameters'} resourceType
 * @property {ParametersParameter[]} [parameter]
 */

/** MINSA's code systems and the registry's (profiles/pe/, profiles/renhice/). */
export const SYSTEMS = {
  idsPersona: 'https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IdspersonaPeru',
  ipress: 'https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IPRESSCS',
  colegios: 'https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/ColegiosProfesionalesSaludCS',
  pais: 'https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/pe-pais',
  actReason: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  confidentiality: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
};

/** A failed request, with what people need to know. */
export class FhirError extends Error {
  /**
   * @param {number} status HTTP status (0: the registry could not be reached)
   * @param {string} message in words
   * @param {{rule?: string, retryAfter?: number, detail?: string, issue?: string, expression?: string[]}} [more]
   */
  constructor(status, message, more = {}) {
    super(message);
    this.status = status;
    /** The first issue's code (`duplicate`, `business-rule`, …), from the OperationOutcome. */
    this.issue = more.issue;
    /** Where the issues are (`Organization.identifier[0].value`, `jwks`, …). */
    this.expression = more.expression ?? [];
    /** The access rule that refused (403), as the registry names it. */
    this.rule = more.rule;
    /** Seconds to wait (429). */
    this.retryAfter = more.retryAfter;
    /** The registry's own words, when the message is a translation. */
    this.detail = more.detail;
  }
}

/**
 * The URL of a request: a path under the FHIR base, or a link the registry gave (a
 * `next` link), always taken back to this origin so the token never goes elsewhere.
 * @param {string} path
 */
function toUrl(path) {
  if (/^https?:/i.test(path)) {
    const u = new URL(path);
    return `${location.origin}${u.pathname}${u.search}`;
  }
  return `${auth.fhirBase()}/${path.replace(/^\//, '')}`;
}

/**
 * The words of an OperationOutcome: each issue's details text or diagnostics.
 * @param {any} body
 * @returns {string}
 */
export function outcomeText(body) {
  if (!body || body.resourceType !== 'OperationOutcome' || !Array.isArray(body.issue)) return '';
  return body.issue
    .map((/** @type {any} */ i) => i?.details?.text || i?.diagnostics || '')
    .filter(Boolean)
    .join(' ');
}

/**
 * A FhirError from a failed response.
 * @param {Response} res
 */
async function failure(res) {
  const body = await res.json().catch(() => null);
  const said = outcomeText(body);
  const issues = body?.resourceType === 'OperationOutcome' && Array.isArray(body.issue) ? body.issue : [];
  const where = {
    issue: typeof issues[0]?.code === 'string' ? issues[0].code : undefined,
    expression: issues.flatMap((/** @type {any} */ i) => (Array.isArray(i?.expression) ? i.expression.map(String) : [])),
  };
  if (res.status === 429) {
    const wait = Number(res.headers.get('Retry-After')) || 1;
    return new FhirError(429, t('error.tooMany', { s: wait }), { retryAfter: wait, detail: said });
  }
  if (res.status === 403) {
    const rule = /rule: ([a-z0-9-]+)/.exec(said)?.[1];
    const words = rule ? ruleText(rule) : '';
    return new FhirError(403, words || said || t('error.forbidden'), { rule, detail: said });
  }
  if (res.status === 404) return new FhirError(404, said || t('error.notFound'), { detail: said, ...where });
  return new FhirError(res.status, said || t('error.status', { status: res.status }), { detail: said, ...where });
}

/**
 * @typedef {object} RequestOptions
 * @property {string} [method]
 * @property {unknown} [body] sent as FHIR JSON (plain JSON with `json`)
 * @property {boolean} [json] plain JSON (`application/json`) both ways: the registry's
 *   API outside /fhir
 * @property {Record<string, string>} [headers]
 * @property {string} [patient] the patient the request is about: under emergency access
 *   for that patient, the emergency token is sent
 * @property {AbortSignal} [signal] abandons the request (the page was left): it then
 *   rejects with the signal's reason, not a FhirError
 */

/**
 * Sends one request to the registry with the session's token (the emergency token
 * while emergency access lasts). A 401 is retried once after a refresh; if the
 * registry still refuses, the session ends. A 429 of a read asking to wait a few
 * seconds is retried once after the wait.
 * @param {string} path relative to the FHIR base, or a link the registry gave
 * @param {RequestOptions} options
 * @param {string} [accept] the Accept header (by default FHIR JSON, or JSON with `json`)
 * @returns {Promise<Response>} a successful answer, its body unread
 */
async function send(path, options, accept) {
  const url = toUrl(path);
  let waited = false;
  for (let attempt = 0; ; attempt += 1) {
    const token = await auth.accessToken(options.patient);
    const type = options.json ? 'application/json' : 'application/fhir+json';
    /** @type {Record<string, string>} */
    const headers = { Authorization: `Bearer ${token}`, Accept: accept ?? type, ...options.headers };
    if (options.body !== undefined) headers['Content-Type'] = type;
    let res;
    try {
      res = await fetch(url, {
        method: options.method ?? 'GET',
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        cache: 'no-store',
        signal: options.signal,
      });
    } catch (e) {
      if (options.signal?.aborted) throw options.signal.reason ?? e;
      throw new FhirError(0, t('error.network'));
    }
    if (res.status === 401) {
      if (attempt === 0) {
        try {
          await auth.recoverFrom401(options.patient);
          continue;
        } catch {
          throw new FhirError(401, t('session.expired'));
        }
      }
      const said = outcomeText(await res.json().catch(() => null));
      auth.end(t('session.rejected'));
      throw new FhirError(401, t('session.rejected'), { detail: said });
    }
    // A short wait asked of a read is waited once, unseen; longer ones are told.
    const wait = Number(res.headers.get('Retry-After'));
    if (res.status === 429 && !waited && (options.method ?? 'GET') === 'GET' && wait > 0 && wait <= 5) {
      waited = true;
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      continue;
    }
    if (!res.ok) throw await failure(res);
    return res;
  }
}

/**
 * Sends one request to the registry with the session's token (see `send`).
 * @param {string} path relative to the FHIR base, or a link the registry gave
 * @param {RequestOptions} [options]
 * @returns {Promise<any>} the parsed JSON answer
 */
export async function request(path, options = {}) {
  const res = await send(path, options);
  if (res.status === 204) return null;
  return res.json();
}

/**
 * A request to the registry's API outside /fhir (`auth/clients`), with the session's
 * token like every other; the answers are plain JSON, the failures OperationOutcomes.
 * @param {string} path relative to the registry's origin
 * @param {RequestOptions} [options]
 * @returns {Promise<any>}
 */
export function api(path, options = {}) {
  return request(`${location.origin}/${path.replace(/^\//, '')}`, { ...options, json: true });
}

/**
 * A file from the registry's API outside /fhir (an accreditation report), with the
 * session's token: its bytes, to be saved rather than shown.
 * @param {string} path relative to the registry's origin
 * @param {string} accept the file's media type
 * @param {RequestOptions} [options]
 * @returns {Promise<Blob>}
 */
export async function apiFile(path, accept, options = {}) {
  const res = await send(`${location.origin}/${path.replace(/^\//, '')}`, { ...options, json: true }, accept);
  return res.blob();
}

/**
 * GET, with query parameters.
 * @param {string} path
 * @param {Record<string, string | undefined> | URLSearchParams} [query]
 * @param {RequestOptions} [options]
 */
export function get(path, query, options = {}) {
  if (!query) return request(path, options);
  const params =
    query instanceof URLSearchParams
      ? query
      : new URLSearchParams(/** @type {[string, string][]} */ (Object.entries(query).filter(([, v]) => v !== undefined && v !== '')));
  const qs = params.toString();
  return request(qs ? `${path}?${qs}` : path, options);
}

/**
 * The resources of a searchset, by search mode (`match` or `include`).
 * @param {Bundle} bundle
 * @param {string} [mode]
 * @returns {Resource[]}
 */
export function resources(bundle, mode = 'match') {
  return (bundle.entry ?? [])
    .filter((e) => e.resource && (e.search?.mode ?? 'match') === mode)
    .map((e) => /** @type {Resource} */ (e.resource));
}

/**
 * The `next` link of a searchset, if there is more.
 * @param {Bundle} bundle
 */
export function nextLink(bundle) {
  return bundle.link?.find((l) => l.relation === 'next')?.url;
}

/**
 * The id of a literal reference of the given type (`Organization/abc` → `abc`).
 * @param {Reference | undefined} ref
 * @param {string} type
 */
export function refId(ref, type) {
  const r = ref?.reference ?? '';
  const prefix = `${type}/`;
  const at = r.lastIndexOf(prefix);
  return at >= 0 ? r.slice(at + prefix.length).split('/')[0] : undefined;
}

/** @type {Map<string, Promise<Resource | null>>} */
const organizations = new Map();

/**
 * The registered IPRESS with this RENIPRESS code (null if none), looked up once.
 * @param {string} code
 * @returns {Promise<Resource | null>}
 */
export function organizationByCode(code) {
  let found = organizations.get(code);
  if (!found) {
    // The RENIPRESS code is typed (IPRESSCS) rather than given a system: search by type.
    found = get('Organization', { 'identifier:of-type': `${SYSTEMS.ipress}|${code}|${code}` })
      .then((/** @type {Bundle} */ b) => resources(b)[0] ?? null)
      .catch((e) => {
        organizations.delete(code);
        throw e;
      });
    organizations.set(code, found);
  }
  return found;
}

/**
 * The names of IPRESS by RENIPRESS code, in one search (IPRESS are public). Codes the
 * registry does not know are left out.
 * @param {string[]} codes
 * @returns {Promise<Map<string, string>>}
 */
export async function ipressNames(codes) {
  const unique = [...new Set(codes.filter((c) => /^\d{8}$/.test(c)))];
  /** @type {Map<string, string>} */
  const names = new Map();
  if (!unique.length) return names;
  const bundle = /** @type {Bundle} */ (await get('Organization', { identifier: unique.join(','), _count: '200' }));
  for (const org of resources(bundle)) {
    for (const id of /** @type {Identifier[]} */ (org.identifier ?? [])) {
      if (id.value && unique.includes(id.value) && org.name) names.set(id.value, org.name);
    }
  }
  return names;
}

/**
 * An IPRESS's RENIPRESS code: its identifier typed IPRESSCS (OrganizacionPe).
 * @param {Resource} org
 * @returns {string | undefined}
 */
export function renipressOf(org) {
  const ids = /** @type {Identifier[]} */ (org.identifier ?? []);
  const typed = ids.find((i) => i.system === SYSTEMS.ipress || i.type?.coding?.some((c) => c.system === SYSTEMS.ipress));
  return typed?.value ?? typed?.type?.coding?.find((c) => c.system === SYSTEMS.ipress)?.code;
}

/**
 * The IPRESS whose name or an alias has a word starting with each word of `text`, in
 * any order, accents and case aside: each word is its own `name` parameter, so all must
 * match ("hospital ica" finds "Hospital Regional de Ica"). Commas, which would make
 * alternatives of one parameter, count as spaces. At most `count`, and whether there
 * are more.
 * @param {string} text
 * @param {number} count
 * @param {AbortSignal} [signal]
 * @returns {Promise<{found: Resource[], more: boolean}>}
 */
export async function organizationsByName(text, count, signal) {
  const words = text.replace(/,/g, ' ').split(/\s+/).filter(Boolean);
  const query = new URLSearchParams(words.map((w) => ['name', w]));
  query.set('_count', String(count));
  const bundle = /** @type {Bundle} */ (await get('Organization', query, { signal }));
  return { found: resources(bundle), more: Boolean(nextLink(bundle)) };
}

// The two Node client libraries, pointed at the registry, with every answer they receive
// validated (lib/validator.mjs):
//   * fhir-kit-client: a Proxy around the Client checks what each method resolves to and
//     the body of each error it rejects with (fhir-kit exposes no fetch hook);
//   * Medplum: MedplumClient's `fetch` option, a wrapper that validates each JSON body at
//     the HTTP layer and records the raw responses (status, headers) for the tests.

import { Client, RESPONSE_KEY } from 'fhir-kit-client';
import { MedplumClient } from '@medplum/core';
import { check } from './validator.mjs';

export const FHIR_KIT = 'fhir-kit-client';
export const MEDPLUM = 'Medplum';

/**
 * A fhir-kit-client Client for `fhirBase` acting with `token`, validating what it returns.
 * @param {string} fhirBase
 * @param {string} token
 * @param {Record<string, string>} [customHeaders]
 * @returns {Client}
 */
export function fhirKit(fhirBase, token, customHeaders) {
  const client = new Client({ baseUrl: fhirBase, bearerToken: token, customHeaders });
  return new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (/** @type {any[]} */ ...args) => {
        const result = value.apply(target, args);
        if (!result || typeof result.then !== 'function') return result;
        const where = `${String(prop)}(${JSON.stringify(args[0] ?? '')?.slice(0, 160)})`;
        return result.then(
          (/** @type {any} */ body) => {
            // An empty answer (204, 304, Prefer: return=minimal) arrives as {}.
            if (body && typeof body === 'object' && Object.keys(body).length > 0) check(body, FHIR_KIT, where);
            return body;
          },
          (/** @type {any} */ err) => {
            const data = err?.response?.data;
            if (data && typeof data === 'object' && Object.keys(data).length > 0) {
              try {
                check(data, FHIR_KIT, `${where}, error ${err.response.status}`);
              } catch (invalid) {
                throw new AggregateError([err, invalid], String(invalid));
              }
            }
            throw err;
          },
        );
      };
    },
  });
}

/**
 * The HTTP response behind what a fhir-kit-client call resolved to.
 * @param {any} result
 * @returns {Response}
 */
export function kitResponse(result) {
  const res = result?.[RESPONSE_KEY];
  if (!res) throw new Error('no response recorded on this fhir-kit-client result');
  return res;
}

/**
 * @typedef {object} Exchange a request a MedplumClient made and the answer it had
 * @property {string} method
 * @property {string} url
 * @property {Headers} requestHeaders
 * @property {number} status
 * @property {Headers} headers
 * @property {string} text the body as received
 */

/**
 * A MedplumClient for `base` (its FHIR API under `fhir`), acting with `token` (set with
 * setAccessToken), validating each JSON body it receives; `exchanges` lists what it sent
 * and received, newest last.
 * @param {string} base the registry's base URL, http://127.0.0.1:PORT
 * @param {string} token
 */
export function medplum(base, token) {
  /** @type {Exchange[]} */
  const exchanges = [];
  /** @type {typeof fetch} */
  const recordingFetch = async (input, init) => {
    const res = await fetch(input, init);
    const text = await res.clone().text();
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = init?.method ?? 'GET';
    exchanges.push({ method, url, requestHeaders: new Headers(init?.headers), status: res.status, headers: res.headers, text });
    if (text && (res.headers.get('content-type') ?? '').includes('json')) {
      let body;
      try {
        body = JSON.parse(text);
      } catch (e) {
        body = { notJson: text.slice(0, 300) };
      }
      try {
        check(body, MEDPLUM, `${method} ${url} → ${res.status}`);
      } catch {
        // Kept by the validator for takeFailures(): a throw here would only make Medplum retry.
      }
    }
    return res;
  };
  const client = new MedplumClient({ baseUrl: `${base}/`, fhirUrlPath: 'fhir', fetch: recordingFetch, cacheTime: 0 });
  client.setAccessToken(token);
  return {
    client,
    exchanges,
    /** The last exchange. */
    last() {
      const e = exchanges.at(-1);
      if (!e) throw new Error('Medplum has made no request yet');
      return e;
    },
  };
}

// The FHIR REST conventions a generic client relies on (fhir-kit-client and Medplum), kept
// apart from the interactions of fhir-kit.test.mjs and medplum.test.mjs so that
// `tests/clients/run --no-conventions` can leave them out. test_conventions.py is the
// same for fhirpy.
//
//   * transaction/batch POSTed to `[base]/` (fhir-kit-client's transaction() and batch());
//   * conditional create with If-None-Exist (a second create answers the existing one, 200);
//   * Prefer: return=minimal (201, empty body, Location) and return=OperationOutcome;
//   * Location absolute;
//   * If-None-Match with the ETag on a read: 304;
//   * _summary=count on a search: the total only;
//   * _elements=identifier on a read;
//   * history with _count and _since;
//   * a search with _lastUpdated=ge… and _sort=-_lastUpdated;
//   * a CORS preflight (OPTIONS) from a configured origin: a 2xx with
//     Access-Control-Allow-Origin; none for an origin not configured;
//   * Accept: application/fhir+json; fhirVersion=4.3: 406;
//   * a body sent as text/plain: 415.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registry } from './registry.mjs';
import { fhirKit, kitResponse, medplum } from './lib/clients.mjs';
import { validateEverything } from './lib/hooks.mjs';
import { fresh, patient, push } from './lib/fixtures.mjs';

const r = await registry();
const kit = fhirKit(r.fhirBase, r.tokens.sihce);
const m = medplum(r.base, r.tokens.sihce);
const mp = m.client;
validateEverything('conventions.test.mjs');

/** The status a fhir-kit-client call rejected with (fhir-kit rejects every non-2xx, 304 too). */
async function kitStatus(/** @type {Promise<unknown>} */ promise) {
  try {
    await promise;
  } catch (/** @type {any} */ e) {
    if (e?.response?.status) return e.response.status;
    throw e;
  }
  assert.fail('the call succeeded');
}

/** A patient of its own for each test. */
const someone = (/** @type {string} */ family, /** @type {string} */ given) =>
  patient({ dni: fresh('74'), family, given: [given], birthDate: '1970-05-05', gender: 'male' });

/** @param {string | null} location */
function assertAbsoluteLocation(location, /** @type {string} */ type) {
  assert.ok(location, 'a Location header');
  assert.match(location, new RegExp(`^${r.fhirBase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${type}/[^/]+/_history/1$`), `Location ${location} is absolute`);
}

// --- fhir-kit-client -------------------------------------------------------------------

test('conventions, fhir-kit-client: transaction() POSTs to [base]/ (trailing slash)', async () => {
  const created = await kit.create({ resourceType: 'Patient', body: someone('Tello Paucar', 'Mario') });
  const answer = await kit.transaction({
    body: push(created.id, r.ids.santaClara, [{ loinc: '34133-9', date: '2026-04-01T08:00:00-05:00' }]),
  });
  assert.equal(kitResponse(answer).url, `${r.fhirBase}/`);
  assert.equal(answer.type, 'transaction-response');
});

test('conventions, fhir-kit-client: batch() POSTs to [base]/ (trailing slash)', async () => {
  const answer = await kit.batch({
    body: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Patient/${r.ids.patient}` } }] },
  });
  assert.equal(answer.type, 'batch-response');
  assert.match(answer.entry[0].response.status, /^200/);
});

test('conventions, fhir-kit-client: conditional create (If-None-Exist) answers the existing Patient, 200', async () => {
  const p = someone('Tello Paucar', 'Nicanor');
  const criteria = { 'If-None-Exist': `identifier=${p.identifier[0].value}` };
  const first = await kit.create({ resourceType: 'Patient', body: p, options: { headers: criteria } });
  assert.equal(kitResponse(first).status, 201);
  const second = await kit.create({ resourceType: 'Patient', body: p, options: { headers: criteria } });
  assert.equal(kitResponse(second).status, 200);
  assert.equal(second.id, first.id);
  const found = await kit.search({ resourceType: 'Patient', searchParams: { identifier: p.identifier[0].value } });
  assert.equal(found.entry.length, 1, 'no duplicate');
});

test('conventions, fhir-kit-client: Prefer: return=minimal (201, empty body, Location) and return=OperationOutcome', async () => {
  const minimal = await kit.create({ resourceType: 'Patient', body: someone('Tello Paucar', 'Olga'), options: { headers: { Prefer: 'return=minimal' } } });
  const res = kitResponse(minimal);
  assert.equal(res.status, 201);
  assert.deepEqual({ ...minimal }, {}, 'an empty body');
  assertAbsoluteLocation(res.headers.get('location'), 'Patient');

  const oo = await kit.create({ resourceType: 'Patient', body: someone('Tello Paucar', 'Pilar'), options: { headers: { Prefer: 'return=OperationOutcome' } } });
  assert.equal(kitResponse(oo).status, 201);
  assert.equal(oo.resourceType, 'OperationOutcome');
});

test('conventions, fhir-kit-client: Location is absolute', async () => {
  const created = await kit.create({ resourceType: 'Patient', body: someone('Tello Paucar', 'Quintín') });
  assertAbsoluteLocation(kitResponse(created).headers.get('location'), 'Patient');
});

test('conventions, fhir-kit-client: If-None-Match with the ETag on a read is a 304', async () => {
  const created = await kit.create({ resourceType: 'Patient', body: someone('Tello Paucar', 'Raúl') });
  const read = await kit.read({ resourceType: 'Patient', id: created.id });
  const etag = kitResponse(read).headers.get('etag');
  assert.ok(etag, 'the read has an ETag');
  assert.equal(await kitStatus(kit.read({ resourceType: 'Patient', id: created.id, options: { headers: { 'If-None-Match': etag } } })), 304);
});

test('conventions, fhir-kit-client: _summary=count answers the total only', async () => {
  await kit.create({ resourceType: 'Patient', body: someone('Sotomayor Kit', 'Sara') });
  await kit.create({ resourceType: 'Patient', body: someone('Sotomayor Kit', 'Tomás') });
  const count = await kit.search({ resourceType: 'Patient', searchParams: { family: 'sotomayor', _summary: 'count' } });
  assert.equal(count.type, 'searchset');
  assert.equal(count.total, 2);
  assert.equal(count.entry, undefined);
});

test('conventions, fhir-kit-client: _elements=identifier on a read', async () => {
  const created = await kit.create({ resourceType: 'Patient', body: someone('Tello Paucar', 'Ulises') });
  const subset = await kit.request(`Patient/${created.id}?_elements=identifier`);
  assert.equal(subset.id, created.id);
  assert.deepEqual(subset.identifier, created.identifier);
  assert.equal(subset.name, undefined);
  assert.equal(subset.birthDate, undefined);
});

/** A Patient with three versions, through fhir-kit-client. */
async function threeVersions(/** @type {string} */ given) {
  const v1 = await kit.create({ resourceType: 'Patient', body: someone('Tello Paucar', given) });
  await new Promise((ok) => setTimeout(ok, 20));
  const v2 = await kit.update({ resourceType: 'Patient', id: v1.id, body: { ...v1, gender: 'female' } });
  const v3 = await kit.update({ resourceType: 'Patient', id: v1.id, body: { ...v2, birthDate: '1970-05-06' } });
  assert.equal(v3.meta.versionId, '3');
  return [v1, v2, v3];
}

test('conventions, fhir-kit-client: history with _count, paged by next links', async () => {
  const [v1] = await threeVersions('Valeria');
  let page = await kit.request(`Patient/${v1.id}/_history?_count=1`);
  const versions = [];
  while (page) {
    assert.equal(page.entry.length, 1);
    versions.push(page.entry[0].resource.meta.versionId);
    page = await kit.nextPage({ bundle: page });
    assert.ok(versions.length < 10, 'paging ends');
  }
  assert.deepEqual(versions, ['3', '2', '1']);
});

test('conventions, fhir-kit-client: history with _since', async () => {
  const [v1, v2] = await threeVersions('Vilma');
  const since = await kit.request(`Patient/${v1.id}/_history?_since=${encodeURIComponent(v2.meta.lastUpdated)}`);
  assert.deepEqual(
    since.entry.map((/** @type {any} */ e) => e.resource.meta.versionId),
    ['3', '2'],
  );
});

test('conventions, fhir-kit-client: _lastUpdated=ge… with _sort=-_lastUpdated', async () => {
  const a = await kit.create({ resourceType: 'Patient', body: someone('Valdivia Kit', 'Walter') });
  await new Promise((ok) => setTimeout(ok, 20));
  const b = await kit.create({ resourceType: 'Patient', body: someone('Valdivia Kit', 'Ximena') });
  const found = await kit.search({
    resourceType: 'Patient',
    searchParams: { family: 'valdivia', _lastUpdated: `ge${a.meta.lastUpdated}`, _sort: '-_lastUpdated' },
  });
  assert.deepEqual(
    found.entry.map((/** @type {any} */ e) => e.resource.id),
    [b.id, a.id],
  );
  const later = await kit.search({ resourceType: 'Patient', searchParams: { family: 'valdivia', _lastUpdated: `gt${a.meta.lastUpdated}` } });
  assert.deepEqual(
    later.entry.map((/** @type {any} */ e) => e.resource.id),
    [b.id],
  );
});

/** A browser's CORS preflight for a POST to Patient, through fhir-kit-client (no bearer token: a preflight carries none). */
async function preflight(/** @type {string} */ origin) {
  const anonymous = fhirKit(r.fhirBase, '');
  try {
    const answer = await anonymous.request('Patient', {
      method: 'OPTIONS',
      options: { headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } },
    });
    const res = kitResponse(answer);
    return { status: res.status, headers: res.headers };
  } catch (/** @type {any} */ e) {
    if (!e?.response) throw e;
    return { status: e.response.status, headers: /** @type {Headers} */ (e.config.headers) };
  }
}

test('conventions, fhir-kit-client: CORS preflight from the configured origin: a 2xx with Access-Control-Allow-Origin', async () => {
  const allowed = await preflight(r.corsOrigin);
  // The Fetch standard asks a preflight for an ok status (any 2xx); actix-cors answers 200.
  assert.ok(allowed.status >= 200 && allowed.status < 300, `status ${allowed.status}`);
  assert.equal(allowed.headers.get('access-control-allow-origin'), r.corsOrigin);
});

test('conventions, fhir-kit-client: CORS preflight from an origin not configured: no Access-Control-Allow-Origin', async () => {
  const other = await preflight('https://elsewhere.example');
  assert.equal(other.headers.get('access-control-allow-origin'), null);
});

test('conventions, fhir-kit-client: Accept: application/fhir+json; fhirVersion=4.3 is a 406', async () => {
  const r43 = fhirKit(r.fhirBase, r.tokens.sihce, { accept: 'application/fhir+json; fhirVersion=4.3' });
  assert.equal(await kitStatus(r43.read({ resourceType: 'Patient', id: r.ids.patient })), 406);
});

test('conventions, fhir-kit-client: a body sent as text/plain is a 415', async () => {
  const status = await kitStatus(
    kit.create({ resourceType: 'Patient', body: someone('Tello Paucar', 'Yolanda'), options: { headers: { 'content-type': 'text/plain' } } }),
  );
  assert.equal(status, 415);
});

// --- Medplum ---------------------------------------------------------------------------

test('conventions, Medplum: createResourceIfNoneExist answers the existing Patient, 200', async () => {
  const p = someone('Zapata Medplum', 'Abel');
  const query = `identifier=${p.identifier[0].value}`;
  const first = await mp.createResourceIfNoneExist(p, query);
  assert.equal(m.last().status, 201);
  const second = await mp.createResourceIfNoneExist(p, query);
  assert.equal(m.last().requestHeaders.get('if-none-exist'), query);
  assert.equal(m.last().status, 200);
  assert.equal(second.id, first.id);
  assert.equal((await mp.searchResources('Patient', { identifier: p.identifier[0].value })).length, 1, 'no duplicate');
});

test('conventions, Medplum: Prefer: return=minimal (201, empty body, Location it can follow) and return=OperationOutcome', async () => {
  const nothing = await mp.createResource(someone('Zapata Medplum', 'Berta'), { headers: { Prefer: 'return=minimal' } });
  assert.equal(m.last().status, 201);
  assert.equal(m.last().text, '');
  assert.equal(nothing, undefined);
  assertAbsoluteLocation(m.last().headers.get('location'), 'Patient');

  // followRedirectOnCreated reads the Location Medplum was given.
  const followed = await mp.createResource(someone('Zapata Medplum', 'Carmen'), { headers: { Prefer: 'return=minimal' }, followRedirectOnCreated: true });
  assert.equal(followed?.resourceType, 'Patient');
  assert.equal(m.last().method, 'GET');

  const oo = await mp.createResource(someone('Zapata Medplum', 'Dora'), { headers: { Prefer: 'return=OperationOutcome' } });
  assert.equal(m.last().status, 201);
  assert.equal(oo.resourceType, 'OperationOutcome');
});

test('conventions, Medplum: Location is absolute', async () => {
  await mp.createResource(someone('Zapata Medplum', 'Elmer'));
  assertAbsoluteLocation(m.last().headers.get('location'), 'Patient');
});

test('conventions, Medplum: If-None-Match with the ETag on a read is a 304', async () => {
  const created = await mp.createResource(someone('Zapata Medplum', 'Fausto'));
  const etag = m.last().headers.get('etag');
  assert.ok(etag);
  const again = await mp.readResource('Patient', created.id, { headers: { 'If-None-Match': etag } });
  assert.equal(m.last().status, 304);
  assert.equal(again, undefined);
});

test('conventions, Medplum: _summary=count answers the total only', async () => {
  await mp.createResource(someone('Ugarte Medplum', 'Gloria'));
  await mp.createResource(someone('Ugarte Medplum', 'Hugo'));
  const count = await mp.search('Patient', { family: 'ugarte', _summary: 'count' });
  assert.equal(count.total, 2);
  assert.equal(count.entry, undefined);
});

test('conventions, Medplum: _elements=identifier on a read', async () => {
  const created = await mp.createResource(someone('Zapata Medplum', 'Irma'));
  const url = mp.fhirUrl('Patient', created.id);
  url.searchParams.set('_elements', 'identifier');
  const subset = await mp.get(url);
  assert.deepEqual(subset.identifier, created.identifier);
  assert.equal(subset.name, undefined);
});

test('conventions, Medplum: history with _count (readHistory count)', async () => {
  const v1 = await mp.createResource(someone('Zapata Medplum', 'Jaime'));
  await mp.updateResource({ ...v1, gender: 'other' });
  const one = await mp.readHistory('Patient', v1.id, { count: 1 });
  assert.equal(one.entry?.length, 1);
  assert.equal(one.entry?.[0].resource?.meta?.versionId, '2');
  assert.ok(one.link?.some((l) => l.relation === 'next'), 'a next link to the older version');
});

test('conventions, Medplum: history with _since', async () => {
  const v1 = await mp.createResource(someone('Zapata Medplum', 'Javier'));
  await new Promise((ok) => setTimeout(ok, 20));
  const v2 = await mp.updateResource({ ...v1, gender: 'other' });
  const url = mp.fhirUrl('Patient', v1.id, '_history');
  url.searchParams.set('_since', /** @type {string} */ (v2.meta?.lastUpdated));
  const since = await mp.get(url);
  assert.deepEqual(
    since.entry.map((/** @type {any} */ e) => e.resource.meta.versionId),
    ['2'],
  );
});

test('conventions, Medplum: _lastUpdated=ge… with _sort=-_lastUpdated', async () => {
  const a = await mp.createResource(someone('Villena Medplum', 'Karina'));
  await new Promise((ok) => setTimeout(ok, 20));
  const b = await mp.createResource(someone('Villena Medplum', 'Luis'));
  const found = await mp.searchResources('Patient', { family: 'villena', _lastUpdated: `ge${a.meta?.lastUpdated}`, _sort: '-_lastUpdated' });
  assert.deepEqual(
    found.map((x) => x.id),
    [b.id, a.id],
  );
});

test('conventions, Medplum: Accept: application/fhir+json; fhirVersion=4.3 is a 406', async () => {
  await assert.rejects(mp.readResource('Patient', r.ids.patient, { headers: { Accept: 'application/fhir+json; fhirVersion=4.3' } }));
  assert.equal(m.last().status, 406);
});

test('conventions, Medplum: a body sent as text/plain is a 415', async () => {
  await assert.rejects(mp.post(mp.fhirUrl('Patient'), JSON.stringify(someone('Zapata Medplum', 'Marta')), 'text/plain'));
  assert.equal(m.last().requestHeaders.get('content-type'), 'text/plain');
  assert.equal(m.last().status, 415);
});

// fhir-kit-client drives the registry: every interaction it can express, every answer
// validated (lib/validator.mjs). The registry: tests/clients/registry.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registry } from './registry.mjs';
import { fhirKit, kitResponse } from './lib/clients.mjs';
import { validateEverything, assertExplains } from './lib/hooks.mjs';
import { IDS_PERSONA, TWO_DOCS, fresh, invalidPatient, organization, patient, push } from './lib/fixtures.mjs';

const r = await registry();
const kit = fhirKit(r.fhirBase, r.tokens.sihce);
const admin = fhirKit(r.fhirBase, r.tokens.admin);
const auditor = fhirKit(r.fhirBase, r.tokens.auditor);
validateEverything('fhir-kit.test.mjs');

// Two patients of one family, so that a family search has two results to page through.
const lucia = patient({ dni: fresh('71'), family: 'Ccopa Ñaupari', given: ['Lucía', 'Inés'], birthDate: '1990-02-03' });
const rosa = patient({ dni: fresh('71'), family: 'Ñaupari Ccopa', given: ['Rosa'], birthDate: '1992-11-30' });
/** @type {{lucia?: string, rosa?: string}} */
const ids = {};

/** @param {any} bundle */
const entryIds = (bundle) => (bundle.entry ?? []).map((/** @type {any} */ e) => e.resource.id);

test('fhir-kit-client: metadata, the CapabilityStatement', async () => {
  const cs = await kit.capabilityStatement();
  assert.equal(cs.resourceType, 'CapabilityStatement');
  assert.equal(cs.fhirVersion, '4.0.1');
  const p = cs.rest[0].resource.find((/** @type {any} */ x) => x.type === 'Patient');
  assert.ok(p.interaction.some((/** @type {any} */ i) => i.code === 'create'));
});

test('fhir-kit-client: create, read, update (If-Match), vread, history of a Patient', async () => {
  const created = await kit.create({ resourceType: 'Patient', body: lucia });
  const res = kitResponse(created);
  assert.equal(res.status, 201);
  assert.ok(created.id, 'the created Patient has an id');
  assert.equal(created.meta.versionId, '1');
  assert.equal(res.headers.get('etag'), 'W/"1"');
  ids.lucia = created.id;

  const read = await kit.read({ resourceType: 'Patient', id: created.id });
  assert.deepEqual(read.identifier, lucia.identifier);
  assert.deepEqual(read.name, lucia.name);

  const telecom = [{ system: 'phone', value: '+51 956 123 456', use: 'mobile' }];
  const updated = await kit.update({
    resourceType: 'Patient',
    id: created.id,
    body: { ...read, telecom },
    options: { headers: { 'If-Match': 'W/"1"' } },
  });
  assert.equal(kitResponse(updated).status, 200);
  assert.equal(updated.meta.versionId, '2');
  assert.deepEqual(updated.telecom, telecom);

  const v1 = await kit.vread({ resourceType: 'Patient', id: created.id, version: '1' });
  assert.equal(v1.meta.versionId, '1');
  assert.equal(v1.telecom, undefined);

  const history = await kit.history({ resourceType: 'Patient', id: created.id });
  assert.equal(history.type, 'history');
  assert.deepEqual(
    history.entry.map((/** @type {any} */ e) => e.resource.meta.versionId),
    ['2', '1'],
  );

  const second = await kit.create({ resourceType: 'Patient', body: rosa });
  ids.rosa = second.id;

  // The identity feed's history: every patient's versions, newest first.
  const feed = await kit.typeHistory({ resourceType: 'Patient' });
  assert.equal(feed.type, 'history');
  const versions = feed.entry.map((/** @type {any} */ e) => `${e.resource.id}/${e.resource.meta.versionId}`);
  // Other suites feed patients at the same time: the order of these three is what counts.
  const at = [`${second.id}/1`, `${created.id}/2`, `${created.id}/1`].map((v) => versions.indexOf(v));
  assert.ok(at.every((i) => i >= 0) && at[0] < at[1] && at[1] < at[2], `newest first: ${versions.join(' ')}`);
});

test('fhir-kit-client: Patient by identifier, family, given, birthdate', async () => {
  const value = lucia.identifier[0].value;
  assert.deepEqual(entryIds(await kit.search({ resourceType: 'Patient', searchParams: { identifier: value } })), [ids.lucia]);
  assert.deepEqual(
    entryIds(await kit.search({ resourceType: 'Patient', searchParams: { 'identifier:of-type': `${IDS_PERSONA}|1|${value}` } })),
    [ids.lucia],
  );
  // Either surname, accents and case aside.
  const family = entryIds(await kit.search({ resourceType: 'Patient', searchParams: { family: 'NAUPARI' } }));
  assert.deepEqual(family.sort(), [ids.lucia, ids.rosa].sort());
  assert.deepEqual(entryIds(await kit.search({ resourceType: 'Patient', searchParams: { family: 'ccopa', given: 'lucia' } })), [ids.lucia]);
  assert.deepEqual(entryIds(await kit.search({ resourceType: 'Patient', searchParams: { family: 'ccopa', birthdate: '1992-11-30' } })), [ids.rosa]);
});

test('fhir-kit-client: paging by following next links (_count=1)', async () => {
  let page = await kit.search({ resourceType: 'Patient', searchParams: { family: 'ñaupari', _count: 1 } });
  const seen = [];
  let pages = 0;
  while (page) {
    pages += 1;
    assert.ok((page.entry ?? []).length <= 1, 'a page holds at most _count entries');
    seen.push(...entryIds(page));
    page = await kit.nextPage({ bundle: page });
    assert.ok(pages < 10, 'paging ends');
  }
  assert.ok(pages >= 2, `${pages} page(s)`);
  assert.deepEqual(seen.sort(), [ids.lucia, ids.rosa].sort());
});

test('fhir-kit-client: an administrator registers an IPRESS; Organization?name= finds it by a word, accents and case aside', async () => {
  const code = fresh('71');
  const org = await admin.create({ resourceType: 'Organization', body: organization(code, 'Clínica Señor de Luren') });
  assert.equal(kitResponse(org).status, 201);
  for (const word of ['SENOR', 'luren', 'Clinica']) {
    const found = entryIds(await kit.search({ resourceType: 'Organization', searchParams: { name: word } }));
    assert.ok(found.includes(org.id), `name=${word} finds the IPRESS (found ${found})`);
  }
  assert.deepEqual(entryIds(await kit.search({ resourceType: 'Organization', searchParams: { identifier: code } })), [org.id]);
});

test('fhir-kit-client: an ITI-65 push (transaction Bundle) and DocumentReference?patient=&status=current, paged', async () => {
  // fhir-kit's transaction() posts to `[base]/` (see conventions.test.mjs); the same
  // Bundle goes to `[base]` through its request().
  const answer = await kit.request(r.fhirBase, {
    method: 'POST',
    body: push(/** @type {string} */ (ids.lucia), r.ids.santaClara, TWO_DOCS),
    options: { headers: { 'content-type': 'application/fhir+json' } },
  });
  assert.equal(answer.type, 'transaction-response');
  assert.equal(answer.entry.length, 3);
  for (const e of answer.entry) assert.match(e.response.status, /^201/);

  let page = await kit.search({ resourceType: 'DocumentReference', searchParams: { patient: ids.lucia, status: 'current', _count: 1 } });
  const docs = [];
  while (page) {
    docs.push(...(page.entry ?? []).map((/** @type {any} */ e) => e.resource));
    page = await kit.nextPage({ bundle: page });
  }
  assert.equal(docs.length, 2);
  for (const d of docs) {
    assert.equal(d.custodian.reference, `Organization/${r.ids.santaClara}`);
    assert.equal(d.subject.reference, `Patient/${ids.lucia}`);
  }
});

test('fhir-kit-client: $record-locations, $summary (GET), $validate (POST), Patient/$ihe-pix', async () => {
  const locations = await kit.operation({ name: '$record-locations', resourceType: 'Patient', id: ids.lucia, method: 'GET' });
  assert.equal(locations.resourceType, 'Parameters');
  const location = locations.parameter.find((/** @type {any} */ p) => p.name === 'location');
  const part = (/** @type {string} */ name) => location.part.find((/** @type {any} */ p) => p.name === name);
  assert.equal(part('organization').valueReference.reference, `Organization/${r.ids.santaClara}`);
  assert.equal(part('count').valueInteger, 2);

  const summary = await kit.operation({ name: 'summary', resourceType: 'Patient', id: r.ids.patient, method: 'GET' });
  assert.equal(summary.resourceType, 'Bundle');
  assert.equal(summary.type, 'document');
  assert.equal(summary.entry[0].resource.resourceType, 'Composition');

  const valid = await kit.operation({ name: 'validate', resourceType: 'Patient', input: lucia });
  assert.equal(valid.resourceType, 'OperationOutcome');
  assert.deepEqual(valid.issue.filter((/** @type {any} */ i) => i.severity === 'error' || i.severity === 'fatal'), []);
  const invalid = await kit.operation({ name: 'validate', resourceType: 'Patient', input: { ...lucia, birthDate: '1990-13-01' } });
  assert.ok(
    invalid.issue.some((/** @type {any} */ i) => i.severity === 'error'),
    `$validate finds the month 13: ${JSON.stringify(invalid)}`,
  );

  const pix = await kit.operation({ name: 'ihe-pix', resourceType: 'Patient', method: 'GET', input: { sourceIdentifier: lucia.identifier[0].value } });
  assert.equal(pix.resourceType, 'Parameters');
  const target = pix.parameter.find((/** @type {any} */ p) => p.name === 'targetId');
  assert.equal(target.valueReference.reference, `Patient/${ids.lucia}`);
});

test('fhir-kit-client: errors carry an OperationOutcome (404 read, invalid create)', async () => {
  await assert.rejects(kit.read({ resourceType: 'Patient', id: 'no-such-patient' }), (/** @type {any} */ err) => {
    assert.equal(err.response.status, 404);
    assertExplains(err.response.data, '404 read');
    return true;
  });
  await assert.rejects(kit.create({ resourceType: 'Patient', body: invalidPatient() }), (/** @type {any} */ err) => {
    assert.ok([400, 422].includes(err.response.status), `status ${err.response.status}`);
    assertExplains(err.response.data, 'invalid create');
    return true;
  });
});

test('fhir-kit-client: an auditor reads the audit trail (AuditEvent search and read)', async () => {
  const events = await auditor.search({ resourceType: 'AuditEvent', searchParams: { patient: ids.lucia, _count: 5 } });
  assert.ok(events.entry?.length > 0, 'events about the patient');
  const first = events.entry[0].resource;
  assert.equal(first.resourceType, 'AuditEvent');
  const again = await auditor.read({ resourceType: 'AuditEvent', id: first.id });
  assert.equal(again.id, first.id);
});

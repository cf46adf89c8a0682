// Medplum's MedplumClient (@medplum/core) drives the registry: base URL and FHIR path
// pointed at it, a bearer token set with setAccessToken; every answer validated at the
// HTTP layer (lib/clients.mjs). The registry: tests/clients/registry.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OperationOutcomeError } from '@medplum/core';
import { registry } from './registry.mjs';
import { medplum } from './lib/clients.mjs';
import { validateEverything, assertExplains } from './lib/hooks.mjs';
import { IDS_PERSONA, TWO_DOCS, fresh, invalidPatient, organization, patient, push } from './lib/fixtures.mjs';

const r = await registry();
const m = medplum(r.base, r.tokens.sihce);
const mp = m.client;
const admin = medplum(r.base, r.tokens.admin).client;
const auditor = medplum(r.base, r.tokens.auditor).client;
validateEverything('medplum.test.mjs');

const ana = patient({ dni: fresh('72'), family: 'Yupanqui Huamán', given: ['Ana', 'Belén'], birthDate: '1978-08-09' });
const jose = patient({ dni: fresh('72'), family: 'Huamán Yupanqui', given: ['José'], birthDate: '1980-01-15', gender: 'male' });
/** @type {{ana?: string, jose?: string}} */
const ids = {};

/** @param {any[]} resources */
const idsOf = (resources) => resources.map((x) => x.id);

/**
 * The OperationOutcome a Medplum call rejected with.
 * @param {Promise<unknown>} promise
 */
async function outcomeOf(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof OperationOutcomeError, `Medplum rejected with ${e}`);
    return e.outcome;
  }
  assert.fail('the call succeeded');
}

test('Medplum: metadata, the CapabilityStatement', async () => {
  const cs = await mp.get(mp.fhirUrl('metadata'));
  assert.equal(cs.resourceType, 'CapabilityStatement');
  assert.equal(cs.fhirVersion, '4.0.1');
});

test('Medplum: createResource, readResource, updateResource, readVersion, readHistory of a Patient', async () => {
  const created = await mp.createResource(ana);
  assert.equal(m.last().status, 201);
  assert.equal(created.meta?.versionId, '1');
  ids.ana = created.id;

  const read = await mp.readResource('Patient', created.id);
  assert.deepEqual(read.identifier, ana.identifier);

  const address = [{ use: /** @type {const} */ ('home'), line: ['Av. Grau 250'], city: 'Ica', country: 'PE' }];
  const updated = await mp.updateResource({ ...read, address });
  assert.equal(m.last().status, 200);
  assert.equal(updated.meta?.versionId, '2');
  assert.deepEqual(updated.address, address);

  const v1 = await mp.readVersion('Patient', created.id, '1');
  assert.equal(v1.address, undefined);

  const history = await mp.readHistory('Patient', created.id);
  assert.equal(history.type, 'history');
  assert.deepEqual(
    history.entry?.map((e) => e.resource?.meta?.versionId),
    ['2', '1'],
  );

  ids.jose = (await mp.createResource(jose)).id;

  // The identity feed's history (type level), newest first.
  const feed = await mp.get(mp.fhirUrl('Patient', '_history'));
  assert.equal(feed.type, 'history');
  const versions = (feed.entry ?? []).map((/** @type {any} */ e) => `${e.resource?.id}/${e.resource?.meta?.versionId}`);
  const at = [`${ids.jose}/1`, `${created.id}/2`, `${created.id}/1`].map((v) => versions.indexOf(v));
  assert.ok(at.every((i) => i >= 0) && at[0] < at[1] && at[1] < at[2], `newest first: ${versions.join(' ')}`);
});

test('Medplum: Patient by identifier, family, given, birthdate', async () => {
  const value = ana.identifier[0].value;
  assert.deepEqual(idsOf(await mp.searchResources('Patient', { identifier: value })), [ids.ana]);
  assert.deepEqual(idsOf(await mp.searchResources('Patient', { 'identifier:of-type': `${IDS_PERSONA}|1|${value}` })), [ids.ana]);
  assert.deepEqual(idsOf(await mp.searchResources('Patient', { family: 'HUAMAN' })).sort(), [ids.ana, ids.jose].sort());
  assert.deepEqual(idsOf(await mp.searchResources('Patient', { family: 'yupanqui', given: 'belen' })), [ids.ana]);
  assert.deepEqual(idsOf(await mp.searchResources('Patient', { family: 'yupanqui', birthdate: '1980-01-15' })), [ids.jose]);
  const one = await mp.searchOne('Patient', { family: 'yupanqui', given: 'jose' });
  assert.equal(one?.id, ids.jose);
});

test('Medplum: paging by following next links (searchResourcePages, _count=1)', async () => {
  const seen = [];
  let pages = 0;
  for await (const page of mp.searchResourcePages('Patient', { family: 'huamán', _count: '1' })) {
    pages += 1;
    assert.ok(page.length <= 1);
    seen.push(...idsOf(page));
    assert.ok(pages < 10, 'paging ends');
  }
  assert.ok(pages >= 2, `${pages} page(s)`);
  assert.deepEqual(seen.sort(), [ids.ana, ids.jose].sort());
  assert.ok(m.exchanges.some((e) => new URL(e.url).searchParams.has('_cursor')), 'a next link was followed');
});

test('Medplum: an administrator registers an IPRESS; Organization?name= finds it by a word, accents and case aside', async () => {
  const org = await admin.createResource(organization(fresh('72'), 'Centro de Salud Ñaña'));
  for (const word of ['nana', 'ÑAÑA', 'salud']) {
    const found = idsOf(await mp.searchResources('Organization', { name: word }));
    assert.ok(found.includes(org.id), `name=${word} finds the IPRESS (found ${found})`);
  }
});

test('Medplum: an ITI-65 push (executeBatch) and DocumentReference?patient=&status=current, paged', async () => {
  const answer = await mp.executeBatch(push(/** @type {string} */ (ids.ana), r.ids.santaClara, TWO_DOCS));
  assert.equal(m.last().status, 200);
  assert.equal(answer.type, 'transaction-response');
  assert.equal(answer.entry?.length, 3);
  for (const e of answer.entry ?? []) assert.match(e.response?.status ?? '', /^201/);

  const docs = [];
  let pages = 0;
  for await (const page of mp.searchResourcePages('DocumentReference', { patient: /** @type {string} */ (ids.ana), status: 'current', _count: '1' })) {
    pages += 1;
    docs.push(...page);
  }
  assert.equal(pages, 2);
  assert.equal(docs.length, 2);
  for (const d of docs) assert.equal(d.custodian?.reference, `Organization/${r.ids.santaClara}`);
});

test('Medplum: a batch (executeBatch): a read and a search, each answered on its own', async () => {
  const answer = await mp.executeBatch({
    resourceType: 'Bundle',
    type: 'batch',
    entry: [
      { request: { method: 'GET', url: `Patient/${r.ids.patient}` } },
      { request: { method: 'GET', url: 'Patient/no-such-patient' } },
    ],
  });
  assert.equal(answer.type, 'batch-response');
  assert.match(answer.entry?.[0].response?.status ?? '', /^200/);
  assert.equal(answer.entry?.[0].resource?.id, r.ids.patient);
  assert.match(answer.entry?.[1].response?.status ?? '', /^404/);
});

test('Medplum: $record-locations, $summary (readPatientSummary), $validate (validateResource), Patient/$ihe-pix', async () => {
  const locations = await mp.get(mp.fhirUrl('Patient', /** @type {string} */ (ids.ana), '$record-locations'));
  assert.equal(locations.resourceType, 'Parameters');
  const location = locations.parameter.find((/** @type {any} */ p) => p.name === 'location');
  assert.equal(location.part.find((/** @type {any} */ p) => p.name === 'count').valueInteger, 2);

  const summary = await mp.readPatientSummary(r.ids.patient);
  assert.equal(summary.type, 'document');
  assert.equal(m.last().method, 'GET');

  const outcome = await mp.validateResource(ana);
  assert.equal(outcome.resourceType, 'OperationOutcome');
  assert.deepEqual(outcome.issue?.filter((i) => i.severity === 'error' || i.severity === 'fatal'), []);
  assert.equal(m.last().method, 'POST');

  const pix = mp.fhirUrl('Patient', '$ihe-pix');
  pix.searchParams.set('sourceIdentifier', ana.identifier[0].value);
  const answer = await mp.get(pix);
  const target = answer.parameter.find((/** @type {any} */ p) => p.name === 'targetId');
  assert.equal(target.valueReference.reference, `Patient/${ids.ana}`);
});

test('Medplum: errors carry an OperationOutcome (404 read, invalid create)', async () => {
  assertExplains(await outcomeOf(mp.readResource('Patient', 'no-such-patient')), '404 read');
  assert.equal(m.last().status, 404);
  assertExplains(await outcomeOf(mp.createResource(invalidPatient())), 'invalid create');
  assert.ok([400, 422].includes(m.last().status), `status ${m.last().status}`);
});

test('Medplum: an auditor reads the audit trail (AuditEvent search and read)', async () => {
  const events = await auditor.searchResources('AuditEvent', { patient: /** @type {string} */ (ids.ana), _count: '5' });
  assert.ok(events.length > 0);
  const again = await auditor.readResource('AuditEvent', events[0].id);
  assert.equal(again.id, events[0].id);
});

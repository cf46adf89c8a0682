// What the tests write to the registry: PacientePe patients with a DNI, OrganizacionPe
// IPRESS, ITI-65 pushes — shaped as web/tests/harness.mjs seeds them (and
// profiles/pe/examples/Patient-ejemplo-paciente.json shows). fixtures.py is the same for
// the Python tests.

import { randomInt, randomUUID } from 'node:crypto';

export const IDS_PERSONA = 'https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IdspersonaPeru';
export const IPRESSCS = 'https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IPRESSCS';
export const PE_PAIS = 'https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/pe-pais';

/** The seeded IPRESS and patient (web/tests/harness.mjs SEED). */
export const SEED = {
  santaClara: { code: '00012345', name: 'Hospital Santa Clara' },
  ica: { code: '00067890', name: 'Hospital Regional de Ica' },
  maria: { dni: '45678912', birthDate: '1985-04-12' },
};

/**
 * A fresh 8-digit number starting with `prefix` (each test file has its own prefix, so
 * files running at once against one registry never collide).
 * @param {string} prefix two digits
 */
export function fresh(prefix) {
  return `${prefix}${String(randomInt(0, 1_000_000)).padStart(6, '0')}`;
}

/**
 * A DNI as PacientePe writes it.
 * @param {string} value
 */
export function dni(value) {
  return {
    use: 'official',
    type: {
      extension: [{ url: PE_PAIS, valueCodeableConcept: { coding: [{ system: 'urn:iso:std:iso:3166', code: 'PER', display: 'Peru' }] } }],
      coding: [{ system: IDS_PERSONA, code: '1', display: 'DNI' }],
    },
    value,
  };
}

/**
 * A PacientePe patient.
 * @param {{dni: string, family: string, given: string[], birthDate: string, gender?: string}} p
 */
export function patient(p) {
  return {
    resourceType: 'Patient',
    identifier: [dni(p.dni)],
    active: true,
    name: [{ use: 'official', family: p.family, given: p.given }],
    gender: p.gender ?? 'female',
    birthDate: p.birthDate,
  };
}

/** A Patient the registry must refuse: no identity document. */
export function invalidPatient() {
  return { resourceType: 'Patient', name: [{ family: 'Sin Documento', given: ['Nadie'] }], gender: 'unknown' };
}

/**
 * An IPRESS as OrganizacionPe writes it.
 * @param {string} code RENIPRESS code
 * @param {string} name
 */
export function organization(code, name) {
  return {
    resourceType: 'Organization',
    identifier: [{ use: 'official', type: { coding: [{ system: IPRESSCS, code }] }, value: code }],
    active: true,
    name,
  };
}

/**
 * An ITI-65 push (a transaction Bundle): a SubmissionSet List and one DocumentReference
 * per document, all of `patientId`, held by the IPRESS `orgId`.
 * @param {string} patientId
 * @param {string} orgId
 * @param {{loinc: string, date: string}[]} docs
 */
export function push(patientId, orgId, docs) {
  const entries = docs.map((d) => ({ ...d, uuid: `urn:uuid:${randomUUID()}` }));
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: {
          resourceType: 'List',
          identifier: [{ use: 'official', system: 'urn:ietf:rfc:3986', value: `urn:uuid:${randomUUID()}` }],
          status: 'current',
          mode: 'working',
          subject: { reference: `Patient/${patientId}` },
          entry: entries.map((d) => ({ item: { reference: d.uuid } })),
        },
        request: { method: 'POST', url: 'List' },
      },
      ...entries.map((d) => ({
        fullUrl: d.uuid,
        resource: {
          resourceType: 'DocumentReference',
          masterIdentifier: { system: 'urn:ietf:rfc:3986', value: `urn:oid:1.2.604.77.${randomInt(1, 2 ** 47)}` },
          identifier: [{ system: 'urn:ietf:rfc:3986', value: d.uuid }],
          status: 'current',
          type: { coding: [{ system: 'http://loinc.org', code: d.loinc }] },
          subject: { reference: `Patient/${patientId}` },
          date: d.date,
          custodian: { reference: `Organization/${orgId}` },
          content: [{ attachment: { contentType: 'application/pdf', url: `https://sihce.example/docs/${randomUUID()}` } }],
        },
        request: { method: 'POST', url: 'DocumentReference' },
      })),
    ],
  };
}

/** Two documents, for a push whose entries a `_count=1` search pages through. */
export const TWO_DOCS = [
  { loinc: '34133-9', date: '2026-01-20T09:15:00-05:00' },
  { loinc: '11502-2', date: '2026-03-14T10:20:00-05:00' },
];

/** A system|value token for a DNI. */
export const dniToken = (/** @type {string} */ value) => `${IDS_PERSONA}|${value}`;

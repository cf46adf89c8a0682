// What clinicians and patients both see of a patient's records: where they live
// ($record-locations), the basic clinical information ($summary) and the index entries.

import { h } from './dom.js';
import { t, plural } from './i18n.js';
import * as fmt from './format.js';
import { refId, get, SYSTEMS } from './fhir.js';

/**
 * @typedef {object} Location
 * @property {string | undefined} orgId the IPRESS's Organization id
 * @property {string} name
 * @property {string | undefined} renipress
 * @property {number} count
 * @property {string | undefined} first
 * @property {string | undefined} last
 * @property {import('./fhir.js').Coding[]} types
 * @property {import('./fhir.js').Reference[]} endpoints
 */

/**
 * The locations of a `$record-locations` answer (profiles/renhice/OperationDefinition-
 * record-locations.json), and whether the registry says the caller's access left
 * entries out (its `withheld` parameter).
 * @param {import('./fhir.js').Parameters} params
 * @returns {{locations: Location[], withheld: boolean}}
 */
export function parseLocations(params) {
  const locations = [];
  let withheld = false;
  for (const p of params.parameter ?? []) {
    if (p.name === 'withheld' && p.valueBoolean === true) withheld = true;
    if (p.name !== 'location') continue;
    const parts = p.part ?? [];
    const one = (/** @type {string} */ name) => parts.find((x) => x.name === name);
    const org = one('organization')?.valueReference;
    locations.push({
      orgId: refId(org, 'Organization'),
      name: one('name')?.valueString ?? org?.display ?? t('value.unnamedIpress'),
      renipress: one('renipress')?.valueIdentifier?.value ?? org?.identifier?.value,
      count: one('count')?.valueInteger ?? 0,
      first: one('first')?.valueDateTime,
      last: one('last')?.valueDateTime,
      types: parts.filter((x) => x.name === 'type' && x.valueCoding).map((x) => /** @type {import('./fhir.js').Coding} */ (x.valueCoding)),
      endpoints: parts.filter((x) => x.name === 'endpoint' && x.valueReference).map((x) => /** @type {import('./fhir.js').Reference} */ (x.valueReference)),
    });
  }
  return { locations, withheld };
}

/**
 * A term and its description, for a `<dl>`.
 * @param {string} term
 * @param {import('./dom.js').Children} value
 */
function pair(term, value) {
  return [h('dt', { text: term }), h('dd', {}, value)];
}

/**
 * The locations as cards, newest first (as the registry orders them).
 * @param {Location[]} locations
 * @param {{ownIpress?: string, headingLevel?: 'h2' | 'h3'}} [options] the caller's
 *   RENIPRESS code marks its own IPRESS
 */
export function locationsView(locations, options = {}) {
  if (!locations.length) return h('p', { class: 'empty', text: t('locations.none') });
  return h(
    'ul',
    { class: 'cards' },
    locations.map((loc) => {
      const own = options.ownIpress !== undefined && loc.renipress === options.ownIpress;
      const period = loc.first && loc.last && loc.first !== loc.last ? t('range', { from: fmt.date(loc.first), to: fmt.date(loc.last) }) : fmt.date(loc.last ?? loc.first);
      return h(
        'li',
        { class: own ? 'card own' : 'card' },
        h(options.headingLevel ?? 'h3', { text: loc.name }),
        own ? h('p', { class: 'badge', text: t('locations.yourIpress') }) : null,
        h(
          'dl',
          {},
          pair(t('locations.renipress'), loc.renipress ?? t('value.unknown')),
          pair(t('locations.documents'), plural('count.documents', loc.count)),
          period ? pair(loc.first !== loc.last ? t('locations.period') : t('locations.date'), period) : null,
          loc.types.length ? pair(t('locations.types'), h('ul', { class: 'plain' }, loc.types.map((c) => h('li', { text: fmt.coding(c) })))) : null,
          loc.endpoints.length
            ? pair(t('locations.endpoints'), h('ul', { class: 'plain' }, loc.endpoints.map((e) => h('li', { text: e.display ?? e.reference ?? '' }))))
            : null,
        ),
      );
    }),
  );
}

/** The resource types of the summary's lists, and what is said about each entry. */
const KINDS = /** @type {const} */ ([
  ['allergies', ['AllergyIntolerance']],
  ['conditions', ['Condition']],
  ['medications', ['MedicationStatement', 'MedicationRequest']],
  ['other', ['Immunization', 'Procedure', 'Observation', 'DiagnosticReport', 'CarePlan', 'Device', 'DeviceUseStatement']],
]);

/**
 * The words of one clinical entry of a summary: what, details, when.
 * @param {import('./fhir.js').Resource} r
 * @returns {{what: string, details: string[], when: string | undefined}}
 */
function entryWords(r) {
  const what =
    fmt.concept(r.code ?? r.medicationCodeableConcept ?? r.vaccineCode) ||
    (r.medicationReference?.display ?? '') ||
    t('summary.unnamed');
  /** @type {string[]} */
  const details = [];
  const status = r.clinicalStatus?.coding?.[0]?.code ?? (typeof r.status === 'string' ? r.status : undefined);
  if (status) details.push(fmt.lookupStatus(status));
  if (r.resourceType === 'AllergyIntolerance') {
    if (r.criticality) details.push(t('summary.criticality', { c: fmt.lookupCriticality(r.criticality) }));
    for (const reaction of r.reaction ?? []) {
      for (const m of reaction.manifestation ?? []) details.push(fmt.concept(m));
    }
  }
  for (const d of r.dosage ?? r.dosageInstruction ?? []) if (d.text) details.push(d.text);
  if (r.resourceType === 'Observation') {
    const q = r.valueQuantity;
    const v = q ? `${q.value ?? ''} ${q.unit ?? q.code ?? ''}`.trim() : (r.valueString ?? fmt.concept(r.valueCodeableConcept));
    if (v) details.push(v);
  }
  const when =
    r.recordedDate ?? r.onsetDateTime ?? r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.authoredOn ?? r.dateAsserted ?? r.occurrenceDateTime ?? r.performedDateTime ?? r.issued;
  return { what, details: details.filter(Boolean), when };
}

/**
 * The basic clinical information of a summary document (a BundlePe document Bundle):
 * allergies, conditions, medications and other entries, in words, with the IPRESS that
 * wrote the summary and when.
 * @param {import('./fhir.js').Bundle} bundle
 * @param {(ref: import('./fhir.js').Reference | undefined) => Promise<string | undefined>} ipressName
 *   the name of the IPRESS a reference names
 */
export function summaryView(bundle, ipressName) {
  const all = (bundle.entry ?? []).map((e) => e.resource).filter((r) => r !== undefined);
  const composition = all.find((r) => r.resourceType === 'Composition');
  const written = composition?.date ?? bundle.timestamp;
  const source = h('span', { text: t('summary.unknownIpress') });
  ipressName(composition?.custodian ?? composition?.author?.[0])
    .then((name) => {
      if (name) source.textContent = name;
    })
    .catch(() => {});
  const byline = h('p', { class: 'byline' }, t('summary.writtenBy'), ' ', h('strong', {}, source), written ? ` · ${fmt.dateTime(written)}` : '');
  const sections = KINDS.map(([kind, types]) => {
    const items = all.filter((r) => /** @type {readonly string[]} */ (types).includes(r.resourceType));
    if (kind === 'other' && !items.length) return null;
    return h(
      'section',
      { class: 'summary-part', 'aria-labelledby': `sum-${kind}` },
      h('h3', { id: `sum-${kind}`, text: t(`summary.${kind}`) }),
      items.length
        ? h(
            'ul',
            { class: 'entries' },
            items.map((r) => {
              const w = entryWords(r);
              return h(
                'li',
                {},
                h('span', { class: 'what', text: w.what }),
                w.details.length ? h('span', { class: 'details', text: w.details.join(' · ') }) : null,
                w.when ? h('span', { class: 'when', text: fmt.date(w.when) }) : null,
              );
            }),
          )
        : h('p', { class: 'empty', text: t(`summary.no.${kind}`) }),
    );
  });
  return h('div', { class: 'summary' }, byline, sections);
}

/**
 * The name of the IPRESS a reference names: its display, an entry of the summary
 * itself, or the registry's Organization (IPRESS are public).
 * @param {import('./fhir.js').Bundle} bundle
 * @param {Map<string, string>} known names by Organization id, already at hand
 * @returns {(ref: import('./fhir.js').Reference | undefined) => Promise<string | undefined>}
 */
export function ipressResolver(bundle, known) {
  return async (ref) => {
    if (!ref) return undefined;
    if (ref.display) return ref.display;
    const inside = bundle.entry?.find((e) => e.fullUrl && ref.reference && (e.fullUrl === ref.reference || e.fullUrl.endsWith(`/${ref.reference}`)));
    if (inside?.resource?.name) return inside.resource.name;
    const code = (inside?.resource?.identifier ?? [ref.identifier]).find(
      (/** @type {import('./fhir.js').Identifier | undefined} */ i) => i?.system === SYSTEMS.ipress || i?.type?.coding?.some((c) => c.system === SYSTEMS.ipress),
    )?.value;
    const id = refId(ref, 'Organization');
    if (id && known.has(id)) return known.get(id);
    if (id) return (await get(`Organization/${encodeURIComponent(id)}`))?.name;
    return code ? t('ipress.code', { code }) : undefined;
  };
}

/**
 * The index entries (DocumentReference) as a table: date, kind, IPRESS.
 * @param {import('./fhir.js').Resource[]} docs
 * @param {Map<string, string>} names IPRESS names by Organization id
 * @param {string} caption
 */
export function documentsTable(docs, names, caption) {
  if (!docs.length) return h('p', { class: 'empty', text: t('documents.none') });
  return h(
    'table',
    { class: 'stack' },
    h('caption', { class: 'visually-hidden', text: caption }),
    h('thead', {}, h('tr', {}, [t('documents.date'), t('documents.type'), t('documents.ipress')].map((c) => h('th', { scope: 'col', text: c })))),
    h(
      'tbody',
      {},
      docs.map((d) => {
        const sensitive = (d.securityLabel ?? []).some((/** @type {import('./fhir.js').CodeableConcept} */ l) =>
          l.coding?.some((c) => c.system === SYSTEMS.confidentiality && (c.code === 'R' || c.code === 'V')),
        );
        const org = refId(d.custodian, 'Organization');
        return h(
          'tr',
          {},
          h('td', { 'data-label': t('documents.date'), text: fmt.dateTime(d.date) || t('value.unknown') }),
          h('td', { 'data-label': t('documents.type') }, fmt.concept(d.type) || t('value.unknown'), sensitive ? h('span', { class: 'badge warn', text: t('documents.sensitive') }) : null),
          h('td', { 'data-label': t('documents.ipress'), text: (org && names.get(org)) ?? d.custodian?.display ?? t('value.unknown') }),
        );
      }),
    ),
  );
}

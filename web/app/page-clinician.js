// Clinicians: find a patient (by identity document, or by name and birth date), then the
// patient page: who the patient is, where the history lives, the basic clinical
// information and the documents; emergency access when it is needed.

import { h, append, replace, field, modal } from './dom.js';
import { t, lookup, plural } from './i18n.js';
import * as fmt from './format.js';
import * as auth from './auth.js';
import { get, resources, nextLink, refId, FhirError, SYSTEMS } from './fhir.js';
import { parseLocations, locationsView, summaryView, ipressResolver, documentsTable } from './records.js';

/** The identity-document kinds of MINSA's IdspersonaPeru, in the order offered. */
const DOCUMENT_KINDS = ['1', '2', '3', '4'];

/**
 * The last search and its results, kept while the tab lives so that going back from a
 * patient shows them again. Not kept in the address or storage: names and documents
 * stay out of the browser's history.
 * @type {{kind: 'document', type: string, number: string} | {kind: 'name', family: string, given: string, birthdate: string} | null}
 */
let lastSearch = null;

/** Forgets the last search (when the session ends: the next person must not see it). */
export function forget() {
  lastSearch = null;
}

/**
 * A message for a failure.
 * @param {unknown} e
 */
function message(e) {
  return e instanceof Error ? e.message : String(e);
}

/**
 * An alert box with a failure's words.
 * @param {unknown} e
 */
function failureBox(e) {
  return h('p', { class: 'alert error', role: 'alert', text: message(e) });
}

/**
 * Renders the patient search.
 * @param {HTMLElement} main
 * @param {(hash: string) => void} navigate
 */
export function renderSearch(main, navigate) {
  const results = h('div', { class: 'results' });
  const status = h('p', { class: 'status', role: 'status' });

  // By identity document: the exact way, one patient per document.
  const type = h(
    'select',
    { name: 'type' },
    DOCUMENT_KINDS.map((code) => h('option', { value: code, text: lookup('idKindLong', code) ?? code })),
  );
  const number = h('input', { name: 'number', type: 'text', autocomplete: 'off', spellcheck: 'false', required: true, inputmode: 'numeric', maxlength: '20' });
  type.addEventListener('change', () => number.setAttribute('inputmode', type.value === '1' ? 'numeric' : 'text'));
  const typeField = field(t('search.docType'), type);
  const numberField = field(t('search.docNumber'), number, t('search.docNumberHint'));
  const byDocument = h(
    'form',
    { class: 'search-form', novalidate: true, 'aria-labelledby': 'by-doc-h' },
    h('h2', { id: 'by-doc-h', text: t('search.byDocument') }),
    h('div', { class: 'row' }, typeField.row, numberField.row),
    h('button', { type: 'submit', text: t('search.submit') }),
  );
  byDocument.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = number.value.replace(/\s+/g, '').toUpperCase();
    const valid = type.value === '1' ? /^\d{8}$/.test(value) : /^[A-Z0-9-]{4,20}$/.test(value);
    numberField.setError(valid ? '' : t(type.value === '1' ? 'search.dniInvalid' : 'search.docInvalid'));
    if (!valid) {
      number.focus();
      return;
    }
    lastSearch = { kind: 'document', type: type.value, number: value };
    run(true);
  });

  // By name and birth date (PDQm): either surname, accents and case ignored.
  const family = h('input', { name: 'family', type: 'text', autocomplete: 'off', required: true });
  const given = h('input', { name: 'given', type: 'text', autocomplete: 'off' });
  const birthdate = h('input', { name: 'birthdate', type: 'date', max: fmt.todayInLima() });
  const familyField = field(t('search.family'), family, t('search.familyHint'));
  const byName = h(
    'form',
    { class: 'search-form', novalidate: true, 'aria-labelledby': 'by-name-h' },
    h('h2', { id: 'by-name-h', text: t('search.byName') }),
    h('div', { class: 'row' }, familyField.row, field(t('search.given'), given).row, field(t('search.birthdate'), birthdate).row),
    h('button', { type: 'submit', text: t('search.submit') }),
  );
  byName.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const surname = family.value.trim();
    familyField.setError(surname.length >= 2 ? '' : t('search.familyRequired'));
    if (surname.length < 2) {
      family.focus();
      return;
    }
    lastSearch = { kind: 'name', family: surname, given: given.value.trim(), birthdate: birthdate.value };
    run(false);
  });

  /**
   * Runs the last search; a document naming exactly one patient opens the patient.
   * @param {boolean} openSingle
   */
  async function run(openSingle) {
    const search = lastSearch;
    if (!search) return;
    replace(results);
    status.textContent = t('status.searching');
    try {
      const query =
        search.kind === 'document'
          ? { 'identifier:of-type': `${SYSTEMS.idsPersona}|${search.type}|${search.number}` }
          : { family: search.family, given: search.given, birthdate: search.birthdate, _count: '20' };
      const bundle = await get('Patient', query);
      const patients = resources(bundle);
      if (openSingle && patients.length === 1 && patients[0].id) {
        navigate(`#/paciente/${encodeURIComponent(patients[0].id)}`);
        return;
      }
      status.textContent = patients.length ? plural('count.patients', patients.length) : t('search.none');
      replace(results, patientTable(patients), nextLink(bundle) ? h('p', { class: 'hint', text: t('search.more') }) : null);
    } catch (e) {
      status.textContent = '';
      replace(results, failureBox(e));
    }
  }

  if (lastSearch?.kind === 'document') {
    type.value = lastSearch.type;
    number.value = lastSearch.number;
  } else if (lastSearch?.kind === 'name') {
    family.value = lastSearch.family;
    given.value = lastSearch.given;
    birthdate.value = lastSearch.birthdate;
  }
  append(main, [
    h('h1', { tabindex: '-1', text: t('search.title') }),
    h('p', { class: 'lead', text: t('search.lead') }),
    h('div', { class: 'search-forms' }, byDocument, byName),
    h('section', { class: 'results-section', 'aria-labelledby': 'results-h' }, h('h2', { id: 'results-h', text: t('search.results') }), status, results),
  ]);
  // Back from a patient: the same results again, without jumping to the single match.
  if (lastSearch) run(false);
  else number.focus();
}

/**
 * The patients found, as a table whose names open each patient.
 * @param {import('./fhir.js').Resource[]} patients
 */
function patientTable(patients) {
  if (!patients.length) return null;
  const cols = [t('patient.name'), t('patient.document'), t('patient.birth'), t('patient.sex')];
  return h(
    'table',
    { class: 'stack' },
    h('caption', { class: 'visually-hidden', text: t('search.results') }),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: c })))),
    h(
      'tbody',
      {},
      patients.map((p) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row', 'data-label': cols[0] }, h('a', { href: `#/paciente/${encodeURIComponent(p.id ?? '')}`, text: fmt.personName(p.name) })),
          h('td', { 'data-label': cols[1], text: fmt.identityDocument(p.identifier) }),
          h('td', { 'data-label': cols[2], text: fmt.birth(p.birthDate) }),
          h('td', { 'data-label': cols[3], text: fmt.gender(p.gender) }),
        ),
      ),
    ),
  );
}

/**
 * A section with a heading, a status line and a body filled later.
 * @param {string} id
 * @param {string} title
 */
function section(id, title) {
  const status = h('p', { class: 'status', role: 'status', text: t('status.loading') });
  const body = h('div', {});
  const el = h('section', { class: 'block', 'aria-labelledby': id }, h('h2', { id, text: title }), status, body);
  return { el, status, body };
}

/**
 * Whether a consent grants access now: active, its period covering today.
 * @param {import('./fhir.js').Resource} c
 */
function inForce(c) {
  const p = c.provision?.period;
  const now = Date.now();
  const start = p?.start ? Date.parse(p.start) : -Infinity;
  const end = p?.end ? Date.parse(p.end.length === 10 ? `${p.end}T23:59:59-05:00` : p.end) : Infinity;
  return c.status === 'active' && start <= now && now <= end;
}

/**
 * Renders a patient's page for a clinician.
 * @param {HTMLElement} main
 * @param {string} id the Patient id
 * @param {auth.Session} session
 */
export function renderPatient(main, id, session) {
  const emergency = auth.emergency(id);
  /** Requests about this patient: under emergency access for them, with its token. */
  const about = { patient: id };
  // The heading stays the same element when the name arrives, so focus on it stays.
  const title = h('h1', { tabindex: '-1', text: t('patient.loadingTitle') });
  const banner = h('div', { class: 'patient-banner' }, title);
  const access = h('div', { class: 'access' });
  const where = section('where-h', t('patient.where'));
  const summary = section('summary-h', t('patient.summary'));
  const docs = section('docs-h', t('patient.documents'));
  append(main, [h('p', { class: 'back' }, h('a', { href: '#/buscar', text: `← ${t('patient.back')}` })), banner, access, where.el, summary.el, docs.el]);

  const path = `Patient/${encodeURIComponent(id)}`;
  /** @type {Map<string, string>} names of IPRESS by Organization id */
  const names = new Map();

  get(path, undefined, about)
    .then((p) => {
      const name = fmt.personName(p.name);
      document.title = `${name} — RENHICE`;
      title.textContent = name;
      append(banner, [
        h(
          'dl',
          { class: 'facts-inline' },
          h('div', {}, h('dt', { text: t('patient.document') }), h('dd', { text: fmt.identityDocument(p.identifier) })),
          h('div', {}, h('dt', { text: t('patient.birth') }), h('dd', { text: fmt.birth(p.birthDate) })),
          h('div', {}, h('dt', { text: t('patient.sex') }), h('dd', { text: fmt.gender(p.gender) })),
        ),
      ]);
    })
    .catch((e) => {
      title.textContent = t('patient.unavailable');
      append(banner, [failureBox(e)]);
    });

  const consents = get('Consent', { patient: id, status: 'active' }, about)
    .then((b) => resources(b).filter(inForce))
    .catch(() => []);

  const locations = get(`${path}/$record-locations`, undefined, about).then((params) => parseLocations(params));
  locations
    .then(({ locations: list }) => {
      for (const l of list) if (l.orgId) names.set(l.orgId, l.name);
      where.status.textContent = list.length ? plural('count.ipress', list.length) : '';
      replace(where.body, locationsView(list, { ownIpress: session.ipress }));
    })
    .catch((e) => {
      where.status.textContent = '';
      replace(where.body, failureBox(e));
    });

  // What the clinician sees, and why: emergency, consent, or only their own IPRESS.
  Promise.all([locations.catch(() => null), consents]).then(([found, granted]) => {
    if (emergency) {
      replace(access, h('p', { class: 'alert emergency-note', text: t('access.emergency') }));
      return;
    }
    const others = found?.locations.some((l) => l.renipress !== session.ipress) ?? false;
    if (granted.length || others) {
      const until = granted.map((c) => c.provision?.period?.end).find(Boolean);
      replace(access, h('p', { class: 'alert info', text: until ? t('access.consentUntil', { date: fmt.date(until) }) : t('access.consent') }));
      return;
    }
    const sure = found?.withheld === true;
    replace(
      access,
      h(
        'div',
        { class: 'alert warn' },
        h('p', { text: sure ? t('access.withheld') : t('access.ownOnly') }),
        h('button', { type: 'button', class: 'danger', text: t('emergency.open'), on: { click: () => askEmergency(id) } }),
      ),
    );
  });

  get(`${path}/$summary`, undefined, about)
    .then((bundle) => {
      summary.status.textContent = '';
      replace(summary.body, summaryView(bundle, ipressResolver(bundle, names)));
    })
    .catch((e) => {
      summary.status.textContent = '';
      replace(summary.body, e instanceof FhirError && e.status === 404 ? h('p', { class: 'empty', text: t('summary.none') }) : failureBox(e));
    });

  get('DocumentReference', { patient: id, status: 'current', _sort: '-date', _include: 'DocumentReference:custodian', _count: '50' }, about)
    .then((bundle) => {
      for (const org of resources(bundle, 'include')) if (org.id && org.name) names.set(org.id, org.name);
      const list = resources(bundle);
      docs.status.textContent = list.length ? plural('count.documents', list.length) : '';
      replace(
        docs.body,
        emergency ? h('p', { class: 'hint', text: t('documents.emergencyOwnOnly') }) : null,
        documentsTable(list, names, t('patient.documents')),
        nextLink(bundle) ? h('p', { class: 'hint', text: t('documents.more') }) : null,
      );
      for (const d of list) {
        const org = refId(d.custodian, 'Organization');
        if (org && !names.has(org)) names.set(org, d.custodian?.display ?? org);
      }
    })
    .catch((e) => {
      docs.status.textContent = '';
      replace(docs.body, failureBox(e));
    });
}

/**
 * The emergency access dialog: what it opens and what it does not, a required reason,
 * and a deliberate confirmation. On success the session carries the emergency token and
 * the page is drawn again with it.
 * @param {string} patient the Patient id
 */
function askEmergency(patient) {
  return modal(
    t('emergency.title'),
    (close) => {
      const reason = h('textarea', { name: 'reason', rows: '4', required: true, minlength: '10', maxlength: '500' });
      const reasonField = field(t('emergency.reasonLabel'), reason, t('emergency.reasonHint'));
      const status = h('p', { class: 'status', role: 'status' });
      const confirm = h('button', { type: 'submit', class: 'danger', text: t('emergency.confirm') });
      const form = h(
        'form',
        { novalidate: true },
        h('p', { text: t('emergency.intro') }),
        h('ul', {}, h('li', { text: t('emergency.limit1') }), h('li', { text: t('emergency.limit2') }), h('li', { text: t('emergency.limit3') }), h('li', { text: t('emergency.limit4') })),
        reasonField.row,
        status,
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', text: t('action.cancel'), on: { click: () => close(false) } }), confirm),
      );
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const text = reason.value.trim();
        if (text.length < 10) {
          reasonField.setError(t('emergency.reasonShort'));
          reason.focus();
          return;
        }
        reasonField.setError('');
        confirm.disabled = true;
        status.textContent = t('emergency.requesting');
        try {
          await auth.startEmergency(text, patient);
          close(true);
        } catch (e) {
          status.textContent = '';
          reasonField.setError(message(e));
          confirm.disabled = false;
        }
      });
      return form;
    },
    false,
  );
}

// Auditors: the audit trail, filtered and paged, each event in words; and whether the
// hash chain that seals it is intact.

import { h, append, replace, field } from './dom.js';
import { t, lookup } from './i18n.js';
import { get, FhirError } from './fhir.js';
import { eventLog } from './audit.js';

/**
 * Filters the auditor may want beyond patient and dates, by the AuditEvent search
 * parameter that would carry each; offered only when the registry's CapabilityStatement
 * lists the parameter.
 */
const OPTIONAL = /** @type {const} */ ([
  { param: 'ipress', label: 'auditor.ipress', options: null },
  { param: 'agent-name', label: 'auditor.user', options: null },
  { param: 'action', label: 'auditor.action', options: ['C', 'R', 'U', 'E'] },
  { param: 'outcome', label: 'auditor.outcome', options: ['0', '4', '8'] },
]);

/**
 * The AuditEvent search parameters the registry says it supports.
 * @returns {Promise<Set<string>>}
 */
async function supported() {
  try {
    const cs = await get('metadata');
    const audit = cs.rest?.[0]?.resource?.find((/** @type {any} */ r) => r.type === 'AuditEvent');
    return new Set((audit?.searchParam ?? []).map((/** @type {any} */ p) => String(p.name)));
  } catch {
    return new Set(['patient', 'date']);
  }
}

/**
 * The hash-chain verification as a status box.
 * @returns {HTMLElement}
 */
function chainBox() {
  const box = h('div', { class: 'chain', role: 'status' });
  const again = h('button', { type: 'button', class: 'secondary', text: t('chain.again') });
  const verify = async () => {
    again.disabled = true;
    box.className = 'chain';
    replace(box, h('p', { text: t('chain.checking') }));
    try {
      const params = await get('AuditEvent/$verify-chain');
      /** @param {string} name */
      const value = (name) => params.parameter?.find((/** @type {any} */ p) => p.name === name);
      const valid = value('valid')?.valueBoolean === true;
      const events = value('events')?.valueInteger;
      const said = value('message')?.valueString;
      const broken = value('problem')?.valueString;
      box.className = `chain ${valid ? 'ok' : 'bad'}`;
      replace(
        box,
        h('p', { class: 'chain-verdict', text: valid ? t('chain.valid') : t('chain.broken') }),
        typeof events === 'number' ? h('p', { text: t('chain.events', { n: events }) }) : null,
        broken ? h('p', { text: t('chain.brokenAt', { at: broken }) }) : null,
        said ? h('p', { class: 'hint', text: said }) : null,
      );
    } catch (e) {
      box.className = 'chain unknown';
      replace(box, h('p', { text: e instanceof FhirError && e.status === 404 ? t('chain.unavailable') : e instanceof Error ? e.message : String(e) }));
    } finally {
      again.disabled = false;
    }
  };
  again.addEventListener('click', verify);
  verify();
  return h('section', { class: 'block', 'aria-labelledby': 'chain-h' }, h('h2', { id: 'chain-h', text: t('chain.title') }), box, again);
}

/**
 * Renders the audit trail page.
 * @param {HTMLElement} main
 */
export async function render(main) {
  append(main, [h('h1', { tabindex: '-1', text: t('auditor.title') }), h('p', { class: 'lead', text: t('auditor.lead') }), chainBox()]);
  const patient = h('input', { type: 'text', name: 'patient', autocomplete: 'off', spellcheck: 'false' });
  const from = h('input', { type: 'date', name: 'from' });
  const to = h('input', { type: 'date', name: 'to' });
  const extra = h('div', { class: 'row' });
  const note = h('p', { class: 'hint' });
  const form = h(
    'form',
    { class: 'filters', 'aria-labelledby': 'filters-h' },
    h('h2', { id: 'filters-h', text: t('auditor.filters') }),
    h('div', { class: 'row' }, field(t('auditor.patient'), patient, t('auditor.patientHint')).row, field(t('auditor.from'), from).row, field(t('auditor.to'), to).row),
    extra,
    note,
    h('button', { type: 'submit', text: t('action.search') }),
  );
  const results = h('section', { class: 'block', 'aria-labelledby': 'events-h' }, h('h2', { id: 'events-h', text: t('auditor.events') }));
  const log = h('div', {});
  results.append(log);
  append(main, [form, results]);

  const params = await supported();
  /** @type {{param: string, control: HTMLInputElement | HTMLSelectElement}[]} */
  const controls = [];
  const missing = [];
  for (const f of OPTIONAL) {
    if (!params.has(f.param)) {
      missing.push(t(f.label));
      continue;
    }
    const control = f.options
      ? h('select', { name: f.param }, h('option', { value: '', text: t('auditor.any') }), f.options.map((o) => h('option', { value: o, text: lookup(f.param === 'action' ? 'action' : 'outcome', o) ?? o })))
      : h('input', { type: 'text', name: f.param, autocomplete: 'off' });
    controls.push({ param: f.param, control });
    extra.append(field(t(f.label), control).row);
  }
  note.textContent = missing.length ? t('auditor.notYet', { list: missing.join(', ') }) : '';

  const show = () => {
    const query = new URLSearchParams();
    if (patient.value.trim()) query.set('patient', patient.value.trim());
    for (const { param, control } of controls) if (control.value.trim()) query.set(param, control.value.trim());
    replace(log, eventLog({ query, from: from.value || undefined, to: to.value || undefined, display: { technical: true, showPatient: true } }));
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    show();
  });
  show();
}

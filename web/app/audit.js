// AuditEvents in words, as the registry writes them (crates/server/src/audit.rs: BALP
// events; a Privacy Disclosure, DICOM 110106, for emergency access, with the stated
// reason in the patient entity's detail): when, who, from which IPRESS, what, why and
// with what outcome.

import { h, replace } from './dom.js';
import { t, lookup, plural, ruleText } from './i18n.js';
import * as fmt from './format.js';
import { get, resources, nextLink, ipressNames } from './fhir.js';

const IPRESS_SYSTEM = 'https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IPRESSCS';

/** DICOM event codes of people's sign-in events: Login, Logout, Emergency Override Started. */
const DCM_LOGIN = '110122';
const DCM_LOGOUT = '110123';
const DCM_EMERGENCY_STARTED = '110127';
/** DICOM event types: User Authentication (sign-in, sign-out), Security Alert. */
const DCM_USER_AUTHENTICATION = '110114';
const DCM_SECURITY_ALERT = '110113';

/**
 * @typedef {object} EventWords
 * @property {string} id
 * @property {string | undefined} recorded
 * @property {string} who the person (or system) who acted
 * @property {string | undefined} role the registry role of the person who acted
 * @property {string | undefined} ipress the RENIPRESS code they acted for
 * @property {string} what
 * @property {string | undefined} purpose ActReason code
 * @property {boolean} emergency
 * @property {boolean} signIn a sign-in or sign-out (no purpose of use)
 * @property {string | undefined} reason the emergency's stated reason
 * @property {string} outcome BALP outcome code: 0, 4 or 8
 * @property {string | undefined} outcomeDesc the registry's words on a failure
 * @property {string | undefined} patient the Patient id the event is about
 * @property {import('./fhir.js').Resource} event
 */

/**
 * The agent of the given type code.
 * @param {any[]} agents
 * @param {string} code
 */
function agentOfType(agents, code) {
  return agents.find((a) => a?.type?.coding?.some((/** @type {any} */ c) => c.code === code));
}

/**
 * What an event did, in words, from its subtypes (the interaction and IHE transaction)
 * and the resources it names.
 * @param {import('./fhir.js').Resource} e
 */
function what(e) {
  /** @type {string[]} */
  const codes = (e.subtype ?? []).map((/** @type {any} */ s) => String(s.code));
  // Sign-in events (crates/server/src/audit.rs sign_in_event): DICOM subtypes.
  if (codes.includes(DCM_LOGIN)) return String(e.outcome ?? '0') === '0' ? t('audit.what.login') : t('audit.what.loginFailed');
  if (codes.includes(DCM_LOGOUT)) return t('audit.what.logout');
  if (codes.includes(DCM_EMERGENCY_STARTED)) return t('audit.what.emergencyOpened');
  const iti = codes.find((c) => c.startsWith('ITI-'));
  const interaction =
    (e.subtype ?? []).find((/** @type {any} */ s) => s.system === 'http://hl7.org/fhir/restful-interaction')?.code ??
    codes.find((c) => !c.startsWith('ITI-') && c !== 'disclose') ??
    '';
  const entities = /** @type {any[]} */ (e.entity ?? []);
  const query = entities.map((x) => String(x.description ?? '')).join(' ');
  if (interaction === 'operation') {
    // The registry names the operation in a subtype of its own system.
    const operation = (e.subtype ?? []).find((/** @type {any} */ s) => s.system === 'urn:renhice:operation')?.code;
    if (operation === 'record-locations' || query.includes('$record-locations')) return t('audit.what.locations');
    if (operation === 'summary' || query.includes('$summary')) return t('audit.what.summary');
    return t('audit.what.operation');
  }
  if (iti && interaction !== 'read') {
    const words = lookup('iti', iti);
    if (words) return words;
  }
  const target = entities
    .map((x) => String(x.what?.reference ?? ''))
    .find((r) => r.includes('/') && !r.startsWith('Patient/'));
  // The resource named, else the type searched (the query line), else the patient.
  const type =
    target?.split('/')[0] ??
    /\/fhir\/([A-Za-z]+)/.exec(query)?.[1] ??
    (entities.some((x) => String(x.what?.reference ?? '').startsWith('Patient/')) ? 'Patient' : '');
  const object = lookup('object', type) ?? t('audit.object.unknown');
  const verb = lookup('interaction', interaction) ?? t('audit.interaction.other');
  return `${verb} ${object}`.trim();
}

/**
 * Reads one AuditEvent.
 * @param {import('./fhir.js').Resource} e
 * @returns {EventWords}
 */
export function describe(e) {
  const agents = /** @type {any[]} */ (e.agent ?? []);
  const human = agentOfType(agents, 'IRCP');
  const client = agentOfType(agents, '110150');
  const ipress = agentOfType(agents, 'PROV')?.who?.identifier;
  const role = human?.role?.[0]?.coding?.[0]?.code;
  const subject = String(client?.who?.identifier?.value ?? '');
  let who;
  if (human?.name) who = human.name;
  else if (human?.who?.identifier?.system === 'urn:renhice:colegiatura') who = t('audit.who.colegiatura', { key: human.who.identifier.value });
  else if (role) who = lookup('role', role) ?? role;
  else if (subject === 'unauthenticated') who = t('audit.who.unauthenticated');
  else if (ipress) who = t('audit.who.system');
  else who = subject || t('value.unknown');
  // A sign-in event states the purpose on its person (an emergency opening: ETREAT).
  const purpose = e.purposeOfEvent?.[0]?.coding?.[0]?.code ?? human?.purposeOfUse?.[0]?.coding?.[0]?.code;
  const entities = /** @type {any[]} */ (e.entity ?? []);
  const patientEntity = entities.find((x) => String(x.what?.reference ?? '').startsWith('Patient/'));
  // The stated reason: on the patient of a disclosure, or on the emergency opening's entity.
  const reason = [patientEntity, ...entities]
    .flatMap((x) => x?.detail ?? [])
    .find((/** @type {any} */ d) => d.type === 'emergency-reason')?.valueString;
  return {
    id: e.id ?? '',
    recorded: e.recorded,
    who,
    role,
    ipress: ipress?.system === IPRESS_SYSTEM ? ipress.value : undefined,
    what: what(e),
    purpose,
    emergency: e.type?.code === '110106' || e.type?.code === DCM_SECURITY_ALERT || purpose === 'ETREAT',
    signIn: e.type?.code === DCM_USER_AUTHENTICATION,
    reason,
    outcome: String(e.outcome ?? '0'),
    outcomeDesc: e.outcomeDesc,
    patient: patientEntity ? String(patientEntity.what.reference).slice('Patient/'.length) : undefined,
    event: e,
  };
}

/**
 * The refusal's rule in words, when the registry named one (empty otherwise).
 * @param {EventWords} w
 */
function refusalWords(w) {
  if (w.outcome !== '4') return '';
  const rule = /rule: ([a-z0-9-]+)/.exec(w.outcomeDesc ?? '')?.[1];
  return rule ? ruleText(rule) : '';
}

/**
 * One event, or a run of events of one visit (same person, IPRESS, purpose and
 * outcome, minutes apart), as a list item: when, outcome, who, what, why.
 * @param {EventWords[]} run newest first, at least one
 * @param {Map<string, string>} ipressNames names by RENIPRESS code
 * @param {{technical?: boolean, showPatient?: boolean}} options
 */
export function eventItem(run, ipressNames, options) {
  const w = run[0];
  const oldest = run[run.length - 1];
  const classes = ['event'];
  if (w.emergency) classes.push('emergency');
  if (w.outcome !== '0') classes.push('refused');
  const where = w.ipress ? (ipressNames.get(w.ipress) ?? t('ipress.code', { code: w.ipress })) : '';
  const roleWords = w.role ? lookup('role', w.role) : undefined;
  const whats = [...new Set(run.map((x) => x.what))];
  const reasons = [...new Set(run.map((x) => x.reason).filter((r) => r !== undefined))];
  const refusal = refusalWords(w);
  const when = run.length > 1 && oldest.recorded && fmt.dateTime(oldest.recorded) !== fmt.dateTime(w.recorded) ? `${fmt.dateTime(oldest.recorded)} – ${fmt.time(Date.parse(w.recorded ?? ''))}` : fmt.dateTime(w.recorded);
  return h(
    'li',
    { class: classes.join(' ') },
    h(
      'p',
      { class: 'event-head' },
      h('time', { datetime: w.recorded ?? '', text: when }),
      h('span', { class: `badge ${w.outcome === '0' ? 'ok' : 'bad'}`, text: w.outcome === '0' ? t('audit.outcome.ok') : w.outcome === '8' ? t('audit.outcome.failed') : t('audit.outcome.refused') }),
      w.emergency ? h('span', { class: 'badge emergency-badge', text: t('audit.emergency') }) : null,
    ),
    h('p', { class: 'who' }, h('strong', { text: w.who }), roleWords && roleWords !== w.who ? ` (${roleWords})` : '', where ? ` — ${where}` : ''),
    whats.length === 1 ? h('p', { class: 'what', text: whats[0] }) : h('ul', { class: 'what' }, whats.map((x) => h('li', { text: x }))),
    // Signing in and out has no purpose of use: no "why" line for them.
    w.signIn && !w.purpose && !reasons.length
      ? null
      : h(
          'p',
          { class: 'why' },
          `${t('audit.why')}: `,
          w.purpose ? (lookup('purpose', w.purpose) ?? w.purpose) : t('value.unknown'),
          reasons.map((r) => h('span', { class: 'reason' }, ` — ${t('audit.reason')}: “`, h('q', { text: r }), '”')),
        ),
    refusal ? h('p', { class: 'outcome', text: refusal }) : null,
    options.showPatient && w.patient ? h('p', { class: 'patient', text: `${t('audit.patient')}: ${w.patient}` }) : null,
    options.technical ? run.map(technical) : null,
  );
}

/** Events this close (and alike) are shown as one visit in a patient's view. */
const VISIT_MS = 10 * 60_000;

/**
 * Whether event `w` belongs to the run that ends with `last` (the run is newest first).
 * @param {EventWords} last
 * @param {EventWords} w
 */
function sameVisit(last, w) {
  const gap = Date.parse(last.recorded ?? '') - Date.parse(w.recorded ?? '');
  return (
    gap >= 0 &&
    gap <= VISIT_MS &&
    last.who === w.who &&
    last.ipress === w.ipress &&
    last.purpose === w.purpose &&
    last.emergency === w.emergency &&
    last.outcome === w.outcome &&
    last.patient === w.patient
  );
}

/**
 * What an auditor may need beyond the words: the request id, the token subject, the
 * network address, the registry's own description, the resources named.
 * @param {EventWords} w
 */
function technical(w) {
  const e = w.event;
  const agents = /** @type {any[]} */ (e.agent ?? []);
  const client = agentOfType(agents, '110150');
  const requestId = /** @type {any[]} */ (e.entity ?? []).find((x) => x.what?.identifier?.type)?.what?.identifier?.value;
  const rows = [
    [t('audit.tech.id'), w.id],
    [t('audit.tech.request'), requestId],
    [t('audit.tech.subject'), client?.who?.identifier?.value],
    [t('audit.tech.address'), client?.network?.address],
    [t('audit.tech.type'), [e.type?.code, ...(e.subtype ?? []).map((/** @type {any} */ s) => s.code)].filter(Boolean).join(', ')],
    [t('audit.tech.description'), w.outcomeDesc],
    [
      t('audit.tech.entities'),
      /** @type {any[]} */ (e.entity ?? [])
        .map((x) => x.what?.reference ?? x.description)
        .filter(Boolean)
        .join('\n'),
    ],
  ].filter(([, v]) => v);
  return h(
    'details',
    { class: 'technical' },
    h('summary', { text: t('audit.tech.title') }),
    h('dl', {}, rows.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v) })])),
  );
}

/**
 * The Lima day `ymd` as the UTC dates the registry's AuditEvent `date` takes (it reads
 * dates, not times, as UTC days): one day wider, trimmed to Lima's day afterwards.
 * @param {string} ymd
 */
function limaDayStart(ymd) {
  return Date.parse(`${ymd}T00:00:00-05:00`);
}

/**
 * The audit trail of one patient, or of everyone (auditors): a list that grows with
 * "more", emergencies highlighted.
 * @param {object} options
 * @param {URLSearchParams} options.query the search, without paging
 * @param {string} [options.from] Lima date the events start at (YYYY-MM-DD)
 * @param {string} [options.to] Lima date the events end at, inclusive
 * @param {(w: EventWords) => boolean} [options.keep] events to show
 * @param {boolean} [options.visits] show the events of one visit as one item
 * @param {{technical?: boolean, showPatient?: boolean}} options.display
 * @returns {HTMLElement}
 */
export function eventLog(options) {
  const status = h('p', { class: 'status', role: 'status', text: t('status.loading') });
  const list = h('ol', { class: 'events' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, text: t('audit.more') });
  const error = h('div', {});
  /** @type {Map<string, string>} */
  const names = new Map();
  let shown = 0;
  let hidden = 0;
  /** @type {{run: EventWords[], item: HTMLElement} | null} */
  let open = null;
  const from = options.from ? limaDayStart(options.from) : -Infinity;
  const to = options.to ? limaDayStart(fmt.addDays(options.to, 1)) : Infinity;
  const query = new URLSearchParams(options.query);
  if (options.from) query.append('date', `ge${fmt.addDays(options.from, -1)}`);
  if (options.to) query.append('date', `le${fmt.addDays(options.to, 1)}`);
  query.set('_count', '50');
  let next = `AuditEvent?${query}`;

  async function load() {
    more.hidden = true;
    status.textContent = t('status.loading');
    replace(error);
    try {
      const bundle = await get(next);
      const words = resources(bundle)
        .map(describe)
        .filter((w) => {
          const at = w.recorded ? Date.parse(w.recorded) : NaN;
          return !(at < from || at >= to);
        });
      const kept = words.filter((w) => options.keep?.(w) ?? true);
      hidden += words.length - kept.length;
      const unknown = kept.flatMap((w) => (w.ipress && !names.has(w.ipress) ? [w.ipress] : []));
      if (unknown.length) for (const [code, name] of await ipressNames(unknown).catch(() => new Map())) names.set(code, name);
      for (const w of kept) {
        if (options.visits && open && sameVisit(open.run[open.run.length - 1], w)) {
          open.run.push(w);
          const item = eventItem(open.run, names, options.display);
          open.item.replaceWith(item);
          open.item = item;
        } else {
          open = { run: [w], item: eventItem([w], names, options.display) };
          list.append(open.item);
        }
      }
      shown += kept.length;
      const link = nextLink(bundle);
      next = link ?? '';
      more.hidden = !link;
      status.textContent = [shown ? plural('count.events', shown) : t('audit.none'), hidden ? plural('count.hiddenOwn', hidden) : '', link ? t('audit.moreAvailable') : '']
        .filter(Boolean)
        .join(' ');
    } catch (e) {
      status.textContent = '';
      replace(error, h('p', { class: 'alert error', role: 'alert', text: e instanceof Error ? e.message : String(e) }));
      more.hidden = !next;
    }
  }
  more.addEventListener('click', () => load());
  load();
  return h('div', { class: 'event-log' }, status, error, list, more);
}

// Patients: where their records are, who looked at them, and their consents.

import { h, append, replace, field, confirmDialog, uid } from './dom.js';
import { t, lookup, plural } from './i18n.js';
import * as fmt from './format.js';
import * as auth from './auth.js';
import { get, request, resources, refId, organizationByCode, organizationsByName, renipressOf, FhirError, SYSTEMS } from './fhir.js';
import { parseLocations, locationsView, summaryView, ipressResolver } from './records.js';
import { eventLog } from './audit.js';

/**
 * @param {unknown} e
 */
function failureBox(e) {
  return h('p', { class: 'alert error', role: 'alert', text: e instanceof Error ? e.message : String(e) });
}

/**
 * The signed-in patient's Patient id: from the token response (`patient`), else the
 * registry's answer to a search, which for a patient finds only their own record.
 * @param {auth.Session} session
 * @returns {Promise<string>}
 */
async function ownId(session) {
  if (session.patient) return session.patient;
  const found = resources(await get('Patient', { _count: '1' }))[0]?.id;
  if (!found) throw new FhirError(404, t('patient.notRegistered'));
  auth.remember({ patient: found });
  return found;
}

/**
 * A page's heading, lead and a status line; returns the status and a body to fill.
 * @param {HTMLElement} main
 * @param {string} title
 * @param {string} lead
 */
function page(main, title, lead) {
  const status = h('p', { class: 'status', role: 'status', text: t('status.loading') });
  const body = h('div', {});
  append(main, [h('h1', { tabindex: '-1', text: title }), h('p', { class: 'lead', text: lead }), status, body]);
  return { status, body };
}

/**
 * "Where are my records": every IPRESS holding the patient's records, and their basic
 * clinical information.
 * @param {HTMLElement} main
 * @param {auth.Session} session
 */
export async function renderRecords(main, session) {
  const { status, body } = page(main, t('mine.title'), t('mine.lead'));
  const summaryStatus = h('p', { class: 'status', role: 'status', text: t('status.loading') });
  const summaryBody = h('div', {});
  const where = h('div', {});
  append(body, [
    where,
    h('section', { class: 'block', 'aria-labelledby': 'my-summary-h' }, h('h2', { id: 'my-summary-h', text: t('mine.summary') }), summaryStatus, summaryBody),
  ]);
  let id;
  try {
    id = await ownId(session);
  } catch (e) {
    status.textContent = '';
    summaryStatus.textContent = '';
    replace(where, failureBox(e));
    return;
  }
  const path = `Patient/${encodeURIComponent(id)}`;
  /** @type {Map<string, string>} */
  const names = new Map();
  const located = get(`${path}/$record-locations`)
    .then((params) => {
      const { locations } = parseLocations(params);
      for (const l of locations) if (l.orgId) names.set(l.orgId, l.name);
      status.textContent = locations.length ? plural('count.ipress', locations.length) : '';
      replace(where, locationsView(locations, { headingLevel: 'h2' }));
    })
    .catch((e) => {
      status.textContent = '';
      replace(where, failureBox(e));
    });
  try {
    const bundle = await get(`${path}/$summary`);
    await located;
    summaryStatus.textContent = '';
    replace(summaryBody, summaryView(bundle, ipressResolver(bundle, names)));
  } catch (e) {
    summaryStatus.textContent = '';
    replace(summaryBody, e instanceof FhirError && e.status === 404 ? h('p', { class: 'empty', text: t('summary.none') }) : failureBox(e));
  }
}

/** Periods offered for "who looked", in days (0: all). */
const PERIODS = ['30', '7', '365', '0'];

/**
 * "Who looked at my records": the audit events about the patient's records.
 * @param {HTMLElement} main
 * @param {auth.Session} session
 */
export async function renderAccess(main, session) {
  append(main, [h('h1', { tabindex: '-1', text: t('access.title') }), h('p', { class: 'lead', text: t('access.lead') })]);
  const period = h(
    'select',
    { name: 'period' },
    PERIODS.map((d) => h('option', { value: d, text: lookup('period', d) ?? d })),
  );
  const own = h('input', { type: 'checkbox', name: 'own', id: uid('own') });
  const form = h(
    'form',
    { class: 'filters' },
    field(t('access.period'), period).row,
    h('div', { class: 'check' }, own, h('label', { for: own.id, text: t('access.includeOwn') })),
    h('button', { type: 'submit', text: t('action.show') }),
  );
  const results = h('section', { 'aria-label': t('access.results') });
  append(main, [form, results]);
  let id;
  try {
    id = await ownId(session);
  } catch (e) {
    replace(results, failureBox(e));
    return;
  }
  const patient = id;
  const show = () => {
    const days = Number(period.value);
    replace(
      results,
      eventLog({
        query: new URLSearchParams({ patient }),
        from: days ? fmt.addDays(fmt.todayInLima(), -days) : undefined,
        keep: own.checked ? undefined : (w) => w.role !== 'patient',
        visits: true,
        display: {},
      }),
    );
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    show();
  });
  show();
}

/**
 * The permitting provisions of a consent: the base when it permits, and the nested ones
 * that permit (a deny base with exceptions).
 * @param {import('./fhir.js').Resource} c
 * @returns {any[]}
 */
function permits(c) {
  const base = c.provision;
  if (!base) return [];
  return [...(base.type === 'permit' ? [base] : []), ...(base.provision ?? []).filter((/** @type {any} */ p) => p.type === 'permit')];
}

/**
 * Who a consent grants, in words (IPRESS names are looked up).
 * @param {any} actor a provision's actor
 * @returns {Promise<string>}
 */
async function granteeWords(actor) {
  const ref = actor?.reference;
  const orgId = refId(ref, 'Organization');
  if (orgId) {
    const org = await get(`Organization/${encodeURIComponent(orgId)}`).catch(() => null);
    return org?.name ?? ref.display ?? orgId;
  }
  const identifier = ref?.identifier;
  if (identifier?.system === SYSTEMS.ipress || identifier?.type?.coding?.some((/** @type {any} */ c) => c.system === SYSTEMS.ipress)) {
    const org = await organizationByCode(identifier.value).catch(() => null);
    return org?.name ? `${org.name} (${identifier.value})` : t('ipress.code', { code: identifier.value });
  }
  const college = identifier?.type?.coding?.find((/** @type {any} */ c) => c.system === SYSTEMS.colegios)?.code;
  if (college) return t('consent.clinician', { college: lookup('colegio', college) ?? college, number: identifier.value ?? '' });
  return ref?.display ?? t('value.unknown');
}

/**
 * When a consent ends (epoch ms; Infinity when open).
 * @param {import('./fhir.js').Resource} c
 */
function consentEnd(c) {
  const ends = permits(c)
    .map((p) => p.period?.end)
    .filter(Boolean)
    .map((e) => Date.parse(e));
  return ends.length ? Math.max(...ends) : Infinity;
}

/**
 * One consent as a card, with a revoke button while it is in force.
 * @param {import('./fhir.js').Resource} c
 * @param {() => void} changed called after a revocation
 */
function consentCard(c, changed) {
  const provisions = permits(c);
  const heading = h('h3', { text: t('status.loading') });
  Promise.all(provisions.flatMap((p) => (p.actor ?? []).map(granteeWords))).then((who) => {
    heading.textContent = who.join(', ') || t('value.unknown');
  });
  const active = c.status === 'active' && consentEnd(c) >= Date.now();
  const state = c.status === 'active' ? (active ? t('consent.state.active') : t('consent.state.expired')) : (lookup('consentStatus', c.status) ?? c.status);
  const period = provisions[0]?.period ?? {};
  const purposes = [...new Set(provisions.flatMap((p) => (p.purpose ?? []).map((/** @type {any} */ x) => x.code)))];
  const sensitive = provisions.some((p) => (p.securityLabel ?? []).some((/** @type {any} */ l) => l.code === 'R' || l.code === 'V'));
  const status = h('p', { class: 'status', role: 'status' });
  const revoke = active
    ? h('button', {
        type: 'button',
        class: 'danger',
        text: t('consent.revoke'),
        on: {
          click: async () => {
            const ok = await confirmDialog(t('consent.revokeTitle'), t('consent.revokeQuestion', { who: heading.textContent ?? '' }), t('consent.revoke'), t('action.cancel'));
            if (!ok) return;
            status.textContent = t('consent.revoking');
            try {
              const current = await get(`Consent/${encodeURIComponent(c.id ?? '')}`);
              await request(`Consent/${encodeURIComponent(c.id ?? '')}`, {
                method: 'PUT',
                body: { ...current, status: 'inactive' },
                headers: current.meta?.versionId ? { 'If-Match': `W/"${current.meta.versionId}"` } : {},
              });
              status.textContent = t('consent.revoked');
              changed();
            } catch (e) {
              status.textContent = e instanceof Error ? e.message : String(e);
            }
          },
        },
      })
    : null;
  return h(
    'li',
    { class: active ? 'card' : 'card past' },
    heading,
    h('p', { class: `badge ${active ? 'ok' : 'muted'}`, text: state }),
    h(
      'dl',
      {},
      h('dt', { text: t('consent.period') }),
      h('dd', {
        text: period.end ? t('range', { from: fmt.date(period.start) || '…', to: fmt.date(period.end) }) : period.start ? t('consent.since', { date: fmt.date(period.start) }) : t('consent.always'),
      }),
      h('dt', { text: t('consent.purpose') }),
      h('dd', { text: purposes.length ? purposes.map((p) => lookup('purpose', p) ?? p).join(', ') : t('consent.anyPurpose') }),
      h('dt', { text: t('consent.sensitive') }),
      h('dd', { text: sensitive ? t('consent.sensitiveYes') : t('consent.sensitiveNo') }),
      c.dateTime ? [h('dt', { text: t('consent.recorded') }), h('dd', { text: fmt.dateTime(c.dateTime) })] : null,
      c.organization?.length ? [h('dt', { text: t('consent.recordedBy') }), h('dd', { text: c.organization.map((/** @type {any} */ o) => o.display ?? o.reference).join(', ') })] : null,
    ),
    revoke,
    status,
  );
}

/**
 * "My consents": those in force, the earlier ones, and a form to grant a new one.
 * @param {HTMLElement} main
 * @param {auth.Session} session
 */
export async function renderConsents(main, session) {
  const { status, body } = page(main, t('consent.title'), t('consent.lead'));
  let id;
  try {
    id = await ownId(session);
  } catch (e) {
    status.textContent = '';
    replace(body, failureBox(e));
    return;
  }
  const patient = id;
  const current = h('div', {});
  const past = h('div', {});
  append(body, [
    h('section', { class: 'block', 'aria-labelledby': 'c-now-h' }, h('h2', { id: 'c-now-h', text: t('consent.current') }), current),
    h('section', { class: 'block', 'aria-labelledby': 'c-new-h' }, h('h2', { id: 'c-new-h', text: t('consent.new') }), grantForm(patient, () => load())),
    h('section', { class: 'block', 'aria-labelledby': 'c-past-h' }, h('h2', { id: 'c-past-h', text: t('consent.past') }), past),
  ]);

  async function load() {
    status.textContent = t('status.loading');
    try {
      const [active, inactive] = await Promise.all(
        ['active', 'inactive'].map((s) => get('Consent', { patient, status: s, _count: '100' }).then((b) => resources(b))),
      );
      const byDate = (/** @type {import('./fhir.js').Resource} */ a, /** @type {import('./fhir.js').Resource} */ b) => String(b.dateTime ?? '').localeCompare(String(a.dateTime ?? ''));
      const now = active.filter((c) => consentEnd(c) >= Date.now()).sort(byDate);
      const before = [...active.filter((c) => consentEnd(c) < Date.now()), ...inactive].sort(byDate);
      status.textContent = plural('count.consents', now.length);
      replace(current, now.length ? h('ul', { class: 'cards' }, now.map((c) => consentCard(c, load))) : h('p', { class: 'empty', text: t('consent.noneCurrent') }));
      replace(past, before.length ? h('ul', { class: 'cards' }, before.map((c) => consentCard(c, load))) : h('p', { class: 'empty', text: t('consent.nonePast') }));
    } catch (e) {
      status.textContent = '';
      replace(current, failureBox(e));
    }
  }
  load();
}

/** Colleges of health professionals (ColegiosProfesionalesSaludCS), as offered. */
const COLLEGES = ['01', '02', '03', '04', '05', '06', '07', '08', '09', '1O'];

/** IPRESS offered per search by name (`_count`): more means typing more of the name. */
const MATCHES = 20;
/** A search by name waits for this many letters, and for typing to pause this long (ms). */
const MIN_LETTERS = 3;
const PAUSE = 500;

/**
 * Text as the registry compares it: accents and case aside, commas and runs of spaces as
 * one space (so that "Ica" after "ica" asks nothing new).
 * @param {string} text
 */
function folded(text) {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[\s,]+/g, ' ')
    .trim();
}

/**
 * Where an IPRESS is, in words: its first current address (its text, else its lines,
 * district, province and department), or empty.
 * @param {import('./fhir.js').Resource} org
 */
function addressWords(org) {
  const addresses = /** @type {any[]} */ (org.address ?? []);
  const a = addresses.find((x) => x?.use !== 'old') ?? addresses[0];
  if (!a) return '';
  if (typeof a.text === 'string' && a.text.trim()) return a.text.trim();
  const parts = [...(Array.isArray(a.line) ? a.line : []), a.district, a.city, a.state].filter((x) => typeof x === 'string' && x.trim());
  return [...new Set(parts)].join(', ');
}

/**
 * The choice of an IPRESS: part of its name (the registry's `name` search, once typing
 * pauses or on "Buscar"), or its RENIPRESS code for those who have it; the matches as a
 * radio group, each with its name, code and, where known, its address; how many there
 * are announced politely.
 */
function ipressPicker() {
  const input = h('input', { type: 'search', name: 'ipress', autocomplete: 'off', spellcheck: 'false', maxlength: '120', enterkeyhint: 'search' });
  const searchField = field(t('consent.ipressSearch'), input, t('consent.ipressSearchHint'));
  const button = h('button', { type: 'button', class: 'secondary', text: t('action.search') });
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const results = h('div', {});
  const group = uid('ipress');
  const pickError = h('p', { class: 'field-error', id: uid('err'), hidden: true });
  /** The IPRESS offered now, by Organization id. @type {Map<string, import('./fhir.js').Resource>} */
  const offered = new Map();
  /** What is shown or being asked (`code:…`, `name:…`); empty: nothing. */
  let asked = '';
  /** @type {AbortController | null} */
  let pending = null;
  /** The search of `asked`, answered or not. @type {Promise<void>} */
  let running = Promise.resolve();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;

  const radios = () => /** @type {HTMLInputElement[]} */ ([...results.querySelectorAll(`input[name="${group}"]`)]);
  const chosen = () => offered.get(radios().find((r) => r.checked)?.value ?? '') ?? null;
  /** @param {string} message */
  const setPickError = (message) => {
    pickError.textContent = message;
    pickError.hidden = !message;
  };

  /**
   * One IPRESS as a radio button, its label its name, code and address.
   * @param {import('./fhir.js').Resource} org
   * @param {boolean} checked
   */
  const option = (org, checked) => {
    const radio = h('input', { type: 'radio', name: group, value: org.id ?? '', id: uid('ipress-opt'), checked });
    radio.addEventListener('change', () => setPickError(''));
    const code = renipressOf(org);
    const where = addressWords(org);
    const aliases = /** @type {unknown[]} */ (org.alias ?? []).filter((a) => typeof a === 'string' && a);
    const meta = [code ? t('consent.ipressCode', { code }) : '', where, aliases.length ? t('consent.ipressAlias', { names: aliases.join(', ') }) : ''].filter(Boolean);
    // One line each on screen; read as one sentence ("…, Código RENIPRESS …, Ica").
    return h(
      'div',
      { class: 'pick' },
      radio,
      h(
        'label',
        { for: radio.id },
        h('span', { class: 'pick-name', text: org.name || t('value.unnamedIpress') }),
        meta.map((m) => [h('span', { class: 'visually-hidden', text: ', ' }), h('span', { class: 'pick-meta', text: m })]),
      ),
    );
  };

  /**
   * Shows what a search found. A code names one IPRESS: it is chosen at once.
   * @param {import('./fhir.js').Resource[]} found
   * @param {boolean} more
   * @param {string} text what was typed
   * @param {boolean} byCode
   */
  const draw = (found, more, text, byCode) => {
    const before = chosen()?.id;
    offered.clear();
    setPickError('');
    if (!found.length) {
      status.textContent = byCode ? t('consent.ipressUnknown') : t('consent.ipressNone', { text });
      status.classList.add('notice');
      replace(results, h('p', { class: 'hint', text: byCode ? t('consent.ipressUnknownHint') : t('consent.ipressNoneHint') }));
      return;
    }
    status.classList.remove('notice');
    const sorted = [...found].sort((a, b) => String(a.name ?? '').localeCompare(String(b.name ?? ''), 'es', { sensitivity: 'base' }));
    for (const org of sorted) if (org.id) offered.set(org.id, org);
    status.textContent = [plural('count.ipressMatches', sorted.length), more ? t('consent.ipressMore', { n: sorted.length }) : ''].filter(Boolean).join(' ');
    replace(
      results,
      h(
        'fieldset',
        { class: 'picks', 'aria-describedby': pickError.id },
        h('legend', { text: t('consent.ipressPick') }),
        sorted.filter((org) => org.id).map((org) => option(org, org.id === before || (byCode && sorted.length === 1))),
        pickError,
      ),
    );
  };

  /**
   * Searches for what is typed: a RENIPRESS code (8 digits) or part of a name. Typing
   * searches only once it pauses with 3 letters or more, and never twice for the same
   * words; "Buscar" (or Enter) also says why it cannot search. Resolves when what is
   * typed is shown (or being asked is answered).
   * @param {boolean} explicit asked with "Buscar" or Enter
   * @returns {Promise<void>}
   */
  const search = (explicit) => {
    clearTimeout(timer);
    const text = input.value.trim().replace(/\s+/g, ' ');
    const byCode = /^\d{8}$/.test(text);
    const key = byCode ? `code:${text}` : `name:${folded(text)}`;
    if (!byCode) {
      const problem = /^\d+$/.test(text) ? t('consent.renipressInvalid') : folded(text).replace(/ /g, '').length < MIN_LETTERS ? t('consent.ipressTooShort') : '';
      if (problem) {
        searchField.setError(explicit ? problem : '');
        return Promise.resolve();
      }
    }
    searchField.setError('');
    if (key === asked) return running;
    pending?.abort();
    const mine = new AbortController();
    pending = mine;
    asked = key;
    status.classList.remove('notice');
    status.textContent = t('status.searching');
    running = (async () => {
      try {
        const answer = byCode
          ? await organizationByCode(text).then((org) => ({ found: org ? [org] : [], more: false }))
          : await organizationsByName(text, MATCHES, mine.signal);
        if (mine.signal.aborted) return;
        draw(answer.found, answer.more, text, byCode);
      } catch (e) {
        if (mine.signal.aborted) return;
        asked = '';
        offered.clear();
        status.textContent = '';
        replace(results, failureBox(e));
      } finally {
        if (pending === mine) pending = null;
      }
    })();
    return running;
  };

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (input.isConnected) search(false);
    }, PAUSE);
  });
  // Enter searches rather than sending the form.
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.isComposing) {
      ev.preventDefault();
      search(true);
    }
  });
  button.addEventListener('click', () => search(true));

  const element = h('div', {}, h('div', { class: 'row bottom' }, searchField.row, h('div', { class: 'field-action' }, button)), status, results);
  return {
    element,
    /**
     * The IPRESS chosen, or null after saying what is missing and moving focus there. An
     * 8-digit code typed but not yet looked up is looked up (and chosen if known).
     * @returns {Promise<import('./fhir.js').Resource | null>}
     */
    async chosen() {
      clearTimeout(timer);
      const picked = chosen();
      if (picked?.id) return picked;
      // What is typed, searched if it was not yet (a code found is chosen at once).
      if (input.value.trim()) await search(true);
      const found = chosen();
      if (found?.id) return found;
      const first = radios()[0];
      if (first) {
        setPickError(t('consent.ipressChoose'));
        first.focus();
      } else {
        if (!input.value.trim()) searchField.setError(t('consent.ipressRequired'));
        input.focus();
      }
      return null;
    },
    /** Back to empty, after a consent is recorded. */
    reset() {
      clearTimeout(timer);
      pending?.abort();
      pending = null;
      running = Promise.resolve();
      asked = '';
      offered.clear();
      input.value = '';
      searchField.setError('');
      status.classList.remove('notice');
      status.textContent = '';
      replace(results);
    },
  };
}

/**
 * The form that grants a new consent: to an IPRESS (found by name, or by RENIPRESS code)
 * or a clinician (by colegiatura), for a period and purposes, with or without the
 * records other IPRESS labelled sensitive.
 * @param {string} patient
 * @param {() => void} done called after the consent is recorded
 */
function grantForm(patient, done) {
  const name = uid('to');
  const toIpress = h('input', { type: 'radio', name, value: 'ipress', id: uid('r'), checked: true });
  const toClinician = h('input', { type: 'radio', name, value: 'clinician', id: uid('r') });
  const picker = ipressPicker();
  const ipressPart = h('div', { class: 'sub' }, picker.element);

  const college = h('select', { name: 'college' }, COLLEGES.map((c) => h('option', { value: c, text: lookup('colegio', c) ?? c })));
  const number = h('input', { type: 'text', name: 'colegiatura', maxlength: '10', autocomplete: 'off' });
  const numberField = field(t('consent.colegiatura'), number, t('consent.colegiaturaHint'));
  const clinicianPart = h('div', { class: 'sub', hidden: true }, h('div', { class: 'row' }, field(t('consent.college'), college).row, numberField.row));
  const switchTo = () => {
    ipressPart.hidden = !toIpress.checked;
    clinicianPart.hidden = !toClinician.checked;
  };
  toIpress.addEventListener('change', switchTo);
  toClinician.addEventListener('change', switchTo);

  const today = fmt.todayInLima();
  const start = h('input', { type: 'date', name: 'start', value: today, min: today, required: true });
  const end = h('input', { type: 'date', name: 'end', value: fmt.addDays(today, 90), min: today, required: true });
  const endField = field(t('consent.end'), end);
  const treat = h('input', { type: 'checkbox', name: 'treat', id: uid('p'), checked: true });
  const etreat = h('input', { type: 'checkbox', name: 'etreat', id: uid('p') });
  const purposeError = h('p', { class: 'field-error', id: uid('err'), hidden: true });
  const sensitiveHint = h('p', { class: 'hint', id: uid('hint'), text: t('consent.sensitiveHint') });
  const sensitive = h('input', { type: 'checkbox', name: 'sensitive', id: uid('s'), 'aria-describedby': sensitiveHint.id });
  const status = h('p', { class: 'status', role: 'status' });
  const submit = h('button', { type: 'submit', text: t('consent.grant') });

  const form = h(
    'form',
    { class: 'grant', novalidate: true },
    h(
      'fieldset',
      {},
      h('legend', { text: t('consent.whom') }),
      h('div', { class: 'check' }, toIpress, h('label', { for: toIpress.id, text: t('consent.toIpress') })),
      h('div', { class: 'check' }, toClinician, h('label', { for: toClinician.id, text: t('consent.toClinician') })),
      ipressPart,
      clinicianPart,
    ),
    h('fieldset', {}, h('legend', { text: t('consent.howLong') }), h('div', { class: 'row' }, field(t('consent.start'), start).row, endField.row)),
    h(
      'fieldset',
      { 'aria-describedby': purposeError.id },
      h('legend', { text: t('consent.what') }),
      h('div', { class: 'check' }, treat, h('label', { for: treat.id, text: t('purpose.TREAT.long') })),
      h('div', { class: 'check' }, etreat, h('label', { for: etreat.id, text: t('purpose.ETREAT.long') })),
      purposeError,
      h('div', { class: 'check' }, sensitive, h('label', { for: sensitive.id, text: t('consent.includeSensitive') })),
      sensitiveHint,
    ),
    status,
    submit,
  );

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.textContent = '';
    /** @type {import('./fhir.js').Reference | null} */
    let grantee = null;
    if (toIpress.checked) {
      const org = await picker.chosen();
      if (!org?.id) return;
      grantee = { reference: `Organization/${org.id}`, display: org.name };
    } else {
      const value = number.value.trim().toUpperCase();
      const valid = /^[A-Z0-9]{1,10}$/.test(value);
      numberField.setError(valid ? '' : t('consent.colegiaturaInvalid'));
      if (!valid) {
        number.focus();
        return;
      }
      grantee = { identifier: { type: { coding: [{ system: SYSTEMS.colegios, code: college.value }] }, value } };
    }
    const ordered = start.value && end.value && end.value >= start.value;
    endField.setError(ordered ? '' : t('consent.endBeforeStart'));
    if (!ordered) {
      end.focus();
      return;
    }
    const purposes = [treat.checked && 'TREAT', etreat.checked && 'ETREAT'].filter((p) => typeof p === 'string');
    purposeError.textContent = purposes.length ? '' : t('consent.purposeRequired');
    purposeError.hidden = purposes.length > 0;
    if (!purposes.length) {
      treat.focus();
      return;
    }
    // Whole days in Lima: from the start of the first to the end of the last.
    const consent = {
      resourceType: 'Consent',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      // FHIR's ppc-1: a consent names the policy it is given under (here: opting in).
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: `Patient/${patient}` },
      dateTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      provision: {
        type: 'permit',
        period: { start: `${start.value}T00:00:00-05:00`, end: `${end.value}T23:59:59-05:00` },
        actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: grantee }],
        purpose: purposes.map((code) => ({ system: SYSTEMS.actReason, code })),
        ...(sensitive.checked ? { securityLabel: [{ system: SYSTEMS.confidentiality, code: 'R' }] } : {}),
      },
    };
    submit.disabled = true;
    status.textContent = t('consent.saving');
    try {
      await request('Consent', { method: 'POST', body: consent });
      status.textContent = t('consent.saved');
      picker.reset();
      number.value = '';
      done();
    } catch (e) {
      status.textContent = e instanceof Error ? e.message : String(e);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

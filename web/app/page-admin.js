// Administrators: the IPRESS of the national registry (Organizations with their
// RENIPRESS code) and the systems (SIHCE) that get tokens with their own keys
// (`GET /auth/clients`, `PUT /auth/clients/{id}`).

import { h, append, replace, field, confirmDialog } from './dom.js';
import { t, plural } from './i18n.js';
import { get, request, api, resources, nextLink, FhirError, SYSTEMS } from './fhir.js';
import { CLIENT_ID } from './auth.js';
import * as fmt from './format.js';

/**
 * A registered client as `GET /auth/clients` lists it.
 * @typedef {object} Client
 * @property {string} client_id
 * @property {string} renipress
 * @property {boolean} active
 * @property {string[]} kids
 * @property {string} [scope] the SMART system/ scopes its tokens may carry
 * @property {string} [updated]
 */

/** A RENIPRESS code: 8 digits, zero-padded. */
const RENIPRESS = /^\d{8}$/;
/** A client id as the registry takes it. */
const CLIENT = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The IPRESS as OrganizacionPe writes it (crates/model/src/peru.rs
 * `Renipress::to_identifier`): the code typed in IPRESSCS, as the value, use official.
 * @param {string} code
 * @param {string} name
 */
function organization(code, name) {
  return {
    resourceType: 'Organization',
    identifier: [{ use: 'official', type: { coding: [{ system: SYSTEMS.ipress, code }] }, value: code }],
    active: true,
    name,
  };
}

/**
 * The RENIPRESS code of an Organization.
 * @param {import('./fhir.js').Resource} org
 * @returns {string | undefined}
 */
function codeOf(org) {
  const ids = /** @type {import('./fhir.js').Identifier[]} */ (org.identifier ?? []);
  const typed = ids.find((i) => i.type?.coding?.some((c) => c.system === SYSTEMS.ipress));
  return typed?.value ?? typed?.type?.coding?.find((c) => c.system === SYSTEMS.ipress)?.code;
}

/**
 * A message in a status region: replaced, so that it is announced.
 * @param {HTMLElement} region
 * @param {string} text empty: nothing
 * @param {'ok' | 'error' | 'info'} [kind]
 * @param {string} [detail] the registry's own words, beneath
 */
function say(region, text, kind = 'info', detail = '') {
  if (!text) {
    replace(region);
    return;
  }
  replace(region, h('div', { class: kind === 'info' ? 'status' : `alert ${kind}` }, h('p', { text }), detail ? h('p', { text: t('admin.serverSaid', { said: detail }) }) : null));
}

/**
 * The words of a failure.
 * @param {unknown} e
 */
function words(e) {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The page's state shared by its sections: the IPRESS known so far, by code.
 */
class Known {
  constructor() {
    /** @type {Map<string, string>} RENIPRESS code → name ('' when unnamed) */
    this.ipress = new Map();
    /** @type {Client[]} */
    this.clients = [];
    /** Whether every registered IPRESS is in `ipress` (none left to load). */
    this.complete = false;
    /** Called when the IPRESS change (the clients' table names them). */
    this.onIpress = () => {};
  }

  /**
   * The IPRESS's name for a code, or the code in words.
   * @param {string} code
   */
  ipressLabel(code) {
    const name = this.ipress.get(code);
    return name ? `${name} (${code})` : t('ipress.code', { code });
  }
}

/**
 * Renders the administration page.
 * @param {HTMLElement} main
 */
export function render(main) {
  const known = new Known();
  append(main, [h('h1', { tabindex: '-1', text: t('admin.title') }), h('p', { class: 'lead', text: t('admin.lead') }), ipressSections(known), clientsSections(known)]);
}

/**
 * The registered IPRESS (all, 200 at a time) and the form that registers one.
 * @param {Known} known
 * @returns {HTMLElement[]}
 */
function ipressSections(known) {
  const count = h('div', { role: 'status' });
  const table = h('div', {});
  const more = h('button', { type: 'button', class: 'secondary', text: t('admin.ipress.more'), hidden: true });
  /** @type {string | undefined} */
  let next;
  /** @type {import('./fhir.js').Resource[]} */
  let shown = [];
  /** @type {number | undefined} */
  let total;

  const draw = () => {
    const sorted = [...shown].sort((a, b) => String(a.name ?? '').localeCompare(String(b.name ?? ''), 'es'));
    const cols = [t('admin.ipress.code'), t('admin.ipress.name'), t('admin.ipress.state')];
    replace(
      table,
      sorted.length
        ? h(
            'table',
            { class: 'stack', id: 'ipress-table' },
            h('caption', { class: 'visually-hidden', text: t('admin.ipress') }),
            h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: c })))),
            h(
              'tbody',
              {},
              sorted.map((org) =>
                h(
                  'tr',
                  {},
                  h('td', { 'data-label': cols[0], text: codeOf(org) ?? t('value.unknown') }),
                  h('th', { scope: 'row', 'data-label': cols[1], text: org.name || t('value.unnamedIpress') }),
                  h('td', { 'data-label': cols[2] }, h('span', { class: org.active === false ? 'badge muted' : 'badge ok', text: org.active === false ? t('admin.ipress.inactive') : t('admin.ipress.active') })),
                ),
              ),
            ),
          )
        : h('p', { class: 'empty', text: t('admin.ipress.none') }),
    );
    const n = total ?? shown.length;
    say(count, shown.length < n ? `${plural('count.ipressRegistered', n)} ${t('admin.ipress.shown', { n: shown.length })}` : plural('count.ipressRegistered', n));
    more.hidden = !next;
  };

  /** @param {boolean} again from the start */
  const load = async (again) => {
    more.disabled = true;
    if (again) say(count, t('status.loading'));
    try {
      /** @type {import('./fhir.js').Bundle} */
      const bundle = again || !next ? await get('Organization', { _count: '200', _total: 'accurate' }) : await get(next);
      const found = resources(bundle);
      shown = again ? found : [...shown, ...found];
      if (typeof bundle.total === 'number') total = bundle.total;
      next = nextLink(bundle);
      if (again) known.ipress.clear();
      known.complete = !next;
      for (const org of found) {
        const code = codeOf(org);
        if (code) known.ipress.set(code, org.name ?? '');
      }
      draw();
      known.onIpress();
    } catch (e) {
      say(count, words(e), 'error');
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', () => load(false));
  load(true);

  // The form.
  const code = h('input', { type: 'text', inputmode: 'numeric', maxlength: '8', autocomplete: 'off', spellcheck: 'false', name: 'renipress' });
  const codeField = field(t('admin.ipress.code'), code, t('admin.ipress.codeHint'));
  const name = h('input', { type: 'text', autocomplete: 'off', name: 'name', maxlength: '200' });
  const nameField = field(t('admin.ipress.name'), name, t('admin.ipress.nameHint'));
  const result = h('div', { role: 'status' });
  const submit = h('button', { type: 'submit', text: t('admin.ipress.submit') });
  const form = h('form', { class: 'filters admin-form', 'aria-labelledby': 'ipress-new-h', novalidate: true }, h('h2', { id: 'ipress-new-h', text: t('admin.ipress.new') }), h('div', { class: 'row' }, codeField.row, nameField.row), result, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    say(result, '');
    const value = code.value.trim();
    const label = name.value.trim().replace(/\s+/g, ' ');
    const codeOk = RENIPRESS.test(value);
    codeField.setError(codeOk ? '' : t('admin.ipress.codeInvalid'));
    nameField.setError(label ? '' : t('admin.ipress.nameRequired'));
    if (!codeOk || !label) {
      (codeOk ? name : code).focus();
      return;
    }
    submit.disabled = true;
    say(result, t('admin.ipress.saving'));
    try {
      await request('Organization', { method: 'POST', body: organization(value, label) });
      say(result, t('admin.ipress.saved', { name: label, code: value }), 'ok');
      code.value = '';
      name.value = '';
      await load(true);
    } catch (e) {
      if (e instanceof FhirError && (e.status === 409 || e.issue === 'duplicate')) {
        codeField.setError(t('admin.ipress.duplicate', { code: value }));
        say(result, t('admin.ipress.refused'), 'error', e.detail);
        code.focus();
      } else if (e instanceof FhirError && e.status >= 400 && e.status < 500 && e.status !== 403) {
        // The registry says which part it refused: the code or the name.
        const at = e.expression.join(' ');
        const where = /identifier/.test(at) ? codeField : /name/.test(at) ? nameField : null;
        where?.setError(e.message);
        say(result, t('admin.ipress.refused'), 'error', where ? '' : e.message);
      } else say(result, words(e), 'error');
    } finally {
      submit.disabled = false;
    }
  });

  return [h('section', { class: 'block', 'aria-labelledby': 'ipress-h' }, h('h2', { id: 'ipress-h', text: t('admin.ipress') }), count, table, more), form];
}

/**
 * The registered systems, each with a way to disable (or enable) it, and the form that
 * registers or replaces one.
 * @param {Known} known
 * @returns {HTMLElement[]}
 */
function clientsSections(known) {
  const count = h('div', { role: 'status' });
  const table = h('div', {});
  const changed = h('div', { role: 'status' });

  const draw = () => {
    const cols = [t('admin.client.id'), t('admin.client.ipress'), t('admin.client.state'), t('admin.client.keys'), t('admin.client.scope'), t('admin.client.updated'), t('admin.client.actions')];
    const sorted = [...known.clients].sort((a, b) => a.client_id.localeCompare(b.client_id));
    replace(
      table,
      sorted.length
        ? h(
            'table',
            { class: 'stack', id: 'clients-table' },
            h('caption', { class: 'visually-hidden', text: t('admin.clients') }),
            h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: c })))),
            h(
              'tbody',
              {},
              sorted.map((c) =>
                h(
                  'tr',
                  {},
                  h('th', { scope: 'row', 'data-label': cols[0] }, h('code', { text: c.client_id })),
                  h('td', { 'data-label': cols[1] }, known.ipressLabel(c.renipress), known.complete && !known.ipress.has(c.renipress) ? h('span', { class: 'badge warn', text: t('admin.client.ipressMissing') }) : null),
                  h('td', { 'data-label': cols[2] }, h('span', { class: c.active ? 'badge ok' : 'badge muted', text: c.active ? t('admin.client.active') : t('admin.client.inactive') })),
                  h('td', { 'data-label': cols[3] }, c.kids.length ? h('ul', { class: 'plain' }, c.kids.map((k) => h('li', {}, h('code', { text: k || '""' })))) : t('value.unknown')),
                  h('td', { 'data-label': cols[4] }, h('code', { text: c.scope || 'system/*.cruds' })),
                  h('td', { 'data-label': cols[5], text: fmt.dateTime(c.updated) || t('value.unknown') }),
                  h('td', { 'data-label': cols[6] }, switchButton(c)),
                ),
              ),
            ),
          )
        : h('p', { class: 'empty', text: t('admin.clients.none') }),
    );
  };

  /**
   * Disables an active client or enables an inactive one: its IPRESS and keys stay.
   * @param {Client} c
   */
  const switchButton = (c) => {
    const to = !c.active;
    const button = h('button', {
      type: 'button',
      class: 'secondary',
      text: to ? t('admin.client.enable') : t('admin.client.disable'),
      'aria-label': t(to ? 'admin.client.enableTitle' : 'admin.client.disableTitle', { id: c.client_id }),
      'data-client': c.client_id,
    });
    button.addEventListener('click', async () => {
      const yes = await confirmDialog(
        t(to ? 'admin.client.enableTitle' : 'admin.client.disableTitle', { id: c.client_id }),
        t(to ? 'admin.client.enableText' : 'admin.client.disableText', { id: c.client_id }),
        to ? t('admin.client.enable') : t('admin.client.disable'),
        t('action.cancel'),
      );
      if (!yes) return;
      button.disabled = true;
      say(changed, t('admin.client.saving'));
      try {
        // Only the state: the registry keeps the keys it has (PUT without `jwks`).
        await api(`auth/clients/${encodeURIComponent(c.client_id)}`, { method: 'PUT', body: { renipress: c.renipress, active: to } });
        say(changed, t(to ? 'admin.client.enabled' : 'admin.client.disabled', { id: c.client_id }), 'ok');
        await load();
        // The table is drawn anew: focus goes to the same client's new button.
        /** @type {HTMLElement | undefined} */ ([...table.querySelectorAll('button')].find((b) => b.dataset.client === c.client_id))?.focus();
      } catch (e) {
        say(changed, t('admin.client.changeFailed', { id: c.client_id }), 'error', words(e));
      } finally {
        button.disabled = false;
      }
    });
    return button;
  };

  const load = async () => {
    try {
      const answer = await api('auth/clients');
      known.clients = Array.isArray(answer?.clients) ? answer.clients : [];
      say(count, plural('count.clients', known.clients.length));
      draw();
    } catch (e) {
      say(count, words(e), 'error');
    }
  };
  say(count, t('status.loading'));
  load();
  known.onIpress = () => {
    if (known.clients.length) draw();
  };

  const list = h(
    'section',
    { class: 'block', 'aria-labelledby': 'clients-h' },
    h('h2', { id: 'clients-h', text: t('admin.clients') }),
    h('p', { text: t('admin.clients.lead') }),
    count,
    table,
    changed,
  );
  return [list, clientForm(known, load)];
}

/**
 * The JWKS pasted: a key set, or a single key (put in a set); an error in words.
 * @param {string} text
 * @returns {{jwks: {keys: unknown[]}} | {error: string}}
 */
function parseJwks(text) {
  if (!text.trim()) return { error: t('admin.client.jwksRequired') };
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: t('admin.client.jwksNotJson') };
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && typeof value.kty === 'string') value = { keys: [value] };
  if (!value || typeof value !== 'object' || !Array.isArray(value.keys) || !value.keys.length) return { error: t('admin.client.jwksShape') };
  return { jwks: value };
}

/**
 * The form that registers a system or replaces one (its IPRESS and keys).
 * @param {Known} known
 * @param {() => Promise<void>} done reloads the list
 */
function clientForm(known, done) {
  const id = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', name: 'client_id', maxlength: '64' });
  const idField = field(t('admin.client.id'), id, t('admin.client.idHint'));
  const code = h('input', { type: 'text', inputmode: 'numeric', maxlength: '8', autocomplete: 'off', spellcheck: 'false', name: 'renipress' });
  const codeField = field(t('admin.client.renipress'), code, t('admin.client.renipressHint'));
  const jwks = h('textarea', { name: 'jwks', rows: '8', spellcheck: 'false', autocomplete: 'off', class: 'code' });
  const jwksField = field(t('admin.client.jwks'), jwks, t('admin.client.jwksHint'));
  const scope = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', name: 'scope', class: 'code' });
  const scopeField = field(t('admin.client.scope'), scope, t('admin.client.scopeHint'));
  const active = h('input', { type: 'checkbox', name: 'active', id: 'client-active', checked: true });
  const result = h('div', { role: 'status' });
  const submit = h('button', { type: 'submit', text: t('admin.client.submit') });
  const form = h(
    'form',
    { class: 'filters admin-form', 'aria-labelledby': 'client-new-h', novalidate: true },
    h('h2', { id: 'client-new-h', text: t('admin.client.new') }),
    h('div', { class: 'row' }, idField.row, codeField.row),
    jwksField.row,
    scopeField.row,
    h('div', { class: 'check' }, active, h('label', { for: active.id, text: t('admin.client.activeLabel') })),
    result,
    submit,
  );
  const fields = [
    { at: 'client_id', field: idField, control: id, label: t('admin.client.id') },
    { at: 'renipress', field: codeField, control: code, label: t('admin.client.renipress') },
    { at: 'jwks', field: jwksField, control: jwks, label: t('admin.client.jwks') },
    { at: 'scope', field: scopeField, control: scope, label: t('admin.client.scope') },
  ];

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    say(result, '');
    for (const f of fields) f.field.setError('');
    const clientId = id.value.trim();
    const renipress = code.value.trim();
    const parsed = parseJwks(jwks.value);
    /** @type {[typeof fields[number], string][]} */
    const wrong = [];
    if (!CLIENT.test(clientId)) wrong.push([fields[0], t('admin.client.idInvalid')]);
    else if (clientId === CLIENT_ID) wrong.push([fields[0], t('admin.client.idReserved')]);
    if (!RENIPRESS.test(renipress)) wrong.push([fields[1], t('admin.ipress.codeInvalid')]);
    if ('error' in parsed) wrong.push([fields[2], parsed.error]);
    if (!wrong.length && !(await registered(known, renipress))) wrong.push([fields[1], t('admin.client.ipressUnknown')]);
    for (const [f, message] of wrong) f.field.setError(message);
    if (wrong.length || 'error' in parsed) {
      wrong[0]?.[0].control.focus();
      return;
    }
    const existing = known.clients.find((c) => c.client_id === clientId);
    if (existing) {
      const yes = await confirmDialog(
        t('admin.client.replaceTitle', { id: clientId }),
        t('admin.client.replaceText', { id: clientId, kids: existing.kids.join(', ') || '—' }),
        t('admin.client.replace'),
        t('action.cancel'),
      );
      if (!yes) return;
    }
    submit.disabled = true;
    say(result, t('admin.client.saving'));
    try {
      // No scope named: the registry keeps the client's (all a SIHCE may do, if new).
      const scopes = scope.value.trim().split(/\s+/).filter(Boolean).join(' ');
      await api(`auth/clients/${encodeURIComponent(clientId)}`, { method: 'PUT', body: { renipress, jwks: parsed.jwks, active: active.checked, ...(scopes ? { scope: scopes } : {}) } });
      say(result, t(existing ? 'admin.client.replaced' : 'admin.client.created', { id: clientId, ipress: known.ipressLabel(renipress) }), 'ok');
      id.value = '';
      code.value = '';
      jwks.value = '';
      scope.value = '';
      active.checked = true;
      await done();
    } catch (e) {
      // The registry names what it refused (`jwks`, `renipress`, `client_id`): the
      // field says it in the registry's words.
      const f = e instanceof FhirError && e.status === 400 ? fields.find((x) => e.expression.includes(x.at)) : undefined;
      if (f) {
        f.field.setError(words(e));
        say(result, t('admin.client.refusedField', { field: f.label }), 'error');
        f.control.focus();
      } else say(result, t('admin.client.refused'), 'error', words(e));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/**
 * Whether an IPRESS with this code is registered: known from the list, else asked.
 * @param {Known} known
 * @param {string} code
 */
async function registered(known, code) {
  if (known.ipress.has(code)) return true;
  try {
    const found = resources(await get('Organization', { 'identifier:of-type': `${SYSTEMS.ipress}|${code}|${code}` }));
    return found.length > 0;
  } catch {
    // The registry will say what it thinks.
    return true;
  }
}

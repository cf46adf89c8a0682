// Auditors: the accreditation of a SIHCE (docs/accreditation.md). A suite of tests is
// started against the SIHCE's FHIR URL (`POST /accreditation/runs`), its progress
// followed live (`GET /accreditation/runs/{id}` every second while it runs), and the
// reports of every run downloaded as files (HTML, JUnit, TestReport), never opened here:
// the HTML report holds text from the SIHCE under test.
//
// Routes: #/acreditacion (a new run, the past runs), #/acreditacion/{id} (one run, then
// the past runs). Loaded only on these routes.

import { h, append, replace, field } from './dom.js';
import { t, plural, lookup } from './i18n.js';
import { api, apiFile, FhirError } from './fhir.js';
import * as fmt from './format.js';

/**
 * A variable of a suite: required when it has no default.
 * @typedef {object} SuiteVariable
 * @property {string} name
 * @property {string} [description]
 * @property {string | null} [default]
 */
/**
 * A suite as `GET /accreditation/suites` lists it.
 * @typedef {object} Suite
 * @property {string} name
 * @property {string} [title]
 * @property {string} [description]
 * @property {number} [tests]
 * @property {SuiteVariable[]} [variables]
 */
/**
 * A finished test of a run.
 * @typedef {object} TestResult
 * @property {string} id
 * @property {string} [name]
 * @property {{code: string, display?: string} | null} [criterion]
 * @property {'pass' | 'fail' | 'error'} verdict
 * @property {string} [reason] empty when it passed
 * @property {number} [ms]
 */
/**
 * A run (`GET /accreditation/runs/{id}`; the list leaves out `tests`).
 * @typedef {object} Run
 * @property {string} id
 * @property {string} suite
 * @property {string} [title]
 * @property {string} target
 * @property {string} [auditor]
 * @property {'running' | 'completed' | 'stopped'} status
 * @property {'pass' | 'fail' | null} [verdict]
 * @property {string} started
 * @property {string | null} [finished]
 * @property {number} total
 * @property {number} done
 * @property {number} passed
 * @property {TestResult[]} [tests]
 * @property {string | null} [error]
 * @property {Record<string, unknown> | null} [variables] the values given at the start
 */

/** How often a running run is asked for its progress. */
const POLL_MS = 1000;
/** How often the past runs are read again while one of them is running. */
const LIST_POLL_MS = 5000;
/** The wait after a failed progress request (the line may be down for a moment). */
const RETRY_MS = 3000;

/** The reports of a run: where, their type, the extension of the saved file. */
const REPORTS = /** @type {const} */ ([
  { path: 'report.html', type: 'text/html', ext: 'html', label: 'accreditation.download.html' },
  { path: 'junit.xml', type: 'application/xml', ext: 'xml', label: 'accreditation.download.junit' },
  { path: 'testreport.json', type: 'application/fhir+json', ext: 'json', label: 'accreditation.download.testreport' },
]);

/**
 * Renders the accreditation page: a new run and the past ones, or one run.
 * @param {HTMLElement} main
 * @param {{run?: string, navigate: (hash: string) => void, leave: AbortSignal}} options
 *   `run`: the run to show; `leave`: aborted when the page is left (polling stops)
 */
export function render(main, { run, navigate, leave }) {
  const past = pastRuns(leave, run);
  if (run) {
    append(main, [h('p', { class: 'back' }, h('a', { href: '#/acreditacion', text: `← ${t('accreditation.back')}` })), runView(run, leave, past.reload), past.el]);
  } else {
    append(main, [h('h1', { tabindex: '-1', text: t('accreditation.title') }), h('p', { class: 'lead', text: t('accreditation.lead') }), startForm(navigate, leave), past.el]);
  }
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
  replace(region, h('div', { class: kind === 'info' ? 'status' : `alert ${kind}` }, h('p', { text }), detail ? h('p', { text: t('accreditation.serverSaid', { said: detail }) }) : null));
}

/**
 * The words of a failure.
 * @param {unknown} e
 */
function words(e) {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Waits `ms`, or less if the page is left.
 * @param {number} ms
 * @param {AbortSignal} leave
 * @returns {Promise<boolean>} whether the page is still shown
 */
function pause(ms, leave) {
  return new Promise((resolve) => {
    if (leave.aborted) {
      resolve(false);
      return;
    }
    const done = () => {
      clearTimeout(timer);
      leave.removeEventListener('abort', done);
      resolve(!leave.aborted);
    };
    const timer = setTimeout(done, ms);
    leave.addEventListener('abort', done);
  });
}

/**
 * A section with its heading.
 * @param {string} id the heading's id
 * @param {string} title
 * @param {...import('./dom.js').Children} children
 */
function section(id, title, ...children) {
  return h('section', { class: 'block', 'aria-labelledby': id }, h('h2', { id, text: title }), ...children);
}

/**
 * A verdict (of a test or of a run) in words, coloured: the colour is never alone.
 * @param {string} verdict `pass`, `fail` or `error`
 */
function verdictBadge(verdict) {
  const kind = verdict === 'pass' ? 'ok' : verdict === 'fail' ? 'bad' : 'warn';
  return h('span', { class: `badge verdict ${kind}`, text: lookup('verdict', verdict) ?? verdict });
}

/**
 * Where a run stands in words: its verdict once completed, else its state.
 * @param {Run} run
 */
function stateBadge(run) {
  if (run.status === 'completed' && run.verdict) return verdictBadge(run.verdict);
  const kind = run.status === 'stopped' ? 'warn' : 'muted';
  return h('span', { class: `badge verdict ${kind}`, text: lookup('runStatus', run.status) ?? run.status });
}

/**
 * The name of a saved report, `acreditacion-{suite}-{date}.{ext}`, as the registry's
 * `Content-Disposition` names it, but with the date in Lima as every date here.
 * @param {Run} run
 * @param {typeof REPORTS[number]} report
 */
function fileName(run, report) {
  const started = new Date(run.started);
  const day = Number.isNaN(started.getTime()) ? fmt.todayInLima() : fmt.limaDate(started);
  const suite = run.suite.replace(/[^A-Za-z0-9._-]+/g, '-');
  return `acreditacion-${suite}-${day}.${report.ext}`;
}

/**
 * Whether a text is a URL.
 * @param {string} text
 */
function parses(text) {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Saves a file as a download (never shown in the app's page).
 * @param {Blob} blob
 * @param {string} name
 */
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its bytes once the click is handled; the URL is let go later.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/**
 * The form that starts a run: the suite, the target, the token, the suite's variables.
 * @param {(hash: string) => void} navigate
 * @param {AbortSignal} leave
 */
function startForm(navigate, leave) {
  const suite = h('select', { name: 'suite' });
  const suiteField = field(t('accreditation.suite'), suite, ' ');
  const description = /** @type {HTMLElement} */ (suiteField.row.querySelector('.hint'));
  const target = h('input', { type: 'url', name: 'target', inputmode: 'url', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  const targetField = field(t('accreditation.target'), target, t('accreditation.targetHint'));
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  const tokenField = field(t('accreditation.token'), token, t('accreditation.tokenHint'));
  const variables = h('div', {});
  const result = h('div', { role: 'status' });
  const submit = h('button', { type: 'submit', text: t('accreditation.start'), disabled: true });
  const form = h(
    'form',
    { class: 'filters admin-form', 'aria-labelledby': 'run-new-h', novalidate: true },
    h('h2', { id: 'run-new-h', text: t('accreditation.new') }),
    suiteField.row,
    h('div', { class: 'row' }, targetField.row, tokenField.row),
    h('fieldset', {}, h('legend', { text: t('accreditation.variables') }), variables),
    result,
    submit,
  );

  /** @type {Suite[]} */
  let suites = [];
  /** What was typed for each variable, kept when another suite is chosen. */
  const typed = /** @type {Map<string, string>} */ (new Map());
  /**
   * The fields the registry may name in a refusal (`expression`).
   * @typedef {{at: string, variable?: string, field: ReturnType<typeof field>, control: HTMLInputElement | HTMLSelectElement, label: string, required?: boolean}} Named
   */
  /** @type {Named[]} */
  const fixed = [
    { at: 'suite', field: suiteField, control: suite, label: t('accreditation.suite') },
    { at: 'target', field: targetField, control: target, label: t('accreditation.target') },
    { at: 'token', field: tokenField, control: token, label: t('accreditation.token') },
  ];
  /** @type {Named[]} */
  let asked = [];

  const chosen = () => suites.find((s) => s.name === suite.value);

  /** Draws the chosen suite's description and one field per variable. */
  const drawSuite = () => {
    const s = chosen();
    description.textContent = s?.description ?? '';
    description.hidden = !s?.description;
    asked = (s?.variables ?? []).map((v) => {
      const required = v.default === null || v.default === undefined;
      const input = h('input', {
        type: 'text',
        name: `var-${v.name}`,
        autocomplete: 'off',
        spellcheck: 'false',
        autocapitalize: 'none',
        required,
        value: typed.get(v.name) ?? v.default ?? '',
        on: { input: (/** @type {Event} */ ev) => typed.set(v.name, /** @type {HTMLInputElement} */ (ev.target).value) },
      });
      const label = required ? t('accreditation.required', { name: v.name }) : v.name;
      return { at: `variables.${v.name}`, variable: v.name, field: field(label, input, v.description || undefined), control: input, label: v.name, required };
    });
    replace(variables, asked.length ? h('div', { class: 'row' }, asked.map((a) => a.field.row)) : h('p', { class: 'hint', text: t('accreditation.noVariables') }));
  };
  suite.addEventListener('change', drawSuite);

  const loadSuites = async () => {
    say(result, t('status.loading'));
    try {
      const answer = await api('accreditation/suites', { signal: leave });
      suites = Array.isArray(answer?.suites) ? answer.suites : [];
      replace(
        suite,
        suites.map((s) => h('option', { value: s.name, text: t('accreditation.suiteOption', { title: s.title || s.name, tests: plural('count.tests', s.tests ?? 0) }) })),
      );
      drawSuite();
      say(result, suites.length ? '' : t('accreditation.noSuites'));
      submit.disabled = !suites.length;
    } catch (e) {
      if (!leave.aborted) say(result, words(e), 'error');
    }
  };
  loadSuites();

  /**
   * Whether the registry's `expression` names this field (`target`, `variables.ipressId`,
   * `variables["ipressId"]`, or the variable's bare name).
   * @param {string} expression
   * @param {Named} f
   */
  const names = (expression, f) => {
    const parts = expression.split(/[.[\]'"/]+/).filter(Boolean);
    if (f.variable) return parts.at(-1) === f.variable && (parts.length === 1 || parts[0] === 'variables');
    return parts.length === 1 && parts[0] === f.at;
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    say(result, '');
    const all = [...fixed, ...asked];
    for (const f of all) f.field.setError('');
    /** @type {[Named, string][]} */
    const wrong = [];
    const url = target.value.trim();
    if (!/^https?:\/\/[^/\s]+/i.test(url) || !parses(url)) wrong.push([fixed[1], t('accreditation.targetInvalid')]);
    for (const a of asked) if (a.required && !a.control.value.trim()) wrong.push([a, t('accreditation.variableRequired', { name: a.label })]);
    for (const [f, message] of wrong) f.field.setError(message);
    if (wrong.length) {
      wrong[0][0].control.focus();
      return;
    }
    /** @type {Record<string, string>} */
    const values = {};
    for (const a of asked) {
      const value = a.control.value.trim();
      if (value && a.variable) values[a.variable] = value;
    }
    /** @type {{suite: string, target: string, token?: string, variables: Record<string, string>}} */
    const body = { suite: suite.value, target: url, variables: values };
    if (token.value.trim()) body.token = token.value.trim();
    submit.disabled = true;
    say(result, t('accreditation.starting'));
    try {
      /** @type {Run} */
      const run = await api('accreditation/runs', { method: 'POST', body });
      // The SIHCE's token is not kept, not even in the page.
      token.value = '';
      // Started: its page follows it (unless the auditor went elsewhere meanwhile).
      if (!leave.aborted) navigate(`#/acreditacion/${encodeURIComponent(run.id)}`);
    } catch (e) {
      const f = e instanceof FhirError && e.status === 400 ? all.find((x) => e.expression.some((at) => names(at, x))) : undefined;
      if (f) {
        f.field.setError(words(e));
        say(result, t('accreditation.refusedField', { field: f.label }), 'error');
        f.control.focus();
      } else if (e instanceof FhirError && e.status === 503) say(result, t('accreditation.busy'), 'error', e.detail);
      else say(result, t('accreditation.refused'), 'error', words(e));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/**
 * One run: what was tested, its progress (live while it runs), each finished test, and
 * its reports.
 * @param {string} id
 * @param {AbortSignal} leave
 * @param {() => void} finished called when the run ends while shown
 */
function runView(id, leave, finished) {
  // The heading stays the same element when the run arrives, so focus on it stays.
  const title = h('h1', { tabindex: '-1', text: t('accreditation.loadingRun') });
  const facts = h('div', {});
  const bar = h('progress', { id: 'run-progress', max: '1', value: 0 });
  const progressText = h('p', { class: 'progress-text', id: 'run-progress-text', 'aria-live': 'polite' });
  bar.setAttribute('aria-describedby', progressText.id);
  const progress = h('div', { class: 'run-progress', hidden: true }, h('label', { for: bar.id, text: t('accreditation.progress') }), bar, progressText);
  const trouble = h('div', {});
  const stopped = h('div', {});
  const tests = h('div', {});
  const reports = h('div', {});
  const head = h('div', { class: 'run-head' }, title, facts);
  const testsSection = section('run-tests-h', t('accreditation.tests'), tests);
  const reportsSection = section('run-reports-h', t('accreditation.reports'), reports);
  testsSection.hidden = true;
  reportsSection.hidden = true;

  /** What is drawn, so that only what changed is drawn again (a screen reader's place stays). */
  const drawn = { facts: '', tests: '', reports: '' };

  /** @param {Run} run */
  const update = (run) => {
    const name = run.title || run.suite;
    if (title.textContent !== name) {
      title.textContent = name;
      document.title = `${name} — RENHICE`;
    }
    const given = run.variables && typeof run.variables === 'object' ? Object.entries(run.variables) : [];
    const factsKey = JSON.stringify([run.target, run.auditor, run.started, run.finished, run.status, run.verdict, given]);
    if (factsKey !== drawn.facts) {
      drawn.facts = factsKey;
      replace(
        facts,
        h(
          'dl',
          { class: 'facts-inline run-facts' },
          h('div', {}, h('dt', { text: t('accreditation.target.label') }), h('dd', {}, h('code', { text: run.target }))),
          h('div', {}, h('dt', { text: t('accreditation.auditor') }), h('dd', { text: run.auditor || t('value.unknown') })),
          h('div', {}, h('dt', { text: t('accreditation.started') }), h('dd', { text: fmt.dateTime(run.started) })),
          run.finished ? h('div', {}, h('dt', { text: t('accreditation.finished') }), h('dd', { text: fmt.dateTime(run.finished) })) : null,
          h('div', {}, h('dt', { text: t('accreditation.verdict') }), h('dd', {}, stateBadge(run))),
          given.length
            ? h('div', {}, h('dt', { text: t('accreditation.variables') }), h('dd', {}, h('ul', { class: 'plain' }, given.map(([name, value]) => h('li', {}, h('code', { text: `${name} = ${String(value)}` }))))))
            : null,
        ),
      );
    }

    progress.hidden = false;
    bar.max = Math.max(run.total, 1);
    bar.value = Math.min(run.done, run.total);
    const n = { done: fmt.number(run.done), total: fmt.number(run.total), passed: fmt.number(run.passed) };
    const said =
      run.status === 'running'
        ? t('accreditation.progressRunning', n)
        : run.status === 'completed'
          ? t('accreditation.progressCompleted', n)
          : t('accreditation.progressStopped', n);
    // Set only when it changes: each change is announced.
    if (progressText.textContent !== said) progressText.textContent = said;

    if (run.status === 'stopped' && run.error && !stopped.firstChild) {
      replace(stopped, h('p', { class: 'alert error', role: 'alert', text: t('accreditation.stoppedBecause', { error: run.error }) }));
    }

    const list = run.tests ?? [];
    const testsKey = JSON.stringify([run.status, list.map((x) => [x.id, x.verdict])]);
    if (testsKey !== drawn.tests) {
      drawn.tests = testsKey;
      testsSection.hidden = false;
      replace(tests, list.length ? testsTable(list) : h('p', { class: 'empty', text: t('accreditation.noTests') }));
    }

    // A run that stopped before its end has no reports.
    if (run.status !== drawn.reports) {
      drawn.reports = run.status;
      reportsSection.hidden = false;
      replace(
        reports,
        run.status === 'completed'
          ? downloads(run)
          : h('p', { class: 'hint', text: run.status === 'running' ? t('accreditation.reportsLater') : t('accreditation.noReports') }),
      );
    }
  };

  (async () => {
    let wasRunning = false;
    let shown = false;
    while (!leave.aborted) {
      /** @type {Run} */
      let run;
      try {
        run = await api(`accreditation/runs/${encodeURIComponent(id)}`, { signal: leave });
      } catch (e) {
        if (leave.aborted) return;
        const lasting = !(e instanceof FhirError) || (e.status >= 400 && e.status < 500 && e.status !== 429);
        if (!shown || lasting) {
          if (!shown) {
            title.textContent = t('accreditation.runUnavailable');
            document.title = `${title.textContent} — RENHICE`;
          }
          replace(trouble, h('p', { class: 'alert error', role: 'alert', text: words(e) }));
          return;
        }
        // A moment without the registry: said, and asked again.
        say(trouble, t('accreditation.retrying'));
        if (!(await pause(RETRY_MS, leave))) return;
        continue;
      }
      if (leave.aborted) return;
      replace(trouble);
      update(run);
      shown = true;
      if (run.status !== 'running') {
        if (wasRunning) finished();
        return;
      }
      wasRunning = true;
      if (!(await pause(POLL_MS, leave))) return;
    }
  })();

  return h('div', { class: 'run' }, head, progress, trouble, stopped, testsSection, reportsSection);
}

/**
 * The finished tests of a run: criterion, name, verdict in words, reason, time.
 * @param {TestResult[]} list
 */
function testsTable(list) {
  const cols = [t('accreditation.criterion'), t('accreditation.test'), t('accreditation.verdict'), t('accreditation.reason'), t('accreditation.time')];
  return h(
    'table',
    { class: 'stack run-tests', id: 'run-tests' },
    h('caption', { class: 'visually-hidden', text: t('accreditation.tests') }),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: c })))),
    h(
      'tbody',
      {},
      list.map((x) =>
        h(
          'tr',
          { class: `verdict-${x.verdict}` },
          h(
            'td',
            { 'data-label': cols[0] },
            x.criterion?.code ? [h('span', { class: 'criterion', text: x.criterion.code }), x.criterion.display ? h('span', { class: 'criterion-name', text: x.criterion.display }) : null] : h('span', { class: 'criterion-name', text: t('accreditation.noCriterion') }),
          ),
          h('th', { scope: 'row', 'data-label': cols[1], text: x.name || x.id }),
          h('td', { 'data-label': cols[2] }, verdictBadge(x.verdict)),
          h('td', { 'data-label': cols[3], class: 'test-reason', text: x.reason || '—' }),
          h('td', { 'data-label': cols[4], class: 'num', text: typeof x.ms === 'number' ? t('accreditation.ms', { n: fmt.number(x.ms) }) : '—' }),
        ),
      ),
    ),
  );
}

/**
 * The three reports of a finished run, each fetched with the session's token and saved.
 * @param {Run} run
 */
function downloads(run) {
  const status = h('div', { role: 'status' });
  const buttons = REPORTS.map((report) => {
    let busy = false;
    const file = fileName(run, report);
    const button = h('button', { type: 'button', class: 'secondary', text: t(report.label) });
    button.addEventListener('click', async () => {
      // Not disabled meanwhile: the button keeps the keyboard's focus.
      if (busy) return;
      busy = true;
      button.setAttribute('aria-busy', 'true');
      say(status, t('accreditation.downloading'));
      try {
        const blob = await apiFile(`accreditation/runs/${encodeURIComponent(run.id)}/${report.path}`, report.type);
        save(blob, file);
        say(status, t('accreditation.downloaded', { file }), 'ok');
      } catch (e) {
        say(status, t('accreditation.downloadFailed', { file }), 'error', words(e));
      } finally {
        busy = false;
        button.removeAttribute('aria-busy');
      }
    });
    return button;
  });
  return [h('p', { class: 'hint', text: t('accreditation.reportsHint') }), h('div', { class: 'downloads' }, buttons), status];
}

/**
 * The past runs, newest first, each opening its page; read again now and then while one
 * of them is running.
 * @param {AbortSignal} leave
 * @param {string} [current] the run shown above the list
 * @returns {{el: HTMLElement, reload: () => void}}
 */
function pastRuns(leave, current) {
  const count = h('div', { role: 'status' });
  const table = h('div', {});
  const el = section('runs-h', t('accreditation.past'), count, table);

  /** @param {Run[]} runs */
  const draw = (runs) => {
    const cols = [t('accreditation.date'), t('accreditation.suiteCol'), t('accreditation.target.label'), t('accreditation.auditor'), t('accreditation.verdict'), t('accreditation.passed')];
    replace(
      table,
      runs.length
        ? h(
            'table',
            { class: 'stack', id: 'runs-table' },
            h('caption', { class: 'visually-hidden', text: t('accreditation.past') }),
            h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: c })))),
            h(
              'tbody',
              {},
              runs.map((r) =>
                h(
                  'tr',
                  {},
                  h('th', { scope: 'row', 'data-label': cols[0] }, h('a', { href: `#/acreditacion/${encodeURIComponent(r.id)}`, 'aria-current': r.id === current ? 'page' : false, text: fmt.dateTime(r.started) })),
                  h('td', { 'data-label': cols[1], text: r.title || r.suite }),
                  h('td', { 'data-label': cols[2] }, h('code', { text: r.target })),
                  h('td', { 'data-label': cols[3], text: r.auditor || t('value.unknown') }),
                  h('td', { 'data-label': cols[4] }, stateBadge(r)),
                  h('td', { 'data-label': cols[5], class: 'num', text: t('accreditation.passedOf', { passed: fmt.number(r.passed), total: fmt.number(r.total) }) }),
                ),
              ),
            ),
          )
        : h('p', { class: 'empty', text: t('accreditation.none') }),
    );
  };

  /** The one timer of the list, cleared when the page is left. */
  let timer = 0;
  let loading = false;
  let again = false;
  leave.addEventListener('abort', () => clearTimeout(timer), { once: true });

  const load = async () => {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    clearTimeout(timer);
    let running = false;
    try {
      do {
        again = false;
        const answer = await api('accreditation/runs', { signal: leave });
        /** @type {Run[]} */
        const runs = Array.isArray(answer?.runs) ? answer.runs : [];
        say(count, plural('count.runs', runs.length));
        draw(runs);
        running = runs.some((r) => r.status === 'running');
      } while (again && !leave.aborted);
    } catch (e) {
      if (!leave.aborted) say(count, words(e), 'error');
    } finally {
      loading = false;
    }
    if (running && !leave.aborted) timer = window.setTimeout(load, LIST_POLL_MS);
  };
  say(count, t('status.loading'));
  load();
  return { el, reload: load };
}

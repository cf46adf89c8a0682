// The weight and speed of each page of the web app, over loopback, as the browser sees
// them: bytes transferred (compressed as the registry sends them, headers included),
// requests, first paint, first contentful paint, and when the page's data is shown.
// Median of 5 loads of each page with the browser's cache off (a first visit), and the
// bytes of one more load with it on (a return visit: the registry's ETags make 304s).
// Prints a Markdown table.
//
//   node web/tests/measure.mjs        (from the repository root; RENHICE_BIN names the binary)

import { start, SEED, USERS } from './harness.mjs';
import { launch, newContext, newPage, signIn, staleAppFiles } from './lib.mjs';

const LOADS = 5;

/** @param {number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Loads `url` afresh in the page's tab (the session in sessionStorage stays) and
 * measures it.
 * @param {import('playwright-core').Page} page
 * @param {import('playwright-core').CDPSession} cdp
 * @param {string} url
 */
async function load(page, cdp, url) {
  /** @type {Map<string, {url: string, bytes: number}>} */
  const requests = new Map();
  /** @param {any} e */
  const sent = (e) => requests.set(e.requestId, { url: e.request.url, bytes: 0 });
  /** @param {any} e */
  const finished = (e) => {
    const r = requests.get(e.requestId);
    if (r) r.bytes = e.encodedDataLength;
  };
  await page.goto('about:blank');
  cdp.on('Network.requestWillBeSent', sent);
  cdp.on('Network.loadingFinished', finished);
  try {
    await page.goto(url);
    // The page's data is shown: a heading, and nothing left loading.
    await page.waitForFunction(
      () => {
        const main = document.querySelector('main');
        const h1 = main?.querySelector('h1');
        return Boolean(h1 && !/Cargando|Buscando|Verificando/.test(main?.textContent ?? ''));
      },
      undefined,
      { timeout: 20_000, polling: 'raf' },
    );
    const ready = await page.evaluate(() => performance.now());
    await page.waitForLoadState('networkidle');
    const paints = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('paint').map((p) => [p.name, p.startTime])));
    const list = [...requests.values()].filter((r) => r.url.startsWith('http'));
    const api = list.filter((r) => /\/(fhir|auth|accreditation)\//.test(new URL(r.url).pathname) || new URL(r.url).pathname.startsWith('/.well-known/'));
    return {
      bytes: list.reduce((n, r) => n + r.bytes, 0),
      appBytes: list.filter((r) => !api.includes(r)).reduce((n, r) => n + r.bytes, 0),
      apiBytes: api.reduce((n, r) => n + r.bytes, 0),
      requests: list.length,
      fp: paints['first-paint'] ?? NaN,
      fcp: paints['first-contentful-paint'] ?? NaN,
      ready,
    };
  } finally {
    cdp.off('Network.requestWillBeSent', sent);
    cdp.off('Network.loadingFinished', finished);
  }
}

const h = await start('sqlite');
const browser = await launch();
/** @type {string[]} */
const rows = [];
try {
  const stale = await staleAppFiles(h);
  /**
   * Measures the pages of one person's tab.
   * @param {import('playwright-core').Page} page
   * @param {[string, string][]} pages name and route
   */
  async function measure(page, pages) {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    for (const [name, route] of pages) {
      const url = `${h.base}/${route}`;
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      const runs = [];
      for (let i = 0; i < LOADS; i += 1) runs.push(await load(page, cdp, url));
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
      await load(page, cdp, url); // fills the cache
      const again = await load(page, cdp, url);
      const kb = (/** @type {number} */ n) => (n / 1024).toFixed(1);
      const ms = (/** @type {number} */ n) => Math.round(n);
      rows.push(
        `| ${name} | ${kb(median(runs.map((r) => r.bytes)))} | ${kb(median(runs.map((r) => r.appBytes)))} | ${kb(median(runs.map((r) => r.apiBytes)))} | ${median(runs.map((r) => r.requests))} | ${kb(again.bytes)} | ${ms(median(runs.map((r) => r.fp)))} | ${ms(median(runs.map((r) => r.fcp)))} | ${ms(median(runs.map((r) => r.ready)))} |`,
      );
    }
  }

  const anyone = await newPage(await newContext(browser, h, { fromDisk: false }), h);
  await measure(anyone.page, [['home (signed out)', '']]);

  const clinician = (await newPage(await newContext(browser, h, { fromDisk: false }), h)).page;
  await clinician.goto(`${h.base}/`);
  await signIn(clinician, h, 'professional', USERS.medica);
  await measure(clinician, [
    ['search (clinician)', '#/buscar'],
    ['patient (clinician)', `#/paciente/${h.ids.patient}`],
  ]);

  const patient = (await newPage(await newContext(browser, h, { fromDisk: false }), h)).page;
  await patient.goto(`${h.base}/`);
  await signIn(patient, h, 'patient', USERS.paciente);
  await measure(patient, [
    ['my records (patient)', '#/mis-registros'],
    ['who read (patient)', '#/accesos'],
    ['consents (patient)', '#/consentimientos'],
  ]);

  const auditor = (await newPage(await newContext(browser, h, { fromDisk: false }), h)).page;
  await auditor.goto(`${h.base}/`);
  await signIn(auditor, h, 'professional', USERS.auditora);
  await measure(auditor, [
    ['audit (auditor)', '#/auditoria'],
    ['accreditation (auditor)', '#/acreditacion'],
  ]);

  console.log(`Each page loaded ${LOADS} times over loopback (${h.base}, SQLite, seeded: ${SEED.maria.name} in 2 IPRESS), headless Chromium, cache off; medians.`);
  console.log('KB: bytes transferred as received (gzip, headers included); app = HTML, JS, CSS, SVG; data = /fhir, /auth, /accreditation, /.well-known.');
  console.log('Return visit: one more load with the cache on (unchanged files answer 304). FP / FCP: first paint / first contentful paint;');
  console.log('ready: the page\'s data shown (a heading, nothing left loading), ms from navigation start.');
  if (stale.length) console.log(`Note: this binary embeds an older app than web/ (${stale.join(', ')}); measured as served.`);
  console.log('');
  console.log('| page | KB | app KB | data KB | requests | return visit KB | FP ms | FCP ms | ready ms |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) console.log(row);
} finally {
  await browser.close();
  await h.stop();
}

// What the browser tests, the screenshots and the measurements share: the browser, a
// context per person, signing in through the real identity provider, and axe.

import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, extname } from 'node:path';
import { ROOT, CHROMIUM } from './harness.mjs';

const require = createRequire(import.meta.url);
/** axe-core's source, injected into pages. */
const AXE_SOURCE = /** @type {string} */ (require('axe-core').source);

/** The two sizes every page is checked at. */
export const VIEWPORTS = [
  { width: 360, height: 740 },
  { width: 1280, height: 800 },
];

/** Launches the system's Chromium, headless. */
export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/** The files the registry serves from web/: `/` and `/app/*`. */
function appFiles() {
  return ['index.html', ...readdirSync(join(ROOT, 'web/app')).map((f) => `app/${f}`)];
}

/** @type {WeakMap<object, Promise<string[]>>} */
const staleness = new WeakMap();

/**
 * The files of web/ that the registry binary serves differently from this checkout (it
 * embeds them when built: a binary older than the checkout serves an older app).
 * @param {{base: string}} h
 * @returns {Promise<string[]>}
 */
export function staleAppFiles(h) {
  let found = staleness.get(h);
  if (!found) {
    found = (async () => {
      const stale = [];
      for (const f of appFiles()) {
        const res = await fetch(f === 'index.html' ? `${h.base}/` : `${h.base}/${f}`);
        const served = Buffer.from(await res.arrayBuffer());
        if (!served.equals(readFileSync(join(ROOT, 'web', f)))) stale.push(f);
      }
      if (stale.length && process.env.RENHICE_WEB_FROM_CHECKOUT !== '1') {
        // The suite tests what the binary serves: a stale binary is an error, unless the
        // developer asks for the checkout's files while working on the app.
        throw new Error(
          `${process.env.RENHICE_BIN ?? 'target/debug/renhice'} embeds an app that differs from web/ in ${stale.join(', ')}: ` +
            'rebuild it (cargo build), or set RENHICE_WEB_FROM_CHECKOUT=1 to have the browser get those files from this checkout',
        );
      }
      if (stale.length) {
        console.error(
          `web tests: ${h.base} (${process.env.RENHICE_BIN ?? 'target/debug/renhice'}) embeds an app that differs from web/ in ${stale.join(', ')}; ` +
            'the browser gets those files from this checkout (the registry\'s answer with the body replaced). Rebuild the binary to test what it embeds.',
        );
      }
      return stale;
    })();
    staleness.set(h, found);
  }
  return found;
}

/** Content types of the app's files, by extension (for files the registry does not embed yet). */
const TYPES = /** @type {Record<string, string>} */ ({
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.html': 'text/html; charset=utf-8',
});

/** @type {WeakMap<object, Promise<Record<string, string>>>} */
const templates = new WeakMap();

/**
 * The headers the registry sends with an app file (its `/app/main.js`).
 * @param {{base: string}} h
 */
function appHeaders(h) {
  let found = templates.get(h);
  if (!found) {
    found = fetch(`${h.base}/app/main.js`).then(async (res) => {
      await res.arrayBuffer();
      return Object.fromEntries(res.headers.entries());
    });
    templates.set(h, found);
  }
  return found;
}

/**
 * A fresh browser context for one person (its own cookies and sessionStorage), in Lima's
 * time zone and Spanish. When the registry binary embeds an older app than this checkout
 * (see staleAppFiles), the app's files come from the checkout: the request still goes
 * to the registry, and only the body of its answer is replaced.
 * @param {import('playwright-core').Browser} browser
 * @param {{base: string}} h
 * @param {{viewport?: {width: number, height: number}, fromDisk?: boolean}} [options]
 */
export async function newContext(browser, h, options = {}) {
  const context = await browser.newContext({
    viewport: options.viewport ?? VIEWPORTS[1],
    locale: 'es-PE',
    timezoneId: 'America/Lima',
  });
  const stale = options.fromDisk === false ? [] : await staleAppFiles(h);
  if (stale.length) {
    const origin = new URL(h.base).origin;
    await context.route(
      (url) => url.origin === origin && (url.pathname === '/' || url.pathname.startsWith('/app/')),
      async (route) => {
        const url = new URL(route.request().url());
        const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
        const response = await route.fetch();
        // A file new in this checkout is a 404 from the registry: it gets the headers the
        // registry sends with its app's files (the CSP among them), with its own type.
        const added = response.status() === 404 && stale.includes(file) && existsSync(join(ROOT, 'web', file));
        if ((response.status() !== 200 && !added) || !stale.includes(file)) {
          await route.fulfill({ response });
          return;
        }
        /** @type {Record<string, string>} */
        const headers = added ? { ...(await appHeaders(h)), 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' } : { ...response.headers() };
        for (const name of ['content-encoding', 'content-length', 'etag', 'transfer-encoding']) delete headers[name];
        await route.fulfill({ status: 200, headers, body: readFileSync(join(ROOT, 'web', file)) });
      },
    );
  }
  return context;
}

/**
 * A new page whose console errors and uncaught exceptions on the registry's origin are
 * collected (a CSP violation is a console error).
 * @param {import('playwright-core').BrowserContext} context
 * @param {{base: string}} h
 */
export async function newPage(context, h) {
  const page = await context.newPage();
  /** @type {string[]} */
  const errors = [];
  page.on('console', (m) => {
    // Chromium logs every 4xx answer as "Failed to load resource"; the app handles those
    // it expects (a 404 summary is "no summary"), so only other errors count.
    if (m.type() === 'error' && (m.location().url ?? '').startsWith(h.base) && !m.text().startsWith('Failed to load resource')) errors.push(`${m.text()} (${m.location().url}, on ${page.url()})`);
  });
  page.on('pageerror', (e) => {
    if (page.url().startsWith(h.base)) errors.push(`uncaught: ${e.message}`);
  });
  return { page, errors };
}

/**
 * Signs in from the signed-out home through the identity provider's login page, as a
 * person would: the choice on the home page, login and password, "Ingresar".
 * @param {import('playwright-core').Page} page
 * @param {{base: string, registryLog?: () => string}} h
 * @param {'professional' | 'patient'} kind
 * @param {{login: string, password: string}} user
 */
export async function signIn(page, h, kind, user) {
  if (!page.url().startsWith(h.base)) await page.goto(`${h.base}/`);
  await page.getByRole('button', { name: kind === 'patient' ? /^Paciente/ : /^Profesional de salud/ }).click();
  await page.locator('#login').fill(user.login);
  await page.locator('#password').fill(user.password);
  await page.locator('#submit').click();
  // Signed in, or refused with an alert on the signed-out home: whichever comes first.
  // On a loaded machine the way back (callback, code exchange, session) can take a while,
  // and a refusal must say why rather than time out on the address.
  const signedIn = page.getByRole('button', { name: 'Cerrar sesión' });
  const refused = page.getByRole('alert');
  await signedIn.or(refused).first().waitFor({ timeout: 30_000 });
  if (!(await signedIn.isVisible())) {
    const why = await refused.allInnerTexts();
    throw new Error(`sign-in refused: ${why.join(' | ')}\n--- registry log ---\n${h.registryLog?.() ?? ''}`);
  }
  await page.waitForURL((url) => url.href.startsWith(`${h.base}/#/`) && !url.search, { timeout: 15_000 });
}

/**
 * @typedef {{page: string, width: number, violations: {id: string, impact: string, help: string, targets: string[]}[]}} AxeResult
 */

/**
 * Runs axe on the page as it is.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<{id: string, impact: string, help: string, targets: string[]}[]>} the
 *   serious and critical violations
 */
export async function axe(page) {
  const loaded = await page.evaluate(() => typeof (/** @type {any} */ (window).axe) === 'object');
  if (!loaded) await page.evaluate(`${AXE_SOURCE}\n;0`);
  /** @type {{id: string, impact: string, help: string, targets: string[]}[]} */
  const violations = await page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const result = await w.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((/** @type {any} */ v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((/** @type {any} */ n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`.slice(0, 300)),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * Collects axe's findings on each page at both sizes; `report()` says what is wrong.
 */
export class A11y {
  constructor() {
    /** @type {AxeResult[]} */
    this.results = [];
  }

  /**
   * Checks the page as it is now at 360×740 and 1280×800, then puts the size back.
   * @param {import('playwright-core').Page} page
   * @param {string} name the page's name in the report
   */
  async check(page, name) {
    const before = page.viewportSize();
    for (const viewport of VIEWPORTS) {
      await page.setViewportSize(viewport);
      // Laid out and painted at the new size.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      this.results.push({ page: name, width: viewport.width, violations: await axe(page) });
    }
    if (before) await page.setViewportSize(before);
  }

  /** The pages checked, as `name@width`. */
  checked() {
    return this.results.map((r) => `${r.page}@${r.width}`);
  }

  /** Every serious or critical violation, in words (empty: none). */
  report() {
    return this.results
      .filter((r) => r.violations.length)
      .map((r) => `${r.page} at ${r.width}px:\n${r.violations.map((v) => `  [${v.impact}] ${v.id}: ${v.help}\n    ${v.targets.join('\n    ')}`).join('\n')}`)
      .join('\n');
  }
}

/**
 * The access token of the page's session (sessionStorage `renhice.session`).
 * @param {import('playwright-core').Page} page
 * @returns {Promise<string | undefined>}
 */
export function sessionToken(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('renhice.session') ?? 'null')?.accessToken);
}

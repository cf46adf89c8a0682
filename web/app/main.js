// The app's frame: the header with the person and the way out, the emergency banner,
// the footer, and the hash router that draws each page.
//
// Routes: #/ (the home of each role), #/buscar, #/paciente/{id} (clinicians),
// #/mis-registros, #/accesos, #/consentimientos (patients), #/auditoria,
// #/acreditacion, #/acreditacion/{run} (auditors), #/admin (administrators: IPRESS and
// SIHCE clients). The server serves only `/`; everything after `#` stays in the browser.

import { h, append, replace } from './dom.js';
import { t, lang, setLang, lookup, ready } from './i18n.js';
import * as fmt from './format.js';
import * as auth from './auth.js';
import { organizationByCode } from './fhir.js';
import * as home from './page-home.js';

// Each role's pages are loaded when first shown: a person downloads only their own.
/** @type {import('./page-clinician.js') | null} */
let clinicianPages = null;
/** @type {import('./page-patient.js') | null} */
let patientPages = null;
/** @type {import('./page-auditor.js') | null} */
let auditorPages = null;
/** @type {import('./page-admin.js') | null} */
let adminPages = null;
/** @type {import('./page-accreditation.js') | null} */
let accreditationPages = null;
/** @type {Record<auth.Role, () => Promise<unknown>>} */
const LOAD = {
  clinician: async () => (clinicianPages ??= await import('./page-clinician.js')),
  patient: async () => (patientPages ??= await import('./page-patient.js')),
  auditor: async () => (auditorPages ??= await import('./page-auditor.js')),
  admin: async () => (adminPages ??= await import('./page-admin.js')),
};
/** Accreditation's page is loaded on its own route only: it is not the auditor's home. */
const loadAccreditation = async () => (accreditationPages ??= await import('./page-accreditation.js'));

/** Counts drawings, so a page whose module arrives after a newer drawing is dropped. */
let drawing = 0;

/**
 * Aborted when the page drawn is left (another route, the same one drawn again, a
 * change of language or session): a page that polls or waits stops on it.
 */
let leaving = new AbortController();

const NOTICE_KEY = 'renhice.notice';

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const header = /** @type {HTMLElement} */ (document.getElementById('header'));
const banner = /** @type {HTMLElement} */ (document.getElementById('emergency'));
const footer = /** @type {HTMLElement} */ (document.getElementById('footer'));
const announcer = /** @type {HTMLElement} */ (document.getElementById('announcer'));

/** A message for the signed-out home (why the session ended, a failed sign-in). */
let notice = /** @type {{text: string, error: boolean} | null} */ (null);

/** Whether the app has drawn a page yet (focus moves to headings only afterwards). */
let drawn = false;

/**
 * Says something to screen readers.
 * @param {string} text
 */
function announce(text) {
  announcer.textContent = '';
  // A fresh text node after a tick, so the same message twice is announced twice.
  window.setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

/**
 * Goes to a route.
 * @param {string} hash
 * @param {boolean} [replaceEntry] replace the current history entry (redirects)
 */
function navigate(hash, replaceEntry = false) {
  if (location.hash === hash) route();
  else if (replaceEntry) location.replace(hash);
  else location.hash = hash;
}

/** The navigation of each role: route and label key. */
const NAV = /** @type {const} */ ({
  clinician: [['#/buscar', 'nav.search']],
  patient: [
    ['#/mis-registros', 'nav.records'],
    ['#/accesos', 'nav.access'],
    ['#/consentimientos', 'nav.consents'],
  ],
  auditor: [
    ['#/auditoria', 'nav.audit'],
    ['#/acreditacion', 'nav.accreditation'],
  ],
  admin: [['#/admin', 'nav.admin']],
});

/** The home route of each role. */
const HOME = { clinician: '#/buscar', patient: '#/mis-registros', auditor: '#/auditoria', admin: '#/admin' };

/**
 * Draws the header: the registry's name, the role's navigation, who is signed in, the
 * language switch and signing out.
 * @param {auth.Session | null} s
 * @param {string} current the current route's hash
 */
function drawHeader(s, current) {
  const other = lang() === 'es' ? 'en' : 'es';
  const langButton = h('button', {
    type: 'button',
    class: 'link-button',
    lang: other,
    id: 'lang-switch',
    text: other === 'en' ? 'English' : 'Español',
    on: {
      click: async () => {
        await setLang(other);
        draw();
        /** @type {HTMLElement | null} */ (document.getElementById('lang-switch'))?.focus();
      },
    },
  });
  const person = s
    ? h(
        'div',
        { class: 'person' },
        h('span', { class: 'person-name', text: s.name ?? lookup('role', s.role) ?? s.role }),
        h('span', { class: 'person-role', text: [lookup('role', s.role), s.role === 'clinician' ? ipressLabel(s) : ''].filter(Boolean).join(' · ') }),
      )
    : null;
  const nav = s
    ? h(
        'nav',
        { 'aria-label': t('nav.label') },
        h(
          'ul',
          {},
          NAV[s.role].map(([href, key]) =>
            // A patient's page belongs to the search, a run's to accreditation: their
            // link is marked current, not as the page.
            h('li', {}, h('a', { href, 'aria-current': current === href ? 'page' : current.startsWith(`${href}/`) || (href === '#/buscar' && current.startsWith('#/paciente/')) ? 'true' : false, text: t(key) })),
          ),
        ),
      )
    : null;
  replace(
    header,
    h(
      'div',
      { class: 'bar' },
      h('a', { class: 'brand', href: '#/' }, h('img', { src: '/app/favicon.svg', alt: '', width: '32', height: '32' }), h('span', { class: 'brand-name', text: 'RENHICE' }), h('span', { class: 'brand-full', text: t('brand.full') })),
      h('div', { class: 'tools' }, person, langButton, s ? h('button', { type: 'button', class: 'secondary', text: t('action.signOut'), on: { click: signOut } }) : null),
    ),
    nav,
  );
}

/**
 * The clinician's IPRESS as the header names it; the name is looked up once.
 * @param {auth.Session} s
 */
function ipressLabel(s) {
  if (s.ipressName) return s.ipressName;
  if (!s.ipress) return '';
  organizationByCode(s.ipress)
    .then((org) => {
      if (org?.name) {
        auth.remember({ ipressName: org.name });
        drawHeader(auth.session(), location.hash || '#/');
      }
    })
    .catch(() => {});
  return t('ipress.code', { code: s.ipress });
}

async function signOut() {
  sessionStorage.setItem(NOTICE_KEY, t('session.signedOut'));
  await auth.signOut();
}

/** Draws the emergency banner while emergency access lasts (nothing otherwise). */
function drawBanner() {
  const e = auth.emergency();
  if (!e) {
    replace(banner);
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  const end = h('button', {
    type: 'button',
    text: t('emergency.end'),
    on: {
      click: async () => {
        end.disabled = true;
        await auth.endEmergency();
      },
    },
  });
  replace(
    banner,
    h(
      'div',
      { class: 'emergency-banner' },
      h('p', {}, h('strong', { text: t('emergency.active') }), ` — ${t('emergency.reasonIs')}: “`, h('q', { text: e.reason }), `” — ${t('emergency.endsAt', { time: fmt.time(e.expiresAt) })}`),
      end,
    ),
  );
}

function drawFooter() {
  replace(footer, h('p', { text: t('footer.zone') }), h('p', { text: t('footer.law') }));
}

/**
 * Titles the document and puts focus on the page's heading after a navigation, so a
 * screen reader announces the new page; a page that focused a field itself keeps it.
 * @param {string} title
 */
function settle(title) {
  document.title = `${title} — RENHICE`;
  if (drawn && !main.contains(document.activeElement)) {
    /** @type {HTMLElement | null} */ (main.querySelector('h1'))?.focus();
  }
  drawn = true;
}

/**
 * A page: its title, the role it is for, and how it draws into `main` (its role's
 * module, or its own with `load`, is loaded first, so drawing starts at once and the
 * heading is there to focus). `leave` is aborted when the page is left.
 * @typedef {{title: () => string, role: auth.Role, load?: () => Promise<unknown>, draw: (s: auth.Session, rest: string[], leave: AbortSignal) => unknown}} Page
 */

/** The loaded module of a role's pages (LOAD has run). */
const clinicianModule = () => /** @type {import('./page-clinician.js')} */ (clinicianPages);
const patientModule = () => /** @type {import('./page-patient.js')} */ (patientPages);
const auditorModule = () => /** @type {import('./page-auditor.js')} */ (auditorPages);
const adminModule = () => /** @type {import('./page-admin.js')} */ (adminPages);
const accreditationModule = () => /** @type {import('./page-accreditation.js')} */ (accreditationPages);

/** @type {Record<string, Page>} */
const PAGES = {
  buscar: { title: () => t('search.title'), role: 'clinician', draw: () => clinicianModule().renderSearch(main, navigate) },
  paciente: {
    title: () => t('patient.title'),
    role: 'clinician',
    draw: (s, rest) => clinicianModule().renderPatient(main, decodeURIComponent(rest.join('/')), s),
  },
  'mis-registros': { title: () => t('mine.title'), role: 'patient', draw: (s) => patientModule().renderRecords(main, s) },
  accesos: { title: () => t('access.title'), role: 'patient', draw: (s) => patientModule().renderAccess(main, s) },
  consentimientos: { title: () => t('consent.title'), role: 'patient', draw: (s) => patientModule().renderConsents(main, s) },
  auditoria: { title: () => t('auditor.title'), role: 'auditor', draw: () => auditorModule().render(main) },
  acreditacion: {
    title: () => t('accreditation.title'),
    role: 'auditor',
    load: loadAccreditation,
    draw: (_s, rest, leave) => accreditationModule().render(main, { run: rest.length ? decodeURIComponent(rest.join('/')) : undefined, navigate, leave }),
  },
  admin: { title: () => t('admin.title'), role: 'admin', draw: () => adminModule().render(main) },
};

/** Draws the page of the current route. */
async function route() {
  const hash = location.hash || '#/';
  const s = auth.session();
  const mine = ++drawing;
  leaving.abort();
  leaving = new AbortController();
  const leave = leaving.signal;
  drawHeader(s, hash);
  drawBanner();
  drawFooter();
  replace(main);
  if (!s) {
    // Signed out: the home, remembering where the person wanted to go.
    const wanted = hash.startsWith('#/') && hash !== '#/' ? hash : undefined;
    home.render(main, { notice: notice?.text, error: notice?.error, returnTo: wanted });
    notice = null;
    settle(t('home.title'));
    return;
  }
  const [name, ...rest] = hash.slice(2).split('/');
  const page = Object.hasOwn(PAGES, name) ? PAGES[name] : undefined;
  if (name === '' || (page && page.role !== s.role)) {
    // The role's home; also for another role's page (a link kept from an earlier session).
    navigate(HOME[s.role], true);
    return;
  }
  if (!page) {
    append(main, [h('h1', { tabindex: '-1', text: t('page.notFound') }), h('p', {}, h('a', { href: '#/', text: t('page.goHome') }))]);
    settle(t('page.notFound'));
    return;
  }
  try {
    // The module is fetched before anything is drawn, so a newer route wins cleanly.
    await (page.load ?? LOAD[page.role])();
  } catch {
    append(main, [h('p', { class: 'alert error', role: 'alert', text: t('error.network') })]);
    return;
  }
  if (mine !== drawing) return;
  page.draw(s, rest, leave);
  settle(page.title());
}

/** Draws everything again (after a change of language or session). */
function draw() {
  document.documentElement.lang = lang();
  const skip = document.getElementById('skip');
  if (skip) skip.textContent = t('skip');
  banner.setAttribute('aria-label', t('emergency.title'));
  route();
}

async function boot() {
  await ready();
  document.documentElement.lang = lang();
  const skip = document.getElementById('skip');
  skip?.addEventListener('click', (ev) => {
    // A plain #main link would be taken for a route.
    ev.preventDefault();
    main.focus();
  });
  const left = sessionStorage.getItem(NOTICE_KEY);
  if (left) {
    notice = { text: left, error: false };
    sessionStorage.removeItem(NOTICE_KEY);
  }
  const signIn = await auth.completeSignIn();
  if (signIn.error) notice = { text: signIn.error, error: true };
  auth.schedule();
  auth.events.addEventListener('change', (ev) => {
    const why = ev instanceof CustomEvent ? ev.detail : '';
    draw();
    if (why) announce(why);
    else if (auth.emergency()) announce(t('emergency.started'));
  });
  auth.events.addEventListener('ended', (ev) => {
    clinicianPages?.forget();
    sessionStorage.removeItem(NOTICE_KEY);
    notice = { text: ev instanceof CustomEvent ? String(ev.detail) : t('session.expired'), error: false };
    draw();
  });
  window.addEventListener('hashchange', route);
  draw();
}

boot();

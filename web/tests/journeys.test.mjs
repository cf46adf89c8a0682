// The web app's journeys in a real browser (the system's Chromium), against a real
// registry and a real OpenID Connect provider, on SQLite and (when
// RENHICE_TEST_POSTGRES_URL is set) PostgreSQL, the two backends side by side.
//
//   node --test web/tests/          (from the repository root; RENHICE_BIN names the binary)
//
// Per backend, in order (the patient sees what the clinician did):
//   clinician → patient (with the second clinician seeing, then not seeing) → auditor →
//   accreditation (the auditor runs a suite against the registry itself, with Santa
//   Clara's SIHCE token, and downloads its reports) → sign-out → the audit trail names
//   what the journeys did → administrator (an IPRESS and its SIHCE registered, the SIHCE
//   getting a token with its own key) → accessibility (axe's findings on every page the
//   journeys visited, at 360×740 and 1280×800).
//
// A registry binary embeds the app it was built with; when it differs from web/ the
// browser gets web/'s files instead (lib.mjs newContext), and the run says so.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { start, SEED, USERS, IPRESSCS } from './harness.mjs';
import { launch, newContext, newPage, signIn, A11y, sessionToken } from './lib.mjs';

/** @type {('sqlite' | 'postgres')[]} */
const BACKENDS = ['sqlite', ...(process.env.RENHICE_TEST_POSTGRES_URL ? /** @type {const} */ (['postgres']) : [])];

/** What the clinician writes as the emergency's reason (the patient reads it). */
const REASON = 'Paciente inconsciente en emergencia, sin acompañante';

/** The pages axe must have seen, at both sizes. */
const PAGES = ['home', 'search', 'patient', 'emergency-dialog', 'patient-emergency', 'my-records', 'who-read', 'consents', 'consent-ipress-search', 'consent-revoke-dialog', 'audit', 'accreditation', 'accreditation-run', 'signed-out', 'admin', 'admin-refused', 'admin-disable-dialog'];

/** What the administrator registers: an IPRESS and its SIHCE. */
const SAN_MARTIN = {
  code: '00054321',
  name: 'Centro de Salud San Martín',
  client: { id: 'sihce-san-martin', kid: 'san-martin-2026-1' },
};

/**
 * Asks the registry's token endpoint for a SIHCE's access token as SMART Backend Services
 * do: a client assertion (ES256 JWT, iss = sub = the client, aud = the token endpoint,
 * at most 5 minutes, a fresh jti) signed with the SIHCE's private key.
 * @param {string} base
 * @param {string} clientId
 * @param {string} kid
 * @param {import('node:crypto').KeyObject} key
 * @returns {Promise<{status: number, body: any}>}
 */
async function clientToken(base, clientId, kid, key) {
  const b64 = (/** @type {object} */ o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const data = `${b64({ alg: 'ES256', kid, typ: 'JWT' })}.${b64({ iss: clientId, sub: clientId, aud: `${base}/auth/token`, iat: now, exp: now + 240, jti: randomUUID() })}`;
  const signature = sign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  const res = await fetch(`${base}/auth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: `${data}.${signature}`,
    }),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

/**
 * Waits until `check` holds (polling), or fails with `what`.
 * @param {() => Promise<boolean>} check
 * @param {string} what
 * @param {number} [timeout]
 */
async function until(check, what, timeout = 10_000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) assert.fail(`not within ${timeout / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until a locator is visible.
 * @param {import('playwright-core').Locator} locator
 * @param {number} [timeout]
 */
const visible = (locator, timeout = 10_000) => locator.waitFor({ state: 'visible', timeout });

describe('web app', { concurrency: BACKENDS.length }, () => {
  /** @type {import('playwright-core').Browser} */
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  for (const backend of BACKENDS) {
    describe(backend, { concurrency: 1 }, () => {
      /** @type {import('./harness.mjs').Harness} */
      let h;
      const a11y = new A11y();
      /** Contexts to close at the end. @type {import('playwright-core').BrowserContext[]} */
      const contexts = [];
      /** Whether the clinician read María's records (the patient then sees it). */
      let clinicianRead = false;
      /** Whether the clinician opened emergency access (the patient then sees it). */
      let emergencyHappened = false;

      before(async () => {
        h = await start(backend);
      });
      after(async () => {
        await Promise.all(contexts.map((c) => c.close().catch(() => {})));
        await h?.stop();
      });

      /** A signed-out page of a fresh context (a person of their own). */
      async function person() {
        const context = await newContext(browser, h);
        contexts.push(context);
        const { page, errors } = await newPage(context, h);
        return { page, errors };
      }

      it('clinician: finds María by DNI, sees where her history lives, opens and ends emergency access', { timeout: 90_000 }, async () => {
        const { page, errors } = await person();
        await page.goto(`${h.base}/`);
        await visible(page.getByRole('heading', { level: 1, name: 'Registro Nacional de Historias Clínicas Electrónicas' }));
        await a11y.check(page, 'home');

        await signIn(page, h, 'professional', USERS.medica);
        // The clinician's home is the search, and the header names her and her IPRESS.
        await visible(page.getByRole('heading', { level: 1, name: 'Buscar paciente' }));
        await visible(page.getByRole('banner').getByText(USERS.medica.name));
        await visible(page.getByRole('banner').getByText(SEED.santaClara.name));
        await a11y.check(page, 'search');

        // From here on every click counts: where her history lives within three.
        let clicks = 0;
        /** @param {import('playwright-core').Locator} locator */
        const click = async (locator) => {
          clicks += 1;
          await locator.click();
        };
        const byDocument = page.getByRole('form', { name: 'Por documento de identidad' });
        assert.equal(await byDocument.getByLabel('Tipo de documento').inputValue(), '1', 'DNI is the default document');
        await byDocument.getByLabel('Número').fill(SEED.maria.dni);
        await click(byDocument.getByRole('button', { name: 'Buscar' }));

        // One patient with that DNI: her page opens directly.
        await visible(page.getByRole('heading', { level: 1, name: SEED.maria.name }));
        const where = page.getByRole('region', { name: 'Dónde está su historia clínica' });
        const santaClara = where.getByRole('listitem').filter({ has: page.getByRole('heading', { name: SEED.santaClara.name }) });
        await visible(santaClara);
        await visible(santaClara.getByText('2 documentos'));
        await visible(santaClara.getByText('Su IPRESS'));
        // The registry says it left entries out (withheld): records exist elsewhere.
        await visible(page.getByText('Existen registros en otras IPRESS', { exact: false }));
        assert.ok(clicks <= 3, `where her history lives took ${clicks} clicks`);
        clinicianRead = true;
        assert.equal(await where.getByRole('heading', { name: SEED.ica.name }).count(), 0, 'Ica is not shown without consent or emergency');
        // The summary and the index, as her IPRESS may see them.
        const summary = page.getByRole('region', { name: 'Información clínica básica' });
        await visible(summary.getByText('Penicilina'));
        await visible(summary.getByText('Diabetes mellitus tipo 2'));
        await visible(page.getByRole('region', { name: 'Documentos en el índice' }).getByRole('cell', { name: 'Informe de laboratorio' }));
        await a11y.check(page, 'patient');

        // Emergency access: a dialog that says what it opens, a reason, a deliberate confirmation.
        await click(page.getByRole('button', { name: 'Acceso de emergencia…' }));
        const dialog = page.getByRole('dialog', { name: 'Acceso de emergencia' });
        await visible(dialog);
        await a11y.check(page, 'emergency-dialog');
        // Too short a reason is refused in the dialog.
        await dialog.getByLabel('Motivo (obligatorio)').fill('urgente');
        await dialog.getByRole('button', { name: 'Activar acceso de emergencia' }).click();
        await visible(dialog.getByText('Escriba el motivo (al menos 10 caracteres).'));
        await dialog.getByLabel('Motivo (obligatorio)').fill(REASON);
        await dialog.getByRole('button', { name: 'Activar acceso de emergencia' }).click();
        await dialog.waitFor({ state: 'detached' });
        emergencyHappened = true;

        const banner = page.getByRole('region', { name: 'Acceso de emergencia' });
        await visible(banner.getByText('Acceso de emergencia activo'));
        await visible(banner.getByText(REASON));
        // Now every IPRESS holding her records, Ica included.
        const ica = where.getByRole('listitem').filter({ has: page.getByRole('heading', { name: SEED.ica.name }) });
        await visible(ica);
        await visible(ica.getByText(SEED.ica.code));
        await visible(ica.getByText('1 documento'));
        await visible(page.getByText('Acceso de emergencia: se muestran las IPRESS', { exact: false }));
        await a11y.check(page, 'patient-emergency');

        // The banner stays on every page while the emergency lasts: the search too.
        await page.getByRole('navigation').getByRole('link', { name: 'Buscar paciente' }).click();
        await visible(page.getByRole('heading', { level: 1, name: 'Buscar paciente' }));
        await visible(banner.getByText('Acceso de emergencia activo'));
        // Back to her (the last search is shown again) and the banner is there.
        await page.getByRole('link', { name: SEED.maria.name }).click();
        await visible(page.getByRole('heading', { level: 1, name: SEED.maria.name }));
        await visible(banner.getByText('Acceso de emergencia activo'));
        await visible(ica);

        // Ended early: the banner goes, and so does what only the emergency showed.
        await banner.getByRole('button', { name: 'Terminar ahora' }).click();
        await banner.waitFor({ state: 'hidden' });
        await visible(page.getByText('Existen registros en otras IPRESS', { exact: false }));
        await until(async () => (await where.getByRole('heading', { name: SEED.ica.name }).count()) === 0, 'Ica no longer shown after the emergency ended');
        const session = await page.evaluate(() => JSON.parse(sessionStorage.getItem('renhice.session') ?? '{}'));
        assert.equal(session.emergency, undefined, 'the emergency token is dropped');
        assert.deepEqual(errors, []);
      });

      it('patient: where my records are, who saw them, a consent granted and withdrawn', { timeout: 120_000 }, async () => {
        if (!clinicianRead) {
          // The clinician's journey did not get to her records: read them as that
          // clinician through the API, so that there is something to see.
          const clinician = await h.token(['--role', 'clinician', '--organization', SEED.santaClara.code, '--practitioner', '01|012345', '--name', USERS.medica.name]);
          assert.equal((await h.fhir(`Patient/${h.ids.patient}/$record-locations`, clinician)).status, 200);
        }
        const { page, errors } = await person();
        await page.goto(`${h.base}/`);
        await signIn(page, h, 'patient', USERS.paciente);
        await visible(page.getByRole('heading', { level: 1, name: 'Dónde están mis registros' }));
        // Both IPRESS, with their counts, and her basic clinical information.
        const santaClara = page.getByRole('listitem').filter({ has: page.getByRole('heading', { level: 2, name: SEED.santaClara.name }) });
        const ica = page.getByRole('listitem').filter({ has: page.getByRole('heading', { level: 2, name: SEED.ica.name }) });
        await visible(santaClara.getByText('2 documentos'));
        await visible(ica.getByText('1 documento'));
        await visible(page.getByText('Registros en 2 IPRESS.'));
        const summary = page.getByRole('region', { name: 'Mi información clínica básica' });
        await visible(summary.getByText('Penicilina'));
        await visible(summary.getByText('Diabetes mellitus tipo 2'));
        await a11y.check(page, 'my-records');

        // Who saw my records: the clinician's reads, the emergency highlighted with its reason.
        await page.getByRole('navigation').getByRole('link', { name: 'Quién vio mis registros' }).click();
        await visible(page.getByRole('heading', { level: 1, name: 'Quién vio mis registros' }));
        const events = page.getByRole('region', { name: 'Accesos a mis registros' });
        const byClinician = events.getByRole('listitem').filter({ hasText: USERS.medica.name });
        await until(async () => {
          if ((await byClinician.count()) > 0) return true;
          // The audit trail is written as requests end: ask again.
          await page.getByRole('button', { name: 'Mostrar' }).click();
          await visible(events.getByText(/Se muestran? \d+ eventos?\.|No hay eventos/));
          return (await byClinician.count()) > 0;
        }, 'the clinician\'s reads are listed');
        await visible(byClinician.filter({ hasText: SEED.santaClara.name }).first());
        if (emergencyHappened) {
          const emergency = byClinician.filter({ hasText: REASON });
          await visible(emergency.first());
          await visible(emergency.first().getByText('Emergencia', { exact: true }));
          assert.match((await emergency.first().getAttribute('class')) ?? '', /\bemergency\b/, 'the emergency is highlighted');
        }
        await a11y.check(page, 'who-read');

        // A consent to Ica, for her care.
        await page.getByRole('navigation').getByRole('link', { name: 'Mis consentimientos' }).click();
        await visible(page.getByRole('heading', { level: 1, name: 'Mis consentimientos' }));
        await visible(page.getByText('No tiene consentimientos vigentes.'));
        await a11y.check(page, 'consents');
        const grant = page.getByRole('region', { name: 'Dar un consentimiento' });
        const ipressBox = grant.getByLabel('Nombre de la IPRESS o código RENIPRESS');
        const matches = grant.getByRole('status').filter({ hasText: /IPRESS/ });
        const icaOption = grant.getByRole('group', { name: 'Elija la IPRESS' }).getByRole('radio', { name: new RegExp(`^${SEED.ica.name}`) });
        // Those who have the RENIPRESS code can still type it: the one IPRESS is chosen at once.
        await ipressBox.fill(SEED.ica.code);
        await grant.getByRole('button', { name: 'Buscar' }).click();
        await visible(matches.filter({ hasText: 'Se encontró 1 IPRESS.' }));
        assert.equal(await icaOption.isChecked(), true, 'the IPRESS of the code is chosen');
        // A name nothing matches is said so, in the polite live region.
        await ipressBox.fill('Clínica Inexistente');
        await ipressBox.press('Enter');
        await visible(matches.filter({ hasText: 'Ninguna IPRESS coincide con «Clínica Inexistente».' }));
        assert.equal(await matches.getAttribute('aria-live'), 'polite');
        assert.equal(await grant.getByRole('radio', { name: new RegExp(SEED.ica.name) }).count(), 0);
        // By name, as a patient in a health post does: part of it, in other case and
        // accents, typed key by key; the search waits for the typing to pause (a few
        // requests, not one per key), then she picks Ica from the keyboard.
        /** @type {string[]} */
        const byName = [];
        const countSearch = (/** @type {import('playwright-core').Request} */ r) => {
          const url = new URL(r.url());
          if (url.pathname.endsWith('/fhir/Organization') && url.searchParams.has('name')) byName.push(url.search);
        };
        page.on('request', countSearch);
        const typed = 'regional de ÍCA';
        await ipressBox.fill('');
        await ipressBox.pressSequentially(typed, { delay: 40 });
        await visible(matches.filter({ hasText: 'Se encontró 1 IPRESS.' }));
        page.off('request', countSearch);
        assert.ok(byName.length >= 1 && byName.length <= 3, `searches while typing ${typed.length} keys: ${byName.join(' ')}`);
        assert.ok(byName.every((q) => new URLSearchParams(q).get('_count') === '20'), `limited to 20: ${byName.join(' ')}`);
        // Each match with its name, RENIPRESS code and address.
        await visible(grant.getByText(`Código RENIPRESS ${SEED.ica.code}`));
        await visible(grant.getByText('Av. Prolongación Ayabaca s/n, Ica', { exact: true }));
        assert.equal(await icaOption.isChecked(), false, 'a search by name chooses nothing by itself');
        assert.equal(await grant.getByRole('radio', { name: new RegExp(SEED.santaClara.name) }).count(), 0, 'Santa Clara does not match');
        await ipressBox.press('Tab'); // "Buscar"
        await page.keyboard.press('Tab'); // the first (and only) IPRESS
        assert.equal(await icaOption.evaluate((el) => el === document.activeElement), true, 'the match is reached with Tab');
        await page.keyboard.press('Space');
        assert.equal(await icaOption.isChecked(), true, 'chosen with the keyboard');
        await a11y.check(page, 'consent-ipress-search');
        assert.equal(await grant.getByLabel('Su atención de salud').isChecked(), true);
        await grant.getByRole('button', { name: 'Dar consentimiento' }).click();
        await visible(grant.getByText('Consentimiento registrado.'));
        const current = page.getByRole('region', { name: 'Vigentes' });
        const card = current.getByRole('listitem').filter({ has: page.getByRole('heading', { name: SEED.ica.name }) });
        await visible(card);
        await visible(card.getByText('Vigente', { exact: true }));
        await visible(card.getByText('atención de salud'));

        // The clinician of Ica now sees her Santa Clara entries.
        const other = await person();
        await signIn(other.page, h, 'professional', USERS.medico2);
        const search = other.page.getByRole('form', { name: 'Por documento de identidad' });
        await search.getByLabel('Número').fill(SEED.maria.dni);
        await search.getByRole('button', { name: 'Buscar' }).click();
        await visible(other.page.getByRole('heading', { level: 1, name: SEED.maria.name }));
        const where = other.page.getByRole('region', { name: 'Dónde está su historia clínica' });
        const seen = where.getByRole('listitem').filter({ has: other.page.getByRole('heading', { name: SEED.santaClara.name }) });
        await visible(seen);
        await visible(seen.getByText('2 documentos'));
        await visible(other.page.getByText('El paciente dio su consentimiento', { exact: false }));
        await visible(other.page.getByRole('region', { name: 'Información clínica básica' }).getByText('Penicilina'));
        await visible(other.page.getByRole('region', { name: 'Documentos en el índice' }).getByRole('cell', { name: SEED.santaClara.name }).first());

        // Withdrawn: asked first, then gone to the past ones.
        await card.getByRole('button', { name: 'Retirar consentimiento' }).click();
        const confirm = page.getByRole('dialog', { name: 'Retirar consentimiento' });
        await visible(confirm);
        await a11y.check(page, 'consent-revoke-dialog');
        await confirm.getByRole('button', { name: 'Retirar consentimiento' }).click();
        await visible(page.getByText('No tiene consentimientos vigentes.'));
        const past = page.getByRole('region', { name: 'Anteriores (retirados o vencidos)' });
        await visible(past.getByRole('listitem').filter({ has: page.getByRole('heading', { name: SEED.ica.name }) }).getByText('Retirado'));

        // And Ica no longer sees them.
        await other.page.reload();
        await visible(other.page.getByRole('heading', { level: 1, name: SEED.maria.name }));
        await visible(where.getByRole('listitem').filter({ has: other.page.getByRole('heading', { name: SEED.ica.name }) }));
        await visible(other.page.getByText('Existen registros en otras IPRESS', { exact: false }));
        assert.equal(await seen.count(), 0, 'Santa Clara is no longer shown to Ica');
        await visible(other.page.getByRole('region', { name: 'Información clínica básica' }).getByText('Sin resumen de información clínica básica.'));
        assert.equal(await other.page.getByRole('region', { name: 'Documentos en el índice' }).getByRole('cell', { name: SEED.santaClara.name }).count(), 0);
        assert.deepEqual(errors, []);
        assert.deepEqual(other.errors, []);
      });

      it('auditor: the audit trail lists events and its hash chain is intact', { timeout: 60_000 }, async () => {
        const { page, errors } = await person();
        await page.goto(`${h.base}/`);
        await signIn(page, h, 'professional', USERS.auditora);
        await visible(page.getByRole('heading', { level: 1, name: 'Registro de auditoría' }));
        const chain = page.getByRole('region', { name: 'Integridad del registro de auditoría' });
        await visible(chain.getByText('La cadena de auditoría está íntegra.'));
        await visible(chain.getByText(/Eventos verificados: \d+\./));
        const events = page.getByRole('region', { name: 'Eventos' });
        await visible(events.getByText(/Se muestran \d+ eventos\./));
        assert.ok((await events.getByRole('listitem').count()) > 0, 'events are listed');
        await a11y.check(page, 'audit');

        // Sign-ins are in words, and the clinician's opening of emergency access stands
        // out with its reason (further back: "more" until it is there).
        await visible(events.getByRole('listitem').filter({ hasText: USERS.auditora.name }).filter({ hasText: 'ingresó al registro' }).first());
        if (emergencyHappened) {
          const opened = events.getByRole('listitem').filter({ hasText: 'abrió un acceso de emergencia' });
          const more = page.getByRole('button', { name: 'Cargar más eventos' });
          await until(async () => {
            if ((await opened.count()) > 0) return true;
            if (await more.isVisible()) await more.click();
            return false;
          }, 'the emergency opening is in the audit trail', 20_000);
          await visible(opened.first().getByText(USERS.medica.name));
          await visible(opened.first().getByText(REASON));
          await visible(opened.first().getByText('Emergencia', { exact: true }));
          assert.match((await opened.first().getAttribute('class')) ?? '', /\bemergency\b/, 'the emergency opening is highlighted');
        }

        // The patient's events: the clinician's emergency among them, with its reason.
        if (emergencyHappened) {
          await page.getByLabel('Paciente (id en el registro)').fill(h.ids.patient);
          await page.getByRole('button', { name: 'Buscar' }).click();
          const emergency = events.getByRole('listitem').filter({ hasText: REASON });
          await visible(emergency.first());
          await visible(emergency.first().getByText('Emergencia', { exact: true }));
        }
        // Checked again: still intact after all of the journeys' writes.
        await chain.getByRole('button', { name: 'Verificar de nuevo' }).click();
        await visible(chain.getByText('La cadena de auditoría está íntegra.'));
        assert.deepEqual(errors, []);
      });

      it('auditor: runs the registro-envio suite against the registry, follows it live, downloads its reports', { timeout: 180_000 }, async () => {
        const { page, errors } = await person();
        await page.goto(`${h.base}/`);
        await signIn(page, h, 'professional', USERS.auditora);
        await visible(page.getByRole('heading', { level: 1, name: 'Registro de auditoría' }));
        await page.getByRole('navigation').getByRole('link', { name: 'Acreditación' }).click();
        await visible(page.getByRole('heading', { level: 1, name: 'Acreditación de SIHCE' }));

        // The suite as the registry describes it, read with the auditor's own token.
        const res = await fetch(`${h.base}/accreditation/suites`, { headers: { Authorization: `Bearer ${await sessionToken(page)}`, Accept: 'application/json' } });
        assert.equal(res.status, 200, await res.clone().text());
        const suite = (await res.json()).suites?.find((/** @type {any} */ s) => s.name === 'registro-envio');
        assert.ok(suite, 'the registry offers the registro-envio suite');

        const form = page.getByRole('form', { name: 'Nueva ejecución' });
        await form.getByLabel('Conjunto de pruebas').selectOption('registro-envio');
        // One field per variable of the suite, required ones said so.
        await visible(form.getByLabel('ipressId'));
        await visible(form.getByLabel('patientId'));
        await a11y.check(page, 'accreditation');

        // Against the registry itself, as Santa Clara's SIHCE, about what it pushed for María.
        await form.getByLabel('URL del servicio FHIR evaluado').fill(h.fhirBase);
        await form.getByLabel('Token de acceso (opcional)').fill(await h.sihceToken(SEED.santaClara.code));
        await form.getByLabel('ipressId').fill(h.ids.santaClara);
        await form.getByLabel('patientId').fill(h.ids.patient);
        await form.getByRole('button', { name: 'Iniciar' }).click();

        // The run's own page follows it until it is completed.
        await visible(page.getByRole('heading', { level: 1, name: suite.title }), 15_000);
        assert.match(new URL(page.url()).hash, /^#\/acreditacion\/[^/]+$/, 'the run has its own address');
        await visible(page.getByText(/^Terminada: \d+ de \d+ pruebas cumplen\.$/), 120_000);
        assert.equal(await page.getByRole('progressbar', { name: 'Avance de la ejecución' }).getAttribute('value'), String(suite.tests));
        const rows = page.getByRole('region', { name: 'Pruebas' }).getByRole('row').filter({ has: page.getByRole('rowheader') });
        assert.equal(await rows.count(), suite.tests, 'one row per test of the suite');
        for (const row of await rows.all()) {
          assert.match((await row.innerText()).replace(/\s+/g, ' '), /Cumple|No cumple|Error al ejecutar/, 'each test shows its verdict in words');
        }
        await a11y.check(page, 'accreditation-run');

        // The reports are downloaded as files, fetched with the auditor's token.
        const [html] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Descargar informe (HTML)' }).click()]);
        assert.match(html.suggestedFilename(), /^acreditacion-registro-envio-\d{4}-\d{2}-\d{2}\.html$/);
        const report = readFileSync(await html.path(), 'utf8');
        const escaped = String(suite.title).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
        assert.ok(report.includes(suite.title) || report.includes(escaped), `the HTML report names the suite (${suite.title})`);
        const [junit] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Descargar resultados JUnit (XML)' }).click()]);
        assert.match(junit.suggestedFilename(), /^acreditacion-registro-envio-\d{4}-\d{2}-\d{2}\.xml$/);
        assert.match(readFileSync(await junit.path(), 'utf8'), /<testsuite[\s>]/);
        await visible(page.getByText(`Descargado: ${junit.suggestedFilename()}`));

        // And it is among the past runs, under the auditor's name.
        const past = page.getByRole('region', { name: 'Ejecuciones anteriores' });
        await visible(past.getByRole('row').filter({ hasText: h.fhirBase }).filter({ hasText: USERS.auditora.name }).first());
        assert.deepEqual(errors, []);
      });

      it('sign-out: back to the signed-out home, and the access token is refused afterwards', { timeout: 60_000 }, async () => {
        const { page, errors } = await person();
        await page.goto(`${h.base}/`);
        await signIn(page, h, 'professional', USERS.medica);
        const token = await sessionToken(page);
        assert.ok(token, 'a session is held');
        assert.equal((await h.fhir(`Patient/${h.ids.patient}`, /** @type {string} */ (token))).status, 200, 'the token works while signed in');

        await page.getByRole('button', { name: 'Cerrar sesión' }).click();
        await visible(page.getByRole('heading', { level: 1, name: 'Registro Nacional de Historias Clínicas Electrónicas' }), 15_000);
        await visible(page.getByText('Cerró su sesión.'));
        await a11y.check(page, 'signed-out');
        await visible(page.getByRole('button', { name: /^Profesional de salud/ }));
        assert.equal(await page.getByRole('button', { name: 'Cerrar sesión' }).count(), 0);
        assert.equal(await sessionToken(page), undefined, 'no session is left in the tab');
        assert.equal(new URL(page.url()).search, '', 'nothing left in the address');

        // The access token of the ended session is refused.
        const reused = await h.fhir(`Patient/${h.ids.patient}`, /** @type {string} */ (token));
        assert.equal(reused.status, 401, `a reused access token: ${JSON.stringify(reused.body)}`);
        // And a page of the app shows the signed-out home.
        await page.goto(`${h.base}/#/buscar`);
        await visible(page.getByRole('button', { name: /^Profesional de salud/ }));
        assert.deepEqual(errors, []);
      });

      // What the journeys first showed the registry did not do, now checked.

      /** The AuditEvents the journeys left (newest first; one page is enough here). */
      async function auditEvents(query = '') {
        const auditor = await h.token(['--role', 'auditor']);
        const { status, body } = await h.fhir(`AuditEvent?_count=500${query}`, auditor);
        assert.equal(status, 200, JSON.stringify(body));
        return /** @type {any[]} */ ((body.entry ?? []).map((/** @type {any} */ e) => e.resource));
      }
      /** @param {any} e @param {string} code */
      const hasSubtype = (e, code) => (e.subtype ?? []).some((/** @type {any} */ s) => s.code === code);
      /** @param {any} e @param {string} code */
      const agent = (e, code) => (e.agent ?? []).find((/** @type {any} */ a) => a.type?.coding?.some((/** @type {any} */ c) => c.code === code));

      it(
        'audit: an operation event names the operation ($record-locations, $summary)',
        async () => {
          const operations = (await auditEvents(`&patient=${h.ids.patient}`)).filter((e) => hasSubtype(e, 'operation'));
          assert.ok(operations.length > 0, 'the journeys ran operations on María');
          const unnamed = operations.filter(
            (e) =>
              !(e.subtype ?? []).some(
                (/** @type {any} */ s) => s.system === 'urn:renhice:operation' && /^(record-locations|summary)$/.test(s.code),
              ),
          );
          assert.deepEqual(
            unnamed.map((e) => e.id),
            [],
            `${unnamed.length} of ${operations.length} operation events do not name their operation, e.g. ${JSON.stringify(unnamed[0]?.entity)}`,
          );
        },
      );

      it(
        'audit: a person\'s token request (sign-in, refresh, emergency) names the person',
        async () => {
          const tokens = (await auditEvents()).filter((e) => hasSubtype(e, 'ITI-71') && e.outcome === '0');
          assert.ok(tokens.length > 0, 'the journeys asked for tokens');
          const anonymous = tokens.filter((e) => agent(e, '110150')?.who?.identifier?.value === 'unauthenticated' && !agent(e, 'IRCP'));
          assert.deepEqual(anonymous.map((e) => e.id), [], `${anonymous.length} of ${tokens.length} successful token requests name nobody`);
        },
      );

      it(
        'audit: a clinician\'s sign-in event names the IPRESS they act for',
        async () => {
          const logins = (await auditEvents()).filter(
            (e) => (hasSubtype(e, '110122') || hasSubtype(e, '110127')) && agent(e, 'IRCP')?.role?.[0]?.coding?.[0]?.code === 'clinician',
          );
          assert.ok(logins.length > 0, 'clinicians signed in');
          const without = logins.filter((e) => !agent(e, 'PROV')?.who?.identifier?.value);
          assert.deepEqual(without.map((e) => e.id), [], `${without.length} of ${logins.length} clinician sign-in events name no IPRESS`);
        },
      );

      // The administrator's journey comes after the people's audit checks above: the
      // SIHCE token it asks for is a system's, named by its client (checked below).

      /** The SIHCE the administrator registers, and its key pair (the SIHCE's own). */
      const sihce = { ...SAN_MARTIN.client, keys: generateKeyPairSync('ec', { namedCurve: 'P-256' }) };
      /** Whether the administrator's journey registered the SIHCE. */
      let sihceRegistered = false;

      it('administrator: registers an IPRESS and a SIHCE client, which then gets a token with its own key', { timeout: 90_000 }, async () => {
        const { page, errors } = await person();
        await page.goto(`${h.base}/`);
        await signIn(page, h, 'professional', USERS.admin);
        await visible(page.getByRole('heading', { level: 1, name: 'Administración' }));
        await visible(page.getByRole('banner').getByText(USERS.admin.name));
        const ipress = page.getByRole('region', { name: 'IPRESS registradas' });
        await visible(ipress.getByText('2 IPRESS registradas.'));
        await visible(ipress.getByRole('row').filter({ hasText: SEED.santaClara.code }).getByText(SEED.santaClara.name));
        const clients = page.getByRole('region', { name: 'Sistemas (SIHCE) registrados' });
        await visible(clients.getByText('No hay sistemas registrados.'));
        await a11y.check(page, 'admin');

        // A new IPRESS, listed at once.
        const newIpress = page.getByRole('form', { name: 'Registrar una IPRESS' });
        await newIpress.getByLabel('Código RENIPRESS').fill(SAN_MARTIN.code);
        await newIpress.getByLabel('Nombre').fill(SAN_MARTIN.name);
        await newIpress.getByRole('button', { name: 'Registrar IPRESS' }).click();
        await visible(newIpress.getByRole('status').getByText(`IPRESS registrada: ${SAN_MARTIN.name} (${SAN_MARTIN.code}).`));
        await visible(ipress.getByRole('row').filter({ hasText: SAN_MARTIN.code }).getByText(SAN_MARTIN.name));
        await visible(ipress.getByText('3 IPRESS registradas.'));
        // The registry's own record of it, as OrganizacionPe writes the RENIPRESS code.
        const admin = await h.token(['--role', 'admin']);
        const found = await h.fhir(`Organization?identifier:of-type=${encodeURIComponent(`${IPRESSCS}|${SAN_MARTIN.code}|${SAN_MARTIN.code}`)}`, admin);
        assert.equal(found.status, 200, JSON.stringify(found.body));
        assert.equal(found.body.entry?.length, 1, 'the IPRESS is found by its typed RENIPRESS code');
        assert.equal(found.body.entry[0].resource.name, SAN_MARTIN.name);

        // The same code again: the registry refuses, and the page says why.
        await newIpress.getByLabel('Código RENIPRESS').fill(SAN_MARTIN.code);
        await newIpress.getByLabel('Nombre').fill('Otro nombre');
        await newIpress.getByRole('button', { name: 'Registrar IPRESS' }).click();
        await visible(newIpress.getByText(`Ya hay una IPRESS registrada con el código ${SAN_MARTIN.code}.`));
        await visible(newIpress.getByRole('status').getByText('No se registró la IPRESS.'));
        assert.equal(await newIpress.getByLabel('Código RENIPRESS').getAttribute('aria-invalid'), 'true');
        assert.equal(await ipress.getByRole('row').filter({ hasText: 'Otro nombre' }).count(), 0);

        // A SIHCE for it, with its public key.
        const jwk = { ...sihce.keys.publicKey.export({ format: 'jwk' }), kid: sihce.kid, use: 'sig', alg: 'ES256' };
        const newClient = page.getByRole('form', { name: 'Registrar o reemplazar un sistema' });
        await newClient.getByLabel('Identificador del sistema').fill(sihce.id);
        await newClient.getByLabel('Código RENIPRESS de su IPRESS').fill(SAN_MARTIN.code);
        await newClient.getByLabel('Claves públicas (JWKS)').fill(JSON.stringify({ keys: [jwk] }, null, 2));
        await newClient.getByRole('button', { name: 'Registrar sistema' }).click();
        await visible(newClient.getByRole('status').getByText(`Sistema ${sihce.id} registrado para ${SAN_MARTIN.name} (${SAN_MARTIN.code}).`));
        const row = clients.getByRole('row').filter({ has: page.getByRole('rowheader', { name: sihce.id, exact: true }) });
        await visible(row);
        await visible(row.getByText('Activo', { exact: true }));
        await visible(row.getByText(sihce.kid));
        await visible(row.getByText(`${SAN_MARTIN.name} (${SAN_MARTIN.code})`));
        await visible(row.getByText('system/*.cruds', { exact: true }));
        await visible(clients.getByText('1 sistema registrado.'));
        sihceRegistered = true;

        // Not JSON: the page says so without asking the registry.
        await newClient.getByLabel('Identificador del sistema').fill(`${sihce.id}-2`);
        await newClient.getByLabel('Código RENIPRESS de su IPRESS').fill(SAN_MARTIN.code);
        await newClient.getByLabel('Claves públicas (JWKS)').fill('{"keys": [');
        await newClient.getByRole('button', { name: 'Registrar sistema' }).click();
        await visible(newClient.getByText('Lo pegado no es JSON válido.'));

        // A private key pasted by mistake: the registry refuses it, in its own words.
        const leaked = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'filtrada' };
        assert.ok('d' in leaked, 'the JWK holds the private part');
        await newClient.getByLabel('Claves públicas (JWKS)').fill(JSON.stringify({ keys: [leaked] }));
        await newClient.getByRole('button', { name: 'Registrar sistema' }).click();
        await visible(newClient.getByText('keys[0] holds a private key: register only the public keys'));
        await visible(newClient.getByRole('status').getByText('No se registró el sistema: revise «Claves públicas (JWKS)».'));
        assert.equal(await newClient.getByLabel('Claves públicas (JWKS)').getAttribute('aria-invalid'), 'true');
        assert.equal(await clients.getByRole('rowheader', { name: `${sihce.id}-2`, exact: true }).count(), 0, 'the refused client is not listed');
        // A person's scope for a system: refused by the registry, on that field.
        await newClient.getByLabel('Claves públicas (JWKS)').fill(JSON.stringify({ keys: [jwk] }));
        await newClient.getByLabel('Permisos (scopes SMART)').fill('user/*.rs');
        await newClient.getByRole('button', { name: 'Registrar sistema' }).click();
        await visible(newClient.getByRole('status').getByText('No se registró el sistema: revise «Permisos (scopes SMART)».'));
        assert.equal(await newClient.getByLabel('Permisos (scopes SMART)').getAttribute('aria-invalid'), 'true');
        assert.equal(await clients.getByRole('rowheader', { name: `${sihce.id}-2`, exact: true }).count(), 0, 'the refused client is not listed');
        await a11y.check(page, 'admin-refused');

        // Disabling asks first (cancelled here; the test below disables).
        await row.getByRole('button', { name: `Desactivar el sistema ${sihce.id}` }).click();
        const dialog = page.getByRole('dialog', { name: `Desactivar el sistema ${sihce.id}` });
        await visible(dialog);
        await a11y.check(page, 'admin-disable-dialog');
        await dialog.getByRole('button', { name: 'Cancelar' }).click();
        await dialog.waitFor({ state: 'detached' });
        await visible(row.getByText('Activo', { exact: true }));

        // The registration is real: the SIHCE signs an assertion with its private key and
        // gets an access token for its IPRESS.
        const answer = await clientToken(h.base, sihce.id, sihce.kid, sihce.keys.privateKey);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(typeof answer.body.access_token, 'string');
        const read = await h.fhir(`Organization?identifier=${SAN_MARTIN.code}`, answer.body.access_token);
        assert.equal(read.status, 200, `the SIHCE's token is accepted: ${JSON.stringify(read.body)}`);
        // The registration is in the audit trail, as the administrator's.
        await until(async () => {
          const events = await auditEvents('&action=U');
          return events.some((e) => (e.entity ?? []).some((/** @type {any} */ x) => x.what?.reference === `Device/${sihce.id}`) && agent(e, 'IRCP')?.name === USERS.admin.name);
        }, 'the registration of the SIHCE is audited, naming the administrator');
        assert.deepEqual(errors, []);
      });

      it(
        'administrator: disables a SIHCE client without pasting its keys again',
        { timeout: 60_000 },
        async () => {
          assert.ok(sihceRegistered, 'the administrator\'s journey registered the SIHCE');
          const { page, errors } = await person();
          await page.goto(`${h.base}/#/admin`);
          await signIn(page, h, 'professional', USERS.admin);
          await visible(page.getByRole('heading', { level: 1, name: 'Administración' }));
          const clients = page.getByRole('region', { name: 'Sistemas (SIHCE) registrados' });
          const row = clients.getByRole('row').filter({ has: page.getByRole('rowheader', { name: sihce.id, exact: true }) });
          await row.getByRole('button', { name: `Desactivar el sistema ${sihce.id}` }).click();
          await page.getByRole('dialog', { name: `Desactivar el sistema ${sihce.id}` }).getByRole('button', { name: 'Desactivar' }).click();
          // Either outcome is a visible state: wait for one, then say which.
          const said = clients.getByRole('status').filter({ hasText: new RegExp(`Sistema ${sihce.id} desactivado\\.|No se pudo cambiar`) });
          await visible(said);
          assert.equal((await said.textContent())?.trim(), `Sistema ${sihce.id} desactivado.`);
          await visible(row.getByText('Desactivado', { exact: true }));
          // And it gets no more tokens.
          const answer = await clientToken(h.base, sihce.id, sihce.kid, sihce.keys.privateKey);
          assert.equal(answer.status, 401, JSON.stringify(answer.body));
          assert.equal(answer.body.error, 'invalid_client');
          assert.deepEqual(errors, []);
        },
      );

      it('audit: a SIHCE\'s token request names the client', async () => {
        assert.ok(sihceRegistered, 'the administrator\'s journey registered the SIHCE');
        const tokens = (await auditEvents()).filter((e) => hasSubtype(e, 'ITI-71') && e.outcome === '0');
        const named = tokens.filter((e) => (e.agent ?? []).some((/** @type {any} */ a) => a.who?.identifier?.value === sihce.id));
        assert.ok(named.length > 0, `none of ${tokens.length} successful token requests names ${sihce.id}`);
      });

      it('accessibility: no serious or critical axe violation on any page, at 360 and 1280 px', () => {
        const checked = new Set(a11y.checked());
        const missing = PAGES.flatMap((p) => [`${p}@360`, `${p}@1280`]).filter((p) => !checked.has(p));
        const report = a11y.report();
        assert.equal(report, '', `axe found:\n${report}`);
        assert.deepEqual(missing, [], 'pages the journeys did not reach');
      });
    });
  }
});

// Screenshots of every page of the web app, as each role sees it, at 360 px and 1280 px:
// docs/screenshots/<page>-<width>.png (overwritten).
//
//   node web/tests/screenshots.mjs        (from the repository root; RENHICE_BIN names the binary)
//
// Starts its own registry (SQLite, seeded) and identity provider, and signs in through
// the provider's login page as the clinician, the patient, the auditor and the
// administrator.

import { mkdirSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { start, ROOT, SEED, USERS } from './harness.mjs';
import { launch, newContext, newPage, signIn, VIEWPORTS } from './lib.mjs';

const OUT = join(ROOT, 'docs/screenshots');
const REASON = 'Paciente inconsciente en emergencia, sin acompañante';

/**
 * Saves the page at both widths.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 * @param {{fullPage?: boolean, maxHeight?: number}} [options] `maxHeight`: the top of a
 *   long page only
 */
async function shoot(page, name, options = {}) {
  for (const viewport of VIEWPORTS) {
    await page.setViewportSize(viewport);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const path = join(OUT, `${name}-${viewport.width}.png`);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    const clip = options.maxHeight && height > options.maxHeight ? { x: 0, y: 0, width: viewport.width, height: options.maxHeight } : undefined;
    await page.screenshot({ path, fullPage: options.fullPage ?? true, clip, animations: 'disabled', caret: 'hide' });
    console.log(`docs/screenshots/${name}-${viewport.width}.png`);
  }
}

/**
 * Waits until the page has no "Cargando…" left (its data has arrived).
 * @param {import('playwright-core').Page} page
 */
async function settled(page) {
  await page.waitForFunction(() => !/Cargando…|Buscando…|Verificando/.test(document.querySelector('main')?.textContent ?? ''), undefined, { timeout: 15_000 });
}

mkdirSync(OUT, { recursive: true });
const h = await start('sqlite');
const browser = await launch();
try {
  // Signed out.
  const anyone = await newPage(await newContext(browser, h), h);
  await anyone.page.goto(`${h.base}/`);
  await anyone.page.getByRole('heading', { level: 1 }).waitFor();
  await shoot(anyone.page, 'home');

  // The clinician: search, the patient, emergency access.
  const clinician = (await newPage(await newContext(browser, h), h)).page;
  await clinician.goto(`${h.base}/`);
  await signIn(clinician, h, 'professional', USERS.medica);
  await clinician.getByRole('heading', { level: 1, name: 'Buscar paciente' }).waitFor();
  await clinician.getByRole('banner').getByText(SEED.santaClara.name).waitFor();
  await shoot(clinician, 'search');
  const form = clinician.getByRole('form', { name: 'Por documento de identidad' });
  await form.getByLabel('Número').fill(SEED.maria.dni);
  await form.getByRole('button', { name: 'Buscar' }).click();
  await clinician.getByRole('heading', { level: 1, name: SEED.maria.name }).waitFor();
  await clinician.getByText('Existen registros en otras IPRESS', { exact: false }).waitFor();
  await settled(clinician);
  await shoot(clinician, 'patient');
  await clinician.getByRole('button', { name: 'Acceso de emergencia…' }).click();
  const dialog = clinician.getByRole('dialog', { name: 'Acceso de emergencia' });
  await dialog.getByLabel('Motivo (obligatorio)').fill(REASON);
  await shoot(clinician, 'emergency-dialog', { fullPage: false });
  await dialog.getByRole('button', { name: 'Activar acceso de emergencia' }).click();
  await clinician.getByRole('region', { name: 'Acceso de emergencia' }).getByText('Acceso de emergencia activo').waitFor();
  await clinician.getByRole('heading', { name: SEED.ica.name }).waitFor();
  await settled(clinician);
  await shoot(clinician, 'patient-emergency');
  await clinician.getByRole('button', { name: 'Terminar ahora' }).click();

  // The patient: my records, who saw them, my consents (one granted).
  const patient = (await newPage(await newContext(browser, h), h)).page;
  await patient.goto(`${h.base}/`);
  await signIn(patient, h, 'patient', USERS.paciente);
  await patient.getByText('Penicilina').waitFor();
  await settled(patient);
  await shoot(patient, 'my-records');
  await patient.getByRole('navigation').getByRole('link', { name: 'Quién vio mis registros' }).click();
  await patient.getByRole('listitem').filter({ hasText: USERS.medica.name }).first().waitFor();
  await settled(patient);
  await shoot(patient, 'who-read', { maxHeight: 2400 });
  await patient.getByRole('navigation').getByRole('link', { name: 'Mis consentimientos' }).click();
  const grant = patient.getByRole('region', { name: 'Dar un consentimiento' });
  await grant.getByLabel('Nombre de la IPRESS o código RENIPRESS').fill('regional de ica');
  await grant.getByRole('button', { name: 'Buscar' }).click();
  await grant.getByRole('radio', { name: new RegExp(`^${SEED.ica.name}`) }).check();
  await grant.getByRole('button', { name: 'Dar consentimiento' }).click();
  await patient.getByRole('region', { name: 'Vigentes' }).getByRole('heading', { name: SEED.ica.name }).waitFor();
  await settled(patient);
  await shoot(patient, 'consents');

  // The auditor.
  const auditor = (await newPage(await newContext(browser, h), h)).page;
  await auditor.goto(`${h.base}/`);
  await signIn(auditor, h, 'professional', USERS.auditora);
  await auditor.getByText('La cadena de auditoría está íntegra.').waitFor();
  await auditor.getByText(/Se muestran \d+ eventos\./).waitFor();
  await shoot(auditor, 'audit', { maxHeight: 2400 });
  // Accreditation: the form, then a run of registro-envio against the registry itself
  // with Santa Clara's SIHCE token, completed.
  await auditor.getByRole('navigation').getByRole('link', { name: 'Acreditación' }).click();
  const accreditation = auditor.getByRole('form', { name: 'Nueva ejecución' });
  await accreditation.getByLabel('Conjunto de pruebas').selectOption('registro-envio');
  await accreditation.getByLabel('URL del servicio FHIR evaluado').fill(h.fhirBase);
  await settled(auditor);
  await shoot(auditor, 'accreditation');
  await accreditation.getByLabel('Token de acceso (opcional)').fill(await h.sihceToken(SEED.santaClara.code));
  await accreditation.getByLabel('ipressId').fill(h.ids.santaClara);
  await accreditation.getByLabel('patientId').fill(h.ids.patient);
  await accreditation.getByRole('button', { name: 'Iniciar' }).click();
  await auditor.getByText(/^Terminada: \d+ de \d+ pruebas cumplen\.$/).waitFor({ timeout: 120_000 });
  await settled(auditor);
  await shoot(auditor, 'accreditation-run');

  // The administrator: an IPRESS registered, and its SIHCE with its public key.
  const admin = (await newPage(await newContext(browser, h), h)).page;
  await admin.goto(`${h.base}/`);
  await signIn(admin, h, 'professional', USERS.admin);
  await admin.getByText('2 IPRESS registradas.').waitFor();
  const newIpress = admin.getByRole('form', { name: 'Registrar una IPRESS' });
  await newIpress.getByLabel('Código RENIPRESS').fill('00054321');
  await newIpress.getByLabel('Nombre').fill('Centro de Salud San Martín');
  await newIpress.getByRole('button', { name: 'Registrar IPRESS' }).click();
  await admin.getByText('3 IPRESS registradas.').waitFor();
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const newClient = admin.getByRole('form', { name: 'Registrar o reemplazar un sistema' });
  await newClient.getByLabel('Identificador del sistema').fill('sihce-san-martin');
  await newClient.getByLabel('Código RENIPRESS de su IPRESS').fill('00054321');
  await newClient.getByLabel('Claves públicas (JWKS)').fill(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'san-martin-2026-1', use: 'sig', alg: 'ES256' }] }, null, 2));
  await newClient.getByRole('button', { name: 'Registrar sistema' }).click();
  await admin.getByText('1 sistema registrado.').waitFor();
  await settled(admin);
  await shoot(admin, 'admin');
} finally {
  await browser.close();
  await h.stop();
}

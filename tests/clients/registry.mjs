// The registry the client libraries drive, started as web/tests/harness.mjs starts it.
//
// As a program (what tests/clients/run does, once per backend):
//
//   node tests/clients/registry.mjs sqlite|postgres ENV_FILE < CONTROL
//
// starts the test identity provider and `renhice serve` on a fresh SQLite file or
// PostgreSQL database (RENHICE_TEST_POSTGRES_URL), seeded by the harness (two IPRESS, a
// patient, index entries, a summary), mints the tokens the tests act with, writes them and
// the registry's address to ENV_FILE as `export RENHICE_TEST_…=…` lines, and keeps the
// registry up until its standard input ends (the runner closes it, or dies), then stops it
// and drops the database. The registry inherits this process's environment, so
// RENHICE_CORS_ALLOWED_ORIGINS set by the runner reaches it.
//
// As a module: `registry()` gives the tests that registry (from the RENHICE_TEST_*
// variables), or, when a test file is run on its own (`node --test tests/clients/x.test.mjs`),
// starts one for this process (sqlite, or RENHICE_TEST_BACKEND) and stops it after the
// file's tests.

import { renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start } from '../../web/tests/harness.mjs';

/**
 * @typedef {object} Registry
 * @property {string} backend sqlite or postgres
 * @property {string} base http://127.0.0.1:PORT
 * @property {string} fhirBase {base}/fhir
 * @property {{sihce: string, sihceIca: string, admin: string, auditor: string}} tokens
 *   bearer tokens: the SIHCE of Hospital Santa Clara (00012345) and of Ica (00067890),
 *   an administrator, an auditor
 * @property {{patient: string, santaClara: string, ica: string}} ids the seeded
 *   Patient (María Flores Condori, DNI 45678912) and the two IPRESS's Organizations
 * @property {string} corsOrigin the origin the registry is configured to allow
 */

/** Environment variable names, shared with the Python tests (clients_support.py). */
const VARS = {
  backend: 'RENHICE_TEST_BACKEND',
  base: 'RENHICE_TEST_BASE',
  fhirBase: 'RENHICE_TEST_FHIR_BASE',
  sihce: 'RENHICE_TEST_TOKEN_SIHCE',
  sihceIca: 'RENHICE_TEST_TOKEN_SIHCE_ICA',
  admin: 'RENHICE_TEST_TOKEN_ADMIN',
  auditor: 'RENHICE_TEST_TOKEN_AUDITOR',
  patient: 'RENHICE_TEST_PATIENT_ID',
  santaClara: 'RENHICE_TEST_SANTA_CLARA_ID',
  ica: 'RENHICE_TEST_ICA_ID',
  corsOrigin: 'RENHICE_TEST_CORS_ORIGIN',
};

/** The origin the tests' CORS preflights come from; the runner configures the registry with it. */
export const CORS_ORIGIN = 'https://app.example';

/**
 * Starts a seeded registry and mints its tokens.
 * @param {'sqlite' | 'postgres'} backend
 */
async function launch(backend) {
  const h = await start(backend);
  const lifetime = ['--lifetime', '3600'];
  const [sihce, sihceIca, admin, auditor] = await Promise.all([
    h.token(['--role', 'system', '--organization', '00012345', ...lifetime]),
    h.token(['--role', 'system', '--organization', '00067890', ...lifetime]),
    h.token(['--role', 'admin', ...lifetime]),
    h.token(['--role', 'auditor', ...lifetime]),
  ]);
  /** @type {Registry} */
  const registry = {
    backend,
    base: h.base,
    fhirBase: h.fhirBase,
    tokens: { sihce, sihceIca, admin, auditor },
    ids: h.ids,
    corsOrigin: process.env.RENHICE_TEST_CORS_ORIGIN || CORS_ORIGIN,
  };
  return { registry, harness: h };
}

/** @type {Promise<Registry> | null} */
let shared = null;

/**
 * The registry under test.
 * @returns {Promise<Registry>}
 */
export function registry() {
  if (shared) return shared;
  const e = process.env;
  if (e[VARS.fhirBase]) {
    const need = (/** @type {string} */ name) => {
      const v = e[name];
      if (!v) throw new Error(`${name} is not set (tests/clients/run sets it)`);
      return v;
    };
    shared = Promise.resolve({
      backend: need(VARS.backend),
      base: need(VARS.base),
      fhirBase: need(VARS.fhirBase),
      tokens: { sihce: need(VARS.sihce), sihceIca: need(VARS.sihceIca), admin: need(VARS.admin), auditor: need(VARS.auditor) },
      ids: { patient: need(VARS.patient), santaClara: need(VARS.santaClara), ica: need(VARS.ica) },
      corsOrigin: e[VARS.corsOrigin] || CORS_ORIGIN,
    });
  } else {
    // Run on its own: a registry of this process's, stopped (by the harness) at exit.
    process.env.RENHICE_CORS_ALLOWED_ORIGINS ??= JSON.stringify([CORS_ORIGIN]);
    const backend = e.RENHICE_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';
    shared = launch(backend).then(async ({ registry, harness }) => {
      const { after } = await import('node:test');
      after(() => harness.stop());
      return registry;
    });
  }
  return shared;
}

/**
 * The `export NAME='value'` lines for a registry.
 * @param {Registry} r
 */
function envLines(r) {
  const values = {
    [VARS.backend]: r.backend,
    [VARS.base]: r.base,
    [VARS.fhirBase]: r.fhirBase,
    [VARS.sihce]: r.tokens.sihce,
    [VARS.sihceIca]: r.tokens.sihceIca,
    [VARS.admin]: r.tokens.admin,
    [VARS.auditor]: r.tokens.auditor,
    [VARS.patient]: r.ids.patient,
    [VARS.santaClara]: r.ids.santaClara,
    [VARS.ica]: r.ids.ica,
    [VARS.corsOrigin]: r.corsOrigin,
  };
  return Object.entries(values)
    .map(([k, v]) => {
      if (/[^A-Za-z0-9._~:/?#@!$&()*+,;=%-]/.test(v)) throw new Error(`unexpected characters in ${k}: ${v}`);
      return `export ${k}='${v}'\n`;
    })
    .join('');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [backend, envFile] = process.argv.slice(2);
  if ((backend !== 'sqlite' && backend !== 'postgres') || !envFile) {
    console.error('usage: node tests/clients/registry.mjs sqlite|postgres ENV_FILE < CONTROL');
    process.exit(2);
  }
  const t0 = Date.now();
  let launched;
  try {
    launched = await launch(backend);
  } catch (e) {
    console.error(`registry.mjs: the ${backend} registry did not start: ${e instanceof Error ? e.stack : e}`);
    process.exit(1);
  }
  const { registry: r, harness } = launched;
  writeFileSync(`${envFile}.tmp`, envLines(r));
  // Renamed into place, so the runner never reads half a file.
  renameSync(`${envFile}.tmp`, envFile);
  console.error(`registry.mjs: ${backend} registry at ${r.fhirBase}, seeded, in ${Date.now() - t0} ms`);
  // Up until the runner closes our standard input (or dies, which closes it too).
  process.stdin.resume();
  await new Promise((ok) => {
    process.stdin.once('end', ok);
    process.stdin.once('close', ok);
    process.stdin.once('error', ok);
  });
  await harness.stop();
  process.exit(0);
}

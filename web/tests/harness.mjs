// A real registry and a real identity provider for the web app's browser tests.
//
// `start(backend)` starts, for `sqlite` or `postgres`:
//   * the test identity provider (tests/idp/idp.mjs, oidc-provider) on a free port;
//   * the registry (`RENHICE_BIN serve`, default target/debug/renhice from the repo root)
//     on a free port, federating people's sign-in to that provider, on a fresh SQLite file
//     or a fresh PostgreSQL database (created on the server RENHICE_TEST_POSTGRES_URL names,
//     dropped at the end);
// waits until the registry is ready, and seeds it through its FHIR API with tokens minted
// by `renhice token issue`: two IPRESS, María Flores Condori (the IdP's `paciente`), index
// entries pushed by each IPRESS's SIHCE (2 at Santa Clara, 1 at Ica) and a basic clinical
// information summary (an allergy, a condition).
//
// `stop()` ends both processes, drops the database and removes the temporary directory;
// it also runs if the test process exits without calling it.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** The repository's root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The registry binary: RENHICE_BIN, or the debug build of this checkout. */
export const BIN = resolve(ROOT, process.env.RENHICE_BIN || 'target/debug/renhice');

/** The browser the tests drive. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const IPRESSCS = 'https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IPRESSCS';
const IDS_PERSONA = 'https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IdspersonaPeru';
const PE_PAIS = 'https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/pe-pais';

/** The seeded people and places, as the tests name them. */
export const SEED = {
  santaClara: { code: '00012345', name: 'Hospital Santa Clara' },
  ica: { code: '00067890', name: 'Hospital Regional de Ica', address: { line: ['Av. Prolongación Ayabaca s/n'], district: 'Ica', city: 'Ica', state: 'Ica' } },
  maria: { dni: '45678912', name: 'María Flores Condori', birthDate: '1985-04-12' },
};

/** Test users of tests/idp/users.json. */
export const USERS = {
  medica: { login: 'medica', password: 'medica-clave', name: 'Dra. Rosa Quispe Mamani' },
  medico2: { login: 'medico2', password: 'medico2-clave', name: 'Dr. Jorge Huamán Soto' },
  paciente: { login: 'paciente', password: 'paciente-clave', name: 'María Flores Condori' },
  auditora: { login: 'auditora', password: 'auditora-clave', name: 'Ana Torres Ríos' },
  admin: { login: 'admin', password: 'admin-clave', name: 'Luis Paredes Cruz' },
};

/** Cleanups still to run, so an exit without stop() leaves nothing behind. */
const pending = new Set();
let exitHooked = false;
function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  const runAll = () => {
    for (const cleanup of [...pending]) {
      try {
        cleanup.sync();
      } catch {
        // best effort at exit
      }
    }
  };
  process.on('exit', runAll);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      runAll();
      process.exit(130);
    });
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => ok(port));
    });
  });
}

/**
 * Ends a child process: SIGTERM, then SIGKILL if it is still there after `grace` ms.
 * @param {import('node:child_process').ChildProcess} child
 * @param {number} [grace]
 */
function kill(child, grace = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), grace);
    child.once('exit', () => {
      clearTimeout(timer);
      ok(undefined);
    });
    child.kill('SIGTERM');
  });
}

/**
 * Runs a command to its end; its stdout, or an error with its stderr.
 * @param {string} cmd
 * @param {string[]} args
 * @returns {Promise<string>}
 */
function run(cmd, args) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? ok(out) : fail(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${err}`))));
  });
}

/**
 * Starts the test identity provider; resolves with its issuer once it listens.
 * @returns {Promise<{issuer: string, child: import('node:child_process').ChildProcess, stderr: () => string}>}
 */
function startIdp() {
  const child = spawn(process.execPath, [join(ROOT, 'tests/idp/idp.mjs'), '--port', '0', '--any-loopback-redirect'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-20000);
  });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`the test IdP did not start within 20 s:\n${stderr}`));
    }, 20000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the test IdP exited (${code}) before listening:\n${stderr}`));
    });
    createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stdout) }).once('line', (line) => {
      clearTimeout(timer);
      try {
        const { issuer } = JSON.parse(line);
        child.removeAllListeners('exit');
        ok({ issuer, child, stderr: () => stderr });
      } catch (e) {
        child.kill('SIGKILL');
        fail(new Error(`the test IdP said ${JSON.stringify(line)}: ${e}`));
      }
    });
  });
}

/**
 * Polls `url` until it answers 200, within `deadline` ms.
 * @param {string} url
 * @param {number} deadline
 * @param {import('node:child_process').ChildProcess} child stops the wait if it exits
 */
async function waitReady(url, deadline, child) {
  const until = Date.now() + deadline;
  let last = 'no answer';
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the registry exited (${child.exitCode ?? child.signalCode})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer 200 within ${deadline / 1000} s (last: ${last})`);
}

/**
 * @typedef {object} Harness
 * @property {'sqlite' | 'postgres'} backend
 * @property {string} base the registry's base URL (http://127.0.0.1:PORT)
 * @property {string} fhirBase the registry's FHIR base URL (`{base}/fhir`)
 * @property {string} idp the identity provider's issuer
 * @property {string} bin the registry binary
 * @property {string} config the registry's configuration file
 * @property {{patient: string, santaClara: string, ica: string}} ids ids of the seeded
 *   resources in the registry: María's Patient, the two IPRESS's Organizations
 * @property {(args: string[]) => Promise<string>} token mints a token (`token issue` arguments)
 * @property {(renipress: string) => Promise<string>} sihceToken mints the token of an
 *   IPRESS's SIHCE (role `system`), as the seeding pushes its records with
 * @property {(path: string, token: string, init?: {method?: string, body?: unknown, headers?: Record<string, string>}) => Promise<{status: number, body: any}>} fhir
 * @property {() => string} registryLog the end of the registry's stderr
 * @property {() => Promise<void>} stop
 */

/**
 * Starts an IdP and a registry on `backend`, seeded.
 * @param {'sqlite' | 'postgres'} backend
 * @param {{seed?: boolean}} [options]
 * @returns {Promise<Harness>}
 */
export async function start(backend, options = {}) {
  hookExit();
  const tmp = mkdtempSync(join(tmpdir(), `renhice-web-${backend}-`));
  /** @type {import('node:child_process').ChildProcess | null} */
  let registry = null;
  /** @type {import('node:child_process').ChildProcess | null} */
  let idpChild = null;
  /** @type {string | null} */
  let database = null;
  const pgUrl = process.env.RENHICE_TEST_POSTGRES_URL;

  const cleanup = {
    /** Synchronous: at process exit. */
    sync() {
      registry?.kill('SIGKILL');
      idpChild?.kill('SIGKILL');
      if (database && pgUrl) spawnSync('psql', [pgUrl, '-qc', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`], { stdio: 'ignore' });
      rmSync(tmp, { recursive: true, force: true });
      pending.delete(cleanup);
    },
    async async() {
      pending.delete(cleanup);
      await Promise.all([registry && kill(registry), idpChild && kill(idpChild)]);
      if (database && pgUrl) await run('psql', [pgUrl, '-qc', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`]).catch((e) => console.error(String(e)));
      rmSync(tmp, { recursive: true, force: true });
    },
  };
  pending.add(cleanup);

  try {
    let dbUrl;
    if (backend === 'postgres') {
      if (!pgUrl) throw new Error('the postgres backend needs RENHICE_TEST_POSTGRES_URL');
      database = `renhice_web_${randomBytes(6).toString('hex')}`;
      await run('psql', [pgUrl, '-qc', `CREATE DATABASE ${database}`]);
      const u = new URL(pgUrl);
      u.pathname = `/${database}`;
      dbUrl = u.toString();
    } else {
      dbUrl = `sqlite://${join(tmp, 'renhice.db')}?mode=rwc`;
    }

    const idp = await startIdp();
    idpChild = idp.child;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const config = join(tmp, 'renhice.toml');
    const q = JSON.stringify;
    writeFileSync(
      config,
      [
        '[server]',
        `listen = ${q(`127.0.0.1:${port}`)}`,
        'audit_seal_interval_ms = 200',
        '',
        '[database]',
        `url = ${q(dbUrl)}`,
        '',
        '[log]',
        'level = "warn"',
        '',
        '[auth]',
        `issuer = ${q(`${base}/auth`)}`,
        `audience = ${q(`${base}/fhir`)}`,
        `keys_dir = ${q(join(tmp, 'keys'))}`,
        '',
        '[[auth.identity_providers]]',
        'name = "pruebas"',
        'title = "IdP de pruebas"',
        `issuer = ${q(idp.issuer)}`,
        'client_id = "renhice"',
        'client_secret = "renhice-dev-secret"',
        'scopes = ["openid", "profile", "renhice"]',
        'roles = ["patient", "clinician", "auditor", "admin"]',
        '',
      ].join('\n'),
    );

    const logPath = join(tmp, 'registry.log');
    const log = createWriteStream(logPath);
    registry = spawn(BIN, ['serve', '--config', config], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    registry.stdout?.pipe(log);
    registry.stderr?.pipe(log);
    const registryLog = () => {
      try {
        return readFileSync(logPath, 'utf8').slice(-8000);
      } catch {
        return '';
      }
    };
    const spawned = registry;
    await new Promise((ok, fail) => {
      spawned.once('spawn', ok);
      spawned.once('error', (e) => fail(new Error(`cannot start ${BIN}: ${e.message} (set RENHICE_BIN)`)));
    });
    try {
      await waitReady(`${base}/readyz`, 60_000, registry);
    } catch (e) {
      await new Promise((r) => setTimeout(r, 100));
      throw new Error(`the registry (${backend}) did not come up: ${e instanceof Error ? e.message : e}\n--- its stderr ---\n${registryLog()}`);
    }

    /** @param {string[]} args */
    const token = async (args) => (await run(BIN, ['token', 'issue', '--config', config, ...args])).trim();
    /** @param {string} renipress */
    const sihceToken = (renipress) => token(['--role', 'system', '--organization', renipress]);
    /** @type {Harness['fhir']} */
    const fhir = async (path, tok, init = {}) => {
      /** @type {Record<string, string>} */
      const headers = { Accept: 'application/fhir+json', Authorization: `Bearer ${tok}`, ...init.headers };
      if (init.body !== undefined) headers['Content-Type'] = 'application/fhir+json';
      const res = await fetch(path ? `${base}/fhir/${path.replace(/^\//, '')}` : `${base}/fhir`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await res.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      return { status: res.status, body };
    };

    const ids = options.seed === false ? { patient: '', santaClara: '', ica: '' } : await seed({ token, sihceToken, fhir });
    return {
      backend,
      base,
      fhirBase: `${base}/fhir`,
      idp: idp.issuer,
      bin: BIN,
      config,
      ids,
      token,
      sihceToken,
      fhir,
      registryLog,
      stop: () => cleanup.async(),
    };
  } catch (e) {
    await cleanup.async();
    throw e;
  }
}

/**
 * @param {{status: number, body: any}} answer
 * @param {number[]} expected
 * @param {string} what
 */
function expect(answer, expected, what) {
  if (!expected.includes(answer.status)) {
    throw new Error(`seeding: ${what} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 2000)}`);
  }
  return answer.body;
}

/**
 * An IPRESS as OrganizacionPe writes it (crates/model/src/peru.rs Renipress::to_identifier).
 * @param {string} code RENIPRESS
 * @param {string} name
 * @param {object} [address] a FHIR Address
 */
function organization(code, name, address) {
  return {
    resourceType: 'Organization',
    identifier: [{ use: 'official', type: { coding: [{ system: IPRESSCS, code }] }, value: code }],
    active: true,
    name,
    ...(address ? { address: [address] } : {}),
  };
}

/**
 * A DNI as PacientePe writes it (PersonId::to_identifier).
 * @param {string} value
 */
function dni(value) {
  return {
    use: 'official',
    type: {
      extension: [{ url: PE_PAIS, valueCodeableConcept: { coding: [{ system: 'urn:iso:std:iso:3166', code: 'PER', display: 'Peru' }] } }],
      coding: [{ system: IDS_PERSONA, code: '1', display: 'DNI' }],
    },
    value,
  };
}

/**
 * An ITI-65 push (crates/server/tests/api/push.rs push()): a SubmissionSet and its
 * index entries.
 * @param {string} patient Patient id
 * @param {string} ipress Organization id
 * @param {string} set the SubmissionSet's unique id
 * @param {{n: string, loinc: string, date: string}[]} docs
 */
function push(patient, ipress, set, docs) {
  const uuid = (/** @type {string} */ n) => `urn:uuid:${n.padStart(8, '0')}-aaaa-4bbb-8ccc-000000000000`;
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
        resource: {
          resourceType: 'List',
          identifier: [{ use: 'official', system: 'urn:ietf:rfc:3986', value: set }],
          status: 'current',
          mode: 'working',
          subject: { reference: `Patient/${patient}` },
          entry: docs.map((d) => ({ item: { reference: uuid(d.n) } })),
        },
        request: { method: 'POST', url: 'List' },
      },
      ...docs.map((d) => ({
        fullUrl: uuid(d.n),
        resource: {
          resourceType: 'DocumentReference',
          masterIdentifier: { system: 'urn:ietf:rfc:3986', value: `urn:oid:1.2.604.${d.n}` },
          identifier: [{ system: 'urn:ietf:rfc:3986', value: uuid(d.n) }],
          status: 'current',
          type: { coding: [{ system: 'http://loinc.org', code: d.loinc }] },
          subject: { reference: `Patient/${patient}` },
          date: d.date,
          custodian: { reference: `Organization/${ipress}` },
          content: [{ attachment: { contentType: 'application/pdf', url: `https://sihce.example/docs/${d.n}` } }],
        },
        request: { method: 'POST', url: 'DocumentReference' },
      })),
    ],
  };
}

/**
 * A basic clinical information summary (BundlePe document; crates/server/tests/api/
 * summary.rs): the Composition, an allergy, a condition, the patient and the author.
 * @param {string} patient
 * @param {string} ipress
 * @param {string} patientDni
 */
function summary(patient, ipress, patientDni) {
  const at = '2026-03-14T11:00:00-05:00';
  const u = (/** @type {number} */ n) => `urn:uuid:c0000000-0000-4000-8000-00000000000${n}`;
  const subject = { reference: `Patient/${patient}` };
  return {
    resourceType: 'Bundle',
    identifier: { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:5e5e5e5e-0000-4000-8000-000000000001' },
    type: 'document',
    timestamp: at,
    entry: [
      {
        fullUrl: u(1),
        resource: {
          resourceType: 'Composition',
          status: 'final',
          type: { coding: [{ system: 'http://loinc.org', code: '60591-5', display: 'Patient summary Document' }] },
          subject,
          date: at,
          author: [{ reference: u(5) }],
          title: 'Información Clínica Básica',
          custodian: { reference: `Organization/${ipress}` },
          section: [
            { title: 'Alergias', code: { coding: [{ system: 'http://loinc.org', code: '48765-2' }] }, entry: [{ reference: u(2) }] },
            { title: 'Problemas', code: { coding: [{ system: 'http://loinc.org', code: '11450-4' }] }, entry: [{ reference: u(3) }] },
          ],
        },
      },
      {
        fullUrl: u(2),
        resource: {
          resourceType: 'AllergyIntolerance',
          clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
          criticality: 'high',
          code: { text: 'Penicilina' },
          patient: subject,
          recordedDate: '2026-03-14',
        },
      },
      {
        fullUrl: u(3),
        resource: {
          resourceType: 'Condition',
          clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
          code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'E11', display: 'Diabetes mellitus tipo 2' }], text: 'Diabetes mellitus tipo 2' },
          subject,
          recordedDate: '2026-03-14',
        },
      },
      {
        fullUrl: u(4),
        resource: { resourceType: 'Patient', identifier: [dni(patientDni)], name: [{ family: 'Flores Condori', given: ['María'] }] },
      },
      {
        fullUrl: u(5),
        resource: { resourceType: 'Practitioner', identifier: [dni('10293847')], name: [{ family: 'Rojas Salazar', given: ['José'] }] },
      },
    ],
  };
}

/**
 * Seeds the registry through its FHIR API.
 * @param {{token: Harness['token'], sihceToken: Harness['sihceToken'], fhir: Harness['fhir']}} h
 * @returns {Promise<Harness['ids']>}
 */
async function seed({ token, sihceToken, fhir }) {
  const [admin, santaClara, ica] = await Promise.all([token(['--role', 'admin']), sihceToken(SEED.santaClara.code), sihceToken(SEED.ica.code)]);
  const orgA = expect(await fhir('Organization', admin, { body: organization(SEED.santaClara.code, SEED.santaClara.name) }), [201], 'Organization Santa Clara');
  const orgB = expect(await fhir('Organization', admin, { body: organization(SEED.ica.code, SEED.ica.name, SEED.ica.address) }), [201], 'Organization Ica');
  const patient = expect(
    await fhir('Patient', santaClara, {
      body: {
        resourceType: 'Patient',
        identifier: [dni(SEED.maria.dni)],
        name: [
          {
            use: 'official',
            family: 'Flores Condori',
            _family: {
              extension: [
                { url: 'http://hl7.org/fhir/StructureDefinition/humanname-fathers-family', valueString: 'Flores' },
                { url: 'http://hl7.org/fhir/StructureDefinition/humanname-mothers-family', valueString: 'Condori' },
              ],
            },
            given: ['María'],
          },
        ],
        gender: 'female',
        birthDate: SEED.maria.birthDate,
      },
    }),
    [201],
    'Patient María',
  );
  expect(
    await fhir('', santaClara, {
      body: push(patient.id, orgA.id, 'urn:oid:1.2.604.99.1', [
        { n: '1', loinc: '34133-9', date: '2026-01-20T09:15:00-05:00' },
        { n: '2', loinc: '11502-2', date: '2026-03-14T10:20:00-05:00' },
      ]),
    }),
    [200],
    'push at Santa Clara',
  );
  expect(
    await fhir('', ica, { body: push(patient.id, orgB.id, 'urn:oid:1.2.604.99.2', [{ n: '3', loinc: '18842-5', date: '2026-02-02T16:40:00-05:00' }]) }),
    [200],
    'push at Ica',
  );
  expect(await fhir('Bundle', santaClara, { body: summary(patient.id, orgA.id, SEED.maria.dni) }), [201], 'summary at Santa Clara');
  return { patient: patient.id, santaClara: orgA.id, ica: orgB.id };
}

// `node web/tests/harness.mjs [sqlite|postgres]`: starts one, prints where, waits for Ctrl-C.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const backend = process.argv[2] === 'postgres' ? 'postgres' : 'sqlite';
  const t0 = Date.now();
  const h = await start(backend);
  console.log(JSON.stringify({ backend, base: h.base, idp: h.idp, config: h.config, ids: h.ids, ms: Date.now() - t0 }));
  if (process.argv.includes('--stop')) await h.stop();
  else {
    console.log('Ctrl-C to stop');
    await new Promise((ok) => process.once('SIGINT', ok));
    await h.stop();
  }
}

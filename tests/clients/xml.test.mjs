// FHIR XML judged by an independent implementation: FHIR.js (`fhir` on npm) writes the
// XML form of every vendored official R4 example and every corpus resource, which the
// registry's model must read back into the JSON it came from; and FHIR.js must read the
// XML the model writes into that same JSON. HL7's own XML examples are on no package
// registry, so FHIR.js's conversions stand in for them (docs/clients.md#fhir-xml).
//
// Where FHIR.js itself departs from FHIR, the comparison says so, each case named:
// - it keeps a decimal as a JavaScript number (1.50 → 1.5) and cannot read exponents
//   (1.5e2), which FHIR's decimal allows: numbers are compared by value, and the two
//   resources with exponents are read by FHIR.js only one way;
// - it drops white space between a narrative's elements and writes empty elements as
//   <td/>: narratives are compared after the same normalisation;
// - it loses the alignment of a repeating primitive whose first item has extensions
//   but no value (`given: [null, "Pepe"]` read as `["Pepe"]`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { Fhir } = require('fhir');
const fhir = new Fhir();

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.resolve(root, process.env.RENHICE_BIN ?? 'target/debug/renhice');
const sources = ['profiles/r4/validation/examples', 'crates/model/tests/corpus'];
const files = sources.flatMap((dir) =>
  fs
    .readdirSync(path.join(root, dir))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(root, dir, f)),
);
const stem = (file) => path.basename(file).replace(/\.(json|xml)$/, '');

/** FHIR.js cannot read these (decimal exponents); the other direction still holds. */
const FHIRJS_CANNOT_READ = new Set(['Observation-decimal', 'Observation-valor-quantity-exponente']);
/** FHIR.js misaligns a repeating primitive that starts without a value. */
const FHIRJS_MISALIGNS = new Set(['Patient-extensiones-primitivos']);

const narrative = (text) =>
  text
    .replace(/>\s+</g, '><')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/\s+/g, ' ')
    .replace(/ \/>/g, '/>')
    .replace(/<([A-Za-z0-9]+)((?:\s[^<>]*)?)><\/\1>/g, '<$1$2/>');

/** The first difference between two FHIR JSON values, or null. */
function difference(a, b, at = '') {
  if (typeof a === 'number' || typeof b === 'number') {
    return Number(a) === Number(b) ? null : `${at}: ${a} ≠ ${b}`;
  }
  if (at.endsWith('.div') && typeof a === 'string' && typeof b === 'string') {
    return narrative(a) === narrative(b) ? null : `${at}: the narratives differ`;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) {
      return `${at}: ${JSON.stringify(a)?.slice(0, 120)} ≠ ${JSON.stringify(b)?.slice(0, 120)}`;
    }
    for (let i = 0; i < a.length; i++) {
      const d = difference(a[i], b[i], `${at}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = difference(a[key], b[key], `${at}.${key}`);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : `${at}: ${JSON.stringify(a)?.slice(0, 120)} ≠ ${JSON.stringify(b)?.slice(0, 120)}`;
}

/** `renhice convert` over many files at once; its refusals fail the test, named. */
function convert(to, inputs, outDir) {
  try {
    execFileSync(bin, ['convert', '--to', to, '--out-dir', outDir, ...inputs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (e) {
    assert.fail(`renhice convert --to ${to} refused:\n${e.stderr?.toString() ?? e}`);
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'renhice-xml-'));
test.after(() => fs.rmSync(work, { recursive: true, force: true }));
const original = new Map(files.map((f) => [stem(f), JSON.parse(fs.readFileSync(f, 'utf8'))]));

test(`the model reads FHIR.js's XML of ${files.length} examples back into their JSON`, () => {
  assert.ok(files.length >= 250, `only ${files.length} examples`);
  const theirs = path.join(work, 'fhirjs-xml');
  const ours = path.join(work, 'renhice-json');
  fs.mkdirSync(theirs);
  for (const [name, json] of original) {
    fs.writeFileSync(path.join(theirs, `${name}.xml`), fhir.objToXml(json));
  }
  convert('json', [...original.keys()].map((n) => path.join(theirs, `${n}.xml`)), ours);
  const differences = [];
  for (const [name, json] of original) {
    const read = JSON.parse(fs.readFileSync(path.join(ours, `${name}.json`), 'utf8'));
    const d = difference(json, read);
    if (d) differences.push(`${name}${d}`);
  }
  assert.deepEqual(differences, []);
});

test(`FHIR.js reads the model's XML of ${files.length} examples into their JSON`, () => {
  const ours = path.join(work, 'renhice-xml');
  convert('xml', files, ours);
  const differences = [];
  let read = 0;
  for (const [name, json] of original) {
    const xml = fs.readFileSync(path.join(ours, `${name}.xml`), 'utf8');
    if (FHIRJS_CANNOT_READ.has(name)) {
      assert.throws(() => fhir.xmlToObj(xml), /decimal/, `${name}: FHIR.js now reads it; drop the exception`);
      continue;
    }
    const d = difference(json, fhir.xmlToObj(xml));
    read += 1;
    if (FHIRJS_MISALIGNS.has(name)) {
      assert.ok(d, `${name}: FHIR.js now reads it exactly; drop the exception`);
    } else if (d) {
      differences.push(`${name}${d}`);
    }
  }
  assert.deepEqual(differences, []);
  assert.ok(read >= files.length - FHIRJS_CANNOT_READ.size);
});

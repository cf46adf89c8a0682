#!/usr/bin/env node
// Runs two independent FHIR R4 validators over the validator's test corpus and over
// the example instances, and prints their verdicts as one JSON array on stdout, so
// that they can be compared with renhice's own validator.
//
//   cd scripts/compare-validators && npm ci && node compare.mjs > /tmp/compare-independent.json
//
// Validators (exact versions pinned in package.json / package-lock.json):
//   fhir  the npm package `fhir` (FHIR.js, Lantana), `new Fhir().validate(obj, options)`,
//         with its bundled R4 structure definitions and value sets. It is run with
//         `errorOnUnexpected: true` (FHIR says unknown elements are errors; by default
//         FHIR.js only warns about them), see FHIR_OPTIONS below. Only its messages of
//         severity `error` and `fatal` are listed (`fatal` is what it says for a missing
//         or unknown resourceType; both make `valid` false, warnings and info do not).
//   ajv   Ajv 8 with the draft-06 meta-schema, compiling HL7's JSON schema of R4
//         (profiles/r4/validation/fhir.schema.json, http://hl7.org/fhir/json-schema/4.0),
//         its root `id` renamed `$id` in memory (Ajv 8 refuses draft-04's `id`) and
//         `strict: false` (it carries an OpenAPI-style `discriminator`, ignored).
//         The verdict is that of the whole schema (a oneOf over every resource type).
//         A oneOf reports the first mismatch of every other resource type, so the errors
//         listed come from a second compile of the same schema in which those oneOfs
//         are Ajv discriminators on `resourceType` (see runAjv); the two must agree.
//
// Input sets (files sorted by name):
//   corpus            crates/validator/tests/corpus/*.json (manifest.json gives each
//                     file's seeded defect; `rule` from it is copied to the output)
//   pe-examples       profiles/pe/examples/*.json
//   renhice-examples  profiles/renhice/examples/*.json
//   r4-examples       profiles/r4/validation/examples/*.json (HL7's official examples)
//
// Output: [{set, file, rule?, fhir: {valid, errors: [{location, message}]},
//           ajv: {valid, errors: [{instancePath, message}]}}], errors cut to the first 5.
// If a validator throws, its verdict is {valid: null, threw: "<message>", errors: []}.
// A summary (counts, timings, Ajv's compile warnings) goes to stderr.

import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { Fhir } = require('fhir');
const Ajv = require('ajv');
const draft06 = require('ajv/dist/refs/json-schema-draft-06.json');

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const MAX_ERRORS = 5;
const FHIR_OPTIONS = { errorOnUnexpected: true };

const SETS = [
  ['corpus', 'crates/validator/tests/corpus'],
  ['pe-examples', 'profiles/pe/examples'],
  ['renhice-examples', 'profiles/renhice/examples'],
  ['r4-examples', 'profiles/r4/validation/examples'],
];

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

function listJson(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && f !== 'manifest.json')
    .sort();
}

// --- fhir (FHIR.js) -------------------------------------------------------------

const fhir = new Fhir();

function runFhir(resource) {
  try {
    const res = fhir.validate(resource, FHIR_OPTIONS);
    const errors = res.messages
      .filter((m) => m.severity === 'error' || m.severity === 'fatal')
      .slice(0, MAX_ERRORS)
      .map((m) => ({
        location: m.location ?? '',
        message: m.severity === 'fatal' ? `fatal: ${m.message}` : m.message,
      }));
    return { valid: res.valid, errors };
  } catch (e) {
    return { valid: null, threw: String(e && e.message ? e.message : e), errors: [] };
  }
}

// --- ajv + HL7's JSON schema ------------------------------------------------------

const ajvWarnings = [];
const logger = {
  log: () => {},
  warn: (...args) => ajvWarnings.push(args.map(String).join(' ')),
  error: (...args) => ajvWarnings.push('error: ' + args.map(String).join(' ')),
};

function loadSchema() {
  const schema = readJson(join(repo, 'profiles/r4/validation/fhir.schema.json'));
  // HL7's file says draft-06 but names itself with draft-04's `id`, which Ajv 8 refuses
  // outright ("NOT SUPPORTED: keyword \"id\", use \"$id\""); only the root has one.
  if (typeof schema.id === 'string' && schema.$id === undefined) {
    schema.$id = schema.id;
    delete schema.id;
  }
  return schema;
}

function newAjv(options) {
  const ajv = new Ajv({ strict: false, logger, ...options });
  ajv.addMetaSchema(draft06);
  return ajv;
}

// The verdict: HL7's schema as published (but for `id`), first error only.
let t0 = performance.now();
const validateSchema = newAjv({}).compile(loadSchema());
const ajvCompileMs = Math.round(performance.now() - t0);

// The errors: the same schema, but with each oneOf over the resource types (the root
// and `ResourceList`, used by Bundle.entry.resource, contained, Parameters...) turned
// into Ajv's discriminator on `resourceType`, and allErrors. It then reports only the
// branch of the resource's own type, instead of the first mismatch of all 146
// branches. Since every branch requires its own `resourceType` constant, at most one
// branch of the oneOf can match, so both must agree; a disagreement is counted on
// stderr (and the verdict kept from the unmodified schema).
t0 = performance.now();
const diagnosticSchema = loadSchema();
const byType = {
  type: 'object',
  required: ['resourceType'],
  discriminator: { propertyName: 'resourceType' },
  oneOf: diagnosticSchema.oneOf,
};
delete diagnosticSchema.discriminator; // it carries a `mapping`, which Ajv refuses
Object.assign(diagnosticSchema, byType);
diagnosticSchema.definitions.ResourceList = { ...byType };
const diagnose = newAjv({ discriminator: true, allErrors: true }).compile(diagnosticSchema);
const ajvDiagnosticCompileMs = Math.round(performance.now() - t0);
let ajvDisagreements = 0;

function describe(e) {
  let message = e.message;
  if (e.keyword === 'additionalProperties') message += `: ${e.params.additionalProperty}`;
  else if (e.keyword === 'discriminator' && e.params.tagValue !== undefined) {
    message += `: ${JSON.stringify(e.params.tagValue)}`;
  } else if (['enum', 'const', 'pattern', 'type'].includes(e.keyword)) {
    message += ` (got ${JSON.stringify(at(e.instancePath))})`;
  }
  return message;
}

// The value at a JSON pointer into the resource being diagnosed.
let current;
function at(pointer) {
  let cur = current;
  if (pointer === '') return cur;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = cur[key];
  }
  return cur;
}

function runAjv(resource) {
  try {
    const valid = validateSchema(resource);
    const diagnosed = diagnose(resource);
    if (diagnosed !== valid) ajvDisagreements += 1;
    if (valid) return { valid, errors: [] };
    const raw = (diagnosed ? validateSchema.errors : diagnose.errors) ?? [];
    current = resource;
    const seen = new Set();
    const errors = [];
    for (const e of raw) {
      const item = { instancePath: e.instancePath, message: describe(e) };
      const key = item.instancePath + '\u0000' + item.message;
      if (seen.has(key)) continue;
      seen.add(key);
      errors.push(item);
      if (errors.length === MAX_ERRORS) break;
    }
    return { valid, errors };
  } catch (e) {
    return { valid: null, threw: String(e && e.message ? e.message : e), errors: [] };
  }
}

// --- run ------------------------------------------------------------------------

const manifest = new Map(
  readJson(join(repo, 'crates/validator/tests/corpus/manifest.json')).map((e) => [e.file, e]),
);

const results = [];
const timing = { fhir: 0, ajv: 0 };
for (const [set, dir] of SETS) {
  const abs = join(repo, dir);
  for (const file of listJson(abs)) {
    const text = readFileSync(join(abs, file), 'utf8');
    const row = { set, file };
    if (set === 'corpus') row.rule = manifest.get(file)?.rule ?? null;
    // Each validator gets its own parse, so that neither can see the other's changes.
    t0 = performance.now();
    row.fhir = runFhir(JSON.parse(text));
    timing.fhir += performance.now() - t0;
    t0 = performance.now();
    row.ajv = runAjv(JSON.parse(text));
    timing.ajv += performance.now() - t0;
    results.push(row);
  }
}

process.stdout.write(JSON.stringify(results, null, 2) + '\n');

// Summary on stderr.
const summary = {};
for (const r of results) {
  const s = (summary[r.set] ??= { files: 0, fhirInvalid: 0, fhirThrew: 0, ajvInvalid: 0, ajvThrew: 0 });
  s.files += 1;
  if (r.fhir.valid === false) s.fhirInvalid += 1;
  if (r.fhir.valid === null) s.fhirThrew += 1;
  if (r.ajv.valid === false) s.ajvInvalid += 1;
  if (r.ajv.valid === null) s.ajvThrew += 1;
}
console.error(JSON.stringify({
  summary,
  ms: {
    ajvCompile: ajvCompileMs,
    ajvDiagnosticCompile: ajvDiagnosticCompileMs,
    fhirValidate: Math.round(timing.fhir),
    ajvValidate: Math.round(timing.ajv),
  },
  ajvDisagreements,
  ajvWarnings: ajvWarnings.length,
  ajvWarningSamples: [...new Set(ajvWarnings)].slice(0, 5),
}, null, 2));

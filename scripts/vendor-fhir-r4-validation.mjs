#!/usr/bin/env node
// Vendors what the validator needs from HL7's own FHIR R4 package, trimmed.
//
// Source: the npm package `hl7.fhir.r4.examples@4.0.1` (published by HL7, CC0),
// which carries every StructureDefinition (with snapshots), ValueSet and
// CodeSystem of FHIR 4.0.1 exactly as HL7 published them, and the official
// example instances. (The definitions in profiles/r4 come from another
// publisher, who added elements to some snapshots; a validator must not accept
// those, so it reads HL7's.)
//
// Output, under profiles/r4/validation/:
//   definitions.json  the StructureDefinitions of the data types and resources
//                     (kind primitive-type, complex-type or resource, derivation
//                     specialization, plus the core constraints on them), with
//                     each snapshot element cut down to what validation reads:
//                     id, path, sliceName, min, max, type, contentReference,
//                     fixed[x], pattern[x], binding (strength, valueSet),
//                     constraint (key, severity, human, expression, source),
//                     slicing, maxLength;
//   terminology.json  every ValueSet a `required` binding of those definitions
//                     names, expanded here to its codes (system, code), or marked
//                     as not expandable with the reason;
//   examples/         the official examples of the resources listed in
//                     EXAMPLE_TYPES (up to 1 MB: the larger "examples" are the
//                     specification's definition bundles), copied byte for byte.
// Nothing else is changed; the script is deterministic (sorted output) and
// checks the tarball against the integrity pinned below.
//
// Usage: node scripts/vendor-fhir-r4-validation.mjs [path/to/tarball.tgz]
// (without a tarball, it is fetched with `npm pack`).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const PACKAGE = 'hl7.fhir.r4.examples@4.0.1';
const INTEGRITY =
  'sha512-DXBdIZOeQaSKIgCU7w6HOC7sw/6BzylmipLkBW4f//pT+Bc94x+8LImwTdvaNThPJoOzpBzvxAzNqjeu3X/zLw==';
// The resources the registry and its profiles deal with: their official
// examples are the validator's "must pass" corpus.
const EXAMPLE_TYPES = [
  'AllergyIntolerance', 'Bundle', 'Composition', 'Condition', 'Consent', 'DocumentReference',
  'Encounter', 'List', 'MedicationStatement', 'Observation', 'Organization', 'Patient',
  'Practitioner', 'PractitionerRole', 'Provenance',
];
const MAX_EXAMPLE_BYTES = 1_000_000;
const ELEMENT_KEYS = [
  'id', 'path', 'sliceName', 'min', 'max', 'type', 'contentReference', 'binding',
  'constraint', 'slicing', 'maxLength',
];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'profiles/r4/validation');

function fail(message) {
  console.error(`vendor-fhir-r4-validation: ${message}`);
  process.exit(1);
}

let tarball = process.argv[2];
const work = mkdtempSync(join(tmpdir(), 'fhir-r4-validation-'));
if (!tarball) {
  execFileSync('npm', ['pack', PACKAGE, '--silent'], { cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
  tarball = join(work, readdirSync(work).find((name) => name.endsWith('.tgz')));
}
const integrity = 'sha512-' + createHash('sha512').update(readFileSync(tarball)).digest('base64');
if (integrity !== INTEGRITY) fail(`${tarball}: integrity ${integrity}, expected ${INTEGRITY}`);
execFileSync('tar', ['xzf', tarball, '-C', work]);
const pkg = join(work, 'package');
const files = readdirSync(pkg).filter((name) => name.endsWith('.json')).sort();
const read = (name) => JSON.parse(readFileSync(join(pkg, name), 'utf8'));

// StructureDefinitions of the base types and resources.
const definitions = [];
const required = new Set();
for (const name of files.filter((n) => n.startsWith('StructureDefinition-'))) {
  const sd = read(name);
  if (!['primitive-type', 'complex-type', 'resource'].includes(sd.kind)) continue;
  if (sd.derivation === 'constraint') continue; // profiles, not base definitions
  if (!sd.snapshot) fail(`${name} has no snapshot`);
  const elements = sd.snapshot.element.map((element) => {
    const trimmed = {};
    for (const key of ELEMENT_KEYS) {
      if (element[key] === undefined) continue;
      if (key === 'binding') {
        trimmed.binding = { strength: element.binding.strength };
        if (element.binding.valueSet) trimmed.binding.valueSet = element.binding.valueSet;
        if (element.binding.strength === 'required' && element.binding.valueSet) {
          required.add(element.binding.valueSet);
        }
      } else if (key === 'constraint') {
        trimmed.constraint = element.constraint.map((c) => {
          const kept = { key: c.key, severity: c.severity, human: c.human };
          if (c.expression) kept.expression = c.expression;
          if (c.source) kept.source = c.source;
          return kept;
        });
      } else {
        trimmed[key] = element[key];
      }
    }
    for (const key of Object.keys(element)) {
      if (key.startsWith('fixed') || key.startsWith('pattern')) trimmed[key] = element[key];
    }
    return trimmed;
  });
  const kept = {
    url: sd.url, name: sd.name, type: sd.type, kind: sd.kind, abstract: sd.abstract, elements,
  };
  if (sd.baseDefinition) kept.baseDefinition = sd.baseDefinition;
  definitions.push(kept);
}
definitions.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));

// Terminology: every required ValueSet, expanded to its codes.
const valueSets = new Map();
const codeSystems = new Map();
for (const name of files) {
  if (name.startsWith('ValueSet-')) {
    const vs = read(name);
    valueSets.set(vs.url, vs);
  } else if (name.startsWith('CodeSystem-')) {
    const cs = read(name);
    codeSystems.set(cs.url, cs);
  }
}

/** Every code of a CodeSystem, with its descendants by `is-a`. */
function flatten(concepts, parent, into) {
  for (const concept of concepts || []) {
    into.push({ code: concept.code, parents: parent ? [parent] : [] });
    flatten(concept.concept, concept.code, into);
  }
  return into;
}

function descendants(system, code, self) {
  const all = flatten(system.concept, null, []);
  const result = new Set(self ? [code] : []);
  let grew = true;
  while (grew) {
    grew = false;
    for (const c of all) {
      if (!result.has(c.code) && c.parents.some((p) => p === code || result.has(p))) {
        result.add(c.code);
        grew = true;
      }
    }
  }
  return [...result];
}

function expand(url, seen = new Set()) {
  const bare = url.split('|')[0];
  if (seen.has(bare)) throw new Error(`${bare} includes itself`);
  seen.add(bare);
  const vs = valueSets.get(bare);
  if (!vs) throw new Error(`ValueSet ${bare} is not in the package`);
  if (!vs.compose) throw new Error(`ValueSet ${bare} has no compose`);
  const codes = new Map();
  const section = (part, add) => {
    const parts = [];
    if (part.system) {
      const system = part.system;
      const cs = codeSystems.get(system);
      if (part.concept) {
        parts.push(part.concept.map((c) => [system, c.code]));
      } else if (part.filter) {
        if (!cs || cs.content !== 'complete') throw new Error(`filter on ${system}, which is not in the package in full`);
        let selected = flatten(cs.concept, null, []).map((c) => c.code);
        for (const filter of part.filter) {
          if (filter.property === 'concept' && filter.op === 'is-a') {
            const keep = new Set(descendants(cs, filter.value, true));
            selected = selected.filter((c) => keep.has(c));
          } else if (filter.property === 'concept' && filter.op === 'descendent-of') {
            const keep = new Set(descendants(cs, filter.value, false));
            selected = selected.filter((c) => keep.has(c));
          } else {
            throw new Error(`filter ${filter.property} ${filter.op} on ${system}`);
          }
        }
        parts.push(selected.map((code) => [system, code]));
      } else {
        if (!cs) throw new Error(`the whole of ${system}, which is not in the package`);
        if (cs.content !== 'complete') throw new Error(`the whole of ${system}, whose content is ${cs.content}`);
        parts.push(flatten(cs.concept, null, []).map((c) => [system, c.code]));
      }
    }
    for (const other of part.valueSet || []) {
      parts.push(expand(other, new Set(seen)));
    }
    // Within one include, the system part and the value sets intersect.
    let result = parts.length ? parts[0] : [];
    for (const more of parts.slice(1)) {
      const keys = new Set(more.map(([s, c]) => `${s}|${c}`));
      result = result.filter(([s, c]) => keys.has(`${s}|${c}`));
    }
    for (const [s, c] of result) add(s, c);
  };
  for (const part of vs.compose.include || []) section(part, (s, c) => codes.set(`${s}|${c}`, [s, c]));
  for (const part of vs.compose.exclude || []) section(part, (s, c) => codes.delete(`${s}|${c}`));
  return [...codes.values()];
}

const terminology = [];
for (const url of [...required].sort()) {
  const bare = url.split('|')[0];
  try {
    const codes = expand(url).sort((a, b) => (`${a[0]}|${a[1]}` < `${b[0]}|${b[1]}` ? -1 : 1));
    terminology.push({ url: bare, codes });
  } catch (error) {
    terminology.push({ url: bare, notExpanded: error.message });
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'examples'), { recursive: true });
const write = (name, value) => writeFileSync(join(out, name), JSON.stringify(value) + '\n');
write('definitions.json', definitions);
write('terminology.json', terminology);
let examples = 0;
for (const name of files) {
  if (['StructureDefinition-', 'ValueSet-', 'CodeSystem-', 'package.json'].some((p) => name.startsWith(p))) continue;
  const type = name.split('-')[0];
  if (!EXAMPLE_TYPES.includes(type)) continue;
  // The specification's own definition bundles (profiles, value sets, search
  // parameters…: megabytes each) are in the package as "examples" too.
  if (statSync(join(pkg, name)).size > MAX_EXAMPLE_BYTES) continue;
  copyFileSync(join(pkg, name), join(out, 'examples', name));
  examples += 1;
}
rmSync(work, { recursive: true, force: true });
const unexpanded = terminology.filter((t) => t.notExpanded);
console.log(
  `${definitions.length} definitions, ${terminology.length} required value sets ` +
    `(${unexpanded.length} not expandable), ${examples} examples written to ${out}`,
);
for (const t of unexpanded) console.log(`  not expanded: ${t.url}: ${t.notExpanded}`);

#!/usr/bin/env node
// Split an oversized FHIR Bundle file into several smaller Bundle files
// without changing a single byte of any entry.
//
// Why: some official FHIR definition bundles (e.g. profiles-resources.json,
// ~35 MB) are too large to keep comfortably in git. The vendored files are
// used for exact JSON round-trip tests, so resources must not be edited,
// re-serialised or pretty-printed. Instead the bundle's raw text is cut at
// entry boundaries:
//
//   * consecutive entries with the same resource.resourceType form a group;
//   * a group larger than --max-bytes is cut into the smallest number of
//     contiguous, roughly equal-sized parts that each fit;
//   * every part is written as
//       <original text before the first entry>
//       + <its entries, with the original separators between them>
//       + <original text after the last entry>
//     so each part is a valid Bundle with the original header (resourceType,
//     id, meta, type) and each entry is a byte-identical slice of the input.
//
// Parts are named <base>.<NN>-<ResourceType>.json; NN is a running number, so
// sorting the names gives the original entry order.
//
// Usage:
//   node trim-fhir-bundle.mjs split  <input.json> <outdir> <base> [--max-bytes N]
//   node trim-fhir-bundle.mjs verify <input.json> <part.json>...
//
// `split` prints the names of the files it wrote, one per line.
// `verify` checks that the parts, in the given order, hold exactly the
// input's entries (byte for byte) under the input's own header and footer,
// and that each part parses as JSON; it exits non-zero otherwise.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DEFAULT_MAX_BYTES = 20_000_000;

function fail(msg) {
  console.error(`trim-fhir-bundle: ${msg}`);
  process.exit(1);
}

// Locate the elements of the root object's "entry" array in the raw text.
// Returns { spans: [[start, end), ...] } as string indices. Only structural
// ASCII characters are used as cut points, so slicing the JS string and
// writing it back as UTF-8 reproduces the original bytes.
function entrySpans(text) {
  const stack = []; // open containers: '{' or '['
  let lastRootString = null; // last string seen directly inside the root object
  let entryDepth = -1; // stack length while inside the entry array
  let elemStart = -1;
  const spans = [];
  let sawEntry = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) fail('unterminated string');
      if (stack.length === 1) lastRootString = text.slice(i + 1, j);
      i = j;
    } else if (ch === '{' || ch === '[') {
      stack.push(ch);
      if (ch === '[' && stack.length === 2 && stack[0] === '{' && lastRootString === 'entry') {
        if (sawEntry) fail('more than one "entry" array');
        sawEntry = true;
        entryDepth = 2;
      } else if (entryDepth === 2 && stack.length === 3) {
        if (ch !== '{') fail(`entry at offset ${i} is not an object`);
        elemStart = i;
      }
    } else if (ch === '}' || ch === ']') {
      const open = stack.pop();
      if (open === undefined || (open === '{') !== (ch === '}')) fail(`unbalanced '${ch}' at offset ${i}`);
      if (entryDepth === 2 && stack.length === 2) {
        spans.push([elemStart, i + 1]);
      } else if (entryDepth === 2 && stack.length === 1) {
        entryDepth = -1; // left the entry array
      }
    }
  }
  if (stack.length !== 0) fail('unbalanced brackets at end of input');
  if (!sawEntry) fail('no "entry" array in the root object');
  if (spans.length === 0) fail('empty "entry" array');
  return spans;
}

function loadBundle(path) {
  const text = readFileSync(path, 'utf8');
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail(`${path}: not valid JSON: ${e.message}`);
  }
  if (doc?.resourceType !== 'Bundle' || !Array.isArray(doc.entry)) fail(`${path}: not a FHIR Bundle with entries`);
  const spans = entrySpans(text);
  if (spans.length !== doc.entry.length) fail(`${path}: found ${spans.length} entry spans, JSON has ${doc.entry.length}`);
  const prefix = text.slice(0, spans[0][0]);
  const suffix = text.slice(spans[spans.length - 1][1]);
  return { text, doc, spans, prefix, suffix };
}

// Render entries [a, b) of a bundle as a standalone Bundle text.
function renderPart(b, a, z) {
  return b.prefix + b.text.slice(b.spans[a][0], b.spans[z - 1][1]) + b.suffix;
}

function split(input, outdir, base, maxBytes) {
  const b = loadBundle(input);
  const bytes = (s) => Buffer.byteLength(s, 'utf8');

  // Runs of consecutive entries with the same resourceType.
  const groups = [];
  b.doc.entry.forEach((e, i) => {
    const type = e?.resource?.resourceType;
    if (typeof type !== 'string' || !/^[A-Za-z]+$/.test(type)) fail(`entry ${i} has no usable resource.resourceType`);
    const last = groups[groups.length - 1];
    if (last && last.type === type) last.end = i + 1;
    else groups.push({ type, start: i, end: i + 1 });
  });

  const parts = [];
  for (const g of groups) {
    const sizes = [];
    for (let i = g.start; i < g.end; i++) sizes.push(bytes(b.text.slice(b.spans[i][0], b.spans[i][1])));
    const total = sizes.reduce((x, y) => x + y, 0);
    // Smallest n for which a balanced contiguous cut keeps every part within maxBytes.
    for (let n = Math.max(1, Math.ceil(total / maxBytes)); ; n++) {
      if (n > g.end - g.start) fail(`a single ${g.type} entry exceeds ${maxBytes} bytes`);
      const target = total / n;
      const cuts = [];
      let cum = 0;
      sizes.forEach((s, k) => {
        const idx = Math.min(n - 1, Math.floor((cum + s / 2) / target));
        if (cuts.length === 0 || cuts[cuts.length - 1].idx !== idx) cuts.push({ idx, start: g.start + k });
        cum += s;
      });
      const candidate = cuts.map((c, k) => ({
        type: g.type,
        start: c.start,
        end: k + 1 < cuts.length ? cuts[k + 1].start : g.end,
      }));
      if (candidate.every((p) => bytes(renderPart(b, p.start, p.end)) <= maxBytes)) {
        parts.push(...candidate);
        break;
      }
    }
  }

  const width = Math.max(2, String(parts.length).length);
  parts.forEach((p, k) => {
    const name = `${base}.${String(k + 1).padStart(width, '0')}-${p.type}.json`;
    writeFileSync(join(outdir, name), renderPart(b, p.start, p.end));
    console.log(name);
  });
}

function verify(input, partPaths) {
  const b = loadBundle(input);
  let next = 0;
  for (const path of partPaths) {
    const p = loadBundle(path);
    if (p.prefix !== b.prefix) fail(`${path}: text before the first entry differs from ${input}`);
    if (p.suffix !== b.suffix) fail(`${path}: text after the last entry differs from ${input}`);
    // Whole run of entries, separators included, must be a verbatim slice.
    const run = p.text.slice(p.spans[0][0], p.spans[p.spans.length - 1][1]);
    const end = next + p.spans.length;
    if (end > b.spans.length) fail(`${path}: more entries than ${input} has left`);
    if (run !== b.text.slice(b.spans[next][0], b.spans[end - 1][1])) fail(`${path}: entries differ from ${input}`);
    next = end;
  }
  if (next !== b.spans.length) fail(`parts hold ${next} of ${b.spans.length} entries`);
  console.log(`ok: ${partPaths.length} parts hold all ${next} entries of ${input} byte for byte`);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'split') {
  let maxBytes = DEFAULT_MAX_BYTES;
  const i = args.indexOf('--max-bytes');
  if (i >= 0) {
    maxBytes = Number(args[i + 1]);
    if (!Number.isInteger(maxBytes) || maxBytes <= 0) fail('--max-bytes needs a positive integer');
    args.splice(i, 2);
  }
  if (args.length !== 3) fail('usage: split <input.json> <outdir> <base> [--max-bytes N]');
  split(args[0], args[1], args[2], maxBytes);
} else if (cmd === 'verify') {
  if (args.length < 2) fail('usage: verify <input.json> <part.json>...');
  verify(args[0], args.slice(1));
} else {
  fail('usage: trim-fhir-bundle.mjs split|verify ...');
}

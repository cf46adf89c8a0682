import { start, ROOT } from './harness.mjs';
import { writeFileSync, mkdirSync } from 'node:fs';
const h = await start('sqlite', { seed: false });
mkdirSync('/tmp/served', { recursive: true });
try {
  for (const f of ['i18n-en.js','i18n.js','page-auditor.js','page-clinician.js','records.js']) {
    writeFileSync(`/tmp/served/${f}`, await (await fetch(`${h.base}/app/${f}`)).text());
  }
} finally { await h.stop(); }

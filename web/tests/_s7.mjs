import { start } from './harness.mjs';
import { execSync } from 'node:child_process';
const h = await start('sqlite', { seed: false });
try {
  console.log(execSync(`curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip, deflate, br, zstd' ${h.base}/app/i18n.js`).toString());
  console.log(execSync(`curl -s -o /dev/null -w '%{size_download}\n' -H 'Accept-Encoding: gzip' ${h.base}/app/i18n.js`).toString());
  console.log(execSync(`curl -s -o /dev/null -w '%{size_download}\n' ${h.base}/app/i18n.js`).toString());
} finally { await h.stop(); }

import { start, USERS } from './harness.mjs';
import { launch, newContext, newPage, signIn } from './lib.mjs';
import { createRequire } from 'node:module';
const src = createRequire(import.meta.url)('axe-core').source;
const h = await start('sqlite', {seed: false});
const browser = await launch();
try {
  const ctx = await newContext(browser, h);
  const { page } = await newPage(ctx, h);
  await page.goto(h.base + '/');
  await page.getByRole('heading', {level: 1}).waitFor();
  await page.evaluate(`${src}\n;0`);
  const r = await page.evaluate(async () => { const r = await window.axe.run(document); return { v: r.violations.map(v => [v.id, v.impact, v.nodes.length]), passes: r.passes.length, inc: r.incomplete.map(v => v.id) }; });
  console.log(JSON.stringify(r));
  await page.evaluate(() => { const b = document.createElement('img'); document.querySelector('main').append(b); });
  const r2 = await page.evaluate(async () => (await window.axe.run(document)).violations.map(v => [v.id, v.impact]));
  console.log(JSON.stringify(r2));
} finally { await browser.close(); await h.stop(); }

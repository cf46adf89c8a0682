import { start, USERS } from './harness.mjs';
import { launch, newContext, newPage, signIn } from './lib.mjs';
const h = await start('sqlite');
const browser = await launch();
try {
  const ctx = await newContext(browser, h);
  const { page, errors } = await newPage(ctx, h);
  page.on('response', (r) => { if (r.url().includes('/fhir/')) console.log(Date.now() % 100000, r.status(), r.request().method(), r.url().replace(h.base, ''), page.url().replace(h.base, '')); });
  await page.goto(h.base + '/');
  await signIn(page, h, 'patient', USERS.paciente);
  await page.getByText('Penicilina').waitFor();
  await page.waitForTimeout(1000);
  console.log(errors);
} finally { await browser.close(); await h.stop(); }

import { chromium } from 'playwright-core';
import { start, CHROMIUM } from './harness.mjs';
const h = await start('sqlite');
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'es-PE', timezoneId: 'America/Lima' });
  const page = await ctx.newPage();
  page.on('console', (m) => console.log('console:', m.type(), m.text(), JSON.stringify(m.location())));
  page.on('pageerror', (e) => console.log('pageerror:', e));
  page.on('response', async (r) => { if (r.status() >= 400 || r.url().includes('record-locations')) console.log('resp', r.status(), r.url(), (await r.text().catch(()=>'')).slice(-300)); });
  await page.goto(h.base + '/');
  await page.getByRole('button', { name: /Profesional de salud/ }).click();
  await page.locator('#login').fill('medica');
  await page.locator('#password').fill('medica-clave');
  await page.locator('#submit').click();
  await page.getByRole('heading', { name: 'Buscar paciente', level: 1 }).waitFor();
  console.log(page.url());
  await page.getByLabel('Número').fill('45678912');
  await page.getByRole('button', { name: 'Buscar' }).first().click();
  await page.getByRole('heading', { name: 'Dónde está su historia clínica' }).waitFor();
  await page.waitForTimeout(1500);
  console.log(await page.locator('main').innerText());
  await page.screenshot({ path: '/tmp/p1.png', fullPage: true });
} finally {
  await browser.close();
  await h.stop();
}

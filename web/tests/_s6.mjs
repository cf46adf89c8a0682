import { start, USERS } from './harness.mjs';
import { launch, newContext, newPage, signIn } from './lib.mjs';
const h = await start('sqlite');
const browser = await launch();
try {
  const ctx = await newContext(browser, h);
  const { page } = await newPage(ctx, h);
  await page.goto(h.base + '/');
  await signIn(page, h, 'professional', USERS.medica);
  const form = page.getByRole('form', { name: 'Por documento de identidad' });
  await form.getByLabel('Número').fill('45678912');
  await form.getByRole('button', { name: 'Buscar' }).click();
  await page.getByText('Existen registros en otras IPRESS', { exact: false }).waitFor();
  await page.getByRole('button', { name: 'Acceso de emergencia…' }).click();
  await page.getByLabel('Motivo (obligatorio)').fill('Paciente inconsciente en emergencia');
  await page.getByRole('button', { name: 'Activar acceso de emergencia' }).click();
  await page.getByText('Acceso de emergencia activo').waitFor();
  await page.getByRole('heading', { name: 'Hospital Regional de Ica' }).waitFor();
  await page.getByRole('button', { name: 'Terminar ahora' }).click();
  await page.waitForTimeout(1000);
  await page.getByRole('button', { name: 'Cerrar sesión' }).click();
  await page.getByText('Cerró su sesión.').waitFor();
  const tok = await h.token(['--role', 'auditor']);
  const r = await h.fhir('AuditEvent?_count=100', tok);
  for (const e of r.body.entry.map(x => x.resource).reverse()) {
    const ag = (e.agent||[]).map(a => `${a.type?.coding?.[0]?.code}:${a.who?.identifier?.value ?? a.who?.reference ?? ''}${a.name ? '('+a.name+')' : ''}`).join(' ');
    console.log(e.type?.code, (e.subtype||[]).map(s=>s.code).join(','), e.action, e.outcome, (e.purposeOfEvent||[]).map(p=>p.coding?.[0]?.code).join(), '|', ag, '|', (e.entity||[]).map(x => `${x.what?.reference ?? ''} ${x.description ?? ''} ${x.query ? 'q=' + Buffer.from(x.query,'base64').toString() : ''} ${x.type?.code ?? ''}`).join(' ; '), e.outcomeDesc ?? '');
  }
  const one = r.body.entry.map(x => x.resource).find(e => (e.subtype||[]).some(s => s.code === 'operation'));
  console.log(JSON.stringify(one, null, 1));
} finally { await browser.close(); await h.stop(); }

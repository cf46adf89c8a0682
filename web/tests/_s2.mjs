import { start } from './harness.mjs';
const h = await start('sqlite');
try {
  const tok = await h.token(['--role', 'clinician', '--organization', '00012345', '--practitioner', '01|012345', '--name', 'Dra. Rosa Quispe Mamani']);
  const r = await h.fhir(`Patient/${h.ids.patient}/$record-locations`, tok);
  console.log(JSON.stringify(r, null, 1));
} finally { await h.stop(); }

// Hooks every Node test file installs: a test fails if any answer it received did not
// validate, and the file prints how many resources it validated.

import { afterEach, after } from 'node:test';
import assert from 'node:assert/strict';
import { takeFailures, validatedCounts } from './validator.mjs';

/** @param {string} file the test file, for the printed count */
export function validateEverything(file) {
  afterEach(() => {
    const failures = takeFailures();
    assert.deepEqual(failures, [], `answers that did not validate:\n${failures.join('\n')}`);
  });
  after(() => {
    const counts = Object.entries(validatedCounts())
      .map(([library, n]) => `${library} ${n}`)
      .join(', ');
    console.log(`${file}: resources received and validated: ${counts || 'none'}`);
  });
}

/**
 * The OperationOutcome an error carries must say what is wrong: issue[0].expression or
 * diagnostics.
 * @param {any} outcome
 * @param {string} what
 */
export function assertExplains(outcome, what) {
  assert.equal(outcome?.resourceType, 'OperationOutcome', `${what}: the error carries no OperationOutcome: ${JSON.stringify(outcome)}`);
  const issue = outcome.issue?.[0];
  assert.ok(issue, `${what}: the OperationOutcome has no issue`);
  assert.ok(
    (Array.isArray(issue.expression) && issue.expression.length > 0) || (typeof issue.diagnostics === 'string' && issue.diagnostics.length > 0),
    `${what}: issue[0] has neither expression nor diagnostics: ${JSON.stringify(issue)}`,
  );
}

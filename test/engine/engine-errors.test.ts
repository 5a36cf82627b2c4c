// The engine's error catalogue and the checks every edit makes first: codes and HTTP statuses,
// cancellation, and the instruction check with its exact wording and limits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkInstruction } from '../../companion-server/engine/check-instruction.ts';
import { cancelledError, errorCodes, isMgieError, MgieError, throwIfAborted } from '../../companion-server/engine/errors.ts';

test('an MgieError carries its code, the HTTP status of that code, its message and cause', () => {
  const cause = new Error('inner');
  const error = new MgieError('MGIE_ERR_IMAGE_TOO_LARGE', 'too big', { cause });
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'MgieError');
  assert.equal(error.code, 'MGIE_ERR_IMAGE_TOO_LARGE');
  assert.equal(error.statusCode, 413);
  assert.equal(error.message, 'too big');
  assert.equal(error.cause, cause);
  assert.equal(new MgieError('MGIE_ERR_CANCELLED', 'x').statusCode, errorCodes.MGIE_ERR_CANCELLED);
});

test('isMgieError: any MgieError without a code, only that code with one; never a plain Error', () => {
  const error = new MgieError('MGIE_ERR_BUSY', 'busy');
  assert.equal(isMgieError(error), true);
  assert.equal(isMgieError(error, 'MGIE_ERR_BUSY'), true);
  assert.equal(isMgieError(error, 'MGIE_ERR_TIMEOUT'), false);
  assert.equal(isMgieError(Object.assign(new Error('busy'), { code: 'MGIE_ERR_BUSY' }), 'MGIE_ERR_BUSY'), false);
  assert.equal(isMgieError(undefined), false);
});

test('cancellation: MGIE_ERR_CANCELLED "The edit was cancelled.", with the abort reason as cause; only an aborted signal throws', () => {
  const controller = new AbortController();
  assert.doesNotThrow(() => throwIfAborted(undefined));
  assert.doesNotThrow(() => throwIfAborted(controller.signal));
  const reason = new Error('user pressed stop');
  controller.abort(reason);
  assert.throws(
    () => throwIfAborted(controller.signal),
    (error: unknown) => isMgieError(error, 'MGIE_ERR_CANCELLED') && error.message === 'The edit was cancelled.' && error.cause === reason && error.statusCode === 499,
  );
  assert.equal(cancelledError().cause, undefined);
});

test('checkInstruction: trimmed; empty, blank or not text is refused; the limit counts code points, inclusive', () => {
  assert.equal(checkInstruction('  make it red \n', 100), 'make it red');
  for (const bad of ['', '   \n\t', undefined, 42, null]) {
    assert.throws(
      () => checkInstruction(bad, 100),
      (error: unknown) => isMgieError(error, 'MGIE_ERR_BAD_PARAMETER') && error.message === 'The instruction is empty. Describe the edit, for example "make it look like autumn".',
      String(bad),
    );
  }
  assert.equal(checkInstruction('🌅'.repeat(10), 10), '🌅'.repeat(10));
  assert.throws(
    () => checkInstruction('🌅'.repeat(11), 10),
    (error: unknown) => isMgieError(error, 'MGIE_ERR_BAD_PARAMETER') && error.message === 'The instruction is 11 characters long; the limit is 10. Shorten it.',
  );
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { editDimensions } from '../../companion-server/engine/image/edit-size.ts';

test('the long side becomes the edit size and both sides are multiples', () => {
  assert.deepEqual(editDimensions(1024, 1024, 512, 64), { width: 512, height: 512 });
  assert.deepEqual(editDimensions(1920, 1080, 512, 64), { width: 512, height: 320 }); // 288 rounds to 320
  assert.deepEqual(editDimensions(300, 1200, 512, 64), { width: 128, height: 512 });
  assert.deepEqual(editDimensions(100, 50, 512, 64), { width: 512, height: 256 }); // small inputs scale up
});

test('an extreme aspect ratio keeps at least one multiple per side', () => {
  assert.deepEqual(editDimensions(4000, 10, 512, 64), { width: 512, height: 64 });
});

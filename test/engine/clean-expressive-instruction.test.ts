import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanExpressiveInstruction as clean } from '../../companion-server/engine/generation/clean-expressive-instruction.ts';

test('cuts before [IMG0] and at </s>', () => {
  assert.equal(clean('The leaves will be orange and red [IMG0][IMG1][IMG2][IMG3][IMG4][IMG5][IMG6][IMG7]</s>'), 'The leaves will be orange and red.');
});

test('keeps the first two sentences, joined with "." as the reference does', () => {
  assert.equal(clean(' The sky is dark. Stars shine. The moon is full. [IMG0]'), 'The sky is dark.Stars shine.');
});

test('cuts before "alternative", case-insensitively', () => {
  assert.equal(clean('Add a beard to the man. Alternatively, a moustache.'), 'Add a beard to the man.');
  assert.equal(clean('Make it red ALTERNATIVE blue'), 'Make it red.');
});

test('</s> comes first: text after it is ignored', () => {
  assert.equal(clean('Brighter image</s> alternative junk [IMG0]'), 'Brighter image.');
});

test('an empty or all-cut answer gives an empty string, not an exception', () => {
  assert.equal(clean(''), '');
  assert.equal(clean('[IMG0][IMG1]</s>'), '');
  assert.equal(clean('</s>'), '');
  assert.equal(clean('   '), '');
});

test('a lone period is kept as the reference would', () => {
  assert.equal(clean('. [IMG0]'), '.');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HiddenStates } from '../../companion-server/engine/generation/hidden-states.ts';
import { imgHiddenStart, selectImgHidden } from '../../companion-server/engine/generation/select-img-hidden.ts';

const IMG0 = 100;

test('IMG0 present: the states start one before it (they predicted IMG0..IMG7)', () => {
  // prompt of 10, answer "a b [IMG0..IMG7] </s>": sequence 21 long, 20 hidden states.
  const sequence = [...Array(10).keys(), 50, 51, ...Array.from({ length: 8 }, (_, i) => IMG0 + i), 2];
  assert.equal(imgHiddenStart(sequence, sequence.length - 1, IMG0, 8), 11);
});

test('IMG0 absent: falls back to len(hid) - 9', () => {
  const sequence = Array.from({ length: 40 }, (_, i) => i % 7);
  assert.equal(imgHiddenStart(sequence, 39, IMG0, 8), 30);
});

test('IMG0 too late: min() keeps the window inside the hidden states', () => {
  // IMG0 generated as the very last token (no hidden state follows it).
  const sequence = [...Array(30).keys()].map((i) => i % 5).concat([IMG0]);
  assert.equal(imgHiddenStart(sequence, 30, IMG0, 8), 21);
});

test('the first IMG0 wins, also when it stands in the prompt part of the sequence', () => {
  const sequence = [1, 2, IMG0, 3, ...Array(30).fill(4), IMG0];
  assert.equal(imgHiddenStart(sequence, sequence.length - 1, IMG0, 8), 1);
});

test('a short sequence starts at 0 instead of wrapping around', () => {
  assert.equal(imgHiddenStart([1, 2, 3, 4, 5, 6, 7, 8, 9], 8, IMG0, 8), 0);
});

test('selectImgHidden copies the K rows across the prompt block and the per-token rows', () => {
  const D = 3;
  const hidden = new HiddenStates(D);
  hidden.append(Float32Array.from({ length: 12 * D }, (_, i) => Math.floor(i / D))); // rows 0..11
  for (let r = 12; r < 21; r++) hidden.append(new Float32Array(D).fill(r));
  const sequence = [...Array(13).keys(), IMG0, 0, 0, 0, 0, 0, 0, 0, 0]; // 22 tokens, 21 states
  const { start, rows } = selectImgHidden(sequence, hidden, IMG0, 8);
  assert.equal(start, 12);
  assert.deepEqual(Array.from(rows), Array.from({ length: 8 * D }, (_, i) => 12 + Math.floor(i / D)));
});

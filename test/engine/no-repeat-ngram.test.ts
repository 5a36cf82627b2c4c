import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoRepeatNgram } from '../../companion-server/engine/generation/no-repeat-ngram.ts';

/** transformers' _get_ngrams + _get_generated_ngrams, recomputed from scratch over the whole sequence. */
function bannedFromScratch(sequence: number[], n: number): number[] {
  if (sequence.length + 1 < n) return [];
  const prefix = sequence.slice(sequence.length + 1 - n).join(',');
  const banned = new Set<number>();
  for (let i = 0; i + n <= sequence.length; i++) {
    if (sequence.slice(i, i + n - 1).join(',') === prefix) banned.add(sequence[i + n - 1]);
  }
  return [...banned].sort((a, b) => a - b);
}

test('bans the token that would repeat a trigram', () => {
  const ngram = new NoRepeatNgram(3, [5, 6, 7, 5]);
  assert.deepEqual([...ngram.bannedTokens()], []); // prefix (7,5) never seen
  ngram.push(6); // sequence 5 6 7 5 6: prefix (5,6) was followed by 7
  assert.deepEqual([...ngram.bannedTokens()], [7]);
  const logits = new Float32Array(10).fill(1);
  ngram.apply(logits);
  assert.equal(logits[7], -Infinity);
  assert.equal(logits.filter((v) => v === -Infinity).length, 1);
});

test('the prompt counts: an n-gram from the image placeholders is banned too', () => {
  const patch = 9;
  const ngram = new NoRepeatNgram(3, [1, patch, patch, patch]);
  ngram.push(patch);
  assert.deepEqual([...ngram.bannedTokens()], [patch]);
});

test('matches a from-scratch computation on random sequences, for n = 1..4', () => {
  let state = 12345;
  const next = (): number => ((state = (state * 1103515245 + 12345) % 2 ** 31), state % 6);
  for (const n of [1, 2, 3, 4]) {
    const sequence: number[] = [];
    const ngram = new NoRepeatNgram(n);
    for (let i = 0; i < 200; i++) {
      assert.deepEqual([...ngram.bannedTokens()].sort((a, b) => a - b), bannedFromScratch(sequence, n), `n=${n} at length ${i}`);
      const id = next();
      sequence.push(id);
      ngram.push(id);
    }
  }
});

test('size 0 disables the rule, and a bad size is refused', () => {
  const ngram = new NoRepeatNgram(0, [1, 1, 1, 1]);
  assert.equal(ngram.bannedTokens().size, 0);
  assert.throws(() => new NoRepeatNgram(-1), /integer >= 0/);
});

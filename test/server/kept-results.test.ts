// What the server keeps for absent clients is bounded per client, in total bytes and in age, whatever
// clients do; within the bounds nothing is lost and order is kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Outgoing } from '../../companion-server/server/edit-service.ts';
import { KeptResults } from '../../companion-server/server/kept-results.ts';

const result = (name: string, bytes: number): Outgoing => ({ kind: 'binary', header: { type: 'result', name }, payload: new Uint8Array(bytes), droppable: false });
const names = (list: Outgoing[]) => list.map((o) => (o as { header: { name: string } }).header.name);

test('per client: the newest are kept, in order; forgetting one leaves the rest', () => {
  const kept = new KeptResults({ perClient: 3, maxBytes: 1e9, maxAgeMs: 1e9 });
  const all = ['r1', 'r2', 'r3', 'r4'].map((name) => result(name, 10));
  for (const outgoing of all) kept.keep('a', outgoing);
  assert.deepEqual(names(kept.list('a')), ['r2', 'r3', 'r4']);
  kept.forget('a', all[2]);
  assert.deepEqual(names(kept.list('a')), ['r2', 'r4']);
  assert.equal(kept.has('a', all[0]), false);
  assert.equal(kept.totalBytes, 2 * (10 + 512));
});

test('in total bytes: past the cap the oldest message of any client goes first', () => {
  let clock = 0;
  const kept = new KeptResults({ perClient: 10, maxBytes: 3 * (1000 + 512), maxAgeMs: 1e9 }, () => clock++);
  kept.keep('a', result('a1', 1000));
  kept.keep('b', result('b1', 1000));
  kept.keep('a', result('a2', 1000));
  kept.keep('c', result('c1', 1000));
  assert.deepEqual([names(kept.list('a')), names(kept.list('b')), names(kept.list('c'))], [['a2'], ['b1'], ['c1']]);
  assert.ok(kept.totalBytes <= 3 * 1512);
  // one message larger than the cap is not kept at all rather than holding memory
  kept.keep('d', result('huge', 10_000));
  assert.deepEqual(names(kept.list('d')), []);
});

test('in age: a message not delivered within maxAgeMs is dropped', () => {
  let clock = 0;
  const kept = new KeptResults({ perClient: 10, maxBytes: 1e9, maxAgeMs: 60_000 }, () => clock);
  kept.keep('a', result('old', 10));
  clock = 30_000;
  kept.keep('a', result('new', 10));
  clock = 60_001;
  assert.deepEqual(names(kept.list('a')), ['new']);
  clock = 90_001;
  assert.deepEqual(names(kept.list('a')), []);
  assert.equal(kept.totalBytes, 0);
});

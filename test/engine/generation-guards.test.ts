// The invariants generation and scheduling check before touching their arrays: each violation is an
// error that gives the numbers, not an out-of-range read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateGreedyAsync } from '../../companion-server/engine/generation/generate-greedy.ts';
import { HiddenStates } from '../../companion-server/engine/generation/hidden-states.ts';
import { selectImgHidden } from '../../companion-server/engine/generation/select-img-hidden.ts';
import type { ModelSession } from '../../companion-server/engine/onnx-runtime.ts';
import { EulerAncestralScheduler } from '../../companion-server/engine/schedulers/euler-ancestral-scheduler.ts';
import type { SchedulerConfig } from '../../companion-server/engine/schedulers/scheduler.ts';

test('HiddenStates: a block that is not whole rows is refused; rows outside what is kept are a RangeError', () => {
  const states = new HiddenStates(4);
  assert.throws(() => states.append(new Float32Array(6)), /^Error: hidden state block of 6 values is not a multiple of 4$/);
  states.append(Float32Array.from({ length: 12 }, (_, i) => i));
  states.append(Float32Array.from([100, 101, 102, 103]));
  assert.equal(states.length, 4);
  assert.deepEqual([...states.rows(2, 2)], [8, 9, 10, 11, 100, 101, 102, 103]);
  assert.deepEqual([...states.rows(0, 4)].length, 16);
  assert.throws(() => states.rows(3, 2), (error: Error) => error instanceof RangeError && error.message === 'rows 3..5 outside 0..4');
  assert.throws(() => states.rows(-1, 1), (error: Error) => error instanceof RangeError && error.message === 'rows -1..0 outside 0..4');
});

test('selectImgHidden: fewer hidden states than IMG tokens is refused with both counts', () => {
  const states = new HiddenStates(2);
  states.append(new Float32Array(6));
  assert.throws(() => selectImgHidden([1, 2, 3, 4], states, 9, 4), /^Error: only 3 hidden states, fewer than the 4 IMG tokens$/);
  assert.equal(selectImgHidden([1, 2, 3, 4], states, 9, 3).rows.length, 6);
});

test('generateGreedyAsync: prompt embeddings that do not match the prompt are refused before any model runs', async () => {
  const unused = new Proxy({}, { get: () => assert.fail('no model may run') }) as ModelSession;
  await assert.rejects(
    generateGreedyAsync({
      embed: unused,
      decoder: unused,
      promptIds: [1, 2, 3],
      promptEmbeds: new Float32Array(3 * 8 - 1),
      config: { hiddenSize: 8, vocabSize: 10, numLayers: 1, numKvHeads: 1, headDim: 8, maxNewTokens: 4, noRepeatNgramSize: 0, eosTokenId: 2 },
    }),
    /^Error: prompt embeddings hold 23 values, expected 3 x 8$/,
  );
});

test('Euler ancestral: noise of another length than the sample is a RangeError with both lengths', () => {
  const config: SchedulerConfig = {
    type: 'euler-ancestral',
    numTrainTimesteps: 1000,
    betaStart: 0.00085,
    betaEnd: 0.012,
    betaSchedule: 'scaled_linear',
    timestepSpacing: 'linspace',
    stepsOffset: 1,
    predictionType: 'epsilon',
  } as SchedulerConfig;
  const scheduler = new EulerAncestralScheduler(config, 4);
  assert.throws(
    () => scheduler.stepWithNoise(new Float32Array(4), 0, new Float32Array(4), new Float32Array(3)),
    (error: Error) => error instanceof RangeError && error.message === 'the noise has 3 values but the sample has 4.',
  );
});
